"""A monitored stream: a paced producer in phases (clean, a burst of bad records, a slow sink)
feeding the pipeline live, so the per-batch metrics show what the alert rules should catch.

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from platform_kit.ingestion._pipeline_produce import DeliveryTracker
from platform_kit.ingestion._pipeline_sink import FaultInjector
from platform_kit.ingestion.corpus import BAD_KINDS, encode_event

__all__ = ["MonitoredRun", "Phase", "stream_with_phases"]

#: Bad kinds mixed into a "bad burst" phase (validation failures; sink-level kinds excluded).
BURST_KINDS = tuple(k for k, v in BAD_KINDS.items() if v.stage != "sink" and k != "conflicting_duplicate")


@dataclass(frozen=True)
class Phase:
    """A stretch of the stream: how long, what fraction of bad records, how slow the sink is."""

    name: str
    seconds: float
    bad_fraction: float = 0.0
    sink_delay_s: float = 0.0


@dataclass
class MonitoredRun:
    """The pipeline's report, the producer's tracker and when each phase ran (seconds since start)."""

    report: Any
    tracker: DeliveryTracker
    phases: list[tuple[str, float, float]] = field(default_factory=list)
    produced: int = 0
    bad_produced: int = 0


def _phase_items(events: Sequence[dict[str, Any]], phase: Phase, start_id: int, rng: np.random.Generator,
                 count: int) -> tuple[list[tuple[bytes | None, bytes | None]], int]:
    now = datetime.now(UTC)
    items, bad = [], 0
    for i in range(count):
        event = {**events[(start_id + i) % len(events)], "order_id": start_id + i}
        if rng.random() < phase.bad_fraction:
            kind = BAD_KINDS[BURST_KINDS[int(rng.integers(len(BURST_KINDS)))]]
            items.append(kind.make(event, now))
            bad += 1
        else:
            items.append((str(event["order_id"]).encode(), encode_event(event)))
    return items, bad


def stream_with_phases(
    pipeline: Any,
    producer: Any,
    events: Sequence[dict[str, Any]],
    phases: Sequence[Phase],
    *,
    rate_per_s: float = 2000.0,
    first_id: int = 800_000_000,
    seed: int = 0,
    hwm_every_s: float | None = None,
    timeout_s: float = 60.0,
) -> MonitoredRun:
    """Produce ``phases`` at ``rate_per_s`` in a thread while ``pipeline`` consumes; return the metrics.

    The pipeline's sink must have a :class:`FaultInjector` (``pipeline.sink.faults``): each phase sets
    its ``delay_s``; it is reset to 0 when the producer finishes (the sink recovers), so the run
    ends with the backlog draining.

    Raises:
        ValueError: No events, a non-positive rate, or a pipeline without a FaultInjector.
    """
    faults = pipeline.sink.faults
    if not isinstance(faults, FaultInjector):
        raise ValueError("give the pipeline a FaultInjector (faults=FaultInjector()) so phases can slow the sink")
    if not events or rate_per_s <= 0:
        raise ValueError("need events and a positive rate")
    tracker, done = DeliveryTracker(), threading.Event()
    rng = np.random.default_rng(seed)
    run = MonitoredRun(report=None, tracker=tracker)
    errors: list[BaseException] = []
    origin = time.monotonic()
    tick = 0.1

    def produce() -> None:
        try:
            next_id = first_id
            for phase in phases:
                count = int(round(rate_per_s * phase.seconds))
                items, bad = _phase_items(events, phase, next_id, rng, count)
                next_id += count
                run.bad_produced += bad
                faults.delay_s = phase.sink_delay_s
                start = time.monotonic() - origin
                per_tick = max(1, int(round(rate_per_s * tick)))
                for i in range(0, count, per_tick):
                    due = origin + start + (i / rate_per_s)
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                    for key, value in items[i:i + per_tick]:
                        while True:
                            try:
                                producer.produce(pipeline.topic, value, key, on_delivery=tracker.callback)
                                break
                            except BufferError:
                                producer.poll(0.01)
                    producer.poll(0)
                    run.produced += len(items[i:i + per_tick])
                run.phases.append((phase.name, start, time.monotonic() - origin))
            producer.flush(30)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
        finally:
            faults.delay_s = 0.0
            done.set()

    thread = threading.Thread(target=produce, name="phased-producer", daemon=True)
    thread.start()
    try:
        run.report = pipeline.run(until=tracker, producer_done=done, idle_s=None, timeout_s=timeout_s,
                                  hwm_every_s=hwm_every_s, origin=origin)
    finally:
        thread.join(timeout=30)
    if errors:
        raise errors[0]
    return run
