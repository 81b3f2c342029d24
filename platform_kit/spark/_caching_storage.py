"""What the executors hold: cached RDDs and storage memory, from the status REST API.

``/storage/rdd`` lists every cached RDD with its storage level, how many of its partitions are
cached and how many bytes they take in memory and on disk; ``/executors`` gives each executor's
``memoryUsed`` against ``maxMemory`` (the unified execution + storage region:
``(heap - 300 MiB) x spark.memory.fraction``). Storage may use all of it while execution does not,
and cached blocks are evicted (least recently used first, never blocks of the RDD being cached)
when new blocks or execution need the room.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from platform_kit.spark.monitor import SparkRest

__all__ = ["CachedRdd", "ExecutorMemory", "StorageSnapshot", "storage_state"]


@dataclass(frozen=True)
class CachedRdd:
    """One cached RDD as ``/storage/rdd`` reports it."""

    rdd_id: int
    name: str
    level: str
    cached_partitions: int
    partitions: int
    memory_bytes: int
    disk_bytes: int

    @property
    def fraction_cached(self) -> float:
        """Share of its partitions that are cached (below 1: the rest is recomputed on each use)."""
        return self.cached_partitions / self.partitions if self.partitions else 0.0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CachedRdd:
        """From one ``/storage/rdd`` entry."""
        return cls(int(doc.get("id", -1)), str(doc.get("name", "")).split("\n")[0][:80],
                   str(doc.get("storageLevel", "")), int(doc.get("numCachedPartitions", 0)),
                   int(doc.get("numPartitions", 0)), int(doc.get("memoryUsed", 0)), int(doc.get("diskUsed", 0)))


@dataclass(frozen=True)
class ExecutorMemory:
    """Storage memory of one executor (bytes)."""

    executor_id: str
    memory_used: int
    max_memory: int


@dataclass(frozen=True)
class StorageSnapshot:
    """Cached RDDs and executor storage memory at one moment."""

    label: str
    rdds: tuple[CachedRdd, ...]
    executors: tuple[ExecutorMemory, ...]

    @property
    def memory_used(self) -> int:
        """Bytes of storage memory in use on the executors (the driver excluded unless alone)."""
        return sum(e.memory_used for e in self.executors)

    @property
    def max_memory(self) -> int:
        """Unified (execution + storage) memory of the executors, the most caches can take."""
        return sum(e.max_memory for e in self.executors)

    @property
    def free(self) -> int:
        """Bytes not used by cached blocks."""
        return max(0, self.max_memory - self.memory_used)

    def rdd(self, rdd_id: int) -> CachedRdd | None:
        """The entry of one RDD, or None when nothing of it is cached."""
        return next((r for r in self.rdds if r.rdd_id == rdd_id), None)

    def new_since(self, before: StorageSnapshot) -> tuple[CachedRdd, ...]:
        """RDDs cached now that were not in ``before``."""
        known = {r.rdd_id for r in before.rdds}
        return tuple(r for r in self.rdds if r.rdd_id not in known)

    def rows(self) -> list[dict[str, Any]]:
        """One row per cached RDD (for a table)."""
        return [{"when": self.label, "rdd": r.rdd_id, "name": r.name, "level": r.level,
                 "cached": f"{r.cached_partitions}/{r.partitions}", "fraction": round(r.fraction_cached, 3),
                 "memory_mb": round(r.memory_bytes / 1e6, 2), "disk_mb": round(r.disk_bytes / 1e6, 2)}
                for r in self.rdds]


def _executors(docs: Iterable[dict[str, Any]]) -> tuple[ExecutorMemory, ...]:
    docs = list(docs)
    chosen = [d for d in docs if d.get("id") != "driver"] or docs  # local[*]: the driver holds the cache
    return tuple(ExecutorMemory(str(d.get("id")), int(d.get("memoryUsed", 0)), int(d.get("maxMemory", 0)))
                 for d in sorted(chosen, key=lambda d: str(d.get("id"))))


def storage_state(spark: Any, label: str = "") -> StorageSnapshot:
    """Read ``/storage/rdd`` and ``/executors`` of the running application."""
    rest = SparkRest(spark)
    rdds = tuple(sorted((CachedRdd.from_doc(d) for d in rest.get("storage/rdd")), key=lambda r: r.rdd_id))
    return StorageSnapshot(label, rdds, _executors(rest.executors()))


def snapshot_from_docs(label: str, rdd_docs: Iterable[dict[str, Any]],
                       executor_docs: Iterable[dict[str, Any]]) -> StorageSnapshot:
    """A snapshot from REST documents (for tests and saved runs)."""
    return StorageSnapshot(label, tuple(CachedRdd.from_doc(d) for d in rdd_docs), _executors(executor_docs))
