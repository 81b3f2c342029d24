"""Consumer loops for the idempotent-consumer section: the exactly-once one and two naive ones.

All three read assigned partitions in micro-batches and can crash on purpose at a planned point
(:class:`Crash`), either by raising :class:`SimulatedCrash` (in-process: the PostgreSQL connection
is then closed without commit, exactly what the server sees when a process dies) or by sending
themselves SIGKILL (in a worker process).

* :func:`consume_idempotently`: rows and offsets in ONE PostgreSQL transaction, resume from the sink.
* :func:`consume_naively` with ``mode="commit_first"``: offsets committed to Kafka when the batch is
  received, before the write (what ``enable.auto.commit`` amounts to): a crash in between LOSES the batch.
* ``mode="write_first"``: write (and commit) the rows, then commit the offsets to Kafka: a crash in
  between DUPLICATES the batch, because the sink has no key to reject the second copy.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

from platform_kit._deps import require
from platform_kit.ingestion._idempotent_batch import apply_batch, next_offsets_of, rows_from_records
from platform_kit.ingestion._idempotent_sql import SinkTables, read_offsets, write_rows
from platform_kit.ingestion._pipeline_consume import assign_at, consume_batches, make_consumer

__all__ = ["ConsumeReport", "Crash", "CrashPoint", "SimulatedCrash", "connect_pg", "consume_idempotently",
           "consume_naively"]

_log = logging.getLogger(__name__)


class CrashPoint(str, Enum):
    """Where in the handling of a batch a planned crash happens."""

    BEFORE_WRITE = "before_write"    # batch received, nothing written
    BETWEEN = "between"              # between the sink write and the offset commit
    AFTER_COMMIT = "after_commit"    # both durable, before the next poll


class SimulatedCrash(RuntimeError):
    """Raised by a planned in-process crash."""


@dataclass(frozen=True)
class Crash:
    """A planned crash: during the ``batch``-th batch of the run (1-based), at ``point``."""

    batch: int
    point: CrashPoint = CrashPoint.BETWEEN

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"Crash.batch counts from 1, got {self.batch}")
        object.__setattr__(self, "point", CrashPoint(self.point))


@dataclass
class ConsumeReport:
    """What one consumer run did."""

    consumer_id: str
    topic: str
    mode: str
    start_offsets: dict[int, int]
    next_offsets: dict[int, int] = field(default_factory=dict)
    batches: int = 0
    records: int = 0
    inserted: int = 0
    elapsed_s: float = 0.0
    finished: bool = False

    @property
    def duplicates(self) -> int:
        """Records handled that did not add a row."""
        return self.records - self.inserted

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used by the worker process)."""
        return {"consumer_id": self.consumer_id, "topic": self.topic, "mode": self.mode,
                "start_offsets": self.start_offsets, "next_offsets": self.next_offsets, "batches": self.batches,
                "records": self.records, "inserted": self.inserted, "elapsed_s": self.elapsed_s,
                "finished": self.finished}


def _crash_now(how: str, where: str) -> None:
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(10)  # pragma: no cover - the signal is delivered before this returns
    raise SimulatedCrash(f"planned crash {where}")


def _reached(end_offsets: Mapping[int, int] | None, offsets: Mapping[int, int]) -> bool:
    return bool(end_offsets) and all(offsets.get(p, 0) >= end for p, end in end_offsets.items())  # type: ignore[union-attr]


def connect_pg(pg: Any) -> tuple[Any, bool]:
    """``(connection, owned)`` from a DSN, a psycopg2 connection (not owned) or a Postgres service."""
    if isinstance(pg, str):
        return require("psycopg2").connect(pg, connect_timeout=5), True
    if hasattr(pg, "cursor"):
        return pg, False
    return pg.connect(), True  # a platform_kit Postgres service


