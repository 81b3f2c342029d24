"""When does a consumer hand its buffered records to the sink? Triggers, as pure logic.

Three triggers, the knobs of "streaming vs micro-batching":

* ``record``: every record goes to the sink as soon as it arrives (true streaming);
* ``size``: a batch is flushed when it holds ``size`` records, or when its oldest record has
  waited ``max_wait_ms`` (without that timer the tail of a quiet stream would wait forever);
* ``interval``: whatever arrived is flushed on a clock tick every ``interval_ms`` (Spark's
  ``processingTime`` trigger works this way).

:class:`Batcher` holds the buffer and answers "is a flush due?" and "how long may I block
waiting for more?" from a clock the caller passes in, so it is tested without a broker.

Introduced in: Lab 2 (ingestion), section 4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from platform_kit.errors import ConfigError

__all__ = ["Batcher", "Trigger", "choose_interval", "latency_stats", "suggest_sla"]

TriggerKind = Literal["record", "size", "interval", "spark"]
#: How long an idle consumer blocks in one poll when no flush is pending (seconds).
IDLE_POLL_S = 0.1
_MAX_FETCH = 10_000


@dataclass(frozen=True)
class Trigger:
    """A flush rule. Build with :meth:`record`, :meth:`size`, :meth:`interval` or :meth:`spark`."""

    kind: TriggerKind
    batch_size: int | None = None
    interval_ms: float | None = None
    max_wait_ms: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in ("record", "size", "interval", "spark"):
            problems.append(f"kind must be record, size, interval or spark, got {self.kind!r}")
        if self.kind == "size" and (self.batch_size is None or self.batch_size < 1):
            problems.append(f"a size trigger needs batch_size >= 1, got {self.batch_size}")
        if self.kind == "size" and (self.max_wait_ms is None or not 0 < self.max_wait_ms < math.inf):
            problems.append(f"a size trigger needs a finite max_wait_ms > 0, got {self.max_wait_ms}")
        if self.kind in ("interval", "spark") and (self.interval_ms is None or not 0 < self.interval_ms < math.inf):
            problems.append(f"an {self.kind} trigger needs a finite interval_ms > 0, got {self.interval_ms}")
        if problems:
            raise ConfigError("; ".join(problems), fix="use Trigger.record(), Trigger.size(100) or Trigger.interval(200)")

    @classmethod
    def record(cls) -> Trigger:
        """Per-record processing."""
        return cls("record")

    @classmethod
    def size(cls, batch_size: int, max_wait_ms: float = 1000.0) -> Trigger:
        """Flush every ``batch_size`` records, or after ``max_wait_ms`` for a partial batch."""
        return cls("size", batch_size=int(batch_size), max_wait_ms=float(max_wait_ms))

    @classmethod
    def interval(cls, interval_ms: float) -> Trigger:
        """Flush whatever arrived every ``interval_ms``."""
        return cls("interval", interval_ms=float(interval_ms))

    @classmethod
    def spark(cls, interval_ms: float) -> Trigger:
        """Spark Structured Streaming with ``trigger(processingTime=interval_ms)``."""
        return cls("spark", interval_ms=float(interval_ms))

    @property
    def label(self) -> str:
        """Short display name: ``per record``, ``size 100``, ``every 200 ms``, ``spark 500 ms``."""
        if self.kind == "record":
            return "per record"
        if self.kind == "size":
            return f"size {self.batch_size}"
        prefix = "every" if self.kind == "interval" else "spark"
        return f"{prefix} {self.interval_ms:g} ms"

    @property
    def param(self) -> float:
        """The knob's value: 1 for per-record, the batch size, or the interval in ms."""
        if self.kind == "record":
            return 1.0
        return float(self.batch_size if self.kind == "size" else self.interval_ms)  # type: ignore[arg-type]


