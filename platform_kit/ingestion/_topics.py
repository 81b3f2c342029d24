"""Reading topics back, honestly, on brokers whose end offsets cannot be trusted.

The embedded tansu broker reports the *base offset of the last batch* as the high
watermark, so "read until the high watermark" stops early. :func:`drain_topic` instead
reads assigned partitions from a start offset until the topic has been idle for
``idle_s`` (or ``expected`` records arrived), which is correct on every broker.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import ServiceError

__all__ = ["Record", "drain_topic", "partitions_of", "record_from_message"]

_log = logging.getLogger(__name__)

#: Consumer settings that keep polling latency low on tansu (``fetch.wait.max.ms`` of 10 stalls it).
_FIRST_RECORD_GRACE_S = 5.0

FAST_CONSUMER = {"fetch.wait.max.ms": 100, "enable.auto.commit": False, "enable.partition.eof": False}


@dataclass(frozen=True)
class Record:
    """One consumed record, detached from the client (safe to keep after the consumer closes)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes] = field(default_factory=dict)
    timestamp_ms: int | None = None


def record_from_message(message: Any) -> Record:
    """A :class:`Record` from a confluent-kafka ``Message`` (header values of ``None`` become ``b""``)."""
    kind, stamp = message.timestamp()
    return Record(
        topic=message.topic(), partition=message.partition(), offset=message.offset(),
        key=message.key(), value=message.value(),
        headers={name: (value or b"") for name, value in (message.headers() or [])},
        timestamp_ms=stamp if kind else None,
    )


def partitions_of(broker: Any, topic: str, timeout: float = 10.0) -> list[int]:
    """Partition ids of ``topic``.

    Raises:
        ServiceError: The topic does not exist or the broker did not answer.
    """
    try:
        # Ask for all topics: a metadata request naming one may auto-create it on some brokers.
        meta = broker.admin().list_topics(timeout=timeout)
    except Exception as exc:  # confluent raises KafkaException with an opaque payload
        raise ServiceError(f"cannot read metadata of topic {topic!r}: {exc}",
                           fix="`workbench status broker`") from exc
    info = meta.topics.get(topic)
    if info is None or info.error is not None or not info.partitions:
        raise ServiceError(f"topic {topic!r} does not exist on {broker.bootstrap_servers}",
                           fix="create it first (broker.create_topic) or check the name")
    return sorted(info.partitions)


def drain_topic(
    broker: Any,
    topic: str,
    *,
    start_offsets: dict[int, int] | None = None,
    partitions: Iterable[int] | None = None,
    expected: int | None = None,
    idle_s: float = 1.5,
    timeout_s: float = 60.0,
) -> list[Record]:
    """Read ``topic`` from the given offsets (default: the beginning) until idle or ``expected`` reached.

    No consumer group is joined (partitions are assigned), so nothing waits for a rebalance and no
    offsets are committed.

    Args:
        broker: A :class:`~platform_kit.services.Broker`.
        topic: Topic to read.
        start_offsets: First offset per partition (missing partitions start at 0).
        partitions: Partitions to read (default: all).
        expected: Stop as soon as this many records were read.
        idle_s: Stop after this long without a new record (an empty read waits at least 5 s
            for its first record, so a slow start is not mistaken for an empty topic).
        timeout_s: Hard limit; raises if ``expected`` was given and not reached by then.

    Returns:
        The records in per-partition offset order.

    Raises:
        ServiceError: ``expected`` records did not arrive within ``timeout_s``.
    """
    kafka = require("confluent_kafka")
    chosen = list(partitions) if partitions is not None else partitions_of(broker, topic)
    starts = start_offsets or {}
    consumer = kafka.Consumer(broker.consumer_config(f"drain-{uuid.uuid4().hex[:8]}", **FAST_CONSUMER))
    consumer.assign([kafka.TopicPartition(topic, p, starts.get(p, 0)) for p in chosen])
    records: list[Record] = []
    began = last = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            if expected is not None and len(records) >= expected:
                break
            if now - began > timeout_s:
                if expected is not None:
                    raise ServiceError(
                        f"read {len(records)} of {expected} expected record(s) from {topic!r} in {timeout_s:g} s",
                        fix="check that the producer flushed, and the broker (`workbench status broker`)",
                    )
                break
            # Until the first record arrives the fetch may still be warming up (assignment,
            # connection, a loaded machine): wait at least _FIRST_RECORD_GRACE_S before calling it empty.
            if expected is None and now - last > (idle_s if records else max(idle_s, _FIRST_RECORD_GRACE_S)):
                break
            for message in consumer.consume(1000, 0.2):
                if message.error() is not None:
                    _log.warning("drain %s: %s", topic, message.error())
                    continue
                records.append(record_from_message(message))
                last = time.monotonic()
    finally:
        consumer.close()
    return sorted(records, key=lambda r: (r.partition, r.offset))
