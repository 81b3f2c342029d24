"""The log-based CDC connector: replication slot -> pgoutput -> change events -> Kafka.

Delivery contract (what survives a crash):

1. every change of a transaction is produced, keyed by its primary key (delivery reports also give
   the offset of each record: the checkpoint keeps the highest per partition, so a reader knows
   exactly how many records each topic holds, which the embedded broker's watermarks cannot say);
2. only when the producer's delivery reports confirm every event of every transaction up to
   commit ``end_lsn`` is that LSN written to the :class:`LsnStore` (atomically, fsync'ed) and
   then confirmed to the slot with ``send_feedback(flush_lsn=...)``;
3. on start, streaming resumes from the stored LSN: PostgreSQL skips every transaction whose
   commit record lies before it, so nothing delivered is streamed again and nothing undelivered
   is skipped.

The window between 1 and 2 is the honest limit: a crash there re-sends the transactions
that were delivered but not yet checkpointed. The topic is therefore *at-least-once*; a
consumer that drops events it has seen by ``(lsn, table, key, op)`` (:func:`dedupe_events`)
gets each change exactly once. Malformed frames go to the dead-letter topic with their LSN.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from platform_kit._deps import require
from platform_kit.errors import ServiceError
from platform_kit.ingestion._cdc_events import ChangeEvent, ChangeStream
from platform_kit.ingestion._pgoutput import PgOutputError, format_lsn
from platform_kit.ingestion._topics import Record
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage

__all__ = ["CdcConnector", "LsnStore", "PgReplicationSource", "ReplicationSource", "topic_for"]

_log = logging.getLogger(__name__)


def topic_for(prefix: str, schema: str, table: str) -> str:
    """Kafka topic of one table's change events: ``<prefix>.<schema>.<table>``."""
    return f"{prefix}.{schema}.{table}"


class LsnStore:
    """The connector's durable position: a small JSON file replaced atomically.

    The file holds the last commit LSN whose events were all *delivered*, plus counters. It
    lives outside the source database, so checkpointing adds no write load to it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        """The last checkpoint (``{"lsn": int, "lsn_text": str, "stats": {...}}``) or None."""
        try:
            state = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ServiceError(f"CDC checkpoint {self.path} is unreadable: {exc}",
                               fix="delete it to restart from the slot's confirmed position") from exc
        if not isinstance(state, dict) or not isinstance(state.get("lsn"), int):
            raise ServiceError(f"CDC checkpoint {self.path} has no integer 'lsn'",
                               fix="delete it to restart from the slot's confirmed position")
        return state

    @property
    def lsn(self) -> int:
        """The stored LSN, 0 when there is none yet."""
        state = self.load()
        return int(state["lsn"]) if state else 0

    def save(self, lsn: int, **facts: Any) -> None:
        """Write the checkpoint: temp file, fsync, rename (a crash leaves the old or the new one)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"lsn": lsn, "lsn_text": format_lsn(lsn), "saved_at_ms": int(time.time() * 1000), **facts})
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)


class ReplicationSource(Protocol):
    """Where frames come from (the real slot, or a list in tests)."""

    def read(self, timeout: float) -> tuple[bytes, int] | None:
        """The next ``(payload, data_start LSN)``, or None when nothing came within ``timeout``."""

    def confirm(self, lsn: int) -> None:
        """Tell the server everything before ``lsn`` is durably handled."""

    def position(self) -> int:
        """The server's sent position from its last keepalive (0 when unknown)."""

    def close(self) -> None: ...


class PgReplicationSource:
    """A pgoutput stream from a logical replication slot, over psycopg2's replication protocol.

    Args:
        dsn: libpq URI of the source database.
        slot: An existing logical slot created with the ``pgoutput`` plugin.
        publication: Publication(s) to stream, comma separated.
        start_lsn: Resume point (0: the slot's confirmed position).
    """

    def __init__(self, dsn: str, slot: str, publication: str, start_lsn: int = 0,
                 status_interval: float = 2.0, busy_wait_s: float = 10.0) -> None:
        psycopg2 = require("psycopg2")
        extras = require("psycopg2.extras")
        deadline = time.monotonic() + busy_wait_s
        while True:
            conn = None
            try:
                conn = psycopg2.connect(dsn, connection_factory=extras.LogicalReplicationConnection,
                                        connect_timeout=5)
                cursor = conn.cursor()
                cursor.start_replication(slot_name=slot, decode=False, start_lsn=start_lsn,
                                         status_interval=status_interval,
                                         options={"proto_version": "1", "publication_names": publication})
                self.conn, self.cursor = conn, cursor
                return
            except psycopg2.Error as exc:
                if conn is not None:
                    conn.close()
                # After a crash the old walsender may hold the slot for a moment: wait for it to go.
                if getattr(exc, "pgcode", None) == "55006" and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                raise ServiceError(f"cannot stream slot {slot!r}: {str(exc).strip()}",
                                   fix="check the slot exists (pg_replication_slots), is not in use by another "
                                       "connector, and the publication exists") from exc

    def read(self, timeout: float) -> tuple[bytes, int] | None:
        message = self.cursor.read_message()
        if message is None:
            select.select([self.cursor], [], [], timeout)
            message = self.cursor.read_message()
            if message is None:
                return None
        return bytes(message.payload), int(message.data_start)

    def confirm(self, lsn: int) -> None:
        self.cursor.send_feedback(write_lsn=lsn, flush_lsn=lsn, force=True)

    def position(self) -> int:
        return int(self.cursor.wal_end or 0)

    def close(self) -> None:
        self.conn.close()


