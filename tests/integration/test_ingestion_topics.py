"""Draining topics and dead letters on the live embedded broker."""

from __future__ import annotations

import uuid

import pytest

from platform_kit import Workbench
from platform_kit.errors import ServiceError
from platform_kit.ingestion import DeadLetter, DeadLetterQueue, Stage, drain_topic, partitions_of, read_dead_letters


def _topic(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:6]}"


def test_drain_topic_reads_every_partition_in_offset_order(embedded: Workbench) -> None:
    broker = embedded.broker
    topic = _topic("drain")
    broker.create_topic(topic, partitions=3)
    producer = broker.producer(linger_ms=5)
    for i in range(2000):
        producer.produce(topic, key=str(i % 11).encode(), value=str(i).encode())
    assert producer.flush(30) == 0
    records = drain_topic(broker, topic, expected=2000)
    assert sorted(int(r.value) for r in records) == list(range(2000))
    assert {r.partition for r in records} == {0, 1, 2}
    for partition in range(3):
        offsets = [r.offset for r in records if r.partition == partition]
        assert offsets == sorted(offsets) and offsets[0] == 0
    tail = drain_topic(broker, topic, start_offsets={0: 10**9, 1: 10**9, 2: 10**9}, idle_s=0.5)
    assert tail == []


def test_drain_topic_expected_but_missing_raises(embedded: Workbench) -> None:
    topic = _topic("short")
    embedded.broker.create_topic(topic, partitions=1)
    producer = embedded.broker.producer(linger_ms=5)
    producer.produce(topic, value=b"only one")
    producer.flush(10)
    with pytest.raises(ServiceError, match="read 1 of 5"):
        drain_topic(embedded.broker, topic, expected=5, timeout_s=2)


def test_partitions_of_unknown_topic_names_it(embedded: Workbench) -> None:
    with pytest.raises(ServiceError, match="does not exist"):
        partitions_of(embedded.broker, _topic("missing"))


def test_dead_letters_round_trip_through_the_broker(embedded: Workbench) -> None:
    broker = embedded.broker
    source, dlq = _topic("src"), _topic("src.dlq")
    broker.create_topic(source)
    broker.create_topic(dlq)
    producer = broker.producer(linger_ms=5)
    producer.produce(source, key=b"k", value=b"{truncated", headers=[("trace", b"t1")])
    producer.flush(10)
    [record] = drain_topic(broker, source, expected=1)
    queue = DeadLetterQueue(broker.producer(linger_ms=5), dlq)
    queue.send(DeadLetter.from_record(record, reason="truncated_json", stage=Stage.DECODE, error="EOF"))
    queue.flush()
    [letter] = read_dead_letters(broker, dlq, expected=1)
    assert (letter.value, letter.key, letter.reason, letter.topic, letter.offset) == (
        b"{truncated", b"k", "truncated_json", source, record.offset)
    assert letter.original_headers == {"trace": b"t1"}