def consume_idempotently(
    consumer_config: Mapping[str, Any],
    pg: Any,
    topic: str,
    *,
    consumer_id: str,
    tables: SinkTables,
    end_offsets: Mapping[int, int] | None = None,
    start_offsets: Mapping[int, int] | None = None,
    batch_size: int = 1000,
    idle_s: float | None = None,
    timeout_s: float = 120.0,
    handler: Callable[..., Any] = apply_batch,
    crash: Crash | None = None,
    crash_how: Literal["raise", "sigkill"] = "raise",
    on_ready: Callable[[dict[int, int]], None] | None = None,
) -> ConsumeReport:
    """Consume ``topic`` into the keyed sink with exactly-once effect, resuming from the sink's offsets.

    Each batch: ``handler(cursor, records, consumer_id, tables)`` writes rows and offsets, then ONE
    commit. The start position is read from the offsets table (or ``start_offsets`` for a deliberate
    replay) and the partitions are ``assign()``ed there: no group join, no Kafka commit.

    Args:
        consumer_config: confluent-kafka settings (``broker.consumer_config(group)``); no commit is done.
        pg: A DSN, a psycopg2 connection, or ``pk.pg``.
        topic: Source topic.
        consumer_id: Key of this consumer's offsets in the offsets table.
        tables: Sink and offsets tables (created if missing).
        end_offsets: Stop once the committed offsets reach these (from delivery reports).
        start_offsets: Override the stored offsets (a replay from an earlier point).
        batch_size: Records per poll/transaction.
        idle_s: Also stop after this long without records. Default: none when ``end_offsets`` is given
            (the run ends exactly there, or fails at ``timeout_s``), else 2 s.
        timeout_s: Hard limit of the run.
        handler: ``handler(cursor, records, consumer_id, tables)``; returns a BatchResult or the
            number of rows inserted; must not commit.
        crash: A planned crash; ``crash_how`` says whether it raises or SIGKILLs this process.
        on_ready: Called with the start offsets once the partitions are assigned.

    Raises:
        SimulatedCrash: The planned in-process crash happened (the transaction was rolled back).
    """
    began = time.monotonic()
    if idle_s is None and not end_offsets:
        idle_s = 2.0
    conn, owned = connect_pg(pg)
    consumer = None
    try:
        with conn.cursor() as cur:
            tables.create(cur)
            stored = read_offsets(cur, tables, consumer_id, topic)
        conn.commit()
        offsets = dict(stored if start_offsets is None else start_offsets)
        report = ConsumeReport(consumer_id, topic, "idempotent", dict(offsets))
        consumer = make_consumer(consumer_config)
        assign_at(consumer, topic, offsets, sorted(end_offsets) if end_offsets else None)
        if on_ready is not None:
            on_ready(dict(offsets))
        batches = consume_batches(consumer, batch_size=batch_size, idle_s=idle_s, timeout_s=timeout_s,
                                  stop=lambda: _reached(end_offsets, offsets))
        for number, records in enumerate(batches, start=1):
            planned = crash if crash is not None and crash.batch == number else None
            if planned and planned.point is CrashPoint.BEFORE_WRITE:
                _crash_now(crash_how, "before the write")
            with conn.cursor() as cur:
                result = handler(cur, records, consumer_id, tables)
            if planned and planned.point is CrashPoint.BETWEEN:
                _crash_now(crash_how, "after the write, before the commit")
            conn.commit()
            report.batches += 1
            report.records += len(records)
            report.inserted += int(getattr(result, "inserted", result) or 0)
            for (_, partition), nxt in next_offsets_of(records).items():
                offsets[partition] = nxt
            if planned and planned.point is CrashPoint.AFTER_COMMIT:
                _crash_now(crash_how, "after the commit")
        report.next_offsets = dict(offsets)
        report.finished = _reached(end_offsets, offsets) if end_offsets else True
        report.elapsed_s = time.monotonic() - began
        return report
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    finally:
        if consumer is not None:
            consumer.close()
        if owned:
            conn.close()


