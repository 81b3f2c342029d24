"""The producer side of the order pipeline: paced produce, run markers, delivery accounting.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from platform_kit.assessment._sla_consume import CONTROL_HEADER, RUN_HEADER
from platform_kit.assessment._sla_events import encode_event
from platform_kit.errors import ServiceError

__all__ = ["SAMPLE_BAD_EVENTS", "ProduceStats", "produce_run"]

_log = logging.getLogger(__name__)

_VALID = {
    "order_id": 900_000_001,
    "customer_id": 1,
    "order_ts": "2024-06-01T12:00:00.000000",
    "status": "placed",
    "channel": "web",
    "currency": "EUR",
    "total_amount": 42.0,
}

#: Hostile events for the dead-letter path: broken JSON, a JSON array, a missing field, a wrong
#: type, an unknown currency, an unknown customer, binary garbage and an empty (tombstone) value.
#: Mappings are sent as JSON stamped with their produce time, the others as they are.
SAMPLE_BAD_EVENTS: tuple[bytes | str | Mapping[str, Any] | None, ...] = (
    b'{"order_id": 1, "customer_id": ',
    "[1, 2, 3]",
    {k: v for k, v in _VALID.items() if k != "currency"},
    {**_VALID, "order_id": "A-17"},
    {**_VALID, "currency": "XTS"},
    {**_VALID, "customer_id": 987_654_321},
    b"\xff\xfe\x00garbage",
    None,
)


@dataclass
class ProduceStats:
    """What the producer did: records sent, time window, marker offsets per partition."""

    records: int = 0
    first_ns: int = 0
    done_ns: int = 0
    start_offsets: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _send(
    producer: Any,
    topic: str,
    value: bytes | None,
    *,
    key: bytes | None = None,
    headers: list[tuple[str, bytes]],
    partition: int | None = None,
    on_delivery: Any = None,
) -> None:
    kwargs: dict[str, Any] = {"key": key, "value": value, "headers": headers, "on_delivery": on_delivery}
    if partition is not None:
        kwargs["partition"] = partition
    while True:
        try:
            producer.produce(topic, **kwargs)
            break
        except BufferError:  # local queue full: let deliveries drain, then retry
            producer.poll(0.05)
    producer.poll(0)


def _encode_injected(item: bytes | str | Mapping[str, Any] | None) -> bytes | None:
    if item is None or isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return (
        encode_event(item, time.time_ns())
        if "produced_at_ns" not in item
        else json.dumps(dict(item)).encode()
    )


def produce_run(
    producer: Any,
    topic: str,
    *,
    run_id: str,
    partitions: int,
    payloads: Sequence[Mapping[str, Any]],
    inject: Sequence[bytes | str | Mapping[str, Any] | None],
    rate_per_s: float | None,
    markers: Literal["start", "end"],
    flush_timeout_s: float = 30.0,
    stop: threading.Event | None = None,
) -> ProduceStats:
    """Produce ``payloads`` (paced) with ``inject`` spread among them, then a marker per partition.

    With ``markers="start"`` call it with no payloads first: the returned ``start_offsets`` say
    where this run begins in every partition. Setting ``stop`` (the consumer gave up) ends the loop
    early without markers.

    Raises:
        ServiceError: A delivery failed or the queue did not drain within ``flush_timeout_s``.
    """
    stats = ProduceStats()
    run = run_id.encode()

    def delivered(error: Any, message: Any) -> None:
        if error is not None:
            stats.errors.append(str(error))

    def marked(error: Any, message: Any) -> None:
        if error is not None:
            stats.errors.append(str(error))
        else:
            stats.start_offsets[message.partition()] = message.offset()

    inject_at = {int(pos): i for i, pos in enumerate(np.linspace(0, len(payloads), len(inject) + 2)[1:-1])}
    spill = [i for i in range(len(inject)) if i not in inject_at.values()]  # positions that collided
    stats.first_ns = time.time_ns()
    began = time.perf_counter()
    for index, payload in enumerate(payloads):
        if stop is not None and stop.is_set():
            producer.flush(flush_timeout_s)
            return stats
        if index in inject_at:
            _send(
                producer,
                topic,
                _encode_injected(inject[inject_at[index]]),
                key=b"injected",
                headers=[(RUN_HEADER, run)],
                on_delivery=delivered,
            )
        if rate_per_s is not None:
            ahead = began + index / rate_per_s - time.perf_counter()
            if ahead > 0.001:
                time.sleep(ahead)
        _send(
            producer,
            topic,
            encode_event(payload, time.time_ns()),
            key=str(payload["customer_id"]).encode(),
            headers=[(RUN_HEADER, run)],
            on_delivery=delivered,
        )
    for i in spill + ([i for i in inject_at.values() if not payloads]):
        _send(
            producer,
            topic,
            _encode_injected(inject[i]),
            key=b"injected",
            headers=[(RUN_HEADER, run)],
            on_delivery=delivered,
        )
    stats.records = len(payloads) + len(inject)
    for partition in range(partitions):
        _send(
            producer,
            topic,
            None,
            partition=partition,
            on_delivery=marked,
            headers=[(RUN_HEADER, run), (CONTROL_HEADER, markers.encode())],
        )
    left = producer.flush(flush_timeout_s)
    stats.done_ns = time.time_ns()
    if left:
        raise ServiceError(
            f"{left} record(s) were still undelivered after {flush_timeout_s:g} s",
            fix="check the broker (`workbench status broker`) and re-run",
        )
    if stats.errors:
        raise ServiceError(
            f"{len(stats.errors)} delivery failure(s) on {topic!r}, first: {stats.errors[0]}",
            fix="check the topic exists and the broker is healthy, then re-run",
        )
    if len(stats.start_offsets) != partitions:
        raise ServiceError(
            f"markers reached {len(stats.start_offsets)} of {partitions} partitions of {topic!r}",
            fix="the topic may have fewer partitions than asked; drop it or pass its count",
        )
    return stats
