"""Spark Structured Streaming micro-batches fed from the broker through a landing folder.

Spark's Kafka source (``spark-sql-kafka``) is a separate jar that pyspark does not bundle and
that cannot be downloaded offline, so a Python consumer (a :class:`LandingFeeder` thread) reads
the topic and writes each consumed poll as one small JSON-lines file into a landing folder
(written under a hidden name, then renamed, so Spark never lists a half-written file). Spark reads
the folder with ``readStream`` (file source, explicit schema), fires a micro-batch every
``processingTime`` interval, and ``foreachBatch`` writes each micro-batch to the same sink as the
Python triggers. Latency is measured the same way: sink commit time - produce time.

CPU is the sum of the feeder thread, the ``foreachBatch`` Python calls (``time.thread_time``) and
the Spark JVM (``/proc``), so it is not comparable one-to-one with a single consumer thread.

Introduced in: Lab 2 (ingestion), section 4.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from platform_kit.errors import ServiceError
from platform_kit.ingestion._streaming_policy import Trigger
from platform_kit.ingestion._streaming_run import CONTROL_HEADER, PRODUCED_HEADER, RunResult
from platform_kit.ingestion._streaming_sink import _proc_cpu_s
from platform_kit.ingestion._topics import record_from_message
from platform_kit.ingestion.dlq import DeadLetter, Stage

__all__ = ["LandingFeeder", "SparkMicroBatch"]

_log = logging.getLogger(__name__)
_WARMUP_ID = "__warmup__"


class LandingFeeder(threading.Thread):
    """Reads a topic (assigned, no group) and writes every non-empty poll as one landing file.

    Args:
        consumer: An assigned confluent-kafka ``Consumer`` (closed by the thread when it stops).
        landing: Folder Spark watches.
        poll_s: Longest wait of one poll: the feeder's own micro-batch interval.
    """

    def __init__(self, consumer: Any, landing: Path, *, poll_s: float = 0.05) -> None:
        super().__init__(name="s4-landing-feeder", daemon=True)
        self.consumer, self.landing, self.poll_s = consumer, Path(landing), poll_s
        self.files = self.records = 0
        self.cpu_s = 0.0
        self.ended = threading.Event()
        self.stopping = threading.Event()
        self.dead_letters: list[DeadLetter] = []
        self.error: BaseException | None = None

    def write_file(self, lines: list[str]) -> None:
        """Write one landing file atomically (hidden temp name, then rename)."""
        name = f"part-{self.files:06d}.json"
        temp = self.landing / f".{name}.tmp"
        temp.write_text("\n".join(lines) + "\n")
        os.replace(temp, self.landing / name)
        self.files += 1

    def run(self) -> None:
        began = time.thread_time()
        try:
            while not self.stopping.is_set():
                lines = []
                for message in self.consumer.consume(10_000, self.poll_s):
                    if message.error() is not None:
                        continue
                    record = record_from_message(message)
                    if record.headers.get(CONTROL_HEADER) == b"end":
                        self.ended.set()
                        continue
                    if record.headers.get(CONTROL_HEADER) is not None:
                        continue
                    try:
                        event = json.loads(record.value or b"")
                        if not isinstance(event, dict):
                            raise ValueError(f"expected a JSON object, got {type(event).__name__}")
                        event["produced_ns"] = int(record.headers[PRODUCED_HEADER])
                    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                        self.dead_letters.append(
                            DeadLetter.from_record(record, reason="undecodable", stage=Stage.DECODE, error=exc))
                        continue
                    lines.append(json.dumps(event))
                if lines:
                    self.write_file(lines)
                    self.records += len(lines)
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            self.error = exc
        finally:
            self.cpu_s = time.thread_time() - began
            self.consumer.close()


class SparkMicroBatch:
    """A running ``readStream`` (JSON files) -> ``foreachBatch`` -> sink query, with latency accounting.

    Args:
        spark: A SparkSession.
        sink: ``write(rows) -> commit ns`` (a PostgresSink).
        landing: Folder the query watches (created empty).
        checkpoint: Checkpoint folder (created empty).
        interval_ms: ``trigger(processingTime=...)``.
        run: Run label written with every row.
    """

    def __init__(self, spark: Any, sink: Any, *, landing: Path, checkpoint: Path, interval_ms: float, run: str) -> None:
        self.spark, self.sink, self.run = spark, sink, run
        self.trigger = Trigger.spark(interval_ms)
        self.landing, self.checkpoint = Path(landing), Path(checkpoint)
        self.produced: list[int] = []
        self.sunk: list[int] = []
        self.batch_sizes: list[int] = []
        self.cpu_s = self.busy_s = self.sink_s = 0.0
        self.warm = threading.Event()
        self.query: Any = None
        self.progress: list[dict[str, Any]] = []
        self.last_batch: int | None = None
        self._lock = threading.Lock()

    def _handle(self, frame: Any, batch_id: int) -> None:
        cpu, began = time.thread_time(), time.perf_counter()
        self.last_batch = batch_id
        # the feeder's small files would each be one task: read them all in one
        rows = [r for r in frame.coalesce(1).collect() if r["event_id"] != _WARMUP_ID]
        if rows:
            sink_began = time.perf_counter()
            committed = self.sink.write([(self.run, r["event_id"], r["customer_id"], r["event_type"], r["event_ts"],
                                          r["produced_ns"]) for r in rows])
            self.sink_s += time.perf_counter() - sink_began
            with self._lock:
                self.produced += [r["produced_ns"] for r in rows]
                self.sunk += [committed] * len(rows)
                self.batch_sizes.append(len(rows))
        else:
            self.warm.set()
        self.busy_s += time.perf_counter() - began
        self.cpu_s += time.thread_time() - cpu

    def start(self, *, warmup_timeout_s: float = 90.0) -> SparkMicroBatch:
        """Start the query and wait until a warm-up file went through it (Spark's first batch is slow)."""
        from pyspark.sql.types import LongType, StringType, StructField, StructType

        for folder in (self.landing, self.checkpoint):
            shutil.rmtree(folder, ignore_errors=True)
        self.landing.mkdir(parents=True)
        schema = StructType([StructField("event_id", StringType()), StructField("customer_id", LongType()),
                             StructField("event_type", StringType()), StructField("event_ts", StringType()),
                             StructField("produced_ns", LongType())])
        self.query = (self.spark.readStream.schema(schema).json(str(self.landing))
                      .writeStream.queryName(f"s4_{self.run}".replace("-", "_").replace(" ", "_"))
                      .trigger(processingTime=f"{self.trigger.interval_ms:g} milliseconds")
                      .option("checkpointLocation", str(self.checkpoint)).foreachBatch(self._handle).start())
        warm = {"event_id": _WARMUP_ID, "customer_id": 0, "event_type": "warmup", "event_ts": "", "produced_ns": 0}
        (self.landing / ".warmup.tmp").write_text(json.dumps(warm) + "\n")
        os.replace(self.landing / ".warmup.tmp", self.landing / "part-warmup.json")
        deadline = time.monotonic() + warmup_timeout_s
        while not self.warm.wait(0.05):
            if self.query.exception() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServiceError(f"the Spark query did not process its warm-up file in {warmup_timeout_s:g} s",
                                   fix="check Java/Spark with `workbench doctor`")
        return self

    def wait_for(self, expected: int, timeout_s: float) -> None:
        """Block until ``expected`` records reached the sink (or raise after ``timeout_s``)."""
        deadline = time.monotonic() + timeout_s
        while len(self.sunk) < expected:
            failure = self.query.exception()
            if failure is not None:
                raise ServiceError(f"the Spark query failed: {str(failure)[:400]}", fix="read the error above")
            if time.monotonic() > deadline:
                raise ServiceError(f"Spark sank {len(self.sunk)} of {expected} record(s) in {timeout_s:g} s",
                                   fix="raise the timeout, or lower the rate")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the query (idempotent), keeping its progress reports."""
        if self.query is not None and self.query.isActive:
            deadline = time.monotonic() + 3.0  # let the last batch report its progress (after its commit)
            while time.monotonic() < deadline and self.last_batch is not None:
                self.progress = [json.loads(p.json) for p in self.query.recentProgress]
                if any(p.get("batchId") == self.last_batch for p in self.progress):
                    break
                time.sleep(0.05)
            self.query.stop()

    def batch_ms(self) -> float | None:
        """Median wall time of the measured micro-batches (Spark's ``triggerExecution``), ms."""
        times = [p["durationMs"].get("triggerExecution") for p in self.progress
                 if p.get("numInputRows", 0) > 0 and p.get("batchId", 0) > 0]
        times = [t for t in times if t is not None]
        return float(np.median(times)) if times else None

    def result(self, feeder: LandingFeeder, jvm_cpu_s: float | None) -> RunResult:
        """The run's :class:`RunResult` (CPU: feeder + foreachBatch threads + the JVM when readable)."""
        cpu = self.cpu_s + feeder.cpu_s + (jvm_cpu_s or 0.0)
        source = "feeder + foreachBatch threads" + (" + Spark JVM (/proc)" if jvm_cpu_s is not None else "")
        batch_ms = self.batch_ms()
        return RunResult(trigger=self.trigger, run=self.run, produced_ns=np.asarray(self.produced, np.int64),
                         sunk_ns=np.asarray(self.sunk, np.int64), batch_sizes=list(self.batch_sizes),
                         busy_s=self.busy_s, cpu_s=cpu, sink_calls=len(self.batch_sizes), sink_busy_s=self.sink_s,
                         dead_letters=list(feeder.dead_letters), cpu_source=source,
                         extra={} if batch_ms is None else {"spark_batch_ms_p50": batch_ms})


def jvm_cpu_s(spark: Any) -> float | None:
    """CPU seconds of the local Spark JVM (None when it is not a child of this process or not readable)."""
    try:
        pid = spark.sparkContext._gateway.proc.pid  # noqa: SLF001 - the launched JVM's Popen
    except AttributeError:
        return None
    return _proc_cpu_s(pid)
