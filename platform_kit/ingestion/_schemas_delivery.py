"""Producing with an outcome for every record: delivered, or in the dead-letter queue with why.

A broker that validates records (tansu with ``--schema-registry``) rejects a whole produce
*batch* with ``INVALID_RECORD`` when one record in it is bad, so good records that shared a
batch with a bad one fail too. :func:`deliver` therefore re-sends each rejected record on its
own: the ones the broker then accepts are delivered, the ones it still rejects are dead letters.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import ServiceError
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage

__all__ = ["Outgoing", "ProduceReport", "deliver", "producer_dead_letter"]


@dataclass(frozen=True)
class Outgoing:
    """A record about to be produced (already serialised)."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass
class ProduceReport:
    """What happened to each record handed to a producer.

    Attributes:
        topic: Destination topic.
        attempted: Records handed in (including those that failed before reaching the broker).
        delivered: Records the broker acknowledged.
        dead_letters: Dead letters written, by reason.
        bytes_delivered: Key + value bytes of the delivered records.
        seconds: Wall time of serialising, producing and flushing.
        resent_alone: Records re-sent one by one after the broker rejected their batch.
        offsets: ``(partition, offset)`` of each delivered record.
        schema_ids: Schema id -> records handed to the broker with it (set by the Avro producer).
    """

    topic: str
    attempted: int = 0
    delivered: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    bytes_delivered: int = 0
    seconds: float = 0.0
    resent_alone: int = 0
    offsets: list[tuple[int, int]] = field(default_factory=list)
    schema_ids: Counter[int] = field(default_factory=Counter)

    @property
    def lost(self) -> int:
        """Records neither delivered nor dead-lettered (must be 0)."""
        return self.attempted - self.delivered - sum(self.dead_letters.values())

    @property
    def bytes_per_record(self) -> float:
        """Average delivered key + value size."""
        return self.bytes_delivered / self.delivered if self.delivered else 0.0

    def merge(self, other: ProduceReport) -> ProduceReport:
        """Add ``other``'s counts to this report (same topic) and return it."""
        self.attempted += other.attempted
        self.delivered += other.delivered
        self.dead_letters.update(other.dead_letters)
        self.bytes_delivered += other.bytes_delivered
        self.seconds += other.seconds
        self.resent_alone += other.resent_alone
        self.offsets += other.offsets
        self.schema_ids.update(other.schema_ids)
        return self


def producer_dead_letter(
    topic: str, key: bytes | None, value: bytes | None, *, reason: str, stage: Stage, error: Any,
    headers: Sequence[tuple[str, bytes]] = (), attempts: int = 1,
) -> DeadLetter:
    """A dead letter for a record that never got an offset (partition and offset are -1)."""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    return DeadLetter(key=key, value=value, reason=reason, stage=stage, topic=topic, partition=-1, offset=-1,
                      error=text, attempts=attempts, original_headers=dict(headers))


def _produce(producer: Any, topic: str, item: Outgoing, callback: Any) -> None:
    while True:
        try:
            producer.produce(topic, value=item.value, key=item.key, headers=list(item.headers) or None,
                             on_delivery=callback)
            return
        except BufferError:  # local queue full: serve delivery reports, then retry
            producer.poll(0.1)


def _callback_into(outcomes: dict[int, tuple[Any, int, int]], index: int = 0) -> Any:
    """A delivery callback storing ``(error, partition, offset)`` under ``index``."""
    return lambda err, msg: outcomes.__setitem__(index, (err, msg.partition(), msg.offset()))


def deliver(
    producer: Any, topic: str, items: Sequence[Outgoing], dlq: DeadLetterQueue, *, flush_timeout: float = 30.0,
) -> ProduceReport:
    """Produce ``items`` and account for every one of them.

    Records the broker rejects as invalid (``INVALID_RECORD``) are re-sent alone; if rejected
    again they go to ``dlq`` with reason ``broker_rejected`` (stage ``schema``). Other delivery
    errors go there with reason ``delivery_failed`` (stage ``sink``). The DLQ is flushed.

    Raises:
        ServiceError: Records were still queued after ``flush_timeout`` (nothing is dead-lettered
            then: they may yet be delivered, so retrying could duplicate them).
    """
    kafka = require("confluent_kafka")
    began = time.perf_counter()
    report = ProduceReport(topic=topic, attempted=len(items))
    outcomes: dict[int, tuple[Any, int, int]] = {}

    for index, item in enumerate(items):
        _produce(producer, topic, item, _callback_into(outcomes, index))
        producer.poll(0)
    if producer.flush(flush_timeout):
        raise ServiceError(f"{len(items) - len(outcomes)} record(s) for {topic!r} still queued after "
                           f"{flush_timeout:g} s", fix="check the broker (`workbench status broker`)")
    for index, item in enumerate(items):
        err, partition, offset = outcomes[index]
        attempts = 1
        if err is not None and err.code() == kafka.KafkaError.INVALID_RECORD:
            report.resent_alone += 1
            attempts = 2
            retry: dict[int, tuple[Any, int, int]] = {}
            _produce(producer, topic, item, _callback_into(retry))
            producer.flush(flush_timeout)
            err, partition, offset = retry.get(0, (err, -1, -1))
        if err is None:
            report.delivered += 1
            report.bytes_delivered += len(item.key or b"") + len(item.value or b"")
            report.offsets.append((partition, offset))
            continue
        rejected = err.code() == kafka.KafkaError.INVALID_RECORD
        reason, stage = ("broker_rejected", Stage.SCHEMA) if rejected else ("delivery_failed", Stage.SINK)
        dlq.send(producer_dead_letter(topic, item.key, item.value, reason=reason, stage=stage,
                                      error=f"{err.name()} ({err.code()}): {err.str()}", headers=item.headers,
                                      attempts=attempts))
        report.dead_letters[reason] += 1
    dlq.flush()
    report.seconds = time.perf_counter() - began
    return report
