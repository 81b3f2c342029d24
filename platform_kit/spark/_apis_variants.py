"""One aggregation written against each PySpark API: RDD, DataFrame, SQL, pandas UDF, Python UDF.

The question is the lab's "activity per customer and event type": for every
``(customer_id, event_type)`` of the clickstream, how many events and how many of them name
a product. Every variant returns the same rows; they differ in who computes them:

* RDD: Python lambdas in Python workers, every row pickled out of the JVM and back; no
  optimizer sees the lambdas (it cannot prune columns or push filters through them).
* DataFrame and Spark SQL: the same Catalyst plan, run as generated JVM code.
* pandas UDF (grouped aggregate): the JVM sorts by group, Python gets each group's column
  as a pandas Series through Arrow (columnar batches); optionally a scalar pandas UDF
  (Series -> Series) computing the per-row flag in batches.
* Python UDF: a Python function called once per row (pickled rows, no batching).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["ApiVariant", "api_variants", "normalise_rows", "GROUP_COLUMNS", "SQL_VIEW"]

GROUP_COLUMNS = ("customer_id", "event_type")
SQL_VIEW = "lab3_api_events"
_SQL = f"""
SELECT customer_id, event_type, COUNT(*) AS events, COUNT(product_id) AS with_product
FROM {SQL_VIEW}
GROUP BY customer_id, event_type
"""


@dataclass(frozen=True)
class ApiVariant:
    """One way to compute the aggregation.

    Attributes:
        label: Name in tables and plots.
        api: ``RDD``, ``DataFrame``, ``SQL`` or ``UDF``.
        build: ``build(events)`` returns the DataFrame (or, for the RDD API, the RDD) to collect.
        python: True when Python code runs on the executors (Python workers, serialisation).
    """

    label: str
    api: str
    build: Callable[[Any], Any]
    python: bool


def _rdd(events: Any) -> Any:
    pairs = events.select("customer_id", "event_type", "product_id").rdd.map(
        lambda r: ((r[0], r[1]), (1, 0 if r[2] is None else 1)))
    summed = pairs.reduceByKey(lambda a, b: (a[0] + b[0], a[1] + b[1]))
    return summed.map(lambda kv: (kv[0][0], kv[0][1], kv[1][0], kv[1][1]))


def _dataframe(events: Any) -> Any:
    from pyspark.sql import functions as F

    return events.groupBy(*GROUP_COLUMNS).agg(F.count("*").alias("events"),
                                              F.count("product_id").alias("with_product"))


def _sql(events: Any) -> Any:
    events.createOrReplaceTempView(SQL_VIEW)
    return events.sparkSession.sql(_SQL)


def _pandas_udf(events: Any) -> Any:
    from pyspark.sql import functions as F

    # Series -> scalar type hints make this a grouped-aggregate pandas UDF (``pd`` must be a
    # module-level name: pyspark resolves the hints against this module's globals).
    @F.pandas_udf("long")  # type: ignore[call-overload]
    def non_null(values: pd.Series) -> int:
        return int(values.notna().sum())

    @F.pandas_udf("long")  # type: ignore[call-overload]
    def size(values: pd.Series) -> int:
        return len(values)

    # Spark cannot mix pandas aggregate UDFs with its own aggregates in one agg(): both are UDFs.
    return events.groupBy(*GROUP_COLUMNS).agg(size("event_type").alias("events"),
                                              non_null("product_id").alias("with_product"))


def _scalar_pandas_udf(events: Any) -> Any:
    from pyspark.sql import functions as F

    @F.pandas_udf("long")  # type: ignore[call-overload]
    def has_product(values: pd.Series) -> pd.Series:  # Series -> Series: a scalar (vectorised) pandas UDF
        return values.notna().astype("int64")

    return events.groupBy(*GROUP_COLUMNS).agg(F.count("*").alias("events"),
                                              F.sum(has_product("product_id")).alias("with_product"))


def _python_udf(events: Any) -> Any:
    from pyspark.sql import functions as F

    has_product = F.udf(lambda value: 0 if value is None else 1, "long")
    return events.groupBy(*GROUP_COLUMNS).agg(F.count("*").alias("events"),
                                              F.sum(has_product("product_id")).alias("with_product"))


def api_variants(*, scalar_pandas: bool = False) -> list[ApiVariant]:
    """The five variants, DataFrame first (the reference the others are compared with).

    Args:
        scalar_pandas: Add a sixth: the Python UDF's per-row flag as a scalar pandas UDF
            (the like-for-like comparison of the two UDF kinds).
    """
    variants = [
        ApiVariant("DataFrame", "DataFrame", _dataframe, False),
        ApiVariant("Spark SQL", "SQL", _sql, False),
        ApiVariant("RDD (Python lambdas)", "RDD", _rdd, True),
        ApiVariant("pandas UDF (grouped agg)", "UDF", _pandas_udf, True),
        ApiVariant("Python UDF (row at a time)", "UDF", _python_udf, True),
    ]
    if scalar_pandas:
        variants.append(ApiVariant("pandas UDF (scalar)", "UDF", _scalar_pandas_udf, True))
    return variants


def normalise_rows(rows: Any) -> list[tuple[Any, ...]]:
    """Rows (``Row`` objects or tuples) as plain tuples, sorted (``None`` first): comparable across APIs."""
    out = [tuple(row) for row in rows]
    return sorted(out, key=lambda t: tuple((v is not None, v) for v in t))
