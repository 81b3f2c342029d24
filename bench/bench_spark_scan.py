"""Lab 3 sections 3 and 4: what pushdown, pruning and the choice of API buy, measured in one run.

Each ratio is "before / after" from the same Spark application on the standalone cluster
(local[*] fallback, reported), every variant warmed up first (scans: a full run, discarded;
APIs: a run on 2,000 rows, after the Python workers were started):

* pushdown: the dashboard job filtering ``date_format(event_ts)`` vs a range on the raw
  ``event_ts`` (same rows): input bytes, rows scanned and wall time;
* pruning: ``select *`` vs the two needed columns, both with the pushed range;
* apis: the same aggregation as an RDD of Python lambdas, a Python UDF and a pandas UDF
  (grouped aggregate, and scalar) against the DataFrame.
"""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger("bench.spark_scan")


def _copies(scale: str) -> int:
    """Replication factor: the lab's 40 at tiny; larger scales keep the clickstream near 500k rows."""
    from platform_kit.datasets import SCALE_FACTORS

    factor = SCALE_FACTORS.get(scale, 1.0)
    return 40 if factor <= 1 else max(1, round(100 / factor))


def _second(spark: Any, build: Any, label: str, action: str = "collect") -> Any:
    from platform_kit.spark import pushdown

    pushdown.measure_scan(spark, build(), label, action=action)  # warm-up run, discarded
    return pushdown.measure_scan(spark, build(), label, action=action)


def _ratio(before: float, after: float) -> float:
    return float(before) / float(after) if after else float("nan")


def run(scale: str = "tiny") -> dict[str, Any]:
    """Measure pushdown, pruning and API ratios on the lab's clickstream at ``scale``."""
    from pyspark.sql import functions as F

    from bench._spark import lab_spark
    from platform_kit.spark import apis, pushdown

    copies = _copies(scale)
    spark, target, data = lab_spark(scale, copies=copies)
    path = data.path("clickstream")
    groups = pushdown.row_groups(path, "event_ts")
    day = str(max(groups["max"]).date())
    apis.warm_python_workers(spark)

    slow = _second(spark, lambda: pushdown.slow_day_summary(spark, path, day), "pushdown before")
    fast = _second(spark, lambda: pushdown.fast_day_summary(spark, path, day), "pushdown after")
    low, high = pushdown.day_bounds(day)
    in_day = (F.col("event_ts") >= F.lit(low).cast("timestamp")) & (F.col("event_ts") < F.lit(high).cast("timestamp"))
    star = _second(spark, lambda: spark.read.parquet(path).where(in_day), "select *", "toPandas")
    pruned = _second(spark, lambda: spark.read.parquet(path).where(in_day).select("customer_id", "event_type"),
                     "needed columns", "toPandas")

    events = data.read(spark, "clickstream")
    variants = apis.api_variants(scalar_pandas=True)
    comparison = apis.compare_apis(spark, events, variants=variants, warmup="sample")  # each warmed on 2,000 rows
    df_label, rdd_label = "DataFrame", "RDD (Python lambdas)"
    python_label, grouped_label = "Python UDF (row at a time)", "pandas UDF (grouped agg)"
    result = {
        "target": target.mode, "copies": copies, "clickstream_rows": data.rows["clickstream"], "day": day,
        "pushdown": {"bytes_ratio": _ratio(slow.input_bytes, fast.input_bytes),
                     "rows_scanned_ratio": _ratio(slow.rows_scanned, fast.rows_scanned),
                     "time_ratio": _ratio(slow.wall_s, fast.wall_s),
                     "before_bytes": slow.input_bytes, "after_bytes": fast.input_bytes,
                     "before_s": slow.wall_s, "after_s": fast.wall_s},
        "pruning": {"bytes_ratio": _ratio(star.input_bytes, pruned.input_bytes),
                    "time_ratio": _ratio(star.wall_s, pruned.wall_s),
                    "columns_before": len(star.scans[0].columns), "columns_after": len(pruned.scans[0].columns)},
        "apis": {"rdd_over_dataframe": comparison.ratio(rdd_label, df_label),
                 "sql_over_dataframe": comparison.ratio("Spark SQL", df_label),
                 "python_udf_over_dataframe": comparison.ratio(python_label, df_label),
                 "python_udf_over_pandas_scalar": comparison.ratio(python_label, "pandas UDF (scalar)"),
                 "python_udf_over_pandas_grouped": comparison.ratio(python_label, grouped_label),
                 "rdd_task_time_over_dataframe": _ratio(comparison.metrics[rdd_label].task_ms,
                                                        comparison.metrics[df_label].task_ms),
                 "same_rows": bool(comparison.table["same_rows"].all()),
                 "wall_s": dict(zip(comparison.table["label"], comparison.table["wall_s"], strict=True))},
    }
    _log.info("spark_scan: %s", result)
    return result


if __name__ == "__main__":
    import json

    logging.basicConfig(level=logging.INFO)
    print(json.dumps(run(), indent=2, default=float))
