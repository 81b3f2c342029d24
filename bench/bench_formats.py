"""Benchmark: Parquet vs ORC vs Avro per codec on the clickstream, as ratios against uncompressed Parquet.

``run(scale)`` measures every (format, codec) with :func:`platform_kit.assessment.formats.measure_formats`
(median of 3 runs) and Spark's filtered read of the Parquet and ORC zstd files; every figure is
also given as a ratio against uncompressed Parquet measured in the same run, so results compare
across machines. ``python bench/bench_formats.py [scale]`` prints the JSON.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_RATIOS = {"file_bytes": "size", "write_s": "write", "full_read_s": "full_read",
           "projected_read_s": "projected_read", "filtered_read_s": "filtered_read",
           "filtered_bytes_read": "filtered_bytes_read"}


def _records(frame: Any) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def run(scale: str = "small", *, repeats: int = 3, with_spark: bool = True) -> dict[str, Any]:
    """Measure the format bake-off at ``scale``; JSON-serialisable results with ratios.

    Args:
        scale: Dataset scale of the clickstream (``tiny``, ``small``, ``medium``...).
        repeats: Runs per timing (median reported).
        with_spark: Also read the zstd Parquet/ORC files with Spark under the same predicate.
    """
    from platform_kit.assessment import formats
    from platform_kit.datasets import generate_table

    frame = generate_table("clickstream", scale).sort_values("event_ts", kind="stable").reset_index(drop=True)
    predicate = formats.default_predicate(frame)
    workdir = Path(tempfile.mkdtemp(prefix="bench-formats-"))
    began = time.perf_counter()
    try:
        results = formats.measure_formats(frame, workdir=workdir, repeats=repeats,
                                          projection=["event_type", "event_ts"], predicate=predicate)
        parity = None
        if with_spark:
            import platform_kit

            parity = formats.spark_format_parity(
                platform_kit.connect().spark,
                {"parquet": workdir / "parquet_zstd.parquet", "orc": workdir / "orc_zstd.orc"}, predicate)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ok = results[results["status"] == "ok"].set_index(["format", "codec"])
    base = ok.loc[("parquet", "none")]
    ratios = {f"{fmt}/{codec}": {f"{label}_vs_parquet_none": float(row[col]) / float(base[col])
                                 for col, label in _RATIOS.items() if float(base[col]) > 0}
              for (fmt, codec), row in ok.iterrows()}
    return {
        "scale": scale, "rows": len(frame), "repeats": repeats, "baseline": "parquet/none",
        "predicate": {"column": predicate.column, "low": str(predicate.low), "high": str(predicate.high)},
        "seconds": time.perf_counter() - began,
        "results": _records(results), "ratios": ratios,
        "spark": _records(parity) if parity is not None else None,
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "small"), indent=2, default=str))
