"""Duplicates on purpose: a producer that re-sends records as retries would, then replays a slice.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from platform_kit.ingestion._pipeline_produce import DeliveryTracker, produce_records

__all__ = ["DuplicatedStream", "produce_with_duplicates"]


@dataclass
class DuplicatedStream:
    """What was produced: messages, distinct ids, where duplicates came from, exact end offsets."""

    topic: str
    messages: int
    ids: list[str]
    retries: int
    replayed: int
    end_offsets: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def distinct(self) -> int:
        """Distinct event ids produced."""
        return len(self.ids)

    @property
    def duplicates(self) -> int:
        """Messages beyond one per id."""
        return self.messages - self.distinct


def _encode(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), default=str).encode()


def produce_with_duplicates(
    producer: Any,
    topic: str,
    events: Sequence[Mapping[str, Any]],
    *,
    id_field: str = "event_id",
    retry_rate: float = 0.05,
    replay_fraction: float = 0.1,
    seed: int = 0,
) -> DuplicatedStream:
    """Produce ``events`` (keyed by their id) with deliberate duplicates.

    * **retries**: after a record, with probability ``retry_rate``, the same key and value are sent
      again at once, as a producer without idempotence does when an acknowledgement is lost;
    * **replay**: after everything, a contiguous slice of ``replay_fraction`` of the events (from a
      random earlier point) is sent again, as an upstream job re-run from an earlier offset does.

    Returns:
        The stream's facts; ``end_offsets`` come from delivery reports (exact, unlike the high watermark).

    Raises:
        ValueError: An event lacks ``id_field``, or the rates are outside [0, 1].
    """
    import time

    if not 0 <= retry_rate <= 1 or not 0 <= replay_fraction <= 1:
        raise ValueError("retry_rate and replay_fraction must be within [0, 1]")
    rng = np.random.default_rng(seed)
    encoded: list[tuple[bytes, bytes]] = []
    ids: list[str] = []
    for event in events:
        if event.get(id_field) is None:
            raise ValueError(f"event without {id_field!r}: {dict(event)!r:.120}")
        ident = str(event[id_field])
        ids.append(ident)
        encoded.append((ident.encode(), _encode(event)))
    retry_mask = rng.random(len(encoded)) < retry_rate
    replay_n = int(round(len(encoded) * replay_fraction))
    replay_start = int(rng.integers(0, max(1, len(encoded) - replay_n + 1)))

    def items() -> Any:
        for i, item in enumerate(encoded):
            yield item
            if retry_mask[i]:
                yield item
        yield from encoded[replay_start:replay_start + replay_n]

    tracker = DeliveryTracker()
    began = time.perf_counter()
    messages = produce_records(producer, topic, items(), tracker=tracker)
    return DuplicatedStream(topic=topic, messages=messages, ids=list(dict.fromkeys(ids)), retries=int(retry_mask.sum()),
                            replayed=replay_n, end_offsets=tracker.end_offsets(),
                            seconds=time.perf_counter() - began)
