"""Exercise of lab ``03_spark``, section 3: rewrite a slow scan so Parquet can skip what it does not need."""

from __future__ import annotations

import datetime as _dt
import numbers
from typing import Any

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "03_spark"
_ID = "spark.pushdown_rewrite"
#: The rewrite must scan at most this fraction of the table's rows (the original scans them all).
MAX_ROWS_FRACTION = 0.5


def _days(groups: Any, day: str) -> list[str]:
    """The notebook's day, then another day of the data (three days earlier, else the first or last day)."""
    first = min(v for v in groups["min"] if v is not None).date()
    last = max(v for v in groups["max"] if v is not None).date()
    shown = _dt.date.fromisoformat(day)
    for candidate in (shown - _dt.timedelta(days=3), shown + _dt.timedelta(days=3), first, last):
        if first <= candidate <= last and candidate != shown:
            return [day, candidate.isoformat()]
    return [day]


def _rows(df: Any) -> list[tuple[Any, ...]]:
    return sorted((tuple(r) for r in df.collect()), key=repr)


def _judge_day(answer: Any, spark: Any, path: str, day: str, label: str, total_rows: int) -> Any:
    from platform_kit.spark.pushdown import fast_day_summary, measure_scan, slow_day_summary

    try:  # the learner's function first: a stub stops here, before any Spark job runs
        mine = answer(spark, path, day)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's code: report, do not crash the check
        fail(f"your function raised {type(exc).__name__} on {label}: {str(exc).strip()[:300]}")
    if not hasattr(mine, "_jdf") or not hasattr(mine, "collect"):
        fail(f"return the Spark DataFrame (not its collected rows or a pandas frame), got {type(mine).__name__}")
    columns = list(slow_day_summary(spark, path, day).columns)  # analysis only: no job runs
    if list(mine.columns) != columns:
        fail(f"the columns are {list(mine.columns)} on {label}; the original returns {columns}")
    got = measure_scan(spark, mine, f"rewrite {day}")
    # The original's rows, computed the fast way (the package's rewrite returns the same rows, tested).
    if _rows(mine) != _rows(fast_day_summary(spark, path, day)):
        fail(f"your rows differ from the original job's on {label}: check the day's boundaries "
             "(midnight to midnight, start included, end excluded) and the aggregation")
    if not got.scans or not any(path.rstrip("/").split(":")[-1] in s.location for s in got.scans):
        fail(f"your job does not scan the Parquet files at {path} on {label}: read them with spark.read.parquet(path)")
    if got.rows_scanned > MAX_ROWS_FRACTION * total_rows:
        pushed = "; ".join(f for s in got.scans for f in s.pushed_filters) or "none"
        fail(f"your scan still reads {got.rows_scanned:,} of the table's {total_rows:,} rows on {label}: no row group "
             f"was skipped, so the predicate did not reach the reader (PushedFilters: {pushed}). "
             "Compare the raw event_ts with literals instead of a function of it")
    return got


@exercise(
    id=_ID,
    lab=LAB,
    kind="function",
    title="rewrite a day summary so Parquet skips row groups (bytes read below the threshold)",
    hint="filter on the raw column: (F.col('event_ts') >= F.lit(f'{day} 00:00:00').cast('timestamp')) & "
    "(F.col('event_ts') < <the next midnight>), then the same groupBy/agg/orderBy as the original",
)
def _grade_pushdown_rewrite(answer: Any, context: dict[str, Any]) -> str:
    from pyspark.sql import SparkSession

    spark = context_value(context, "spark", SparkSession, exercise_id=_ID)
    path = context_value(context, "path", str, exercise_id=_ID)
    day = context_value(context, "day", str, exercise_id=_ID)
    max_bytes = (context or {}).get("max_bytes")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Real):
        context_value(context, "max_bytes", float, exercise_id=_ID)  # raises the notebook-author error
    if not callable(answer):
        fail(f"pass your function itself (fast_day_summary), not {type(answer).__name__}")
    from platform_kit.spark.pushdown import row_groups

    groups = row_groups(path, "event_ts")
    total_rows = int(groups["rows"].sum())
    days = _days(groups, day)
    reports = [_judge_day(answer, spark, path, d, f"day {d}" if d == day else f"a day the notebook did not use ({d})",
                          total_rows) for d in days]
    got = reports[0]
    if got.bytes_measured and got.input_bytes > float(max_bytes):
        fail(f"your job read {got.input_bytes:,} bytes on day {day}, above the threshold of {float(max_bytes):,.0f}: "
             "read only the columns you need and let the filter push down")
    measured = (f"{got.input_bytes:,} bytes read (threshold {float(max_bytes):,.0f})" if got.bytes_measured
                else "bytes not measured here (no Spark UI)")
    return (f"same rows on {len(days)} days; {got.rows_scanned:,} of {total_rows:,} rows scanned, {measured}")
