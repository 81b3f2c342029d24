"""Lab 4: validation throughput of the contract's GX suite, and drift detection per batch.

Ratios against baselines measured in the same run:

* validation: the ``orders_staged`` contract's Great Expectations suite on ``rows`` staged orders
  (the tiny table replicated with fresh keys) on pandas and on Spark (local session), in rows/s,
  against the same constraints hand-written as vectorised pandas (``raw_pandas``): what GX's
  bookkeeping (one metric query per expectation, results, samples) costs on top of the checks;
* drift: :func:`platform_kit.quality.drift.compare_batches` (every default column and the pair
  checks) per batch, against one bare ``scipy.stats.ks_2samp`` on one column.

``python -m bench.bench_quality [rows]`` prints the JSON (1M rows by default, as the issue asks).
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pandas as pd


def _staged_orders(rows: int) -> pd.DataFrame:
    from platform_kit.datasets import generate_table
    from platform_kit.quality.pipeline import stage_orders

    staged = stage_orders(generate_table("orders", "tiny", 42))
    copies = -(-rows // len(staged))
    step = int(staged["order_id"].max())
    parts = [staged.assign(order_id=staged["order_id"] + i * step) for i in range(copies)]
    return pd.concat(parts, ignore_index=True).head(rows)


def _raw_pandas_checks(df: pd.DataFrame, contract: Any) -> int:
    """The contract's column rules as plain vectorised pandas; returns the failed rules."""
    failed = 0
    for column in contract.columns:
        values = df[column.name]
        if not column.nullable:
            failed += int(values.isna().any())
        if column.unique:
            failed += int(values.duplicated().any())
        if column.allowed_values:
            failed += int((~values.isin(column.allowed_values)).any())
        if column.type in ("integer", "float") and (column.min is not None or column.max is not None):
            low = column.min if column.min is not None else float("-inf")
            high = column.max if column.max is not None else float("inf")
            failed += int((~values.between(low, high)).any())
    failed += int(df.duplicated(subset=list(contract.primary_key)).any()) if contract.primary_key else 0
    return failed


def _best(fn: Any, repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - began)
    return best, out


def bench_validation(rows: int, *, spark: bool = True, repeats: int = 2) -> dict[str, Any]:
    """rows/s of the suite on pandas (and Spark) vs the raw pandas checks."""
    from platform_kit.quality.contract import load_contract
    from platform_kit.quality.validate import QualityContext

    contract = load_contract("orders_staged")
    frame = _staged_orders(rows)
    context = QualityContext()
    context.validate(frame.head(1000), contract)  # warm-up: GX import, suite and checkpoint
    gx_s, report = _best(lambda: context.validate(frame, contract), repeats)
    raw_s, raw_failed = _best(lambda: _raw_pandas_checks(frame, contract), repeats)
    out: dict[str, Any] = {
        "rows": len(frame), "expectations": report.evaluated, "gx_pandas_success": report.success,
        "gx_pandas_s": round(gx_s, 3), "gx_pandas_rows_s": round(len(frame) / gx_s),
        "raw_pandas_s": round(raw_s, 3), "raw_pandas_rows_s": round(len(frame) / raw_s),
        "raw_pandas_failed_rules": raw_failed, "ratio_gx_over_raw_pandas": round(gx_s / raw_s, 1),
    }
    if spark:
        import platform_kit

        session = platform_kit.connect().spark
        sdf = session.createDataFrame(frame).cache()
        sdf.count()
        context.validate(session.createDataFrame(frame.head(1000)), contract)  # warm-up on Spark
        spark_s, spark_report = _best(lambda: context.validate(sdf, contract), repeats)
        sdf.unpersist()
        out |= {"gx_spark_success": spark_report.success, "gx_spark_s": round(spark_s, 3),
                "gx_spark_rows_s": round(len(frame) / spark_s),
                "ratio_gx_spark_over_gx_pandas": round(spark_s / gx_s, 2)}
    return out


def bench_drift(batch_size: int = 1000, batches: int = 10) -> dict[str, Any]:
    """Seconds per batch of the full default detector vs one bare KS test."""
    from scipy import stats

    from platform_kit.datasets import generate_table
    from platform_kit.quality import drift
    from platform_kit.quality.corruption import ORDERS_COLUMNS, sample_batches, split_reference

    orders = generate_table("orders", "small", 42)
    reference, pool = split_reference(orders, seed=0)
    clean = sample_batches(pool, batches, batch_size, seed=1)
    detector = drift.make_detector(reference, columns=ORDERS_COLUMNS)
    began = time.perf_counter()
    fired = sum(bool(detector(batch).fired) for batch in clean)
    full_s = (time.perf_counter() - began) / batches
    began = time.perf_counter()
    for batch in clean:
        stats.ks_2samp(reference["total_amount"], batch["total_amount"])
    ks_s = (time.perf_counter() - began) / batches
    return {"reference_rows": len(reference), "batch_rows": batch_size, "batches": batches,
            "columns": list(ORDERS_COLUMNS), "false_alarms_on_clean": fired,
            "detector_ms_per_batch": round(full_s * 1000, 1), "one_ks_ms_per_batch": round(ks_s * 1000, 2),
            "ratio_detector_over_one_ks": round(full_s / ks_s, 1)}


def run(rows: int = 1_000_000, *, spark: bool = True) -> dict[str, Any]:
    """Both benchmarks; JSON-serialisable."""
    return {"validation": bench_validation(rows, spark=spark), "drift": bench_drift()}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=1, default=str))
