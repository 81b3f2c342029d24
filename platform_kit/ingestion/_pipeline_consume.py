"""platform_kit's consumer loop: assigned partitions, micro-batches of detached records, honest stop rules.

No consumer group is joined: the caller assigns partitions at offsets it stores itself (in the sink,
for exactly-once), so nothing waits for a rebalance. The loop stops when a caller-supplied condition
holds (typically "the offsets I committed reached the producer's delivery-report end offsets"), after
``idle_s`` without records, or at ``timeout_s``.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import ServiceError
from platform_kit.ingestion._topics import Record

__all__ = ["FAST_CONSUMER_SETTINGS", "assign_at", "consume_batches", "lag_of", "make_consumer", "to_records", "watermark_gap"]

_log = logging.getLogger(__name__)

#: Seconds an idle rule waits for the FIRST record (a cold fetch can be slow on a loaded machine).
FIRST_RECORD_GRACE_S = 5.0

#: librdkafka settings for assigned (group-less) consumers on the embedded broker.
FAST_CONSUMER_SETTINGS: dict[str, Any] = {
    "enable.auto.commit": False, "enable.auto.offset.store": False, "fetch.wait.max.ms": 100,
    "enable.partition.eof": False, "auto.offset.reset": "earliest",
}


def make_consumer(config: Mapping[str, Any]) -> Any:
    """A confluent-kafka ``Consumer`` from ``config`` with :data:`FAST_CONSUMER_SETTINGS` underneath."""
    kafka = require("confluent_kafka")
    return kafka.Consumer({**FAST_CONSUMER_SETTINGS, **dict(config)})


def assign_at(consumer: Any, topic: str, offsets: Mapping[int, int], partitions: list[int] | None = None) -> list[int]:
    """Assign ``topic``'s partitions at ``offsets`` (missing partitions start at 0); returns the partitions.

    Raises:
        ServiceError: The topic does not exist.
    """
    kafka = require("confluent_kafka")
    if partitions is None:
        meta = consumer.list_topics(topic, timeout=10)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise ServiceError(f"topic {topic!r} does not exist", fix="create it first (broker.create_topic)")
        partitions = sorted(info.partitions)
    consumer.assign([kafka.TopicPartition(topic, p, int(offsets.get(p, 0))) for p in partitions])
    return list(partitions)


def _record_factory() -> Any:
    """Build :class:`Record` objects without the frozen dataclass's per-field ``object.__setattr__``.

    ``Record`` has no ``__post_init__``, so filling ``__dict__`` directly yields the same (equal,
    frozen) object about 3x faster, which matters on the consumer's hot path. Falls back to the
    constructor if ``Record`` ever gains slots or a ``__post_init__``.
    """
    if hasattr(Record, "__slots__") or hasattr(Record, "__post_init__"):
        return Record
    new = object.__new__

    def make(topic: str, partition: int, offset: int, key: Any, value: Any, headers: dict[str, bytes],
             timestamp_ms: int | None) -> Record:
        record = new(Record)
        fields = record.__dict__
        fields["topic"], fields["partition"], fields["offset"] = topic, partition, offset
        fields["key"], fields["value"], fields["headers"], fields["timestamp_ms"] = key, value, headers, timestamp_ms
        return record

    return make


_make_record = _record_factory()


def to_records(messages: list[Any]) -> list[Record]:
    """Detached :class:`Record` objects from confluent messages; broker errors are logged and skipped.

    Raises:
        ServiceError: A fatal consumer error.
    """
    out: list[Record] = []
    append, make = out.append, _make_record
    for m in messages:
        error = m.error()
        if error is not None:
            if getattr(error, "fatal", lambda: False)():
                raise ServiceError(f"consumer failed: {error}", fix="check the broker (`workbench status broker`)")
            _log.warning("consumer error (continuing): %s", error)
            continue
        headers = m.headers()
        kind, stamp = m.timestamp()
        append(make(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                    {k: (v or b"") for k, v in headers} if headers else {}, stamp if kind else None))
    return out


def consume_batches(
    consumer: Any,
    *,
    batch_size: int = 1000,
    poll_timeout_s: float = 0.2,
    stop: Callable[[], bool] = lambda: False,
    idle_s: float | None = 2.0,
    timeout_s: float = 120.0,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[list[Record]]:
    """Yield micro-batches of records from an assigned consumer until ``stop()``, idle or timeout.

    ``stop`` is checked before every poll, so a caller that updates its state after handling a
    batch (e.g. its committed offsets) stops right after the batch that completed the work.

    Args:
        consumer: An assigned confluent-kafka ``Consumer`` (or a fake with ``consume(n, timeout)``).
        batch_size: Most records per batch.
        poll_timeout_s: Longest wait for one poll.
        stop: Returns True when the work is done.
        idle_s: Stop after this long without a record (at least :data:`FIRST_RECORD_GRACE_S` before the
            first one); ``None``: never, rely on ``stop``/``timeout_s``.
        timeout_s: Hard limit.

    Raises:
        ServiceError: ``timeout_s`` passed before ``stop()`` held (only when ``idle_s`` is ``None``).
    """
    began = last = clock()
    seen = False
    while not stop():
        now = clock()
        if now - began > timeout_s:
            if idle_s is None:
                raise ServiceError(f"the consumer did not finish within {timeout_s:g} s",
                                   fix="check the broker, or raise timeout_s for larger runs")
            return
        # before the first record the fetch may still be warming up (assignment, connection, a loaded
        # machine): allow FIRST_RECORD_GRACE_S before calling the topic idle
        if idle_s is not None and now - last > (idle_s if seen else max(idle_s, FIRST_RECORD_GRACE_S)):
            return
        records = to_records(consumer.consume(batch_size, poll_timeout_s))
        if records:
            last, seen = clock(), True
            yield records


def lag_of(end_offsets: Mapping[int, int], committed: Mapping[int, int]) -> int:
    """Records produced but not yet committed: sum over partitions of ``end - committed`` (never negative).

    ``end_offsets`` must come from delivery reports (:class:`DeliveryTracker`) or a count of what was
    produced, NOT from the embedded broker's high watermark, which trails the true end by up to a batch.
    """
    return sum(max(0, end - committed.get(p, 0)) for p, end in end_offsets.items())


def watermark_gap(consumer: Any, topic: str, end_offsets: Mapping[int, int]) -> list[dict[str, int]]:
    """Per partition: the true end (from delivery reports) against the broker's high watermark.

    On the embedded broker the high watermark is the base offset of the LAST BATCH, so ``gap`` (true
    end - high watermark) is up to one producer batch: lag or "read to the end" computed from the
    high watermark silently under-counts by that much. Each partition costs one broker round trip.
    """
    kafka = require("confluent_kafka")
    rows = []
    for partition, end in sorted(end_offsets.items()):
        _, high = consumer.get_watermark_offsets(kafka.TopicPartition(topic, partition), timeout=5, cached=False)
        rows.append({"partition": partition, "produced_end": int(end), "high_watermark": int(high),
                     "gap": int(end) - int(high)})
    return rows
