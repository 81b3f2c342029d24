"""Pipeline latency and throughput against the SLAs of downstream AI use cases (Lab 1, section 1).

Measure a real pipeline with :func:`run_order_pipeline` (see :mod:`platform_kit.assessment.pipeline`),
summarise raw timings with :func:`latency_percentiles`, read per-use-case targets with
:func:`load_sla_spec` and judge them with :func:`evaluate_slas`::

    run = run_order_pipeline(pk, company["orders"], company["customers"])
    spec = load_sla_spec(DEFAULT_SLA_SPEC)
    report = evaluate_slas(spec, run.measurements())

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from platform_kit.assessment._sla_events import COLUMN_LINEAGE, DeadLetter
from platform_kit.assessment._sla_spec import (
    DEFAULT_SLA_SPEC,
    METRICS,
    STAGES,
    MetricInfo,
    SlaSpec,
    UseCaseSla,
    load_sla_spec,
)
from platform_kit.assessment._sla_stats import SampleError, latency_percentiles
from platform_kit.assessment.pipeline import (
    JOB_NAME,
    SAMPLE_BAD_EVENTS,
    SERVING_QUERIES,
    PipelineRun,
    run_order_pipeline,
)
from platform_kit.errors import ConfigError

__all__ = [
    "COLUMN_LINEAGE",
    "DEFAULT_SLA_SPEC",
    "JOB_NAME",
    "METRICS",
    "SAMPLE_BAD_EVENTS",
    "SERVING_QUERIES",
    "STAGES",
    "DeadLetter",
    "MetricInfo",
    "PipelineRun",
    "SampleError",
    "SlaSpec",
    "UseCaseSla",
    "evaluate_slas",
    "headroom_pct",
    "latency_percentiles",
    "load_sla_spec",
    "plot_stage_latencies",
    "run_order_pipeline",
]

REPORT_COLUMNS = ["use_case", "metric", "bound", "unit", "target", "measured", "verdict", "headroom_pct"]


def headroom_pct(target: float, measured: float, bound: str = "max") -> float:
    """Headroom in percent of the target; negative means the SLA is missed.

    For an upper bound (latency): ``(target - measured) / target * 100``; for a lower bound
    (throughput): ``(measured - target) / target * 100``. Exactly on target gives 0 (a pass).

    Example:
        >>> headroom_pct(200.0, 150.0)
        25.0
    """
    if bound not in ("max", "min"):
        raise ConfigError(f"bound must be 'max' or 'min', got {bound!r}", fix="use 'max' for latencies")
    gap = (target - measured) if bound == "max" else (measured - target)
    return float(gap / target * 100.0)


def evaluate_slas(
    spec: SlaSpec | str | Mapping[str, Any], measurements: Mapping[str, float] | PipelineRun
) -> pd.DataFrame:
    """Judge every target of every use case against the measurements.

    Args:
        spec: A :class:`SlaSpec` (or YAML text / mapping, passed to :func:`load_sla_spec`).
        measurements: Metric name -> measured value (``PipelineRun.measurements()``), or the run.

    Returns:
        One row per (use case, metric): ``use_case``, ``metric``, ``bound`` (``<=`` or ``>=``),
        ``unit``, ``target``, ``measured``, ``verdict`` (``pass``/``fail``) and ``headroom_pct``
        (see :func:`headroom_pct`). A measurement exactly equal to its target passes.

    Raises:
        ConfigError: A metric the spec names is missing from the measurements, or is NaN.

    Introduced in: Lab 1 (assessment).
    """
    if not isinstance(spec, SlaSpec):
        spec = load_sla_spec(spec)
    values = measurements.measurements() if isinstance(measurements, PipelineRun) else dict(measurements)
    rows = []
    for use_case, sla in spec.use_cases.items():
        for metric, target in sla.targets.items():
            if metric not in values:
                raise ConfigError(
                    f"use case {use_case!r} targets {metric!r}, which the measurements lack "
                    f"(have: {', '.join(sorted(values))})",
                    fix="measure it (run_order_pipeline reports every METRICS name) or drop the target",
                )
            measured = float(values[metric])
            if math.isnan(measured):
                raise ConfigError(
                    f"{metric} was not measured (NaN), so {use_case!r} cannot be judged",
                    fix="re-run the pipeline with at least one landed record and one query",
                )
            info = METRICS[metric]
            room = headroom_pct(target, measured, info.bound)
            rows.append(
                {
                    "use_case": use_case,
                    "metric": metric,
                    "bound": "<=" if info.bound == "max" else ">=",
                    "unit": info.unit,
                    "target": float(target),
                    "measured": measured,
                    "verdict": "pass" if room >= 0 else "fail",
                    "headroom_pct": room,
                }
            )
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def plot_stage_latencies(
    run: PipelineRun, spec: SlaSpec | None = None, *, stages: Sequence[str] = STAGES, ax: Any = None
) -> Any:
    """ECDF of each stage's latency (log scale) with the spec's latency targets as vertical lines.

    Args:
        run: A measured run.
        spec: Targets to draw (the ``*_ms`` ones of the drawn stages); ``None`` draws none.
        stages: Stages to draw.
        ax: A matplotlib Axes to draw on (a new figure when ``None``).

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    colors = dict(zip(stages, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    for stage in stages:
        values = np.sort(run.latencies(stage))
        if values.size:
            ax.step(
                np.maximum(values, 1e-3),
                np.arange(1, values.size + 1) / values.size,
                where="post",
                label=f"{stage.replace('_', ' ')} (p99 {np.percentile(values, 99):,.1f} ms)",
                color=colors.get(stage),
            )
    if spec is not None:
        styles = ["--", ":", "-."]
        for i, (use_case, sla) in enumerate(spec.use_cases.items()):
            for metric, target in sla.targets.items():
                drawn = next((s for s in stages if metric.startswith(f"{s}_p")), None)
                if drawn is None or not metric.endswith("_ms"):
                    continue
                ax.axvline(target, color=colors.get(drawn), linestyle=styles[i % len(styles)], alpha=0.8)
                ax.annotate(
                    f"{use_case}\n{metric} <= {target:g}",
                    (target, 0.03 + 0.12 * (i % 3)),
                    fontsize=7,
                    rotation=90,
                    va="bottom",
                    ha="right",
                    color=colors.get(drawn),
                )
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("share of records / queries")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"Latency per stage, {run.records_out:,} records, batch {run.batch_size}")
    return ax
