"""platform_kit's producer path: produce with back-pressure and count exact offsets from delivery reports.

The embedded broker's high watermark is the base offset of the last batch, not the end of the log,
so "how far has the producer got?" is answered here from the producer's own delivery reports: each
report carries the exact offset the broker assigned. :class:`DeliveryTracker` keeps, per partition,
the next offset after the last delivered record; consumer lag is then ``tracker.end_offsets()``
minus what the consumer has committed, with no broker query at all.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from platform_kit.errors import ServiceError

__all__ = ["DeliveryTracker", "produce_records"]


class DeliveryTracker:
    """Delivery-report bookkeeping for one topic: exact end offsets, counts, errors.

    Pass :meth:`callback` as ``on_delivery``. The producer calls it from ``poll``/``flush`` on the
    producing thread; :meth:`end_offsets` may be read from another thread (it returns a copy).

    Args:
        keep: Also keep ``(partition, offset)`` of every delivered record in send order of the
            delivery reports, keyed by the opaque ``tag`` passed to :meth:`tagged` (for corpora whose
            records must be reconciled one by one).
    """

    def __init__(self, *, keep: bool = False) -> None:
        self._next: dict[int, int] = {}
        self.delivered = 0
        self.errors: list[str] = []
        self.keep = keep
        self.placed: dict[Any, tuple[int, int]] = {}

    def callback(self, error: Any, message: Any) -> None:
        """``on_delivery`` callback: record the offset the broker assigned (or the error).

        Runs once per record on the producing thread, so it stays minimal (no lock: only this
        thread writes, and :meth:`end_offsets` copies the dict atomically under the GIL).
        """
        if error is not None:
            self.errors.append(str(error))
            return
        partition, offset = message.partition(), message.offset()
        if offset >= self._next.get(partition, 0):
            self._next[partition] = offset + 1
        self.delivered += 1

    def tagged(self, tag: Any) -> Any:
        """A callback that also remembers where the record tagged ``tag`` landed (``placed[tag]``)."""

        def on_delivery(error: Any, message: Any) -> None:
            self.callback(error, message)
            if error is None:
                self.placed[tag] = (message.partition(), message.offset())

        return on_delivery

    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset after the last delivered record (the true end of what was produced)."""
        return self._next.copy()

    def merge(self, other: DeliveryTracker) -> None:
        """Fold another tracker of the same topic into this one (e.g. a replay's deliveries)."""
        for partition, end in other.end_offsets().items():
            self._next[partition] = max(self._next.get(partition, 0), end)
        self.delivered += other.delivered
        self.errors.extend(other.errors)
        self.placed.update(other.placed)


def produce_records(
    producer: Any,
    topic: str,
    items: Iterable[tuple[Any, ...]],
    *,
    tracker: DeliveryTracker | None = None,
    poll_every: int = 2000,
    flush_timeout_s: float = 60.0,
) -> int:
    """Produce ``(key, value)`` or ``(key, value, headers)`` tuples, waiting out a full local queue.

    Args:
        producer: A confluent-kafka ``Producer`` (``linger_ms`` 5-50 on the embedded broker).
        topic: Destination topic.
        items: Tuples of key and value bytes (either may be ``None``), optionally headers, optionally
            a fourth element: a tag recorded in ``tracker.placed`` (needs ``DeliveryTracker(keep=True)``).
        tracker: Receives every delivery report (exact offsets); ``None`` produces without callbacks.
        poll_every: Serve delivery callbacks every this many records.
        flush_timeout_s: Longest wait for the final flush.

    Returns:
        The number of records produced.

    Raises:
        ServiceError: Records were still undelivered after the flush, or the broker refused some.
    """
    count = 0
    callback = tracker.callback if tracker is not None else None
    keep = tracker is not None and tracker.keep
    produce, poll = producer.produce, producer.poll
    for item in items:
        key, value = item[0], item[1]
        headers = item[2] if len(item) > 2 else None
        on_delivery = tracker.tagged(item[3]) if keep and len(item) > 3 else callback
        while True:
            try:
                if headers:
                    produce(topic, value, key, headers=headers, on_delivery=on_delivery)
                elif on_delivery is not None:
                    produce(topic, value, key, on_delivery=on_delivery)
                else:  # no callback at all: librdkafka then skips building delivery reports
                    produce(topic, value, key)
                break
            except BufferError:  # local queue full: serve deliveries, then try again
                poll(0.05)
        count += 1
        if count % poll_every == 0:
            poll(0)
    remaining = producer.flush(flush_timeout_s)
    if remaining or (tracker is not None and tracker.errors):
        errors = tracker.errors if tracker is not None else []
        raise ServiceError(
            f"{remaining} record(s) still queued and {len(errors)} refused after producing {count} to {topic!r}"
            + (f": {errors[0]}" if errors else ""),
            fix="check the broker (`workbench status broker`) and that the topic exists",
        )
    return count
