"""Benchmark: partitioning and bucketing layouts under Spark, as ratios against the unpartitioned layout.

``run(scale)`` writes the clickstream in every layout of
:data:`platform_kit.assessment.layouts.DEFAULT_LAYOUTS` with Spark, runs the five query patterns,
and reports files read, bytes scanned and time per (layout, query), each also as a ratio against
the unpartitioned layout in the same run. It also writes the over-partitioned layout with pyarrow
to price Spark's per-file write overhead (the reason the lab writes partitioned folders with
pyarrow). ``python bench/bench_layouts.py [scale]`` prints the JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_PREFIX = "bench_layout"


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def run(scale: str = "small", *, repeats: int = 1) -> dict[str, Any]:
    """Write, scan and compare the layouts at ``scale``; JSON-serialisable results with ratios.

    Args:
        scale: Dataset scale (``tiny``, ``small``, ``medium``...).
        repeats: Runs per (layout, query); the median time is reported.
    """
    import platform_kit
    from platform_kit.assessment import layouts
    from platform_kit.datasets import generate_table

    spark = platform_kit.connect().spark
    customers = generate_table("customers", scale)
    frame = layouts.prepare_layout_frame(generate_table("clickstream", scale), customers)
    params = layouts.pick_query_params(frame)
    root = Path(tempfile.mkdtemp(prefix="bench-layouts-"))
    began = time.perf_counter()
    try:
        written = layouts.write_layouts(spark, frame, root / "spark", list(layouts.DEFAULT_LAYOUTS),
                                        dimension=customers[["customer_id", "segment"]], writer="spark",
                                        table_prefix=_PREFIX)
        scans = layouts.measure_layouts(spark, written, params, repeats=repeats)
        over = [spec for spec in layouts.DEFAULT_LAYOUTS if spec.name == "over_partitioned"]
        arrow = layouts.write_layouts(spark, frame, root / "arrow", over, writer="arrow", table_prefix=_PREFIX)
    finally:
        for spec in layouts.DEFAULT_LAYOUTS:
            if spec.bucket_by:
                spark.sql(f"DROP TABLE IF EXISTS {_PREFIX}_{spec.name}")
                spark.sql(f"DROP TABLE IF EXISTS {_PREFIX}_{spec.name}_dim")
        shutil.rmtree(root, ignore_errors=True)
    base = scans[scans["layout"] == "none"].set_index("query")
    ratios: dict[str, dict[str, float]] = {}
    for row in scans.itertuples(index=False):
        ref = base.loc[row.query]
        ratios[f"{row.layout}/{row.query}"] = {
            "bytes_scanned_vs_none": row.bytes_scanned / ref["bytes_scanned"],
            "files_read_vs_none": row.files_read / ref["files_read"],
            "seconds_vs_none": row.seconds / ref["seconds"],
        }
    spark_over = written.set_index("layout").loc["over_partitioned"]
    return {
        "scale": scale, "rows": len(frame), "baseline": "none",
        "params": params.model_dump(mode="json"), "seconds": time.perf_counter() - began,
        "layouts": _records(written.drop(columns=["location", "dimension_location"])),
        "scans": _records(scans), "ratios": ratios,
        "over_partitioned_write": {
            "files": int(spark_over["files"]), "spark_s": float(spark_over["write_s"]),
            "arrow_s": float(arrow["write_s"].iloc[0]),
            "spark_ms_per_file": 1000 * float(spark_over["write_s"]) / max(int(spark_over["files"]), 1),
            "ratio_spark_over_arrow": float(spark_over["write_s"]) / max(float(arrow["write_s"].iloc[0]), 1e-9),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "small"), indent=2, default=str))
