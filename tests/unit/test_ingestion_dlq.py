"""The shared dead-letter queue and topic draining: headers round-trip, failures are loud."""

from __future__ import annotations

from typing import Any

import pytest

from platform_kit.errors import ServiceError
from platform_kit.ingestion import DeadLetter, DeadLetterQueue, Record, Stage, dlq_topic_for


class FakeProducer:
    """Records what would be produced; ``fail`` makes delivery reports carry an error."""

    def __init__(self, *, fail: bool = False, stuck: int = 0) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail
        self.stuck = stuck
        self._callbacks: list[Any] = []

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                headers: list[tuple[str, bytes]] | None = None, on_delivery: Any = None) -> None:
        self.sent.append({"topic": topic, "value": value, "key": key, "headers": headers})
        self._callbacks.append(on_delivery)

    def flush(self, timeout: float = 0) -> int:
        for callback in self._callbacks:
            if callback is not None:
                callback("broker down" if self.fail else None, None)
        self._callbacks.clear()
        return self.stuck


def _record(**changes: Any) -> Record:
    base = dict(topic="orders", partition=2, offset=41, key=b"k1", value=b"\xff\x00not json",
                headers={"trace": b"abc"}, timestamp_ms=1)
    return Record(**(base | changes))


def _as_dlq_record(produced: dict[str, Any]) -> Record:
    return Record(topic=produced["topic"], partition=0, offset=0, key=produced["key"], value=produced["value"],
                  headers=dict(produced["headers"]))


def test_dlq_topic_for_appends_suffix() -> None:
    assert dlq_topic_for("orders") == "orders.dlq"
    assert dlq_topic_for("orders", ".dead") == "orders.dead"


def test_dead_letter_round_trips_through_headers() -> None:
    producer = FakeProducer()
    queue = DeadLetterQueue(producer, "orders.dlq")
    letter = DeadLetter.from_record(_record(), reason="undecodable", stage=Stage.DECODE,
                                    error=UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), attempts=3)
    queue.send(letter)
    queue.flush()
    back = DeadLetter.from_dlq_record(_as_dlq_record(producer.sent[0]))
    assert back.value == b"\xff\x00not json" and back.key == b"k1"
    assert (back.reason, back.stage, back.topic, back.partition, back.offset, back.attempts) == (
        "undecodable", Stage.DECODE, "orders", 2, 41, 3)
    assert back.error.startswith("UnicodeDecodeError")
    assert back.original_headers == {"trace": b"abc"}
    assert back.failed_at_ms == letter.failed_at_ms
    assert queue.counts == {"undecodable": 1} and queue.total == 1


def test_dead_letter_of_a_dead_letter_does_not_stack_headers() -> None:
    producer = FakeProducer()
    queue = DeadLetterQueue(producer, "orders.dlq")
    queue.send(DeadLetter.from_record(_record(), reason="schema", stage="schema"))
    again = _as_dlq_record(producer.sent[0])
    letter = DeadLetter.from_record(again, reason="rule", stage=Stage.RULE)
    names = [name for name, _ in letter.headers()]
    assert names.count("dlq.reason") == 1 and "trace" in names


def test_dead_letter_error_text_is_truncated() -> None:
    letter = DeadLetter.from_record(_record(), reason="sink", stage="sink", error="x" * 10_000)
    error = dict(letter.headers())["dlq.error"]
    assert len(error) <= 1024


def test_dead_letter_unknown_stage_is_rejected() -> None:
    with pytest.raises(ValueError):
        DeadLetter.from_record(_record(), reason="x", stage="teleport")


def test_from_dlq_record_rejects_plain_records() -> None:
    with pytest.raises(ServiceError, match="not a dead letter"):
        DeadLetter.from_dlq_record(_record())


def test_flush_raises_when_delivery_fails() -> None:
    queue = DeadLetterQueue(FakeProducer(fail=True), "orders.dlq")
    queue.send(DeadLetter.from_record(_record(), reason="sink", stage="sink"))
    with pytest.raises(ServiceError, match="not committed"):
        queue.flush()


def test_flush_raises_when_records_stay_queued() -> None:
    queue = DeadLetterQueue(FakeProducer(stuck=2), "orders.dlq")
    queue.send(DeadLetter.from_record(_record(), reason="sink", stage="sink"))
    with pytest.raises(ServiceError, match="2 dead letter"):
        queue.flush()
