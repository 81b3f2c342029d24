"""``workbench dlq show|replay`` against the embedded broker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from platform_kit.cli import main
from platform_kit.ingestion import DeadLetter, DeadLetterQueue, Record, Stage, drain_topic


@pytest.fixture(scope="module")
def pk() -> Any:
    import platform_kit

    return platform_kit.connect("embedded")


@pytest.fixture(scope="module")
def dlq(pk: Any) -> tuple[str, str]:
    source = f"t.cli.{uuid.uuid4().hex[:6]}"
    topic = f"{source}.dlq"
    pk.broker.create_topic(source, partitions=1)
    pk.broker.create_topic(topic, partitions=1)
    queue = DeadLetterQueue(pk.broker.producer(linger_ms=5), topic)
    for offset, (reason, stage) in enumerate([("unknown_enum", Stage.RULE), ("unknown_enum", Stage.RULE),
                                              ("oversize", Stage.DECODE)]):
        original = Record(source, 0, offset, f"k{offset}".encode(), f"v{offset}".encode(), {"trace": b"t"}, None)
        queue.send(DeadLetter.from_record(original, reason=reason, stage=stage, error="boom"))
    queue.flush()
    return source, topic


@pytest.fixture(autouse=True)
def _same_broker(pk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit.cli import _dlq

    monkeypatch.setattr(_dlq, "_broker", lambda profile: pk.broker)


def test_show_counts_by_reason(dlq: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "show", dlq[1], "--idle", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "3 dead letter(s)" in out and "unknown_enum" in out and "oversize" in out


def test_show_an_empty_topic(pk: Any, capsys: pytest.CaptureFixture[str]) -> None:
    topic = f"t.cli.empty.{uuid.uuid4().hex[:6]}"
    pk.broker.create_topic(topic, partitions=1)
    assert main(["dlq", "show", topic, "--idle", "0.3"]) == 0
    assert "no dead letters" in capsys.readouterr().out


def test_dry_run_sends_nothing(dlq: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "replay", dlq[1], "--reason", "unknown_enum", "--dry-run", "--idle", "0.5"]) == 0
    assert "2 of 3 dead letter(s) would be replayed" in capsys.readouterr().out


def test_replay_to_another_topic_keeps_key_value_and_adds_headers(pk: Any, dlq: tuple[str, str],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = f"t.cli.fixed.{uuid.uuid4().hex[:6]}"
    pk.broker.create_topic(target, partitions=1)
    assert main(["dlq", "replay", dlq[1], "--to", target, "-r", "unknown_enum", "--idle", "0.5"]) == 0
    assert "2 of 3 dead letter(s) replayed (1 skipped by --reason)" in capsys.readouterr().out
    replayed = drain_topic(pk.broker, target, expected=2)
    assert [(r.key, r.value) for r in replayed] == [(b"k0", b"v0"), (b"k1", b"v1")]
    assert replayed[0].headers["trace"] == b"t" and replayed[0].headers["replay.count"] == b"1"
    assert replayed[0].headers["replay.of"].startswith(dlq[1].encode())
    assert not any(k.startswith("dlq.") for k in replayed[0].headers)


def test_replay_to_the_original_topic(pk: Any, dlq: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "replay", dlq[1], "--reason", "oversize", "--idle", "0.5"]) == 0
    assert f"replayed 1 record(s) -> {dlq[0]}" in capsys.readouterr().out
    assert drain_topic(pk.broker, dlq[0], expected=1)[0].key == b"k2"


def test_a_topic_of_non_dead_letters_is_a_clear_error(pk: Any, capsys: pytest.CaptureFixture[str]) -> None:
    topic = f"t.cli.plain.{uuid.uuid4().hex[:6]}"
    pk.broker.create_topic(topic, partitions=1)
    producer = pk.broker.producer(linger_ms=5)
    producer.produce(topic, b"not a dead letter", b"k")
    producer.flush(10)
    assert main(["dlq", "show", topic, "--idle", "0.5"]) == 2
    assert "not a dead letter" in capsys.readouterr().err


def test_usage_errors() -> None:
    assert main(["dlq", "replay"]) != 0
    assert main(["dlq", "show", "x", "--idle", "0"]) != 0
