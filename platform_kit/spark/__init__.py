"""Lab 3: distributed data processing optimisation on a real Spark standalone cluster.

The shared building blocks are importable from here: sessions on the cluster with a
chosen executor layout (:func:`cluster_session`), measurements from the status REST
API (:func:`measure`) and the replicated lab data (:func:`prepare_lab_data`). Each
section's logic is its own module, imported on first use::

    layouts     executor cores/memory/overhead, shuffle partitions, dynamic allocation
    skew        skew detection from data and task times; salting, repartitioning, AQE
    pushdown    predicate pushdown and column pruning from plans and scan metrics
    apis        RDD vs DataFrame vs SQL vs pandas UDF; what replaces the typed Dataset
    caching     storage levels, storage memory, eviction, which intermediates to cache
    joins       broadcast hash join vs sort-merge join, thresholds and hints
    eventlog    the event log parsed into per-stage metrics and a timeline
    profiling   bottlenecks ranked and named from stage metrics
    compat      Spark/Scala/Hadoop/Java/connector versions against a compatibility table

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from platform_kit.spark._session import SparkTarget, cluster_session, executor_count, wait_for_executors
from platform_kit.spark.data import LabData, prepare_lab_data
from platform_kit.spark.monitor import JobMetrics, SparkRest, StageMetrics, measure, metrics_frame, stages_frame

SECTION_MODULES = ("layouts", "skew", "pushdown", "apis", "caching", "joins", "eventlog", "profiling", "compat")

__all__ = [
    "JobMetrics",
    "LabData",
    "SparkRest",
    "SparkTarget",
    "StageMetrics",
    "cluster_session",
    "executor_count",
    "measure",
    "metrics_frame",
    "prepare_lab_data",
    "stages_frame",
    "wait_for_executors",
    *SECTION_MODULES,
]


def __getattr__(name: str) -> ModuleType:
    if name in SECTION_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
