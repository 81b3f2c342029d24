"""Formulas of the partition section: how many partitions a target needs, what a grid cell should give.

* A partition is consumed by at most one consumer of a group, so a group of ``c`` consumers on ``p``
  partitions has ``min(c, p)`` busy consumers; with per-partition record counts ``n_i`` and the range
  assignor, the group finishes when its most loaded consumer does:
  ``throughput = sum(n_i) / max_consumer(sum of its n_i) * per_consumer_rate``.
* Partitions for a target: each partition can feed one consumer at ``per_consumer_rate`` (and, if
  given, take ``per_partition_produce_rate`` of writes), provisioned for ``target * (1 + headroom)``::

      partitions = ceil(target * (1 + headroom) / min(per_consumer_rate, per_partition_produce_rate))

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError
from platform_kit.ingestion._partitions_pool import range_assignment

__all__ = ["find_knee", "model_throughput", "partitions_needed", "skew_ratio"]


def _number(name: str, value: Any, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}", fix=f"pass a number for {name}")
    if value < 0 or (positive and value == 0):
        raise ConfigError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}",
                          fix=f"measure {name} first (it cannot be zero or negative)")
    return float(value)


def partitions_needed(target_rate: float, per_consumer_rate: float, headroom: float = 0.25, *,
                      per_partition_produce_rate: float | None = None) -> int:
    """Smallest partition count whose consumers (one per partition) carry ``target_rate * (1 + headroom)``.

    Args:
        target_rate: Records/s the topic must absorb at peak.
        per_consumer_rate: Records/s one consumer sustains (measured, with its real handler).
        headroom: Spare capacity as a fraction (0.25 = provision for 125 % of the target), for
            growth, uneven keys and catching up after an outage.
        per_partition_produce_rate: Optional write limit of one partition (records/s).

    Returns:
        At least 1.

    Raises:
        ConfigError: A negative or non-finite input, or a zero rate.
    """
    target = _number("target_rate", target_rate, positive=False)
    rate = _number("per_consumer_rate", per_consumer_rate, positive=True)
    room = _number("headroom", headroom, positive=False)
    if per_partition_produce_rate is not None:
        rate = min(rate, _number("per_partition_produce_rate", per_partition_produce_rate, positive=True))
    need = target * (1 + room) / rate
    return max(1, math.ceil(need - 1e-9))  # 4.0000000001 from float noise is still 4


def model_throughput(counts: Sequence[int] | Mapping[int, int], consumers: int, per_consumer_rate: float) -> float:
    """Group throughput the model predicts for these per-partition record counts (range assignor)."""
    rate = _number("per_consumer_rate", per_consumer_rate, positive=True)
    by_partition = dict(counts) if isinstance(counts, Mapping) else dict(enumerate(counts))
    total = sum(by_partition.values())
    if total == 0:
        return 0.0
    loads = [sum(by_partition[p] for p in owned) for owned in range_assignment(sorted(by_partition), consumers)]
    return total / max(loads) * rate


def skew_ratio(counts: Sequence[int] | Mapping[int, int]) -> float:
    """Largest partition over the mean partition (1.0 = perfectly even)."""
    values = list(counts.values()) if isinstance(counts, Mapping) else list(counts)
    if not values or sum(values) == 0:
        return float("nan")
    return max(values) / (sum(values) / len(values))


def find_knee(grid: pd.DataFrame, gain_threshold: float = 0.15) -> pd.DataFrame:
    """Per partition count, the consumer count after which adding consumers stops paying.

    Going from one consumer count to the next "pays" when throughput grows by more than
    ``gain_threshold`` *and* (when the grid has ``active_consumers``) more consumers actually own a
    partition: a consumer without a partition cannot add throughput, so a gain there is noise.

    Args:
        grid: Rows with ``partitions``, ``consumers``, ``throughput`` (and optionally ``active_consumers``).

    Returns:
        ``partitions``, ``knee_consumers``, ``best_throughput`` and ``capped_by``: ``partitions`` when
        the knee is at (or past) the partition count, ``grid`` when the largest consumer count measured
        still paid, else ``handler/cores``.
    """
    rows = []
    for parts, block in grid.sort_values("consumers").groupby("partitions"):
        consumers = block["consumers"].tolist()
        rates = block["throughput"].tolist()
        active = block["active_consumers"].tolist() if "active_consumers" in block else consumers
        knee = consumers[-1]
        for i in range(1, len(rates)):
            if not (rates[i] > rates[i - 1] * (1 + gain_threshold) and active[i] > active[i - 1]):
                knee = consumers[i - 1]
                break
        if knee >= parts:
            capped = "partitions"
        elif knee == consumers[-1]:
            capped = "grid"
        else:
            capped = "handler/cores"
        rows.append({"partitions": int(parts), "knee_consumers": int(knee), "best_throughput": max(rates),
                     "capped_by": capped})
    return pd.DataFrame(rows)
