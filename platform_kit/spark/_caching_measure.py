"""Measuring storage levels, cache candidates and eviction under memory pressure.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._caching_choose import CacheCandidate
from platform_kit.spark._caching_storage import CachedRdd, StorageSnapshot, storage_state
from platform_kit.spark.monitor import JobMetrics, measure

_log = logging.getLogger(__name__)

__all__ = ["LEVELS", "LevelResult", "PressureReport", "measure_candidate", "measure_levels", "pressure_demo",
           "storage_level"]

#: Storage levels compared by the lab ("NONE" = recompute on every use). In PySpark MEMORY_ONLY and
#: MEMORY_AND_DISK store *serialized* blocks; ``df.cache()`` is MEMORY_AND_DISK_DESER.
LEVELS = ("NONE", "MEMORY_ONLY", "MEMORY_AND_DISK", "DISK_ONLY")
_KNOWN = ("NONE", "MEMORY_ONLY", "MEMORY_ONLY_2", "MEMORY_AND_DISK", "MEMORY_AND_DISK_2", "MEMORY_AND_DISK_DESER",
          "DISK_ONLY", "DISK_ONLY_2", "OFF_HEAP", "MEMORY_ONLY_DESER")


def storage_level(name: str) -> Any:
    """The :class:`pyspark.StorageLevel` called ``name`` (None for ``NONE``).

    ``MEMORY_ONLY_DESER`` (Scala's MEMORY_ONLY: deserialized objects, sized as they sit on the
    heap) is built here; PySpark only names the serialized one.

    Raises:
        InputError: An unknown name.
    """
    from pyspark import StorageLevel

    key = str(name).upper()
    if key not in _KNOWN:
        raise InputError(f"unknown storage level {name!r}", fix=f"use one of {', '.join(_KNOWN)}")
    if key == "NONE":
        return None
    if key == "MEMORY_ONLY_DESER":
        return StorageLevel(False, True, False, True, 1)
    return getattr(StorageLevel, key)


def _settled(spark: Any, label: str, wanted: Callable[[StorageSnapshot], bool], timeout: float = 3.0) -> StorageSnapshot:
    """The storage state once ``wanted`` holds (the UI updates asynchronously), or after ``timeout``."""
    deadline = time.monotonic() + timeout
    snapshot = storage_state(spark, label)
    while not wanted(snapshot) and time.monotonic() < deadline:
        time.sleep(0.1)
        snapshot = storage_state(spark, label)
    return snapshot


@dataclass(frozen=True)
class LevelResult:
    """One storage level: every downstream use measured, and what the cache held."""

    level: str
    uses: tuple[JobMetrics, ...]
    cached: tuple[CachedRdd, ...] = ()

    @property
    def total_s(self) -> float:
        """Wall seconds of all uses (the first fills the cache)."""
        return sum(m.wall_s for m in self.uses)

    @property
    def first_s(self) -> float:
        """Wall seconds of the first use (computes the intermediate, fills the cache)."""
        return self.uses[0].wall_s

    @property
    def reuse_s(self) -> float:
        """Mean wall seconds of the later uses (read from the cache when there is one)."""
        later = self.uses[1:] or self.uses
        return sum(m.wall_s for m in later) / len(later)

    @property
    def task_s(self) -> float:
        """Executor task time summed over all uses."""
        return sum(m.task_ms for m in self.uses) / 1000

    @property
    def memory_bytes(self) -> int:
        """Bytes the cache held in memory."""
        return sum(r.memory_bytes for r in self.cached)

    @property
    def disk_bytes(self) -> int:
        """Bytes the cache held on disk."""
        return sum(r.disk_bytes for r in self.cached)

    @property
    def fraction_cached(self) -> float:
        """Share of partitions cached (0 without a cache)."""
        parts = sum(r.partitions for r in self.cached)
        return sum(r.cached_partitions for r in self.cached) / parts if parts else 0.0

    def row(self) -> dict[str, Any]:
        """One flat row for a table."""
        return {"level": self.level, "total_s": round(self.total_s, 3), "first_s": round(self.first_s, 3),
                "reuse_s": round(self.reuse_s, 3), "task_s": round(self.task_s, 3),
                "memory_mb": round(self.memory_bytes / 1e6, 3), "disk_mb": round(self.disk_bytes / 1e6, 3),
                "fraction_cached": round(self.fraction_cached, 3)}


Use = Callable[[Any], Any]


def measure_levels(spark: Any, build: Callable[[], Any], uses: Sequence[Use], levels: Sequence[str] = LEVELS,
                   *, name: str = "intermediate", warmup: bool = True) -> list[LevelResult]:
    """Run every use of the intermediate under each storage level, reading the cache's size.

    Args:
        spark: The session (UI on).
        build: Returns the intermediate DataFrame (a fresh plan each call).
        uses: Downstream actions, each ``use(df)``.
        levels: Storage level names (:data:`LEVELS`).
        name: Label prefix for the measurements.
        warmup: Run the first use once, unmeasured, so the first level does not pay for code
            paths the session has not run yet (JIT, class loading).
    """
    if not uses:
        raise InputError("no downstream uses to measure", fix="pass the actions that read the intermediate")
    if warmup:
        uses[0](build())
    results = []
    for level_name in levels:
        level = storage_level(level_name)
        before = storage_state(spark, "before")
        frame = build()
        if level is not None:
            frame = frame.persist(level)
        try:
            metrics = tuple(measure(spark, lambda use=use, frame=frame: use(frame), f"{name}-{level_name}-{i}")
                            for i, use in enumerate(uses))
            cached: tuple[CachedRdd, ...] = ()
            if level is not None:
                cached = _settled(spark, level_name, lambda s, before=before: bool(s.new_since(before))).new_since(before)
        finally:
            if level is not None:
                frame.unpersist(blocking=True)
        results.append(LevelResult(level_name, metrics, cached))
        _log.info("level %s: %.2f s over %d uses", level_name, results[-1].total_s, len(uses))
    return results


def _noop(frame: Any) -> None:
    frame.write.format("noop").mode("overwrite").save()


def measure_candidate(spark: Any, name: str, frame: Any, uses: int) -> CacheCandidate:
    """Measure one intermediate: compute it uncached, then cached (fill, read back), size from the API.

    Returns:
        ``compute_s`` (uncached), ``fill_s`` (first cached run), ``read_s`` (second), ``size_bytes``.

    Every column is computed (a ``noop`` write), not just counted.
    """
    computed = measure(spark, lambda: _noop(frame), f"{name}-uncached")
    before = storage_state(spark, "before")
    cached = frame.persist(storage_level("MEMORY_ONLY"))
    try:
        fill = measure(spark, lambda: _noop(cached), f"{name}-fill")
        read = measure(spark, lambda: _noop(cached), f"{name}-cached")
        entries = _settled(spark, name, lambda s, before=before: bool(s.new_since(before))).new_since(before)
    finally:
        cached.unpersist(blocking=True)
    size = sum(r.memory_bytes + r.disk_bytes for r in entries)
    return CacheCandidate(name, uses, round(computed.wall_s, 4), max(1, size), round(read.wall_s, 4),
                          round(fill.wall_s, 4))


@dataclass(frozen=True)
class PressureReport:
    """A reused cache, a hog that overfills storage memory, and what came back after unpersist.

    Attributes:
        snapshots: Storage before the hog, under pressure, after the hog's unpersist.
        victim_id: The reused intermediate's cached RDD.
        hog_id: The oversized cache's RDD.
        requested_bytes: What the hog tried to cache.
        fill: Measurement of filling the hog.
        use_cached: A use of the victim while fully cached.
        use_after: The same use after the hog pushed it out.
    """

    snapshots: tuple[StorageSnapshot, StorageSnapshot, StorageSnapshot]
    victim_id: int
    hog_id: int
    requested_bytes: int
    fill: JobMetrics
    use_cached: JobMetrics
    use_after: JobMetrics

    def entry(self, moment: int, rdd_id: int) -> CachedRdd | None:
        """One RDD's entry at snapshot ``moment`` (0 before, 1 under pressure, 2 after unpersist)."""
        return self.snapshots[moment].rdd(rdd_id)

    @property
    def victim_fraction(self) -> tuple[float, float]:
        """The reused intermediate's fraction cached before and under pressure."""
        before, after = self.entry(0, self.victim_id), self.entry(1, self.victim_id)
        return (before.fraction_cached if before else 0.0, after.fraction_cached if after else 0.0)

    @property
    def hog_fraction(self) -> float:
        """The hog's fraction cached (below 1: MEMORY_ONLY dropped what did not fit)."""
        entry = self.entry(1, self.hog_id)
        return entry.fraction_cached if entry else 0.0

    @property
    def returned_bytes(self) -> int:
        """Storage memory given back by the unpersist."""
        return max(0, self.snapshots[1].memory_used - self.snapshots[2].memory_used)

    def rows(self) -> list[dict[str, Any]]:
        """Executor memory at the three moments (for a table or a plot)."""
        return [{"when": s.label, "executor": e.executor_id, "used_mb": round(e.memory_used / 1e6, 1),
                 "max_mb": round(e.max_memory / 1e6, 1)} for s in self.snapshots for e in s.executors]


