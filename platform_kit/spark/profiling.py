"""Bottlenecks ranked and named from per-stage metrics, and the stage timeline.

A Spark UI page shows a dozen numbers per stage; reading them is a matter of knowing
which ratio points at which cause. :func:`diagnose` encodes that reading as rules, each
estimating how many milliseconds of executor time its cause cost (``attributed_ms``), so
findings of different kinds can be ranked against each other::

    python_udf    Python workers did the work: the stage runs a Python operator
                  (BatchEvalPython/ArrowEvalPython/...), its Python SQL metrics count the
                  time (or, without them, run time far above the JVM's CPU time)
    gc_pressure   JVM GC time >= 10 % of run time (the Spark UI paints it red there)
    wide_shuffle  >= 1 MB crossed an exchange: time in the stages fed by it, plus write time
    spill         bytes spilled to disk (cost estimated at 50 MB/s, written and read back)
    skew          longest task >= 3x the median: the idle slots waiting for the straggler
                  (capped at the stage's run time)
    tiny_tasks    many tasks of < 100 ms: task deserialisation and result overhead

The job's bottleneck (:func:`name_bottleneck`) is the cause with the most attributed time,
when it is at least 10 % of the job's executor time; otherwise ``none``. Input is any stage
table: :attr:`EventLog.stages <platform_kit.spark.eventlog.EventLog.stages>` (which carries
operators and Python metrics), ``ks.stages_frame(measurement)``, a
:class:`~platform_kit.spark.monitor.JobMetrics` or a list of stage dicts.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._eventlog_parse import PYTHON_OPERATORS
from platform_kit.spark._profiling_plot import BOTTLENECK_COLORS, plot_timeline

__all__ = ["BOTTLENECKS", "BOTTLENECK_COLORS", "FIXES", "Finding", "Thresholds", "diagnose", "name_bottleneck",
           "plot_timeline", "rank_bottlenecks", "stage_bottlenecks", "stage_table"]

BOTTLENECKS = ("python_udf", "gc_pressure", "wide_shuffle", "spill", "skew", "tiny_tasks")
FIXES = {
    "python_udf": "replace the Python UDF by built-in functions (F.*), or use a vectorised Arrow/pandas UDF: "
                  "row-at-a-time UDFs pickle every row to a Python worker and back",
    "gc_pressure": "stop building big per-key objects (collect_list/collect_set over large groups, wide rows): "
                   "aggregate instead; or give each task more heap (fewer cores per executor, more partitions)",
    "wide_shuffle": "move fewer bytes: broadcast the small side, prune columns and pre-aggregate before the exchange, "
                    "and size spark.sql.shuffle.partitions to the data (AQE coalescing)",
    "spill": "give each task more memory (fewer cores per executor, more executor memory) or less data "
             "(more shuffle partitions)",
    "skew": "split the hot keys: AQE skew join, salting, or repartitioning on a better key",
    "tiny_tasks": "fewer, bigger tasks: lower spark.sql.shuffle.partitions, coalesce, or let AQE coalesce partitions",
}
_REQUIRED = ("stage_id", "num_tasks", "executor_run_ms", "gc_ms")
_DEFAULTS: dict[str, Any] = {
    "attempt": 0, "name": "", "operators": "", "executor_cpu_ms": np.nan, "deserialize_ms": 0.0,
    "result_serialization_ms": 0.0, "input_bytes": 0.0, "shuffle_read_bytes": 0.0, "shuffle_write_bytes": 0.0,
    "shuffle_fetch_wait_ms": 0.0, "shuffle_write_time_ms": 0.0, "memory_spilled_bytes": 0.0,
    "disk_spilled_bytes": 0.0, "python_ms": 0.0, "task_ms_median": 0.0, "task_ms_max": 0.0, "submitted_ms": 0.0,
    "completed_ms": 0.0,
}


@dataclass(frozen=True)
class Thresholds:
    """The rules' cut-offs (defaults follow the Spark UI's and common tuning guides' rules of thumb)."""

    min_share: float = 0.10  #: a cause must cost this share of the job's executor time to be named
    gc_share: float = 0.10  #: stage GC time / run time (the Spark UI marks GC red above 10 %)
    python_cpu_gap: float = 0.5  #: without Python metrics: (run - JVM CPU - GC) / run of a Python stage
    shuffle_bytes: float = 1e6  #: bytes read or written through an exchange before it counts
    skew_ratio: float = 3.0  #: longest / median task
    skew_min_ms: float = 100.0  #: and at least this much longer
    tiny_task_ms: float = 100.0  #: median task shorter than this ...
    tiny_task_factor: int = 2  #: ... with more than this many tasks per slot
    spill_mb_per_s: float = 50.0  #: assumed disk throughput to price a spill (written and read back)
    slots: int = 4  #: task slots (executor cores) the job had


