"""SLA specifications per downstream AI use case: the metric vocabulary, YAML loading, validation.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from platform_kit.errors import ConfigError

__all__ = ["DEFAULT_SLA_SPEC", "METRICS", "STAGES", "MetricInfo", "SlaSpec", "UseCaseSla", "load_sla_spec"]

#: Pipeline stages whose per-record latency is measured (see ``run_order_pipeline``).
STAGES: tuple[str, ...] = ("transport", "transform_load", "end_to_end", "serving")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures and which side of its target passes.

    Attributes:
        unit: ``ms``, ``s``, ``records/s``, ``queries/s`` or ``%``.
        bound: ``max`` when the target is an upper bound (latency, freshness, error rate: lower is
            better), ``min`` when it is a lower bound (throughput: higher is better).
        description: One line for tables and error messages.
    """

    unit: str
    bound: Literal["max", "min"]
    description: str


def _build_metrics() -> dict[str, MetricInfo]:
    metrics: dict[str, MetricInfo] = {}
    for stage in STAGES:
        for q in (50, 95, 99):
            what = "query" if stage == "serving" else "record"
            metrics[f"{stage}_p{q}_ms"] = MetricInfo(
                "ms", "max", f"p{q} {stage.replace('_', ' ')} latency per {what}"
            )
    metrics["freshness_s"] = MetricInfo("s", "max", "worst staleness: longest time from produce to queryable")
    metrics["produce_rps"] = MetricInfo("records/s", "min", "records produced per second")
    metrics["consume_rps"] = MetricInfo("records/s", "min", "records consumed per second")
    metrics["transform_load_rps"] = MetricInfo(
        "records/s", "min", "records transformed and landed per second"
    )
    metrics["end_to_end_rps"] = MetricInfo(
        "records/s", "min", "records from first produce to last landed, per second"
    )
    metrics["serving_qps"] = MetricInfo(
        "queries/s", "min", "serving queries answered per second (sequential)"
    )
    metrics["dead_letter_pct"] = MetricInfo("%", "max", "share of records routed to the dead-letter store")
    return metrics


#: Every metric an SLA may name (the keys of ``PipelineRun.measurements()``).
METRICS: dict[str, MetricInfo] = _build_metrics()

#: The default targets (YAML). Latency/freshness/error-rate targets are upper bounds, throughput
#: targets lower bounds. Edit a copy in the lab, then pass it to :func:`load_sla_spec`.
DEFAULT_SLA_SPEC = """\
# SLA targets per downstream AI use case (Northwind Outfitters).
# *_ms, freshness_s and dead_letter_pct are upper bounds; *_rps and *_qps are lower bounds.
use_cases:
  fraud_scoring:
    description: score every order before the payment is captured
    targets:
      end_to_end_p99_ms: 250      # an order must be queryable for the scorer within 250 ms
      serving_p99_ms: 20          # per-customer feature lookup
      freshness_s: 0.5
      end_to_end_rps: 500         # peak order rate the scorer must keep up with
      dead_letter_pct: 1.0
  recommendations_refresh:
    description: refresh "customers like you" lists every few minutes
    targets:
      end_to_end_p95_ms: 5000
      serving_p95_ms: 200
      freshness_s: 300
      transform_load_rps: 200
  nightly_training:
    description: retrain the demand-forecast model once a day on the enriched table
    targets:
      freshness_s: 86400          # 24 h
      transform_load_rps: 50
      dead_letter_pct: 5.0
"""

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class UseCaseSla(BaseModel):
    """Targets of one downstream AI use case: metric name -> target value (in the metric's unit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    targets: dict[str, float] = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _known_positive(cls, targets: dict[str, float]) -> dict[str, float]:
        for metric, value in targets.items():
            if metric not in METRICS:
                close = difflib.get_close_matches(metric, list(METRICS), n=2, cutoff=0.6)
                hint = f"; did you mean {' or '.join(close)}?" if close else ""
                raise ValueError(f"unknown metric {metric!r}{hint} (valid: {', '.join(METRICS)})")
            if isinstance(value, bool) or not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"target of {metric} must be a positive number ({METRICS[metric].unit}), got {value}"
                )
        return targets


class SlaSpec(BaseModel):
    """Targets per downstream AI use case (validated; unknown keys rejected)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    use_cases: dict[str, UseCaseSla] = Field(min_length=1)

    @field_validator("use_cases")
    @classmethod
    def _names(cls, use_cases: dict[str, UseCaseSla]) -> dict[str, UseCaseSla]:
        for name in use_cases:
            if not _NAME.match(name):
                raise ValueError(f"use case name {name!r} must be lower_snake_case")
        return use_cases

    def with_target(self, use_case: str, metric: str, value: float) -> SlaSpec:
        """A copy with one target changed (or added), validated again.

        Raises:
            ConfigError: Unknown use case, unknown metric or non-positive value.
        """
        if use_case not in self.use_cases:
            raise ConfigError(
                f"no use case {use_case!r} in the spec (have: {', '.join(self.use_cases)})",
                fix="use one of the spec's use-case names",
            )
        raw = self.model_dump()
        raw["use_cases"][use_case]["targets"][metric] = value
        return load_sla_spec(raw)


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (allowed: use_cases; per use case: description, targets)"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def _read(source: str | Path) -> str:
    if isinstance(source, Path) or ("\n" not in source and source.strip().endswith((".yml", ".yaml"))):
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"SLA spec file {path} does not exist",
                fix="write it first (e.g. Path(...).write_text(DEFAULT_SLA_SPEC)) or pass YAML text",
            )
        return path.read_text(encoding="utf-8")
    return source


def load_sla_spec(path_or_text: str | Path | Mapping[str, Any]) -> SlaSpec:
    """Read and validate an SLA spec from a YAML file, YAML text, or an already-parsed mapping.

    The YAML holds ``use_cases: {<name>: {description: ..., targets: {<metric>: <value>}}}``; metric
    names are the keys of :data:`METRICS` (``end_to_end_p99_ms``, ``freshness_s``, ``end_to_end_rps``...).

    Args:
        path_or_text: A :class:`~pathlib.Path`, a string ending in ``.yml``/``.yaml`` (a file), other
            text (YAML), or a mapping.

    Returns:
        The validated :class:`SlaSpec`.

    Raises:
        ConfigError: Missing file, YAML syntax error, unknown key or metric, non-positive target.

    Example:
        >>> load_sla_spec(DEFAULT_SLA_SPEC).use_cases["nightly_training"].targets["freshness_s"]
        86400.0

    Introduced in: Lab 1 (assessment).
    """
    import yaml

    if isinstance(path_or_text, Mapping):
        raw: Any = dict(path_or_text)
        origin = "the SLA spec"
    else:
        text = _read(path_or_text)
        origin = (
            str(path_or_text)
            if isinstance(path_or_text, Path) or "\n" not in str(path_or_text)
            else "the SLA spec"
        )
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(
                f"{origin} is not valid YAML{where}: {problem}",
                fix="check indentation and that every target is `metric: number`",
            ) from exc
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{origin} must be a YAML mapping with a `use_cases:` key, got {type(raw).__name__}",
            fix="start the file with `use_cases:` (see DEFAULT_SLA_SPEC)",
        )
    try:
        return SlaSpec.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(
            f"{origin} is invalid: {_describe(exc)}",
            fix="compare with DEFAULT_SLA_SPEC; metric names are listed in METRICS",
        ) from exc
