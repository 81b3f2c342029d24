"""The measured pipeline of Lab 1: orders -> broker -> enrich -> ClickHouse -> serving queries.

:func:`run_order_pipeline` runs it for real and times every record through every stage:

1. **produce**: each order becomes a JSON event (key ``customer_id``, stamped with its produce time)
   on topic ``lab01.orders`` (confluent-kafka), paced at ``rate_per_s`` to mimic arrivals;
2. **consume + transform**: a consumer in a fresh group reads micro-batches, validates them,
   enriches them with the customer's region/segment and converts ``total_amount`` to
   ``amount_usd``; records that fail go to the dead-letter store with their reason;
3. **load**: each micro-batch is inserted into the MergeTree table ``lab01_orders_enriched``;
4. **serve**: analytical and point-lookup queries run against the table several times.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.assessment._sla_consume import consume_run
from platform_kit.assessment._sla_engines import (
    SERVING_QUERIES,
    create_tables,
    partition_count,
    serve_queries,
    start_engines,
    validate_args,
)
from platform_kit.assessment._sla_events import (
    COLUMN_LINEAGE,
    DeadLetter,
    RawRecord,
    customer_lookup,
    dead_letter_frame,
    order_payloads,
    transform_records,
)
from platform_kit.assessment._sla_produce import SAMPLE_BAD_EVENTS, produce_run
from platform_kit.errors import ConfigError, ServiceError

__all__ = ["JOB_NAME", "SAMPLE_BAD_EVENTS", "SERVING_QUERIES", "PipelineRun", "run_order_pipeline"]

_log = logging.getLogger(__name__)

#: OpenLineage job name of the pipeline (the catalog section emits lineage under it).
JOB_NAME = "lab01.enrich_orders"


@dataclass(frozen=True)
class PipelineRun:
    """Everything measured in one run of :func:`run_order_pipeline`.

    Attributes:
        topic, table, job_name: Names of the topic, the landed ClickHouse table and the job.
        run_id, group_id: This run's id (a header on every record) and its consumer group.
        started_at, finished_at: UTC wall-clock bounds of the run.
        records_in: Records of this run consumed from the topic (orders + injected events).
        records_out: Rows landed in ``table``; ``records_in == records_out + len(dead_letters)``.
        dead_letters: Rejected records with their reason (also in ``dead_letter_table``).
        dead_letter_table: ClickHouse table holding the dead letters of the run.
        records_foreign: Records of other runs met on the topic and skipped.
        batch_size, batch_wait_ms, rate_per_s: The knobs the run used.
        timings: Raw timings per stage (``transport``, ``transform_load``, ``end_to_end``: one row
            per landed record; ``serving``: one row per query execution); each has ``latency_ms``.
        batches: One row per micro-batch (records, dead letters, transform and insert time).
        summary: Per stage: count, p50/p95/p99/mean/max in ms and throughput per second.
        metrics: Flat measurements for SLAs and baselines (see :meth:`measurements`).
        column_lineage: Output column -> ``dataset.column`` inputs of the transform.
    """

    topic: str
    table: str
    job_name: str
    run_id: str
    group_id: str
    started_at: datetime
    finished_at: datetime
    records_in: int
    records_out: int
    dead_letters: list[DeadLetter]
    dead_letter_table: str
    records_foreign: int
    batch_size: int
    batch_wait_ms: float
    rate_per_s: float | None
    timings: dict[str, pd.DataFrame]
    batches: pd.DataFrame
    summary: pd.DataFrame
    metrics: dict[str, float]
    column_lineage: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in COLUMN_LINEAGE.items()}
    )

    def measurements(self) -> dict[str, float]:
        """Flat metrics (names as in ``platform_kit.assessment.sla.METRICS``): ``<stage>_p50/p95/p99_ms``,
        ``freshness_s``, ``produce_rps``, ``consume_rps``, ``transform_load_rps``, ``end_to_end_rps``,
        ``serving_qps``, ``dead_letter_pct``."""
        return dict(self.metrics)

    def latencies(self, stage: str) -> np.ndarray:
        """The raw ``latency_ms`` samples of ``stage``."""
        if stage not in self.timings:
            raise ConfigError(
                f"no stage {stage!r}; stages: {', '.join(self.timings)}", fix="pick one of those"
            )
        return self.timings[stage]["latency_ms"].to_numpy(dtype=float)

    @property
    def dead_letter_frame(self) -> pd.DataFrame:
        """The dead letters as a DataFrame."""
        return dead_letter_frame(self.dead_letters)


def run_order_pipeline(
    pk: Any,
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    topic: str = "lab01.orders",
    table: str = "lab01_orders_enriched",
    batch_size: int = 100,
    batch_wait_ms: float = 50.0,
    rate_per_s: float | None = 1000.0,
    linger_ms: float = 20.0,
    partitions: int = 1,
    query_repeats: int = 5,
    inject: Sequence[bytes | str | Mapping[str, Any] | None] = (),
    timeout_s: float = 60.0,
) -> PipelineRun:
    """Run the order pipeline once, for real, and time each record through each stage.

    Re-runs are idempotent: the table and its dead-letter table are dropped and recreated, the
    consumer group is new (``lab01.enrich_orders.<run id>``), and the consumer starts at this run's
    own start markers, so earlier runs on the same topic are never re-read.

    Args:
        pk: The :class:`~platform_kit.Workbench` (``platform_kit.connect()``).
        orders: Order rows (``company["orders"]`` or a slice): one event each.
        customers: ``company["customers"]``, for enrichment.
        topic: Broker topic (created if missing).
        table: ClickHouse table the micro-batches land in; dead letters go to ``<table>_dead_letters``.
        batch_size: Largest micro-batch (records per insert).
        batch_wait_ms: Longest wait for a micro-batch to fill.
        rate_per_s: Produce pace in records per second (``None``: as fast as possible, a burst).
        linger_ms: Producer batching delay (``linger.ms``).
        partitions: Partitions of the topic when it is created.
        query_repeats: Executions of each serving query.
        inject: Extra events produced mid-stream as they are (bytes/str/None) or, for a mapping, as a
            JSON event stamped with its produce time; e.g. :data:`SAMPLE_BAD_EVENTS` to exercise the
            dead-letter path.
        timeout_s: Give up (``ServiceError``) when the broker has not delivered the run by then.

    Returns:
        The :class:`PipelineRun` with raw timings, summary and metrics.

    Raises:
        ConfigError: Bad arguments, or orders/customers lack required columns.
        ServiceError: The broker did not deliver in time, a delivery failed, or the table does not
            hold the landed rows.

    Introduced in: Lab 1 (assessment).
    """
    validate_args(batch_size, batch_wait_ms, rate_per_s, query_repeats, timeout_s, partitions, table)
    payloads = order_payloads(orders)
    lookup = customer_lookup(customers)
    if not payloads and not inject:
        raise ConfigError("nothing to send: orders is empty and nothing is injected", fix="pass some orders")
    start_engines(pk)
    olap, broker = pk.olap, pk.broker
    dead_table = f"{table}_dead_letters"
    create_tables(olap, table, dead_table)
    broker.create_topic(topic, partitions=partitions)

    run_id = uuid.uuid4().hex[:12]
    group_id = f"{JOB_NAME}.{run_id}"
    quiet = logging.getLogger("platform_kit.assessment.rdkafka")
    producer = broker.producer(linger_ms=linger_ms, logger=quiet)
    consumer = broker.consumer(group_id, enable_auto_commit=False, fetch_wait_max_ms=100, logger=quiet)
    topic_partitions = partition_count(producer, topic)
    started_at = datetime.now(UTC)
    dead: list[DeadLetter] = []
    landed: list[pd.DataFrame] = []
    batch_rows: list[dict[str, Any]] = []

    def land(batch: list[RawRecord]) -> None:
        began = time.perf_counter()
        result = transform_records(batch, lookup, batch_id=len(batch_rows))
        transformed = time.perf_counter()
        olap.insert_df(table, result.frame)  # synchronous: the rows are queryable when it returns
        inserted = time.perf_counter()
        landed.append(result.frame.assign(landed_ns=time.time_ns()))
        consumer.commit(asynchronous=True)  # after the insert: at-least-once delivery
        dead.extend(result.dead_letters)
        batch_rows.append(
            {
                "batch_id": len(batch_rows),
                "records": len(batch),
                "landed": len(result.frame),
                "dead_letters": len(result.dead_letters),
                "transform_ms": (transformed - began) * 1e3,
                "insert_ms": (inserted - transformed) * 1e3,
            }
        )

    try:
        marks = produce_run(
            producer,
            topic,
            run_id=run_id,
            partitions=topic_partitions,
            payloads=[],
            inject=(),
            rate_per_s=None,
            markers="start",
        )
        TopicPartition = require("confluent_kafka").TopicPartition

        consumer.assign([TopicPartition(topic, p, offset + 1) for p, offset in marks.start_offsets.items()])
        holder: dict[str, Any] = {}
        stop = threading.Event()

        def produce() -> None:
            try:
                holder["stats"] = produce_run(
                    producer,
                    topic,
                    run_id=run_id,
                    partitions=topic_partitions,
                    payloads=payloads,
                    inject=inject,
                    rate_per_s=rate_per_s,
                    markers="end",
                    stop=stop,
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                holder["error"] = exc

        thread = threading.Thread(target=produce, name="lab01-producer", daemon=True)
        thread.start()
        try:
            stats = consume_run(
                consumer,
                run_id=run_id,
                partitions=set(marks.start_offsets),
                batch_size=batch_size,
                batch_wait_s=batch_wait_ms / 1e3,
                timeout_s=timeout_s,
                on_batch=land,
            )
        finally:
            stop.set()  # no-op when everything arrived; otherwise the producer stops early
            thread.join(timeout=timeout_s)
        if "error" in holder:
            raise holder["error"]
        produced = holder["stats"]
    finally:
        consumer.close()
    if dead:
        frame = dead_letter_frame(dead).assign(run_id=run_id)
        olap.insert_df(dead_table, frame)
    in_table = int(olap.query_value(f"SELECT count() FROM {table}"))
    records_out = sum(len(f) for f in landed)
    if in_table != records_out or stats.records != records_out + len(dead):
        raise ServiceError(
            f"lost records: consumed {stats.records}, landed {records_out} (table holds {in_table}), "
            f"dead letters {len(dead)}",
            fix="re-run; if it persists, report it",
        )
    customer_ids = orders["customer_id"].drop_duplicates().head(query_repeats).tolist() or [0]
    serving = serve_queries(olap, table, customer_ids, query_repeats)
    finished_at = datetime.now(UTC)
    from platform_kit.assessment._sla_timing import build_timings

    timings, summary, metrics = build_timings(
        landed, serving, produced, records_in=stats.records, dead_letters=len(dead)
    )
    return PipelineRun(
        topic=topic,
        table=table,
        job_name=JOB_NAME,
        run_id=run_id,
        group_id=group_id,
        started_at=started_at,
        finished_at=finished_at,
        records_in=stats.records,
        records_out=records_out,
        dead_letters=dead,
        dead_letter_table=dead_table,
        records_foreign=stats.foreign,
        batch_size=batch_size,
        batch_wait_ms=batch_wait_ms,
        rate_per_s=rate_per_s,
        timings=timings,
        batches=pd.DataFrame(batch_rows),
        summary=summary,
        metrics=metrics,
    )
