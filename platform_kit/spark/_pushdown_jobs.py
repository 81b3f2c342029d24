"""The jobs Section 3 measures: one day of clickstream, asked for in ways that push down or not.

Every variant returns the same rows (the events of one day, ``customer_id`` and
``event_type``), so their scans compare like for like. The exercise's slow job and its
reference rewrite live here too, so the notebook, the grader and the benchmark run the same
code.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from platform_kit.errors import InputError

__all__ = ["DayVariant", "day_bounds", "day_variants", "fast_day_summary", "slow_day_summary"]

_NEEDED = ("customer_id", "event_type")


def day_bounds(day: str) -> tuple[str, str]:
    """``("YYYY-MM-DD 00:00:00", next day 00:00:00)`` for a ``YYYY-MM-DD`` day (session time zone).

    Raises:
        InputError: ``day`` is not an ISO date.
    """
    try:
        start = _dt.date.fromisoformat(str(day))
    except ValueError as exc:
        raise InputError(f"day must be an ISO date such as '2024-12-01', got {day!r}",
                         fix="pass the day as 'YYYY-MM-DD'") from exc
    return f"{start} 00:00:00", f"{start + _dt.timedelta(days=1)} 00:00:00"


@dataclass(frozen=True)
class DayVariant:
    """One way of asking for a day's events: a label, what it shows, and the query."""

    label: str
    expression: str
    pushes: bool
    build: Callable[[Any], Any]


def day_variants(day: str) -> list[DayVariant]:
    """The same question ("who did what on ``day``?") written six ways.

    Each ``build(events)`` takes the clickstream DataFrame and returns the day's rows.
    ``pushes`` is what Spark 4 does with the predicate (checked against the plan by the lab).
    """
    from pyspark.sql import functions as F

    low, high = day_bounds(day)
    ts = F.col("event_ts")
    in_day = (ts >= F.lit(low).cast("timestamp")) & (ts < F.lit(high).cast("timestamp"))
    start, end = pd.Timestamp(low), pd.Timestamp(high)

    @F.pandas_udf("boolean")  # type: ignore[call-overload]
    def in_window(values: pd.Series) -> pd.Series:  # the very same range, but in Python: opaque to Spark
        return (values >= start) & (values < end)

    def needed(frame: Any) -> Any:
        return frame.select(*_NEEDED)

    return [
        DayVariant("range on event_ts", f"event_ts >= '{low}' AND event_ts < '{high}'", True,
                   lambda e: needed(e.where(in_day))),
        DayVariant("to_date(event_ts) = day", f"to_date(event_ts) = DATE '{day}'", True,
                   lambda e: needed(e.where(F.to_date(ts) == F.lit(day).cast("date")))),
        DayVariant("cast to string", f"CAST(event_ts AS STRING) LIKE '{day}%'", False,
                   lambda e: needed(e.where(ts.cast("string").startswith(day)))),
        DayVariant("pandas UDF (same range)", "in_window(event_ts): the range, in Python", False,
                   lambda e: needed(e.where(in_window(ts)))),
        DayVariant("rand() column kept", "withColumn('sample_key', rand()), then the range", False,
                   lambda e: e.withColumn("sample_key", F.rand(7)).where(in_day).select(*_NEEDED, "sample_key")),
        DayVariant("range, select *", "the range, then every column", True, lambda e: e.where(in_day)),
    ]


def slow_day_summary(spark: Any, path: str, day: str) -> Any:
    """Events, and events naming a product, per event type on ``day``: the slow way (a function of the column).

    ``date_format`` turns each timestamp into a string before comparing, so Spark cannot hand
    the predicate to the Parquet reader: every row group of ``event_ts`` is read and filtered.
    """
    from pyspark.sql import functions as F

    events = spark.read.parquet(path)
    on_day = events.where(F.date_format("event_ts", "yyyy-MM-dd") == day)
    return (on_day.groupBy("event_type")
            .agg(F.count("*").alias("events"), F.count("product_id").alias("product_events"))
            .orderBy("event_type"))


def fast_day_summary(spark: Any, path: str, day: str) -> Any:
    """The same result with a range on the raw timestamp, which Parquet can use to skip row groups."""
    from pyspark.sql import functions as F

    low, high = day_bounds(day)
    events = spark.read.parquet(path)
    on_day = events.where((F.col("event_ts") >= F.lit(low).cast("timestamp"))
                          & (F.col("event_ts") < F.lit(high).cast("timestamp")))
    return (on_day.groupBy("event_type")
            .agg(F.count("*").alias("events"), F.count("product_id").alias("product_events"))
            .orderBy("event_type"))