@dataclass(frozen=True)
class Finding:
    """One bottleneck in one stage.

    Attributes:
        bottleneck: One of :data:`BOTTLENECKS`.
        stage_id: The stage it was found in.
        attributed_ms: Executor time the rule attributes to this cause in this stage.
        share: ``attributed_ms`` over the whole job's executor run time.
        evidence: The numbers behind it.
        fix: What usually removes it.
    """

    bottleneck: str
    stage_id: int
    attributed_ms: float
    share: float
    evidence: str
    fix: str


def stage_table(stages: Any) -> pd.DataFrame:
    """Normalise a stage table: required columns checked, optional ones defaulted, numbers coerced.

    Raises:
        InputError: Not a table of stages, or required columns are missing/not numeric.
    """
    if hasattr(stages, "stages") and not isinstance(stages, pd.DataFrame):
        stages = stages.stages  # JobMetrics or EventLog
    if isinstance(stages, list | tuple) and all(is_dataclass(s) or isinstance(s, Mapping) for s in stages):
        stages = pd.DataFrame([asdict(s) if is_dataclass(s) else dict(s) for s in stages])  # type: ignore[arg-type]
    if not isinstance(stages, pd.DataFrame):
        raise InputError(f"expected a table of stage metrics, got {type(stages).__name__}",
                         fix="pass EventLog.stages, ks.stages_frame(measurement), a JobMetrics or a list of dicts")
    missing = [c for c in _REQUIRED if c not in stages.columns]
    if missing:
        raise InputError(f"the stage table lacks column(s) {missing}",
                         fix="build it with platform_kit.spark.eventlog.read_event_log(...).stages or ks.stages_frame")
    table = stages.copy()
    for col, default in _DEFAULTS.items():
        if col not in table.columns:
            table[col] = default
    text = ("name", "operators")
    numeric = [c for c in table.columns if c in _REQUIRED or (c in _DEFAULTS and c not in text)]
    coerced = table[numeric].apply(pd.to_numeric, errors="coerce")
    bad = [c for c in _REQUIRED if coerced[c].isna().any()]
    if bad:
        raise InputError(f"column(s) {bad} hold missing or non-numeric values",
                         fix="every stage needs numeric stage_id, num_tasks, executor_run_ms and gc_ms")
    table[numeric] = coerced.fillna({c: 0.0 for c in numeric if c != "executor_cpu_ms"})
    if (table[["executor_run_ms", "gc_ms", "num_tasks"]] < 0).any().any():
        raise InputError("negative run time, GC time or task count in the stage table",
                         fix="check the source of the metrics: these are sums of durations and counts")
    for col in text:
        table[col] = table[col].fillna("").astype(str)
    return table.reset_index(drop=True)


def _python_evidence(row: Any) -> str | None:
    ops = [op for op in PYTHON_OPERATORS if op.lower() in f"{row.operators} {row.name}".lower()]
    if ops:
        return ops[0]
    return "Python SQL metrics" if row.python_ms > 0 else None