def pressure_demo(spark: Any, victim: Any, use: Use, *, overfill: float = 1.1, row_bytes: int = 1 << 20,
                  rows_per_partition: int = 2) -> PressureReport:
    """Overfill storage memory with a wide MEMORY_ONLY cache and watch a reused cache get evicted.

    ``victim`` must already be persisted and filled. The hog is ``overfill`` x the executors'
    free storage memory of constant 1 MiB binary rows, cached deserialized (sized as it sits on
    the heap), so it costs a memory copy per byte and no computation. Its partitions are small
    (2 MiB) on purpose: Spark evicts another RDD's blocks only when they free enough for the block
    being stored, so partitions larger than the victim's blocks on an executor would be dropped
    without evicting anything.

    Raises:
        InputError: ``overfill`` below 1 (nothing would be evicted) or an uncached victim.
    """
    from pyspark.sql import functions as F

    if not 1.0 <= overfill <= 3.0:
        raise InputError(f"overfill must be within 1..3, got {overfill}", fix="use 1.1: 10 % more than fits")
    use_cached = measure(spark, lambda: use(victim), "victim-cached")
    before = storage_state(spark, "before")
    if not before.rdds:
        raise InputError("the victim is not cached", fix="persist it and run one action on it first")
    victim_id = max(r.rdd_id for r in before.rdds)
    requested = int(before.free * overfill)
    rows = max(1, requested // row_bytes)
    parts = max(2, rows // rows_per_partition)
    hog = spark.range(0, rows, 1, parts).select(F.lit(bytearray(row_bytes)).alias("pad"))
    hog = hog.persist(storage_level("MEMORY_ONLY_DESER"))
    try:
        fill = measure(spark, lambda: hog.count(), "hog-fill")
        pressure = _settled(spark, "under pressure", lambda s: bool(s.new_since(before)))
        hog_id = max(r.rdd_id for r in pressure.new_since(before)) if pressure.new_since(before) else -1
        use_after = measure(spark, lambda: use(victim), "victim-after")
    finally:
        hog.unpersist(blocking=True)
    hog_entry = pressure.rdd(hog_id)
    hog_bytes = hog_entry.memory_bytes if hog_entry else 0
    # /storage/rdd drops the RDD at once; executors' memoryUsed follows as block removals are reported
    after = _settled(spark, "after unpersist", lambda s: s.rdd(hog_id) is None
                     and s.memory_used <= pressure.memory_used - 0.9 * hog_bytes, timeout=5.0)
    return PressureReport((before, pressure, after), victim_id, hog_id, rows * row_bytes, fill, use_cached, use_after)
