"""Executor memory, cores and dynamic allocation, measured on a real standalone cluster (Lab 3, section 1).

An executor layout is fixed when a Spark application starts, so each layout is its own
application (:func:`run_layout`); the job is run several times so the cold first run (executor JVMs
loading classes and compiling) is reported apart from the steady job time. What each layout held of
the cluster (core-seconds, from the status REST API's executor add/remove times) and how much of it
tasks used (utilisation) decide the recommendation (:func:`recommend_layout`) and the exercise's
verdict (:func:`judge_layout`)::

    from platform_kit.spark import layouts
    job = layouts.layout_job(data)
    default = layouts.measure_layout(spark, job, layouts.DEFAULT_LAYOUT, target=target)
    small = layouts.run_layout(pk, layouts.ExecutorLayout(name="small", executor_cores=1,
                                                          executor_memory="512m"), job)
    print(layouts.recommend_layout([default, small]))

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from typing import Any

from platform_kit.spark._layouts_advice import (
    MAX_SLOWDOWN,
    MIN_SAVING,
    NOISE,
    NOISE_S,
    SLACK_S,
    LayoutTrial,
    Recommendation,
    Verdict,
    judge_layout,
    recommend_layout,
)
from platform_kit.spark._layouts_model import (
    MIN_EXECUTOR_MEMORY_MB,
    ClusterShape,
    ExecutorLayout,
    parse_memory_mb,
)
from platform_kit.spark._layouts_plot import plot_layouts
from platform_kit.spark._layouts_run import (
    ExecutorSpan,
    LayoutResult,
    LayoutRun,
    core_seconds,
    executor_spans,
    measure_layout,
    run_layout,
    utilisation,
)

__all__ = [
    "DEFAULT_LAYOUT",
    "MAX_SLOWDOWN",
    "MIN_EXECUTOR_MEMORY_MB",
    "MIN_SAVING",
    "NOISE",
    "NOISE_S",
    "SLACK_S",
    "ClusterShape",
    "ExecutorLayout",
    "ExecutorSpan",
    "LayoutResult",
    "LayoutRun",
    "LayoutTrial",
    "Recommendation",
    "Verdict",
    "build_layout_job",
    "core_seconds",
    "executor_spans",
    "judge_layout",
    "layout_job",
    "measure_layout",
    "parse_memory_mb",
    "plot_layouts",
    "recommend_layout",
    "run_layout",
    "utilisation",
]

#: Spark's own defaults on a standalone cluster: one executor per worker with all its cores, 1g heap.
DEFAULT_LAYOUT = ExecutorLayout(name="default")


def build_layout_job(spark: Any, data: Any) -> Any:
    """The measured job as a DataFrame: sessions per customer joined with spend and segment.

    Three shuffles (sessions, customers, orders) and two joins on the lab data: a scan of the
    clickstream, ``groupBy(session)`` then ``groupBy(customer)``, the orders aggregated per
    customer, both joined with the customers dimension and rolled up by segment and region.
    """
    from pyspark.sql import functions as F

    clicks = data.read(spark, "clickstream")
    sessions = clicks.groupBy("session_id", "customer_id").agg(
        F.count("*").alias("events"), F.countDistinct("page").alias("pages"),
        (F.max("event_ts").cast("long") - F.min("event_ts").cast("long")).alias("duration_s"))
    per_customer = sessions.groupBy("customer_id").agg(
        F.count("*").alias("sessions"), F.avg("events").alias("events_per_session"), F.sum("duration_s").alias("time_s"))
    spend = data.read(spark, "orders").groupBy("customer_id").agg(
        F.sum("total_amount").alias("spend"), F.count("*").alias("orders"))
    customers = data.read(spark, "customers").select("customer_id", "segment", "region")
    return (per_customer.join(spend, "customer_id").join(customers, "customer_id")
            .groupBy("segment", "region")
            .agg(F.sum("sessions").alias("sessions"), F.sum("orders").alias("orders"),
                 F.round(F.sum("spend"), 2).alias("spend"),  # rounded: float sums depend on the partitioning
                 F.round(F.avg("events_per_session"), 6).alias("events_per_session"))
            .orderBy("segment", "region"))


def layout_job(data: Any) -> Any:
    """``job(spark)`` for :func:`run_layout`: collects :func:`build_layout_job` (a few dozen rows)."""

    def job(spark: Any) -> list[Any]:
        return build_layout_job(spark, data).collect()

    job.__doc__ = "sessions per customer joined with spend and segment, rolled up by segment and region"
    return job