def _rules(row: Any, th: Thresholds) -> list[tuple[str, float, str]]:
    run = float(row.executor_run_ms)
    out: list[tuple[str, float, str]] = []
    python = _python_evidence(row)
    if python and run > 0:
        cpu = row.executor_cpu_ms if row.executor_cpu_ms == row.executor_cpu_ms else 0.0  # NaN: unknown
        gap = max(0.0, run - cpu - row.gc_ms)
        spent = min(run, row.python_ms) if row.python_ms > 0 else (gap if gap / run >= th.python_cpu_gap else 0.0)
        if spent > 0:
            how = (f"Python workers {row.python_ms / 1000:.2f} s" if row.python_ms > 0
                   else f"run time {run / 1000:.2f} s vs JVM CPU {cpu / 1000:.2f} s")
            out.append(("python_udf", spent, f"{python}: {how} of {run / 1000:.2f} s run time"))
    if run > 0 and row.gc_ms / run >= th.gc_share:
        out.append(("gc_pressure", float(row.gc_ms), f"GC {row.gc_ms / 1000:.2f} s = {row.gc_ms / run:.0%} of run time"))
    moved = row.shuffle_read_bytes + row.shuffle_write_bytes
    if moved >= th.shuffle_bytes:
        after = max(0.0, run - row.gc_ms - row.python_ms) if row.shuffle_read_bytes >= th.shuffle_bytes else 0.0
        cost = after + row.shuffle_write_time_ms
        if cost > 0:
            out.append(("wide_shuffle", cost,
                        f"shuffle read {row.shuffle_read_bytes / 1e6:.1f} MB (fetch wait {row.shuffle_fetch_wait_ms:.0f} ms)"
                        f", written {row.shuffle_write_bytes / 1e6:.1f} MB (write time {row.shuffle_write_time_ms:.0f} ms)"))
    if row.disk_spilled_bytes > 0:
        cost = min(run, 2 * row.disk_spilled_bytes / (th.spill_mb_per_s * 1e3))
        out.append(("spill", cost, f"spilled {row.disk_spilled_bytes / 1e6:.1f} MB to disk "
                                   f"({row.memory_spilled_bytes / 1e6:.1f} MB in memory)"))
    slots = max(1, min(int(row.num_tasks), th.slots))
    median, longest = float(row.task_ms_median), float(row.task_ms_max)
    if (row.num_tasks >= 2 and median > 0 and longest / median >= th.skew_ratio
            and longest - median >= th.skew_min_ms and slots > 1):
        out.append(("skew", min(run, (longest - median) * (slots - 1)),
                    f"longest task {longest:.0f} ms = {longest / median:.1f}x the median {median:.0f} ms"))
    if row.num_tasks > th.tiny_task_factor * th.slots and 0 < median < th.tiny_task_ms:
        cost = float(row.deserialize_ms + row.result_serialization_ms)
        if cost > 0:
            out.append(("tiny_tasks", cost, f"{int(row.num_tasks)} tasks, median {median:.0f} ms; "
                                            f"deserialisation {row.deserialize_ms / 1000:.2f} s"))
    return out


def diagnose(stages: Any, thresholds: Thresholds | None = None) -> list[Finding]:
    """Every rule that fires, in every stage, most costly first.

    Args:
        stages: A stage table (see :func:`stage_table`).
        thresholds: Rule cut-offs; ``Thresholds(slots=log.cores)`` for the real slot count.

    Returns:
        Findings sorted by attributed time (empty when no rule fires).
    """
    th = thresholds or Thresholds()
    table = stage_table(stages)
    total = float(table["executor_run_ms"].sum())
    findings = [Finding(kind, int(row.stage_id), float(cost), cost / total if total > 0 else 0.0, evidence, FIXES[kind])
                for row in table.itertuples(index=False) for kind, cost, evidence in _rules(row, th)]
    return sorted(findings, key=lambda f: (-f.attributed_ms, f.stage_id, f.bottleneck))


def rank_bottlenecks(stages: Any, thresholds: Thresholds | None = None) -> pd.DataFrame:
    """Causes ranked by the executor time attributed to them over all stages.

    Returns:
        One row per cause that fired: bottleneck, attributed_ms, share, stages, evidence
        (of its costliest stage), fix.
    """
    findings = diagnose(stages, thresholds)
    columns = ["bottleneck", "attributed_ms", "share", "stages", "evidence", "fix"]
    if not findings:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame([asdict(f) for f in findings])
    ranked = frame.groupby("bottleneck", sort=False).agg(
        attributed_ms=("attributed_ms", "sum"), share=("share", "sum"),
        stages=("stage_id", lambda s: ", ".join(str(i) for i in sorted(set(s)))),
        evidence=("evidence", "first"), fix=("fix", "first"))
    return ranked.sort_values("attributed_ms", ascending=False).reset_index()[columns]


def name_bottleneck(stages: Any, thresholds: Thresholds | None = None) -> str:
    """The job's main bottleneck: the costliest cause when it costs >= ``min_share`` of the time, else ``none``."""
    th = thresholds or Thresholds()
    ranked = rank_bottlenecks(stages, th)
    if ranked.empty or ranked["share"].iloc[0] < th.min_share:
        return "none"
    return str(ranked["bottleneck"].iloc[0])


def stage_bottlenecks(stages: Any, thresholds: Thresholds | None = None) -> dict[int, str]:
    """The costliest finding of each stage (``none`` for stages without one), for colouring timelines."""
    table = stage_table(stages)
    named = {int(s): "none" for s in table["stage_id"]}
    for finding in reversed(diagnose(table, thresholds)):  # costliest last, so it wins
        named[finding.stage_id] = finding.bottleneck
    return named