class Batcher:
    """The buffer of one consumer and its flush rule (clock passed in, in seconds).

    Args:
        trigger: A record, size or interval :class:`Trigger`.
        start: Clock value when consumption starts (interval ticks count from it).
    """

    def __init__(self, trigger: Trigger, start: float) -> None:
        if trigger.kind == "spark":
            raise ConfigError("a spark trigger is run by Spark, not by a Python Batcher", fix="use run_spark_trigger")
        self.trigger = trigger
        self._items: list[Any] = []
        self._arrived: list[float] = []
        self._next_tick = start + (trigger.interval_ms or 0) / 1e3

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: Any, now: float) -> None:
        """Buffer one record that arrived at ``now``."""
        self._items.append(item)
        self._arrived.append(now)

    def due(self, now: float) -> bool:
        """True when a flush must happen now (interval triggers: on every tick, even with nothing to flush)."""
        t = self.trigger
        if t.kind == "record":
            return bool(self._items)
        if t.kind == "size":
            waited = bool(self._arrived) and (now - self._arrived[0]) * 1e3 >= t.max_wait_ms  # type: ignore[operator]
            return len(self._items) >= t.batch_size or waited  # type: ignore[operator]
        return now >= self._next_tick

    def take(self, now: float) -> list[Any]:
        """Remove and return the batch to flush (may be empty on an interval tick with no data)."""
        t = self.trigger
        if t.kind == "interval":
            step = t.interval_ms / 1e3  # type: ignore[operator]
            missed = max(0, math.floor((now - self._next_tick) / step))  # a slow sink skips ticks, as Spark does
            self._next_tick += (missed + 1) * step
        count = t.batch_size if t.kind == "size" else len(self._items)
        batch, self._items = self._items[:count], self._items[count:]
        self._arrived = self._arrived[count:]
        return batch

    def wait_s(self, now: float) -> float:
        """How long the consumer may block for more records before the next flush is due."""
        t = self.trigger
        if t.kind == "interval":
            return max(0.0, min(self._next_tick - now, IDLE_POLL_S))
        if t.kind == "size" and self._arrived:
            return max(0.0, min(self._arrived[0] + t.max_wait_ms / 1e3 - now, IDLE_POLL_S))  # type: ignore[operator]
        return IDLE_POLL_S

    def want(self) -> int:
        """How many records to ask the client for in the next poll."""
        t = self.trigger
        if t.kind == "record":
            return 1
        if t.kind == "size":
            return max(1, t.batch_size - len(self._items))  # type: ignore[operator]
        return _MAX_FETCH


def latency_stats(latencies_ms: Sequence[float] | np.ndarray) -> dict[str, float]:
    """p50/p95/p99/mean/max of latencies in ms (numpy's linear interpolation).

    Raises:
        ConfigError: No latency, or a NaN/negative one (clock skew between producer and sink).
    """
    values = np.asarray(latencies_ms, dtype=float)
    if values.size == 0:
        raise ConfigError("no latency to summarise: nothing reached the sink", fix="check the run's dead letters")
    if np.isnan(values).any():
        raise ConfigError("a latency is NaN: a record lacks its produce time", fix="stamp every record when producing")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "p99_ms": float(p99), "mean_ms": float(values.mean()),
            "max_ms": float(values.max())}


def choose_interval(table: pd.DataFrame, sla_p99_ms: float, *, cpu_column: str = "cpu_us_per_record") -> float:
    """The reference answer: among ``interval`` rows whose p99 meets the SLA, the least CPU per record.

    Ties on CPU go to the lower p99, then the shorter interval.

    Raises:
        ValueError: No interval meets the SLA.
    """
    needed = {"trigger", "param", "p99_ms", cpu_column}
    if not needed <= set(table.columns):
        raise ConfigError(f"the table lacks column(s) {sorted(needed - set(table.columns))}",
                          fix="pass the summary table of compare_triggers")
    rows = table[table["trigger"] == "interval"]
    feasible = rows[rows["p99_ms"] <= float(sla_p99_ms)]
    if feasible.empty:
        raise ValueError(f"no batch interval meets p99 <= {float(sla_p99_ms):g} ms (best p99: "
                         f"{rows['p99_ms'].min() if len(rows) else float('nan'):g} ms)")
    best = feasible.sort_values([cpu_column, "p99_ms", "param"], kind="stable").iloc[0]
    return float(best["param"])


def suggest_sla(table: pd.DataFrame, *, factor: float = 1.2) -> float:
    """A p99 SLA that the measured intervals can meet but not all of them: ``factor`` x the second-lowest
    interval p99, rounded up to 10 ms (the lowest one when only one interval was measured).

    Raises:
        ConfigError: The table has no interval row.
    """
    p99 = np.sort(table.loc[table["trigger"] == "interval", "p99_ms"].to_numpy(dtype=float))
    if p99.size == 0:
        raise ConfigError("no interval trigger in the table", fix="measure at least one Trigger.interval(...)")
    return float(math.ceil(p99[min(1, p99.size - 1)] * factor / 10.0) * 10.0)
