"""The data model of baselines: metric directions, layers, and the loaded-baseline dataclasses (pure).

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from platform_kit.errors import ConfigError

__all__ = [
    "BASELINE_FORMAT",
    "LAYER_METRICS",
    "Baseline",
    "BaselineMetric",
    "Direction",
    "infer_metric",
    "layer_metrics",
    "layer_of",
    "parse_direction",
]

Direction = Literal["lower_is_better", "higher_is_better"]
#: Value of the ``format`` key of every baseline file.
BASELINE_FORMAT = "platform_kit.baseline/1"

#: Metric-name suffix -> (unit, direction), used when units/directions are not given.
_SUFFIXES: tuple[tuple[str, str, Direction], ...] = (
    ("_ms", "ms", "lower_is_better"),
    ("_s", "s", "lower_is_better"),
    ("_rps", "records/s", "higher_is_better"),
    ("_qps", "queries/s", "higher_is_better"),
    ("_pct", "%", "lower_is_better"),
    ("_bytes", "bytes", "lower_is_better"),
)

#: The metrics of :meth:`PipelineRun.measurements` kept per layer.
LAYER_METRICS: dict[str, tuple[str, ...]] = {
    "ingestion": ("produce_rps", "consume_rps", "transport_p99_ms"),
    "transformation": ("transform_load_p99_ms", "transform_load_rps"),
    "serving": ("serving_p50_ms", "serving_p99_ms"),
}

_ALIASES: dict[str, Direction] = {
    "lower": "lower_is_better",
    "higher": "higher_is_better",
    "lower_is_better": "lower_is_better",
    "higher_is_better": "higher_is_better",
}


@dataclass(frozen=True)
class BaselineMetric:
    """One recorded metric: value, unit and which direction is better."""

    value: float
    unit: str
    direction: Direction


@dataclass(frozen=True)
class Baseline:
    """A loaded baseline file."""

    name: str
    version: int
    path: Path
    recorded_at: str
    profile: str | None
    scale: str | None
    host: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, BaselineMetric] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """Metric name -> value."""
        return {name: metric.value for name, metric in self.metrics.items()}

    def directions(self) -> dict[str, Direction]:
        """Metric name -> direction."""
        return {name: metric.direction for name, metric in self.metrics.items()}


def infer_metric(name: str) -> tuple[str, Direction]:
    """(unit, direction) from a metric name's suffix: ``_ms``/``_s``/``_pct``/``_bytes`` lower is
    better, ``_rps``/``_qps`` higher is better.

    Raises:
        ConfigError: The suffix is unknown (pass ``units``/``directions`` explicitly).
    """
    for suffix, unit, direction in _SUFFIXES:
        if name.endswith(suffix):
            return unit, direction
    raise ConfigError(
        f"cannot tell the unit and direction of metric {name!r} from its name",
        fix=f"end it with one of {', '.join(s for s, _, _ in _SUFFIXES)} or pass units= and directions=",
    )


def parse_direction(value: str, metric: str) -> Direction:
    """Normalise ``lower``/``higher`` (or the long forms) to a :data:`Direction`.

    Raises:
        ConfigError: Any other value.
    """
    if value not in _ALIASES:
        raise ConfigError(
            f"direction of {metric!r} must be 'lower_is_better' or 'higher_is_better', got {value!r}",
            fix="latencies are lower_is_better, throughputs higher_is_better",
        )
    return _ALIASES[value]


def layer_of(metric: str) -> str:
    """The layer (ingestion, transformation, serving) a metric belongs to, else ``other``."""
    return next((layer for layer, names in LAYER_METRICS.items() if metric in names), "other")


def layer_metrics(measurements: Mapping[str, float]) -> dict[str, float]:
    """The :data:`LAYER_METRICS` picked out of a run's measurements.

    Raises:
        ConfigError: One of them is missing.
    """
    wanted = [name for names in LAYER_METRICS.values() for name in names]
    missing = [name for name in wanted if name not in measurements]
    if missing:
        raise ConfigError(f"measurements lack {missing}", fix="pass PipelineRun.measurements()")
    return {name: float(measurements[name]) for name in wanted}
