"""Cluster shapes and the size/duration strings of executor layouts.

:class:`ClusterShape` is what a layout must fit: the cores and memory each worker offers (from the
standalone master's ``/json/`` document, or the workbench config when the master does not answer).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from platform_kit.errors import InputError

__all__ = ["ClusterShape", "parse_memory_mb", "parse_seconds"]

_MEMORY = re.compile(r"^\s*(\d+)\s*([mMgG])[bB]?\s*$")


def parse_memory_mb(value: Any, *, what: str = "memory") -> int:
    """MiB in a Spark memory string (``"512m"``, ``"1g"``, ``"2G"``; a bare int is MiB).

    Raises:
        InputError: Anything else (``"1.5g"``, ``"lots"``, ``-1``...).
    """
    if isinstance(value, bool):
        raise InputError(f"{what} must be a size like '512m' or '1g', got {value!r}", fix="write e.g. '512m' or '2g'")
    if isinstance(value, int):
        megabytes = value
    else:
        match = _MEMORY.match(str(value))
        if not match:
            raise InputError(f"{what} must be a whole number of MiB or GiB like '512m' or '1g', got {value!r}",
                             fix="write e.g. '768m' instead of '0.75g'")
        megabytes = int(match.group(1)) * (1024 if match.group(2).lower() == "g" else 1)
    if megabytes <= 0:
        raise InputError(f"{what} must be positive, got {value!r}", fix="write e.g. '512m'")
    return megabytes


def parse_seconds(value: Any, what: str) -> float:
    text = str(value).strip().lower()
    scale = 1.0
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("min", 60.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        seconds = float(text) * scale
    except ValueError:
        raise InputError(f"{what} must be a duration like '3s' or a number of seconds, got {value!r}",
                         fix="write e.g. 3 or '3s'") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"{what} must be a positive duration, got {value!r}", fix="write e.g. '3s'")
    return seconds


@dataclass(frozen=True)
class ClusterShape:
    """The workers an application's executors must fit on.

    Attributes:
        worker_cores: Cores each worker offers (one entry per worker).
        worker_memory_mb: MiB each worker offers to executors (same order).
        physical_cores: Real cores of the machine(s), when known (here fewer than advertised).
    """

    worker_cores: tuple[int, ...]
    worker_memory_mb: tuple[int, ...]
    physical_cores: int | None = None

    def __post_init__(self) -> None:
        if not self.worker_cores or len(self.worker_cores) != len(self.worker_memory_mb):
            raise InputError("a cluster shape needs one (cores, memory) pair per worker",
                             fix="build it with ClusterShape.from_workbench(pk) or uniform(workers, cores, memory)")
        if min(self.worker_cores) < 1 or min(self.worker_memory_mb) < 1:
            raise InputError("worker cores and memory must be positive", fix="check the spark_cluster config")

    @classmethod
    def uniform(cls, workers: int, cores: int, memory: str | int, physical_cores: int | None = None) -> ClusterShape:
        """``workers`` identical workers of ``cores`` cores and ``memory`` (``"2g"``)."""
        if workers < 1:
            raise InputError(f"a cluster needs at least one worker, got {workers}", fix="pass workers >= 1")
        return cls((cores,) * workers, (parse_memory_mb(memory, what="worker memory"),) * workers, physical_cores)

    @classmethod
    def from_state(cls, state: Any, physical_cores: int | None = None) -> ClusterShape:
        """From a :class:`~platform_kit.services.spark_cluster.ClusterState` (the master's ``/json/``)."""
        workers = [w for w in getattr(state, "workers", ()) if w.get("state", "ALIVE") == "ALIVE"]
        if workers:
            return cls(tuple(int(w["cores"]) for w in workers), tuple(int(w["memory"]) for w in workers),
                       physical_cores)
        count = max(1, int(state.alive_workers))
        return cls((max(1, state.cores // count),) * count, (max(1, state.memory_mb // count),) * count, physical_cores)

    @classmethod
    def from_workbench(cls, workbench: Any) -> ClusterShape:
        """Ask the workbench's running cluster (or, if it does not answer, read its config; an external
        cluster that does not answer gets the embedded cluster's default shape)."""
        import os

        from platform_kit.errors import WorkbenchError
        from platform_kit.services.spark_cluster import EmbeddedSparkClusterConfig

        physical = os.cpu_count()
        try:
            return cls.from_state(workbench.spark_cluster.state(), physical)
        except WorkbenchError:
            cfg = workbench.service("spark_cluster").config
            if not isinstance(cfg, EmbeddedSparkClusterConfig):
                cfg = EmbeddedSparkClusterConfig()
            return cls.uniform(cfg.workers, cfg.worker_cores, cfg.worker_memory, physical)

    @property
    def cores(self) -> int:
        """Cores the cluster advertises in all."""
        return sum(self.worker_cores)

    def describe(self) -> str:
        """One line for reports: ``2 workers x 2 cores x 2048 MiB (2 physical cores)``."""
        same = len(set(self.worker_cores)) == 1 and len(set(self.worker_memory_mb)) == 1
        body = (f"{len(self.worker_cores)} workers x {self.worker_cores[0]} cores x {self.worker_memory_mb[0]} MiB"
                if same else ", ".join(f"{c}c/{m}MiB" for c, m in zip(self.worker_cores, self.worker_memory_mb,
                                                                       strict=True)))
        return body + (f" ({self.physical_cores} physical cores)" if self.physical_cores else "")