class _TrackedDeadLetterQueue(DeadLetterQueue):
    """A DLQ that also reports the offsets its letters were delivered at."""

    def __init__(self, producer: Any, topic: str, on_delivered: Callable[[Any], None]) -> None:
        super().__init__(producer, topic)
        self._on_delivered = on_delivered

    def _on_delivery(self, error: Any, message: Any) -> None:
        super()._on_delivery(error, message)
        if error is None:
            self._on_delivered(message)


@dataclass
class _Tx:
    final_lsn: int
    end_lsn: int | None = None
    outstanding: int = 0


class CdcConnector:
    """Streams one slot into per-table topics; see the module docstring for the delivery contract.

    Args:
        source: A :class:`ReplicationSource` (started from ``store.lsn``).
        producer: A confluent-kafka Producer (acks=all, one request in flight: see the worker) or a fake.
        store: Where the delivered LSN is kept.
        topic_prefix: Topics are ``<prefix>.<schema>.<table>``.
        dlq_topic: Dead-letter topic for frames that cannot be decoded.
        slot: Slot name (recorded in dead letters).
        primary_keys: ``{"schema.table": [columns]}`` (message keys).
        partitions: Partition count per topic, to broadcast truncates to every partition (a truncate
            has no key, and every partition's consumer must see it); looked up when missing.
        checkpoint_interval_s: How often delivered positions are checkpointed.
        crash_after_events: Fault injection: after producing that many events, wait for their delivery
            and SIGKILL this process before it checkpoints them (they will be delivered again).
    """

    def __init__(self, source: ReplicationSource, producer: Any, store: LsnStore, *, topic_prefix: str,
                 dlq_topic: str, slot: str = "", primary_keys: Mapping[str, Sequence[str]] | None = None,
                 partitions: Mapping[str, int] | None = None, checkpoint_interval_s: float = 0.2,
                 crash_after_events: int | None = None) -> None:
        self.source, self.producer, self.store = source, producer, store
        self.topic_prefix, self.slot = topic_prefix, slot
        self.stream = ChangeStream(primary_keys)
        self.dlq = _TrackedDeadLetterQueue(producer, dlq_topic, self._record_offset)
        self.partitions = dict(partitions or {})
        self.checkpoint_interval_s = checkpoint_interval_s
        self.crash_after_events = crash_after_events
        previous = store.load() or {}
        self.stored_lsn = int(previous.get("lsn", 0))
        self.stats: Counter[str] = Counter(previous.get("stats", {}))
        #: Highest delivered offset per topic and partition, over every run (from delivery reports).
        self.end_offsets: dict[str, dict[str, int]] = {t: dict(p) for t, p in previous.get("offsets", {}).items()}
        self.stats["starts"] += 1
        self._pending: deque[_Tx] = deque()
        self._errors: list[str] = []
        self._dlq_flushed = 0
        self._produced_here = 0
        self._ready_lsn = self.stored_lsn

    # --- delivery tracking -----------------------------------------------------------------------
    def _record_offset(self, message: Any) -> None:
        if message is None or not hasattr(message, "offset"):
            return
        ends = self.end_offsets.setdefault(message.topic(), {})
        partition = str(message.partition())
        ends[partition] = max(ends.get(partition, -1), int(message.offset()))

    def _on_delivery(self, tx: _Tx) -> Callable[[Any, Any], None]:
        def report(error: Any, message: Any) -> None:
            if error is not None:
                self._errors.append(str(error))
                return
            tx.outstanding -= 1
            self.stats["delivered"] += 1
            self._record_offset(message)
        return report

    def _partition_count(self, topic: str) -> int:
        if topic not in self.partitions:
            meta = self.producer.list_topics(topic, timeout=10)
            info = meta.topics.get(topic)
            self.partitions[topic] = max(1, len(info.partitions) if info is not None else 1)
        return self.partitions[topic]

    def _produce(self, event: ChangeEvent, tx: _Tx) -> None:
        topic = topic_for(self.topic_prefix, event.schema, event.table)
        value, key = event.kafka_value(), event.kafka_key()
        headers = [("cdc.op", event.op.encode()), ("cdc.lsn", format_lsn(event.lsn).encode())]
        targets: list[int | None] = [None] if key is not None else list(range(self._partition_count(topic)))
        for partition in targets:
            extra = {} if partition is None else {"partition": partition}
            tx.outstanding += 1
            while True:
                try:
                    self.producer.produce(topic, value=value, key=key, headers=headers,
                                          on_delivery=self._on_delivery(tx), **extra)
                    break
                except BufferError:  # local queue full: serve delivery reports, then retry
                    self.producer.poll(0.05)
            self.stats["produced"] += 1
        self.stats[f"op.{event.op}"] += 1
        self._produced_here += 1
        if self.crash_after_events is not None and self._produced_here >= self.crash_after_events:
            # Fault injection at the worst moment: everything delivered, nothing more checkpointed.
            self.producer.flush(30)
            os.kill(os.getpid(), signal.SIGKILL)

    def _dead_letter(self, payload: bytes, lsn: int, error: PgOutputError) -> None:
        record = Record(topic=f"pgoutput.{self.slot or 'slot'}", partition=0, offset=lsn, key=None, value=payload,
                        headers={"cdc.lsn": format_lsn(lsn).encode()})
        self.dlq.send(DeadLetter.from_record(record, reason=error.reason, stage=Stage.DECODE, error=error))
        self.stats["dead_letters"] += 1

    def deliverable_lsn(self) -> int:
        """The highest commit end LSN such that it and every earlier transaction are fully delivered."""
        lsn = self.stored_lsn
        while self._pending and self._pending[0].end_lsn is not None and self._pending[0].outstanding <= 0:
            lsn = max(lsn, self._pending.popleft().end_lsn or 0)
        self._ready_lsn = max(self._ready_lsn, lsn)
        return self._ready_lsn

    def checkpoint(self, *, save: bool = False) -> int:
        """Store and confirm the delivered position (never beyond what the broker acknowledged).

        With ``save`` the checkpoint file is rewritten even if the position did not move (final
        counters and end offsets at a graceful stop).

        Raises:
            ServiceError: A delivery failed: nothing after it is checkpointed; restart to re-send.
        """
        self.producer.poll(0)
        if self._errors:
            raise ServiceError(f"{len(self._errors)} change event(s) not delivered: {self._errors[0]}",
                               fix="check the broker; restart the connector: it resumes from the last "
                                   f"checkpoint {format_lsn(self.stored_lsn)}")
        lsn = self.deliverable_lsn()
        if not self._pending and self.stream.tx is None:
            # Idle: every transaction the server sent before its last keepalive is delivered, so its
            # sent position is safe to confirm (lets the slot release WAL of unpublished tables).
            lsn = max(lsn, int(getattr(self.source, "position", lambda: 0)() or 0))
        if lsn > self.stored_lsn or save:
            if self.dlq.total > self._dlq_flushed:
                self.dlq.flush()
                self._dlq_flushed = self.dlq.total
            self.stats["checkpoints"] += 1
            self.store.save(lsn, slot=self.slot, pid=os.getpid(), stats=dict(self.stats), offsets=self.end_offsets)
            if lsn > self.stored_lsn:
                self.source.confirm(lsn)
                self.stats["feedbacks"] += 1
                self.stored_lsn = lsn
        return self.stored_lsn

    # --- main loop ---------------------------------------------------------------------------
    def handle(self, payload: bytes, lsn: int) -> None:
        """Process one frame: decode, produce its events, track its transaction."""
        self.stats["frames"] += 1
        try:
            step = self.stream.feed(payload, lsn)
        except PgOutputError as exc:
            self._dead_letter(payload, lsn, exc)
            return
        message = step.message
        if getattr(message, "kind", "") == "B":
            if self._pending and self._pending[-1].end_lsn is None:  # its Commit was dead-lettered
                self._pending[-1].end_lsn = self._pending[-1].final_lsn + 1
            self._pending.append(_Tx(final_lsn=message.final_lsn))
        if step.events:
            tx = self._pending[-1]
            for event in step.events:
                self._produce(event, tx)
        if step.commit is not None and self._pending:
            self._pending[-1].end_lsn = step.commit.end_lsn
            self.stats["transactions"] += 1

    def run(self, *, should_stop: Callable[[], bool] = lambda: False, until_lsn: int | None = None,
            idle_exit_s: float | None = None, max_seconds: float | None = None) -> dict[str, int]:
        """Stream until ``should_stop()``, ``until_lsn`` is checkpointed, idle or out of time.

        Returns:
            Counters: frames, transactions, produced, delivered, dead_letters, checkpoints...
        """
        began = last_frame = next_checkpoint = time.monotonic()
        try:
            while not should_stop():
                frame = self.source.read(0.05)
                now = time.monotonic()
                if frame is not None:
                    self.handle(*frame)
                    last_frame = now
                    self.producer.poll(0)
                if now >= next_checkpoint:  # bounded: each checkpoint is an fsync'ed file write
                    self.checkpoint()
                    next_checkpoint = now + self.checkpoint_interval_s
                if until_lsn is not None and self.stored_lsn >= until_lsn:
                    break
                if idle_exit_s is not None and now - last_frame > idle_exit_s and not self._pending:
                    break
                if max_seconds is not None and now - began > max_seconds:
                    break
            self.producer.flush(30)
            self.checkpoint(save=True)
        finally:
            self.source.close()
        return dict(self.stats)
