"""Selective caching: storage levels, storage memory, eviction, and which intermediates to cache (Lab 3, s. 5).

A DataFrame that several jobs read is recomputed by each of them unless it is persisted.
:func:`measure_levels` runs the same downstream jobs with no cache and with each storage level
and reads what the cache held from the status REST API (:func:`storage_state`);
:func:`pressure_demo` overfills storage memory to show a reused cache being evicted and memory
returned by ``unpersist``; :func:`choose_caches` decides, from measured reuse, cost and size,
which intermediates deserve the shared memory::

    from platform_kit.spark import caching
    levels = caching.measure_levels(spark, lambda: caching.sessionised_clicks(spark, data),
                                    caching.downstream_uses())
    caching.choose_caches([caching.CacheCandidate("sessions", 3, 1.2, 2_000_000, read_s=0.2, fill_s=2.0)],
                          64 << 20)

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._caching_choose import (
    CacheCandidate,
    as_candidates,
    best_caches,
    choose_caches,
    saved_seconds,
    total_saved,
)
from platform_kit.spark._caching_measure import (
    LEVELS,
    LevelResult,
    PressureReport,
    measure_candidate,
    measure_levels,
    pressure_demo,
    storage_level,
)
from platform_kit.spark._caching_storage import (
    CachedRdd,
    ExecutorMemory,
    StorageSnapshot,
    snapshot_from_docs,
    storage_state,
)

__all__ = [
    "LEVELS",
    "CacheCandidate",
    "CachedRdd",
    "ExecutorMemory",
    "LevelResult",
    "PressureReport",
    "StorageSnapshot",
    "as_candidates",
    "best_caches",
    "candidates_frame",
    "choose_caches",
    "downstream_uses",
    "levels_frame",
    "measure_candidate",
    "measure_levels",
    "plot_levels",
    "plot_pressure",
    "pressure_demo",
    "saved_seconds",
    "sessionised_clicks",
    "snapshot_from_docs",
    "storage_level",
    "storage_state",
    "total_saved",
]


def sessionised_clicks(spark: Any, data: Any) -> Any:
    """The reused intermediate: clicks with per-session step and gap (a window: shuffle + sort) and segment.

    Only the columns the downstream jobs read are kept: a cache materialises every column it
    holds, so column pruning stops at the cache.
    Columns added: ``step`` (position in the session), ``gap_s`` (seconds since the previous
    event), and the customer's ``segment`` and ``region`` (broadcast left join of 200 rows: anonymous clicks stay).
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    session = Window.partitionBy("session_id").orderBy("event_ts")
    customers = data.read(spark, "customers").select("customer_id", "segment", "region")
    return (data.read(spark, "clickstream").select("session_id", "customer_id", "event_type", "page", "event_ts")
            .withColumn("step", F.row_number().over(session))
            .withColumn("gap_s", F.col("event_ts").cast("long") - F.lag("event_ts").over(session).cast("long"))
            .join(F.broadcast(customers), "customer_id", "left"))


def downstream_uses() -> list[Any]:
    """Three aggregations that read the sessionised clicks (each an action returning rows)."""
    from pyspark.sql import functions as F

    return [
        lambda df: df.groupBy("event_type").agg(F.count("*").alias("events"), F.avg("gap_s").alias("gap_s")).collect(),
        lambda df: df.groupBy("region", "segment").agg(F.countDistinct("session_id").alias("sessions")).collect(),
        lambda df: df.where("step = 1").groupBy("page").count().collect(),
    ]


def levels_frame(results: Sequence[LevelResult]) -> Any:
    """A pandas DataFrame with one row per level, and the speed-up against no cache."""
    import pandas as pd

    frame = pd.DataFrame([r.row() for r in results])
    base = next((r.total_s for r in results if r.level == "NONE"), None)
    if base:
        frame["speedup_vs_none"] = (base / frame["total_s"]).round(2)
    return frame


def candidates_frame(candidates: Sequence[Any], chosen: Sequence[str] = ()) -> Any:
    """A pandas DataFrame of candidates with saved seconds, seconds per MB and the decision."""
    import pandas as pd

    frame = pd.DataFrame([c.as_dict() for c in as_candidates(candidates)])
    frame["cache"] = frame["name"].isin(list(chosen))
    return frame


def plot_levels(results: Sequence[LevelResult]) -> Any:
    """Bars: time of the first use and of the reuses per level; storage bytes in memory and on disk."""
    import matplotlib.pyplot as plt
    import numpy as np

    if not results:
        raise InputError("nothing to plot", fix="pass measure_levels(...)'s results")
    fig, (ax_time, ax_bytes) = plt.subplots(1, 2, figsize=(11, 3.6))
    x = np.arange(len(results))
    names = [r.level for r in results]
    first = [r.first_s for r in results]
    later = [r.total_s - r.first_s for r in results]
    ax_time.bar(x, first, label="first use (fills the cache, if any)", color="#e39b4b")
    ax_time.bar(x, later, bottom=first, label="later uses", color="#4b7be3")
    ax_time.set_xticks(x, names, fontsize=8)
    ax_time.set_ylabel("seconds for all uses")
    ax_time.set_title("reusing an intermediate")
    ax_time.legend(fontsize=8)
    width = 0.38
    ax_bytes.bar(x - width / 2, [r.memory_bytes / 1e6 for r in results], width, label="memory", color="#3a9d5d")
    ax_bytes.bar(x + width / 2, [r.disk_bytes / 1e6 for r in results], width, label="disk", color="#999999")
    ax_bytes.set_xticks(x, names, fontsize=8)
    ax_bytes.set_ylabel("MB cached (/storage/rdd)")
    ax_bytes.set_title("where the cache lives")
    ax_bytes.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_pressure(report: PressureReport) -> Any:
    """Executor storage memory used vs max before, under pressure and after unpersist."""
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 3.4))
    moments = [s.label for s in report.snapshots]
    used = [s.memory_used / 1e6 for s in report.snapshots]
    limit = max(s.max_memory for s in report.snapshots) / 1e6
    ax.bar(np.arange(3), used, color=["#4b7be3", "#d9534f", "#3a9d5d"])
    ax.axhline(limit, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"executors' unified memory {limit:,.0f} MB", (0, limit), xytext=(0, 4), textcoords="offset points",
                fontsize=8)
    ax.set_xticks(np.arange(3), moments)
    ax.set_ylabel("storage memory used (MB)")
    ax.set_title(f"a {report.requested_bytes / 1e6:,.0f} MB MEMORY_ONLY cache: {report.hog_fraction:.0%} fitted")
    ax.margins(y=0.2)
    fig.tight_layout()
    return fig
