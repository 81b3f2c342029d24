"""Run the benchmarks and write ``bench/results/<UTC timestamp>.json``.

Every figure is paired with a baseline measured in the same run on the same machine, and
reported as a ratio, so results compare across machines:

* broker: produce rate of confluent-kafka vs kafka-python against the embedded broker;
* object_store: Parquet write+read through the moto S3 API vs local folders;
* datasets: synthetic-company generation rate per scale vs the tiny scale;
* formats (Lab 1): Parquet/ORC/Avro size and read times vs uncompressed Parquet;
* layouts (Lab 1): bytes scanned per partition/bucket layout vs the unpartitioned one;
* ingestion (Lab 2): produce/consume through platform_kit vs raw confluent-kafka, and the full
  ingestion path (validation, idempotent sink, DLQ, tokenisation) vs a raw consume loop;
* pii (Lab 2): vectorised tokenisation and masking rows/s vs naive per-record code;
* spark_layouts, spark_joins, spark_scan (Lab 3): each Spark optimisation's speed-up on the
  standalone cluster (layouts and caching; salting/AQE skew fixes and broadcast vs sort-merge
  joins at a larger scale; pushdown/pruning and RDD vs DataFrame vs pandas UDF), before and
  after measured in the same application;
* quality (Lab 4): the contract's GX suite in rows/s on pandas and Spark vs the same rules as raw
  pandas, and drift detection per batch vs one bare KS test.

Usage: ``python -m bench [--messages N] [--scales tiny small medium] [--lab-scale small] [--only NAME...]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

_log = logging.getLogger("bench")


def _timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def bench_broker(pk: Any, messages: int) -> dict[str, Any]:
    """Produce ``messages`` 100-byte records with each client; msg/s and ratio."""
    from kafka import KafkaProducer

    payload = b"x" * 100
    topic = f"bench-{time.time_ns()}"
    pk.broker.create_topic(topic, partitions=3)

    def confluent() -> None:
        producer = pk.broker.producer(linger_ms=5)
        for i in range(messages):
            producer.produce(topic, key=str(i % 64), value=payload)
            if i % 10000 == 0:
                producer.poll(0)
        producer.flush(60)

    def kafka_python() -> None:
        producer = KafkaProducer(**pk.broker.kafka_python_config(), linger_ms=5)
        for i in range(messages):
            producer.send(topic, key=str(i % 64).encode(), value=payload)
        producer.flush(60)
        producer.close()

    fast, slow = _timed(confluent), _timed(kafka_python)
    return {"messages": messages, "confluent_msg_s": messages / fast, "kafka_python_msg_s": messages / slow,
            "ratio_confluent_over_kafka_python": slow / fast}


def bench_object_store(pk: Any, rows: int) -> dict[str, Any]:
    """Write then read a ``rows``-row Parquet file through S3 (moto) and local folders."""
    from platform_kit import Workbench
    from platform_kit.datasets import generate_table

    frame = generate_table("clickstream", "small").head(rows)
    local_root = Path(tempfile.mkdtemp(prefix="bench-local-"))
    local = Workbench(pk.profile, overrides={"object_store": {"type": "local", "root": str(local_root)}}).store

    def round_trip(store: Any) -> None:
        uri = store.write_parquet(frame, "lake", f"bench/{time.time_ns()}.parquet")
        assert len(store.read_parquet(uri)) == len(frame)

    try:
        s3_s, local_s = _timed(lambda: round_trip(pk.store)), _timed(lambda: round_trip(local))
    finally:
        shutil.rmtree(local_root, ignore_errors=True)
    return {"rows": len(frame), "s3_seconds": s3_s, "local_seconds": local_s, "ratio_s3_over_local": s3_s / local_s}


def bench_datasets(scales: list[str]) -> dict[str, Any]:
    """Rows generated per second at each scale, relative to ``tiny``."""
    from platform_kit.datasets import generate_company

    out: dict[str, Any] = {}
    for scale in tqdm(["tiny", *[s for s in scales if s != "tiny"]], desc="datasets"):
        began = time.perf_counter()
        rows = sum(len(f) for f in generate_company(scale).values())
        seconds = time.perf_counter() - began
        out[scale] = {"rows": rows, "seconds": seconds, "rows_per_s": rows / seconds}
    base = out["tiny"]["rows_per_s"]
    for scale in out:
        out[scale]["ratio_rows_per_s_over_tiny"] = out[scale]["rows_per_s"] / base
    return out


def _lab_bench(module: str, scale: str) -> dict[str, Any]:
    import importlib

    return importlib.import_module(f"bench.{module}").run(scale)


def _quality_bench(rows: int) -> dict[str, Any]:
    from bench import bench_quality

    return bench_quality.run(rows)


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark; print the JSON path."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--scales", nargs="+", default=["tiny", "small", "medium"])
    parser.add_argument("--lab-scale", default="small", help="scale of the lab benchmarks (formats, layouts, ingestion, pii)")
    parser.add_argument("--only", nargs="+", choices=["broker", "object_store", "datasets", "formats", "layouts", "ingestion", "pii",
                                                  "spark_layouts", "spark_joins", "spark_scan", "quality"])
    parser.add_argument("--quality-rows", type=int, default=1_000_000, help="rows the Lab 4 suites validate")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import platform_kit

    pk = platform_kit.connect()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()},
        "profile": pk.profile,
    }
    steps = [("broker", lambda: bench_broker(pk, args.messages)),
             ("object_store", lambda: bench_object_store(pk, args.rows)),
             ("datasets", lambda: bench_datasets(args.scales)),
             ("formats", lambda: _lab_bench("bench_formats", args.lab_scale)),
             ("layouts", lambda: _lab_bench("bench_layouts", args.lab_scale)),
             ("ingestion", lambda: _lab_bench("bench_ingestion", args.lab_scale)),
             ("pii", lambda: _lab_bench("bench_pii", args.lab_scale)),
             ("spark_layouts", lambda: _lab_bench("bench_spark_layouts", args.lab_scale)),
             ("spark_joins", lambda: _lab_bench("bench_spark_joins", args.lab_scale)),
             ("spark_scan", lambda: _lab_bench("bench_spark_scan", args.lab_scale)),
             ("quality", lambda: _quality_bench(args.quality_rows))]
    steps = [(name, step) for name, step in steps if not args.only or name in args.only]
    for name, step in tqdm(steps, desc="benchmarks"):
        results[name] = step()
        _log.info("%s: %s", name, json.dumps(results[name], default=float))
    pk.close()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(results, indent=2, default=float))
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
