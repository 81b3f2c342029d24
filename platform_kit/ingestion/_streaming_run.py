"""One measured run: a paced producer thread, and a consumer that flushes to a sink by a trigger.

Every record carries its produce time (``time.time_ns()`` when ``produce()`` was called) in the
``s4-produced-ns`` header; the sink reports when each write committed, so a record's end-to-end
latency is *commit time - produce time*. The consumer's CPU is ``time.thread_time()`` of the
consuming thread (polling, decoding, the sink client's work; not the producer thread, not the
PostgreSQL server, whose CPU the sink reads separately from ``/proc``).

The consumer is written against a duck-typed client (``consume(n, timeout)``) and sink
(``write(rows) -> commit ns``), so tests drive it with fakes.

Introduced in: Lab 2 (ingestion), section 4.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from platform_kit.errors import ServiceError
from platform_kit.ingestion._streaming_policy import Batcher, Trigger
from platform_kit.ingestion._topics import Record, record_from_message
from platform_kit.ingestion.dlq import DeadLetter, Stage

__all__ = ["CONTROL_HEADER", "PRODUCED_HEADER", "RunResult", "consume_with_trigger", "decode_event",
           "produce_paced"]

_log = logging.getLogger(__name__)

PRODUCED_HEADER = "s4-produced-ns"
CONTROL_HEADER = "s4-control"
_FIELDS = ("event_id", "customer_id", "event_type", "event_ts")
#: The pacing loop sleeps only when the next record is due at least this far ahead.
_MIN_SLEEP_S = 0.002


@dataclass
class RunResult:
    """What one trigger did to one replay of the stream."""

    trigger: Trigger
    run: str
    produced_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    sunk_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    received_ns: np.ndarray | None = None
    batch_sizes: list[int] = field(default_factory=list)
    busy_s: float = 0.0
    cpu_s: float = 0.0
    sink_calls: int = 0
    sink_busy_s: float = 0.0
    sink_server_cpu_s: float | None = None
    dead_letters: list[DeadLetter] = field(default_factory=list)
    cpu_source: str = "consumer thread (time.thread_time)"
    wall_s: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Records that reached the sink."""
        return int(self.sunk_ns.size)

    @property
    def latencies_ms(self) -> np.ndarray:
        """End-to-end latency of every sunk record, ms."""
        return (self.sunk_ns - self.produced_ns) / 1e6

    @property
    def transport_ms(self) -> np.ndarray | None:
        """Broker hop of every sunk record (consumer receive - produce time), ms; None if not recorded."""
        return None if self.received_ns is None else (self.received_ns - self.produced_ns) / 1e6


def decode_event(record: Record, run: str) -> tuple[tuple[Any, ...], int]:
    """The sink row of one record and its produce time.

    Raises:
        ValueError: Undecodable bytes, not a JSON object, a missing field or no produce-time header.
    """
    stamp = record.headers.get(PRODUCED_HEADER)
    if not stamp:
        raise ValueError(f"no {PRODUCED_HEADER} header")
    if record.value is None:
        raise ValueError("empty value (tombstone)")
    event = json.loads(record.value)
    if not isinstance(event, dict):
        raise ValueError(f"expected a JSON object, got {type(event).__name__}")
    missing = [f for f in _FIELDS if f not in event]
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    produced = int(stamp)
    customer = event["customer_id"]
    row = (run, str(event["event_id"]), None if customer is None else int(customer), str(event["event_type"]),
           str(event["event_ts"]), produced)
    return row, produced