def consume_naively(
    consumer_config: Mapping[str, Any],
    pg: Any,
    topic: str,
    *,
    tables: SinkTables,
    mode: Literal["commit_first", "write_first"],
    end_offsets: Mapping[int, int] | None = None,
    batch_size: int = 1000,
    idle_s: float | None = None,
    timeout_s: float = 120.0,
    crash: Crash | None = None,
    crash_how: Literal["raise", "sigkill"] = "raise",
    id_field: str = "event_id",
) -> ConsumeReport:
    """The usual first attempt: offsets committed to Kafka and rows written in two separate steps.

    Offsets live in the consumer group (``consumer_config['group.id']``), committed with
    ``commit(offsets=..., asynchronous=False)`` on an assigned consumer; rows go to a sink without a
    primary key (``SinkTables(..., keyed=False)``), each batch in its own PostgreSQL transaction.

    Args:
        mode: ``commit_first`` (auto-commit-like: commit, then write) or ``write_first`` (write, then commit).
        crash: A planned crash; :attr:`CrashPoint.BETWEEN` is the gap between the two steps.

    Raises:
        SimulatedCrash: The planned in-process crash happened.
    """
    if mode not in ("commit_first", "write_first"):
        raise ValueError(f"mode must be 'commit_first' or 'write_first', got {mode!r}")
    if "group.id" not in consumer_config:
        raise ValueError("the naive consumer keeps its offsets in a consumer group: give consumer_config a group.id")
    kafka = require("confluent_kafka")
    began = time.monotonic()
    if idle_s is None and not end_offsets:
        idle_s = 2.0
    conn, owned = connect_pg(pg)
    consumer = make_consumer(consumer_config)
    try:
        with conn.cursor() as cur:
            tables.create(cur)
        conn.commit()
        partitions = sorted(end_offsets) if end_offsets else None
        if partitions is None:
            info = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions = sorted(info.partitions)
        committed = consumer.committed([kafka.TopicPartition(topic, p) for p in partitions], timeout=10)
        offsets = {tp.partition: max(tp.offset, 0) for tp in committed}
        report = ConsumeReport(str(consumer_config["group.id"]), topic, mode, dict(offsets))
        assign_at(consumer, topic, offsets, partitions)

        def commit_offsets(nxt: dict[tuple[str, int], int]) -> None:
            consumer.commit(offsets=[kafka.TopicPartition(t, p, o) for (t, p), o in nxt.items()],
                            asynchronous=False)

        def write(records: list[Any]) -> int:
            with conn.cursor() as cur:
                n = len(write_rows(cur, rows_from_records(records, id_field), tables))  # no dedupe: naive
            conn.commit()
            return n

        batches = consume_batches(consumer, batch_size=batch_size, idle_s=idle_s, timeout_s=timeout_s,
                                  stop=lambda: _reached(end_offsets, offsets))
        for number, records in enumerate(batches, start=1):
            planned = crash if crash is not None and crash.batch == number else None
            nxt = next_offsets_of(records)
            if planned and planned.point is CrashPoint.BEFORE_WRITE:
                _crash_now(crash_how, "before the write")
            if mode == "commit_first":
                commit_offsets(nxt)
            else:
                report.inserted += write(records)
            if planned and planned.point is CrashPoint.BETWEEN:
                _crash_now(crash_how, f"between the two steps ({mode})")
            if mode == "commit_first":
                report.inserted += write(records)
            else:
                commit_offsets(nxt)
            report.batches += 1
            report.records += len(records)
            for (_, partition), o in nxt.items():
                offsets[partition] = o
            if planned and planned.point is CrashPoint.AFTER_COMMIT:
                _crash_now(crash_how, "after both steps")
        report.next_offsets = dict(offsets)
        report.finished = _reached(end_offsets, offsets) if end_offsets else True
        report.elapsed_s = time.monotonic() - began
        return report
    except BaseException:
        if not conn.closed:
            conn.rollback()
        raise
    finally:
        consumer.close()
        if owned:
            conn.close()
