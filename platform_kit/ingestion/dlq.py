"""Dead-letter queues: every record a pipeline cannot handle is kept, with why.

A dead letter is the original key and value bytes, untouched, plus headers that say what
went wrong and where the record came from::

    dlq.reason            short machine-readable reason, e.g. ``undecodable``, ``schema``
    dlq.stage             pipeline stage that failed: decode, schema, rule, transform, sink
    dlq.error             the exception text (truncated to 1 kB)
    dlq.original.topic    source topic
    dlq.original.partition, dlq.original.offset
    dlq.failed_at_ms      wall-clock time of the failure, epoch milliseconds
    dlq.attempts          how many times it was tried (retries included)

Original headers are carried along unchanged. The DLQ topic of ``orders`` is ``orders.dlq``
unless configured otherwise. :class:`DeadLetterQueue` writes them through any producer with
confluent-kafka's ``produce(topic, value=, key=, headers=)`` signature, so tests can pass a fake.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from platform_kit.errors import ServiceError
from platform_kit.ingestion._topics import Record, drain_topic

__all__ = ["DLQ_HEADER_PREFIX", "DeadLetter", "DeadLetterQueue", "Stage", "dlq_topic_for", "read_dead_letters"]

_log = logging.getLogger(__name__)

DLQ_HEADER_PREFIX = "dlq."
_MAX_ERROR_BYTES = 1024


class Stage(str, Enum):
    """Pipeline stage at which a record failed."""

    DECODE = "decode"
    SCHEMA = "schema"
    RULE = "rule"
    TRANSFORM = "transform"
    SINK = "sink"


def dlq_topic_for(topic: str, suffix: str = ".dlq") -> str:
    """The dead-letter topic of ``topic`` (``orders`` -> ``orders.dlq``)."""
    return f"{topic}{suffix}"


@dataclass(frozen=True)
class DeadLetter:
    """A failed record and the facts needed to understand and replay it."""

    key: bytes | None
    value: bytes | None
    reason: str
    stage: Stage
    topic: str
    partition: int
    offset: int
    error: str = ""
    attempts: int = 1
    failed_at_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    original_headers: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def from_record(
        cls, record: Record, *, reason: str, stage: Stage | str, error: BaseException | str = "", attempts: int = 1,
    ) -> DeadLetter:
        """Wrap a consumed :class:`Record` that failed at ``stage``."""
        text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
        return cls(
            key=record.key, value=record.value, reason=reason, stage=Stage(stage), topic=record.topic,
            partition=record.partition, offset=record.offset, error=text, attempts=attempts,
            original_headers={k: v for k, v in record.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)},
        )

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka headers: the original ones followed by the ``dlq.*`` facts."""
        facts = {
            "reason": self.reason, "stage": self.stage.value,
            "error": self.error.encode("utf-8", "replace")[:_MAX_ERROR_BYTES].decode("utf-8", "ignore"),
            "original.topic": self.topic, "original.partition": str(self.partition),
            "original.offset": str(self.offset), "failed_at_ms": str(self.failed_at_ms),
            "attempts": str(self.attempts),
        }
        out = list(self.original_headers.items())
        out += [(DLQ_HEADER_PREFIX + name, value.encode()) for name, value in facts.items()]
        return out

    @classmethod
    def from_dlq_record(cls, record: Record) -> DeadLetter:
        """Parse a record read back from a DLQ topic.

        Raises:
            ServiceError: The record lacks the ``dlq.*`` headers (it was not written by this module).
        """
        facts = {k[len(DLQ_HEADER_PREFIX):]: v.decode("utf-8", "replace")
                 for k, v in record.headers.items() if k.startswith(DLQ_HEADER_PREFIX)}
        missing = {"reason", "stage", "original.topic", "original.partition", "original.offset"} - set(facts)
        if missing:
            raise ServiceError(
                f"record {record.topic}[{record.partition}]@{record.offset} is not a dead letter "
                f"(missing headers: {', '.join(sorted(missing))})",
                fix="read DLQ topics written by platform_kit.ingestion.DeadLetterQueue",
            )
        return cls(
            key=record.key, value=record.value, reason=facts["reason"], stage=Stage(facts["stage"]),
            topic=facts["original.topic"], partition=int(facts["original.partition"]),
            offset=int(facts["original.offset"]), error=facts.get("error", ""),
            attempts=int(facts.get("attempts", "1")), failed_at_ms=int(facts.get("failed_at_ms", "0")),
            original_headers={k: v for k, v in record.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)},
        )


class DeadLetterQueue:
    """Writes dead letters to a DLQ topic and counts them by reason.

    Args:
        producer: A confluent-kafka ``Producer`` (or a fake with the same ``produce``/``flush``).
        topic: The DLQ topic.
    """

    def __init__(self, producer: Any, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.counts: Counter[str] = Counter()
        self._errors: list[str] = []

    def _on_delivery(self, error: Any, _message: Any) -> None:
        if error is not None:
            self._errors.append(str(error))

    def send(self, letter: DeadLetter) -> None:
        """Queue ``letter`` for the DLQ topic (call :meth:`flush` before committing offsets)."""
        self.producer.produce(self.topic, value=letter.value, key=letter.key, headers=letter.headers(),
                              on_delivery=self._on_delivery)
        self.counts[letter.reason] += 1
        _log.debug("dead letter %s[%d]@%d: %s", letter.topic, letter.partition, letter.offset, letter.reason)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every dead letter is acknowledged by the broker.

        Raises:
            ServiceError: Some were not delivered: the source offsets must NOT be committed.
        """
        remaining = self.producer.flush(timeout)
        if remaining or self._errors:
            errors, self._errors = self._errors, []
            raise ServiceError(
                f"{remaining} dead letter(s) still queued and {len(errors)} failed for {self.topic!r}"
                + (f": {errors[0]}" if errors else ""),
                fix="check the broker (`workbench status broker`); the source offsets were not committed, "
                    "so the records will be consumed again",
            )

    @property
    def total(self) -> int:
        """Dead letters sent through this queue."""
        return sum(self.counts.values())


def read_dead_letters(broker: Any, topic: str, *, expected: int | None = None, idle_s: float = 1.5,
                      timeout_s: float = 60.0) -> list[DeadLetter]:
    """All dead letters in the DLQ ``topic`` (see :func:`~platform_kit.ingestion.drain_topic`)."""
    return [DeadLetter.from_dlq_record(r) for r in
            drain_topic(broker, topic, expected=expected, idle_s=idle_s, timeout_s=timeout_s)]