def produce_paced(producer: Any, topic: str, payloads: Sequence[bytes], *, rate_per_s: float,
                  keys: Sequence[bytes | None] | None = None, stop: threading.Event | None = None,
                  flush_timeout_s: float = 30.0) -> float:
    """Produce ``payloads`` at ``rate_per_s`` (stamping each), then an end marker; returns seconds taken.

    Records are sent when due; between them the thread sleeps only for gaps of 2 ms or more, so at
    high rates they leave in small bursts (each stamped when it is really sent).

    Raises:
        ServiceError: Deliveries failed or did not drain in ``flush_timeout_s``.
    """
    errors: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            errors.append(str(error))

    began = time.perf_counter()
    for index, value in enumerate(payloads):
        if stop is not None and stop.is_set():
            break
        ahead = began + index / rate_per_s - time.perf_counter()
        if ahead > _MIN_SLEEP_S:  # short sleeps overshoot on a busy machine: send what is due, then sleep
            time.sleep(ahead)
        headers = [(PRODUCED_HEADER, str(time.time_ns()).encode())]
        while True:
            try:
                producer.produce(topic, value=value, key=keys[index] if keys else None, headers=headers,
                                 on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.produce(topic, value=None, headers=[(CONTROL_HEADER, b"end")], on_delivery=delivered)
    left = producer.flush(flush_timeout_s)
    if left or errors:
        raise ServiceError(f"{left} record(s) undelivered, {len(errors)} failed on {topic!r}"
                           + (f": {errors[0]}" if errors else ""), fix="check the broker (`workbench status broker`)")
    return time.perf_counter() - began


def consume_with_trigger(
    consumer: Any, sink: Any, trigger: Trigger, *, run: str, expected: int, timeout_s: float = 60.0,
    on_dead_letter: Callable[[DeadLetter], None] | None = None, clock: Callable[[], float] = time.monotonic,
    now_ns: Callable[[], int] = time.time_ns,
) -> RunResult:
    """Consume until the end marker, flushing to ``sink`` by ``trigger``; time and account everything.

    Args:
        consumer: An assigned confluent-kafka ``Consumer`` (or a fake with ``consume(n, timeout)``).
        sink: ``write(rows) -> commit time ns`` (a :class:`~platform_kit.ingestion.streaming.PostgresSink`).
        trigger: A record, size or interval :class:`Trigger`.
        run: Run label written with every row.
        expected: Records the producer sends (to size arrays; the end marker ends the run).
        timeout_s: Give up (raise) after this long.
        on_dead_letter: Receives every record that cannot be decoded (default: kept in the result only).
        clock: Monotonic clock in seconds (tests pass a fake).
        now_ns: Wall clock in ns, comparable with the producer's stamps (tests pass a fake).

    Raises:
        ServiceError: The end marker did not arrive within ``timeout_s``, or the client reported a fatal error.
    """
    result = RunResult(trigger=trigger, run=run)
    produced = np.empty(max(expected, 1), np.int64)
    sunk = np.empty(max(expected, 1), np.int64)
    received = np.empty(max(expected, 1), np.int64)
    filled = 0
    cpu_began = time.thread_time()
    began = clock()
    batcher = Batcher(trigger, began)
    ended = False

    def flush(batch: list[tuple[Record, int]]) -> None:
        nonlocal filled, produced, sunk, received
        started = clock()
        rows, stamps, arrivals = [], [], []
        for record, arrived_ns in batch:
            try:
                row, stamp = decode_event(record, run)
            except (ValueError, TypeError, UnicodeDecodeError) as exc:
                letter = DeadLetter.from_record(record, reason="undecodable", stage=Stage.DECODE, error=exc)
                result.dead_letters.append(letter)
                if on_dead_letter is not None:
                    on_dead_letter(letter)
                continue
            rows.append(row)
            stamps.append(stamp)
            arrivals.append(arrived_ns)
        if rows:
            call_began = clock()
            committed = sink.write(rows)
            result.sink_busy_s += clock() - call_began
            result.sink_calls += 1
            if filled + len(rows) > produced.size:
                grown = 2 * (filled + len(rows))
                produced, sunk, received = (np.resize(a, grown) for a in (produced, sunk, received))
            produced[filled:filled + len(rows)] = stamps
            sunk[filled:filled + len(rows)] = committed
            received[filled:filled + len(rows)] = arrivals
            filled += len(rows)
            result.batch_sizes.append(len(rows))
        result.busy_s += clock() - started

    while True:
        now = clock()
        if batcher.due(now):
            batch = batcher.take(now)
            if batch:
                flush(batch)
        if ended and not len(batcher):
            break
        if now - began > timeout_s:
            raise ServiceError(f"{trigger.label}: the end marker did not arrive in {timeout_s:g} s "
                               f"({filled} of {expected} record(s) sunk)", fix="check the producer and the broker")
        for message in consumer.consume(batcher.want(), batcher.wait_s(clock())):
            arrived_ns = now_ns()
            error = message.error()
            if error is not None:
                if getattr(error, "fatal", lambda: False)():
                    raise ServiceError(f"consumer failed: {error}", fix="restart the broker and re-run")
                _log.warning("consumer error (continuing): %s", error)
                continue
            record = record_from_message(message)
            if record.headers.get(CONTROL_HEADER) == b"end":
                ended = True
            elif record.headers.get(CONTROL_HEADER) is None:
                batcher.add((record, arrived_ns), clock())
    result.cpu_s = time.thread_time() - cpu_began
    result.produced_ns, result.sunk_ns = produced[:filled].copy(), sunk[:filled].copy()
    result.received_ns = received[:filled].copy()
    return result
