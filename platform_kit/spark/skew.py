"""Skewed joins: detect hot keys from the data and from task times, then fix them.

In a shuffled (sort-merge) join every row of a key goes to the same task. When a few keys
hold most rows, one task does most of the work while the other cores wait, and that task
needs memory for all of it (where executors spill or die). Three fixes, and what each does:

* **repartitioning on the join key** (``df.repartition(n, key)``) evens out partitions
  made uneven by their *number* or by several busy keys colliding, and lets both sides
  share one partitioning, but it cannot split a key: a single hot key stays in one task;
* **salting** (:func:`salted_join`) spreads a hot key over ``buckets`` tasks by adding a
  salt to the key and replicating the other side once per salt: exact, manual;
* **AQE's skew join** (``spark.sql.adaptive.skewJoin.enabled``) splits a partition larger
  than ``skewedPartitionFactor`` x the median and ``skewedPartitionThresholdInBytes`` at
  runtime, replicating the other side's matching partition: automatic, for shuffled joins.

Detection from the data is :func:`key_skew` (rows per key: top-k share, max/median, Gini,
hot keys over a threshold); from the executors it is :func:`compare_runs` over measured
jobs (max/median task time and shuffle records read per task of the join stage).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._joins_plan import sql_conf
from platform_kit.spark._skew_plot import SLOTS, plot_skew, projected_stage_times
from platform_kit.spark._skew_spark import key_counts, key_skew, plant_hot_keys, salted_join
from platform_kit.spark._skew_stats import KeySkew, as_counts, gini, hot_keys, skew_stats, zipf_weights
from platform_kit.spark._skew_tasks import (
    TASK_COLUMNS,
    TaskSkew,
    compare_runs,
    join_stage,
    makespan,
    stage_tasks,
    task_skew,
    tasks_frame,
)

__all__ = [
    "AQE_SKEW_OFF",
    "SLOTS",
    "TASK_COLUMNS",
    "KeySkew",
    "TaskSkew",
    "aqe_skew_settings",
    "as_counts",
    "compare_runs",
    "gini",
    "hot_keys",
    "join_stage",
    "key_counts",
    "key_skew",
    "makespan",
    "plant_hot_keys",
    "plot_skew",
    "projected_stage_times",
    "salted_join",
    "skew_split",
    "skew_stats",
    "sql_conf",
    "stage_tasks",
    "task_skew",
    "tasks_frame",
    "zipf_weights",
]

#: The "before" of every skew measurement: AQE off (it would split or coalesce partitions)
#: and broadcast off (a broadcast join has no shuffle to be skewed).
AQE_SKEW_OFF = {"spark.sql.adaptive.enabled": "false", "spark.sql.autoBroadcastJoinThreshold": "-1"}


def aqe_skew_settings(threshold_bytes: int, *, factor: float = 5.0, advisory_bytes: int | None = None) -> dict[str, str]:
    """Runtime settings that turn on AQE's skew join with thresholds fitted to the data.

    Spark's defaults (a partition above 256 MB *and* 5 x the median) never trigger on small
    data; lower ``threshold_bytes`` to what a skewed partition of *your* data weighs.
    ``advisory_bytes`` (default: the threshold / 4) is the size AQE splits a skewed partition
    into. Partition coalescing is turned off so the other partitions stay comparable.
    Broadcast stays off: the join must remain a shuffled join to be split.
    """
    if isinstance(threshold_bytes, bool) or not isinstance(threshold_bytes, int) or threshold_bytes < 1:
        raise InputError(f"threshold_bytes must be a positive integer, got {threshold_bytes!r}",
                         fix="pass e.g. a quarter of the largest shuffle partition's bytes")
    advisory = advisory_bytes if advisory_bytes is not None else max(1024, threshold_bytes // 4)
    return {"spark.sql.adaptive.enabled": "true", "spark.sql.adaptive.skewJoin.enabled": "true",
            "spark.sql.adaptive.skewJoin.skewedPartitionFactor": str(factor),
            "spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes": str(int(threshold_bytes)),
            "spark.sql.adaptive.advisoryPartitionSizeInBytes": str(int(advisory)),
            "spark.sql.adaptive.coalescePartitions.enabled": "false",
            "spark.sql.autoBroadcastJoinThreshold": "-1"}


def skew_split(df: Any) -> bool:
    """True when AQE split skewed partitions in ``df``'s join (read after ``collect()`` of ``df``)."""
    from platform_kit.spark.joins import plan_summary

    return plan_summary(df).skew_join
