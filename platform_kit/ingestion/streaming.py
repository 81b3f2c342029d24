"""Micro-batch vs streaming, measured (Lab 2, section 4).

The same stream of clickstream events is replayed once per trigger (per-record, by size, by
interval; see :class:`Trigger`) at the same paced rate, each replay on its own one-partition topic,
into the same PostgreSQL sink (one INSERT + COMMIT per flush, :class:`PostgresSink`). For each
trigger the run records every record's end-to-end latency (sink commit - produce time), the
throughput achieved, the *capacity* (records per second of consumer busy time: what the trigger
could sustain) and the consumer thread's CPU per record::

    events = stream_payloads(company["clickstream"], 800)
    comparison = compare_triggers(pk, events, [Trigger.record(), Trigger.size(100), Trigger.interval(200)],
                                  rate_per_s=2000, run_id=run_id)
    spark_run = run_spark_trigger(pk, events, 500, rate_per_s=2000, run_id=run_id, sink_table=comparison.sink_table)
    table = summary_table([*comparison.runs, spark_run])
    choose_interval(table, sla_p99_ms=250)

Spark's Kafka source jar is not available offline, so the Spark path is fed by a Python consumer
writing small files into a landing folder that Spark's file source streams (see
:mod:`platform_kit.ingestion._streaming_spark`).

Introduced in: Lab 2 (ingestion), section 4.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import ConfigError, ServiceError
from platform_kit.ingestion._streaming_policy import Batcher, Trigger, choose_interval, latency_stats, suggest_sla
from platform_kit.ingestion._streaming_run import (
    CONTROL_HEADER,
    PRODUCED_HEADER,
    RunResult,
    consume_with_trigger,
    decode_event,
    produce_paced,
)
from platform_kit.ingestion._streaming_sink import EVENT_COLUMNS, PostgresSink, probe_sink_cost
from platform_kit.ingestion._streaming_spark import LandingFeeder, SparkMicroBatch, jvm_cpu_s
from platform_kit.ingestion._topics import FAST_CONSUMER
from platform_kit.ingestion.dlq import DeadLetterQueue, dlq_topic_for

__all__ = [
    "CONTROL_HEADER", "EVENT_COLUMNS", "PRODUCED_HEADER", "PRODUCER_SETTINGS", "SUMMARY_COLUMNS", "CONSUMER_SETTINGS", "Batcher", "PostgresSink",
    "RunResult", "StreamComparison", "Trigger", "choose_interval", "compare_triggers", "consume_with_trigger",
    "decode_event", "latency_stats", "plot_interval_sweep", "plot_tradeoff", "probe_sink_cost", "produce_paced",
    "run_spark_trigger", "stream_payloads", "suggest_sla", "summarise_run", "summary_table",
]

_log = logging.getLogger(__name__)

#: Producer settings of the replays. The embedded broker stores every produce request in the object
#: store (tens of ms each): with several requests in flight they queue at the broker (acks after
#: ~0.6 s at 2,000 records/s, measured), with one in flight the producer batches what arrives
#: meanwhile and acks come after ~45 ms.
PRODUCER_SETTINGS: dict[str, Any] = {"linger_ms": 1, "max_in_flight_requests_per_connection": 1, "acks": "all"}

#: Consumer settings: the embedded broker answers a fetch that found no data only after
#: ``fetch.wait.max.ms`` even when records arrive meanwhile, so this bounds the broker hop (10 stalls it).
CONSUMER_SETTINGS: dict[str, Any] = {**FAST_CONSUMER, "fetch.wait.max.ms": 50}

#: Columns of :func:`summary_table`.
SUMMARY_COLUMNS = [
    "mode", "trigger", "param", "records", "batches", "p50_ms", "p95_ms", "p99_ms", "max_ms", "transport_p50_ms",
    "throughput_rps",
    "capacity_rps", "cpu_us_per_record", "sink_calls", "sink_ms_per_call", "sink_server_cpu_us_per_record",
    "dead_letters", "cpu_source",
]


@dataclass(frozen=True)
class StreamComparison:
    """The runs of :func:`compare_triggers` and where they landed."""

    runs: list[RunResult]
    sink_table: str
    topics: list[str]
    dlq_topic: str
    rate_per_s: float
    events: int

    @property
    def table(self) -> pd.DataFrame:
        """:func:`summary_table` of the runs."""
        return summary_table(self.runs)


def stream_payloads(clickstream: pd.DataFrame, n: int) -> list[bytes]:
    """The first ``n`` clickstream events as JSON payloads (event_id, customer_id, event_type, page, event_ts)."""
    if n < 1:
        raise ConfigError(f"n must be >= 1, got {n}", fix="stream at least one event")
    rows = clickstream.head(n)
    customers = rows["customer_id"].astype("Int64")
    return [json.dumps({"event_id": e, "customer_id": None if pd.isna(c) else int(c), "event_type": t, "page": p,
                        "event_ts": ts.isoformat()}).encode()
            for e, c, t, p, ts in zip(rows["event_id"], customers, rows["event_type"], rows["page"], rows["event_ts"],
                                      strict=True)]


def summarise_run(result: RunResult) -> dict[str, Any]:
    """One row of :func:`summary_table` for ``result``."""
    stats = latency_stats(result.latencies_ms)
    transport = result.transport_ms
    span_s = (int(result.sunk_ns.max()) - int(result.produced_ns.min())) / 1e9
    n = result.records
    return {
        "mode": result.trigger.label, "trigger": result.trigger.kind, "param": result.trigger.param, "records": n,
        "batches": len(result.batch_sizes), **{k: stats[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
        "transport_p50_ms": float(np.median(transport)) if transport is not None and transport.size else float("nan"),
        "throughput_rps": n / span_s if span_s > 0 else float("nan"),
        "capacity_rps": n / result.busy_s if result.busy_s > 0 else float("nan"),
        "cpu_us_per_record": result.cpu_s / n * 1e6,
        "sink_calls": result.sink_calls,
        "sink_ms_per_call": result.sink_busy_s / result.sink_calls * 1e3 if result.sink_calls else float("nan"),
        "sink_server_cpu_us_per_record": (result.sink_server_cpu_s / n * 1e6
                                          if result.sink_server_cpu_s is not None else float("nan")),
        "dead_letters": len(result.dead_letters), "cpu_source": result.cpu_source,
    }


def summary_table(runs: Sequence[RunResult]) -> pd.DataFrame:
    """One row per run (see :data:`SUMMARY_COLUMNS`)."""
    return pd.DataFrame([summarise_run(r) for r in runs], columns=SUMMARY_COLUMNS)


def _assigned_consumer(broker: Any, topic: str) -> Any:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(broker.consumer_config(f"s4-{uuid.uuid4().hex[:8]}", **CONSUMER_SETTINGS))
    consumer.assign([TopicPartition(topic, 0, 0)])
    return consumer


def _warm_up(producer: Any, consumer: Any, topic: str, timeout_s: float = 20.0) -> None:
    """Send a start marker and read it back: both clients are connected before the clock starts."""
    producer.produce(topic, value=None, headers=[(CONTROL_HEADER, b"start")])
    producer.flush(timeout_s)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for message in consumer.consume(10, 0.1):
            if message.error() is None and dict(message.headers() or []).get(CONTROL_HEADER) == b"start":
                return
    raise ServiceError(f"the start marker of {topic!r} did not come back in {timeout_s:g} s",
                       fix="check the broker (`workbench status broker`)")


def _run_one(pk: Any, topic: str, payloads: Sequence[bytes], trigger: Trigger, *, rate_per_s: float, run: str,
             sink: PostgresSink, dlq: DeadLetterQueue, timeout_s: float) -> RunResult:
    broker = pk.broker
    producer = broker.producer(**PRODUCER_SETTINGS)
    consumer = _assigned_consumer(broker, topic)
    try:
        _warm_up(producer, consumer, topic)
        failure: list[BaseException] = []
        stop = threading.Event()

        def produce() -> None:
            try:
                produce_paced(producer, topic, payloads, rate_per_s=rate_per_s, stop=stop)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)

        thread = threading.Thread(target=produce, name=f"s4-produce-{trigger.label}", daemon=True)
        cpu_before = sink.server_cpu_s()
        thread.start()
        try:
            result = consume_with_trigger(consumer, sink, trigger, run=run, expected=len(payloads),
                                          timeout_s=timeout_s, on_dead_letter=dlq.send)
        finally:
            stop.set()
            thread.join(timeout_s)
        cpu_after = sink.server_cpu_s()
        if failure:
            raise failure[0]
        if cpu_before is not None and cpu_after is not None:
            result.sink_server_cpu_s = cpu_after - cpu_before
        return result
    finally:
        consumer.close()


def compare_triggers(pk: Any, payloads: Sequence[bytes], triggers: Sequence[Trigger], *, rate_per_s: float,
                     run_id: str, sink_table: str | None = None, synchronous_commit: bool = False,
                     timeout_s: float = 60.0) -> StreamComparison:
    """Replay ``payloads`` at ``rate_per_s`` once per trigger, into one PostgreSQL sink table.

    Each trigger gets its own topic ``lab02.s4.<run_id>.<i>`` (one partition) so every run starts
    from an empty topic; records that cannot be decoded go to ``lab02.s4.<run_id>.dlq``.

    Raises:
        ConfigError: Bad arguments (no payloads, a non-positive rate, a spark trigger here).
        ServiceError: A run did not finish within ``timeout_s`` or the broker failed.
    """
    if not payloads:
        raise ConfigError("no payloads to stream", fix="pass stream_payloads(company['clickstream'], n)")
    if not rate_per_s > 0:
        raise ConfigError(f"rate_per_s must be > 0, got {rate_per_s}", fix="e.g. 2000")
    if any(t.kind == "spark" for t in triggers):
        raise ConfigError("spark triggers run through run_spark_trigger", fix="compare them with summary_table")
    table = sink_table or f"lab02_s4_{run_id}"
    sink = PostgresSink(pk.pg, table, synchronous_commit=synchronous_commit).open()
    base = f"lab02.s4.{run_id}"
    dlq_topic = dlq_topic_for(base)
    dlq = DeadLetterQueue(pk.broker.producer(linger_ms=5, acks="all"), dlq_topic)
    topics, runs = [], []
    try:
        for i, trigger in enumerate(triggers):
            began = time.perf_counter()
            topic = f"{base}.{i}"
            pk.broker.create_topic(topic, partitions=1)
            topics.append(topic)
            runs.append(_run_one(pk, topic, payloads, trigger, rate_per_s=rate_per_s, run=trigger.label,
                                 sink=sink, dlq=dlq, timeout_s=timeout_s))
            runs[-1].wall_s = time.perf_counter() - began
            _log.info("%s: %d records in %.2f s", trigger.label, runs[-1].records, runs[-1].wall_s)
        if dlq.total:
            dlq.flush()
    finally:
        sink.close()
    return StreamComparison(runs, table, topics, dlq_topic, float(rate_per_s), len(payloads))


def run_spark_trigger(pk: Any, payloads: Sequence[bytes], interval_ms: float, *, rate_per_s: float, run_id: str,
                      sink_table: str | None = None, synchronous_commit: bool = False, feed_poll_ms: float = 50.0,
                      timeout_s: float = 90.0) -> RunResult:
    """Replay ``payloads`` through broker -> landing files -> Spark ``foreachBatch`` -> the sink.

    Starts ``pk.spark`` if needed (the first session costs ~10-20 s) and a warm-up micro-batch
    before the clock starts, so the latencies are the steady state's.
    """
    if not rate_per_s > 0:
        raise ConfigError(f"rate_per_s must be > 0, got {rate_per_s}", fix="e.g. 2000")
    spark = pk.spark
    label = Trigger.spark(interval_ms).label
    sink = PostgresSink(pk.pg, sink_table or f"lab02_s4_{run_id}", synchronous_commit=synchronous_commit).open()
    work = Path(pk.state_dir) / "lab02_s4" / f"{run_id}-{int(interval_ms)}"
    micro = SparkMicroBatch(spark, sink, landing=work / "landing", checkpoint=work / "checkpoint",
                            interval_ms=interval_ms, run=label)
    topic = f"lab02.s4.{run_id}.spark{int(interval_ms)}"
    pk.broker.create_topic(topic, partitions=1)
    producer = pk.broker.producer(**PRODUCER_SETTINGS)
    consumer = _assigned_consumer(pk.broker, topic)
    feeder: LandingFeeder | None = None
    try:
        micro.start()
        _warm_up(producer, consumer, topic)
        feeder = LandingFeeder(consumer, micro.landing, poll_s=feed_poll_ms / 1e3)
        jvm_before, server_before = jvm_cpu_s(spark), sink.server_cpu_s()
        feeder.start()
        produce_paced(producer, topic, payloads, rate_per_s=rate_per_s)
        micro.wait_for(len(payloads) - len(feeder.dead_letters), timeout_s)
        jvm_after, server_after = jvm_cpu_s(spark), sink.server_cpu_s()
    finally:
        micro.stop()
        if feeder is not None:
            feeder.stopping.set()
            feeder.join(10)
        else:
            consumer.close()
        sink.close()
    if feeder.error is not None:
        raise ServiceError(f"the landing feeder failed: {feeder.error}", fix="read the error above")
    jvm = jvm_after - jvm_before if jvm_before is not None and jvm_after is not None else None
    result = micro.result(feeder, jvm)
    if server_before is not None and server_after is not None:
        result.sink_server_cpu_s = server_after - server_before
    return result


def plot_tradeoff(table: pd.DataFrame, *, sla_p99_ms: float | None = None, ax: Any = None) -> Any:
    """Latency (p50 and p99, log scale) against capacity, one labelled point per trigger."""
    import matplotlib.pyplot as plt

    if ax is None:
        _fig, ax = plt.subplots(figsize=(8, 4.5))
    colours = {"record": "tab:red", "size": "tab:orange", "interval": "tab:blue", "spark": "tab:green"}
    for row in table.itertuples(index=False):
        colour = colours.get(row.trigger, "grey")
        ax.plot([row.capacity_rps] * 2, [row.p50_ms, row.p99_ms], color=colour, alpha=0.5)
        ax.scatter([row.capacity_rps], [row.p50_ms], color=colour, marker="o", s=30)
        ax.scatter([row.capacity_rps], [row.p99_ms], color=colour, marker="^", s=40)
        ax.annotate(row.mode, (row.capacity_rps, row.p99_ms), textcoords="offset points", xytext=(5, 4), fontsize=8)
    if sla_p99_ms is not None:
        ax.axhline(sla_p99_ms, color="black", linestyle="--", linewidth=1, label=f"SLA p99 {sla_p99_ms:g} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("capacity: records per second of consumer busy time (log)")
    ax.set_ylabel("end-to-end latency, ms (o p50, ^ p99; log)")
    ax.set_title("Latency against capacity, per trigger")
    handles = [plt.Line2D([], [], color=c, marker="o", linestyle="", label=k) for k, c in colours.items()
               if k in set(table["trigger"])]
    ax.legend(handles=handles + ([ax.lines[-1]] if sla_p99_ms is not None else []), fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.16), ncol=5, frameon=False)
    ax.grid(True, which="both", alpha=0.2)
    return ax



def plot_interval_sweep(table: pd.DataFrame, *, sla_p99_ms: float | None = None, ax: Any = None) -> Any:
    """p50/p99 latency (left axis) and CPU per record (right axis) against the batch interval."""
    import matplotlib.pyplot as plt

    rows = table[table["trigger"] == "interval"].sort_values("param")
    if rows.empty:
        raise ConfigError("no interval trigger in the table", fix="measure at least one Trigger.interval(...)")
    if ax is None:
        _fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(rows["param"], rows["p50_ms"], "o-", color="tab:blue", label="p50 latency")
    ax.plot(rows["param"], rows["p99_ms"], "^-", color="tab:purple", label="p99 latency")
    if sla_p99_ms is not None:
        ax.axhline(sla_p99_ms, color="black", linestyle="--", linewidth=1, label=f"SLA p99 {sla_p99_ms:g} ms")
    ax.set_xscale("log")
    ax.set_xlabel("batch interval, ms (log)")
    ax.set_ylabel("end-to-end latency, ms")
    right = ax.twinx()
    right.plot(rows["param"], rows["cpu_us_per_record"], "s--", color="tab:red", label="CPU per record")
    right.set_ylabel("consumer CPU, µs per record", color="tab:red")
    right.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncol=4, frameon=False)
    ax.set_title("Latency and CPU per record against the batch interval")
    return ax
