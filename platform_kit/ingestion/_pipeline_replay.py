"""Re-driving dead letters after a fix, and summarising a DLQ.

A replayed record is the dead letter's original key and value, with its original headers plus::

    replay.of       <dlq topic>/<dlq partition>/<dlq offset>  (which dead letter it came from)
    replay.reason   why it had been dead-lettered
    replay.count    how many times this record has been replayed (1 on the first replay)

These headers do not start with ``dlq.``, so if the replayed record fails again, its new dead
letter keeps them: the history of a record that keeps failing stays visible.

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit.ingestion._pipeline_produce import DeliveryTracker, produce_records
from platform_kit.ingestion._topics import Record, drain_topic
from platform_kit.ingestion.dlq import DeadLetter

__all__ = ["REPLAY_HEADERS", "ReplayReport", "dlq_summary", "replay_dead_letters", "replay_headers"]

REPLAY_HEADERS = ("replay.of", "replay.reason", "replay.count")


@dataclass
class ReplayReport:
    """What a replay re-drove, where to, and the delivery-report end offsets per target topic."""

    dlq_topic: str
    read: int = 0
    replayed: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_target: Counter[str] = field(default_factory=Counter)
    trackers: dict[str, DeliveryTracker] = field(default_factory=dict)

    @property
    def skipped(self) -> int:
        """Dead letters read but not replayed (filtered out by reason)."""
        return self.read - self.replayed


def replay_headers(letter: DeadLetter, source: Record) -> list[tuple[str, bytes]]:
    """The original headers of ``letter`` plus the ``replay.*`` headers (count incremented)."""
    headers = {k: v for k, v in letter.original_headers.items() if k not in REPLAY_HEADERS}
    try:
        count = int(letter.original_headers.get("replay.count", b"0").decode() or 0)
    except ValueError:
        count = 0
    return [*headers.items(),
            ("replay.of", f"{source.topic}/{source.partition}/{source.offset}".encode()),
            ("replay.reason", letter.reason.encode()),
            ("replay.count", str(count + 1).encode())]


def replay_dead_letters(
    broker: Any,
    dlq_topic: str,
    *,
    to: str | None = None,
    reasons: Iterable[str] | None = None,
    expected: int | None = None,
    idle_s: float = 1.5,
    producer: Any = None,
    records: Sequence[Record] | None = None,
) -> ReplayReport:
    """Re-produce the dead letters of ``dlq_topic`` to their original topic (or ``to``).

    Key and value are preserved byte for byte, so the fixed pipeline sees the same record again
    (and its idempotent sink absorbs a record replayed twice).

    Args:
        broker: The broker service.
        dlq_topic: The DLQ to read (from the beginning).
        to: Send everything there instead of each letter's original topic.
        reasons: Only replay letters with one of these reasons (default: all).
        expected: Stop reading the DLQ after this many records (faster than waiting for idle).
        idle_s: Otherwise, stop reading after this long without a record.
        producer: Producer to use (default: ``broker.producer(linger_ms=5, acks="all")``).
        records: Already-read DLQ records (skips reading the topic).

    Raises:
        ServiceError: A record of ``dlq_topic`` is not a dead letter, or the broker refused a replay.
    """
    wanted = set(reasons) if reasons is not None else None
    raw = list(records) if records is not None else drain_topic(broker, dlq_topic, expected=expected, idle_s=idle_s)
    report = ReplayReport(dlq_topic, read=len(raw))
    by_target: dict[str, list[tuple[Any, ...]]] = {}
    for record in raw:
        letter = DeadLetter.from_dlq_record(record)
        if wanted is not None and letter.reason not in wanted:
            continue
        target = to or letter.topic
        by_target.setdefault(target, []).append((letter.key, letter.value, replay_headers(letter, record)))
        report.by_reason[letter.reason] += 1
        report.by_target[target] += 1
    producer = producer or broker.producer(linger_ms=5, acks="all")
    for target, items in by_target.items():
        tracker = DeliveryTracker()
        report.replayed += produce_records(producer, target, items, tracker=tracker)
        report.trackers[target] = tracker
    return report


def dlq_summary(letters: Iterable[DeadLetter]) -> Any:
    """Counts by reason and stage, with attempts, original topics and the failure time span."""
    import pandas as pd

    rows = [{"reason": x.reason, "stage": x.stage.value, "topic": x.topic, "attempts": x.attempts,
             "failed_at_ms": x.failed_at_ms, "replayed": "replay.count" in x.original_headers} for x in letters]
    columns = ["reason", "stage", "count", "max_attempts", "replayed", "topics", "first_failed", "last_failed"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    out = frame.groupby(["reason", "stage"], as_index=False).agg(
        count=("reason", "size"), max_attempts=("attempts", "max"), replayed=("replayed", "sum"),
        topics=("topic", lambda s: ", ".join(sorted(set(s)))),
        first_failed=("failed_at_ms", "min"), last_failed=("failed_at_ms", "max"))
    for column in ("first_failed", "last_failed"):
        out[column] = pd.to_datetime(out[column], unit="ms", utc=True)
    return out.sort_values(["count", "reason"], ascending=[False, True]).reset_index(drop=True)[columns]
