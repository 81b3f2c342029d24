"""The consumer loop of the order pipeline, written against a duck-typed consumer (testable with a fake).

A run is delimited by *control records*: before producing, the pipeline writes a ``start`` marker
to every partition and learns its offset from the delivery report (the embedded tansu broker's
high watermark is unreliable, so "seek to end" cannot be trusted); the consumer is assigned just
after those offsets. After the data, an ``end`` marker per partition tells the consumer it has
everything. Records of another run (a different run header) are skipped and counted.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from platform_kit.assessment._sla_events import RawRecord
from platform_kit.errors import ServiceError

__all__ = ["CONTROL_HEADER", "RUN_HEADER", "ConsumeStats", "consume_run"]

_log = logging.getLogger(__name__)

#: Header carrying the run id on every record the pipeline produces.
RUN_HEADER = "lab01-run"
#: Header marking control records (``start`` / ``end``), which carry no data.
CONTROL_HEADER = "lab01-control"


@dataclass(frozen=True)
class ConsumeStats:
    """What the consumer loop saw."""

    records: int
    foreign: int
    polls: int
    batches: int
    elapsed_s: float


def _headers(message: Any) -> dict[str, bytes]:
    return {name: value for name, value in (message.headers() or []) if value is not None}


def consume_run(
    consumer: Any,
    *,
    run_id: str,
    partitions: Collection[int],
    batch_size: int,
    batch_wait_s: float,
    timeout_s: float,
    on_batch: Callable[[list[RawRecord]], None],
    clock: Callable[[], float] = time.monotonic,
) -> ConsumeStats:
    """Consume one run's records in micro-batches until every partition's ``end`` marker arrives.

    Args:
        consumer: An assigned confluent-kafka ``Consumer`` (or anything with ``consume(n, timeout)``
            returning messages with ``error()``, ``partition()``, ``offset()``, ``key()``,
            ``value()`` and ``headers()``).
        run_id: This run's id; records with another id in :data:`RUN_HEADER` are skipped.
        partitions: Partitions that will carry an ``end`` marker.
        batch_size: Largest micro-batch handed to ``on_batch``.
        batch_wait_s: Longest wait for a micro-batch to fill (the latency/throughput knob).
        timeout_s: Give up after this many seconds without seeing every ``end`` marker.
        on_batch: Called with each non-empty micro-batch of data records (transform and land).
        clock: Monotonic clock (tests inject a fake one).

    Returns:
        Counts of what was consumed.

    Raises:
        ServiceError: The broker did not deliver the whole run within ``timeout_s``, or reported a
            fatal error.
    """
    run = run_id.encode()
    pending = set(partitions)
    began = clock()
    deadline = began + timeout_s
    records = foreign = polls = batches = 0
    while pending:
        remaining = deadline - clock()
        if remaining <= 0:
            raise ServiceError(
                f"the broker delivered {records} record(s) of run {run_id} in {timeout_s:g} s but never "
                f"the end "
                f"marker of partition(s) {sorted(pending)}",
                fix="check the broker (`workbench status broker`); for large runs raise timeout_s",
            )
        messages = consumer.consume(batch_size, min(batch_wait_s, remaining))
        polls += 1
        consumed_ns = time.time_ns()
        batch: list[RawRecord] = []
        for message in messages:
            error = message.error()
            if error is not None:
                if getattr(error, "fatal", lambda: False)():
                    raise ServiceError(f"consumer failed: {error}", fix="restart the broker and re-run")
                _log.warning("consumer error (continuing): %s", error)
                continue
            headers = _headers(message)
            if (RUN_HEADER in headers and headers[RUN_HEADER] != run) or message.partition() not in pending:
                foreign += 1
                continue
            control = headers.get(CONTROL_HEADER)
            if control is not None:
                if control == b"end":
                    pending.discard(message.partition())
                continue
            batch.append(
                RawRecord(message.partition(), message.offset(), message.key(), message.value(), consumed_ns)
            )
        if batch:
            records += len(batch)
            batches += 1
            on_batch(batch)
    return ConsumeStats(records, foreign, polls, batches, clock() - began)
