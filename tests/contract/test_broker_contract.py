"""Contract of the broker kind, with BOTH Python clients (confluent-kafka, kafka-python)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(params=PROFILES)
def broker(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return started_service(request, "broker")


def _topic() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}"


def _consume_confluent(broker, topic: str, group: str, expected: int, timeout: float = 30.0) -> list:  # type: ignore[no-untyped-def]
    consumer = broker.consumer(group, enable_auto_commit=False)
    consumer.subscribe([topic])
    seen = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            seen.append(message)
        if seen:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return seen


def test_broker_creates_and_lists_topic_with_partitions(broker) -> None:  # type: ignore[no-untyped-def]
    topic = _topic()
    broker.create_topic(topic, partitions=3)
    broker.create_topic(topic, partitions=3)  # exist_ok: second call is a no-op
    assert topic in broker.list_topics()
    assert len(broker.admin().list_topics(topic, timeout=10).topics[topic].partitions) == 3


def test_broker_confluent_round_trip_keeps_keys_on_one_partition(broker) -> None:  # type: ignore[no-untyped-def]
    topic = _topic()
    broker.create_topic(topic, partitions=3)
    producer = broker.producer(linger_ms=5)
    for i in range(300):
        producer.produce(topic, key=f"customer-{i % 10}", value=f"order-{i}".encode())
    assert producer.flush(15) == 0
    messages = _consume_confluent(broker, topic, f"g-{topic}", 300)
    assert sorted(m.value().decode() for m in messages) == sorted(f"order-{i}" for i in range(300))
    partitions_per_key: dict[bytes, set[int]] = {}
    for m in messages:
        partitions_per_key.setdefault(m.key(), set()).add(m.partition())
    assert all(len(parts) == 1 for parts in partitions_per_key.values())


def test_broker_kafka_python_round_trip(broker) -> None:  # type: ignore[no-untyped-def]
    from kafka import KafkaConsumer, KafkaProducer

    topic = _topic()
    broker.create_topic(topic, partitions=1)
    producer = KafkaProducer(**broker.kafka_python_config(), acks="all")
    for i in range(50):
        producer.send(topic, key=b"k", value=f"v{i}".encode())
    producer.flush(timeout=15)
    producer.close()
    consumer = KafkaConsumer(topic, **broker.kafka_python_consumer_config(
        f"kp-{topic}", enable_auto_commit=False, consumer_timeout_ms=20000))
    values = []
    for record in consumer:
        values.append(record.value.decode())
        if len(values) == 50:
            break
    consumer.commit()
    consumer.close()
    assert values == [f"v{i}" for i in range(50)]


def test_broker_committed_offsets_resume_group(broker) -> None:  # type: ignore[no-untyped-def]
    topic, group = _topic(), f"resume-{uuid.uuid4().hex[:6]}"
    broker.create_topic(topic, partitions=1)
    producer = broker.producer()
    for i in range(20):
        producer.produce(topic, value=f"a{i}".encode())
    producer.flush(10)
    first = _consume_confluent(broker, topic, group, 20)
    assert len(first) == 20
    for i in range(5):
        producer.produce(topic, value=f"b{i}".encode())
    producer.flush(10)
    second = _consume_confluent(broker, topic, group, 5)
    assert [m.value().decode() for m in second] == [f"b{i}" for i in range(5)]


def test_broker_restart_keeps_topics_records_and_offsets(broker) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(broker, "restart"):
        pytest.skip(f"{broker.config.type} is not managed by the workbench; restart is not ours to test")
    topic, group = _topic(), f"durable-{uuid.uuid4().hex[:6]}"
    broker.create_topic(topic, partitions=2)
    producer = broker.producer()
    for i in range(40):
        producer.produce(topic, key=str(i), value=f"m{i}".encode())
    producer.flush(10)
    assert len(_consume_confluent(broker, topic, group, 40)) == 40  # committed at 40
    broker.restart()
    assert topic in broker.list_topics()
    everything = _consume_confluent(broker, topic, f"fresh-{group}", 40)
    assert sorted(m.value().decode() for m in everything) == sorted(f"m{i}" for i in range(40))
    producer = broker.producer()
    producer.produce(topic, key="new", value=b"after-restart")
    producer.flush(10)
    resumed = _consume_confluent(broker, topic, group, 1)
    assert [m.value() for m in resumed] == [b"after-restart"]
