"""The pipeline's sink: the idempotent PostgreSQL write, with retries, isolation and conflict detection.

* Transient failures (an injected :class:`TransientSinkError`, or PostgreSQL's serialization
  failure, deadlock, lock or statement timeout) are retried with exponential backoff and jitter
  (:class:`RetryPolicy`), the batch rolled back to a savepoint each time.
* When the batch still fails (retries exhausted, or a permanent error such as jsonb refusing a NUL),
  it is split in halves, recursively, each part behind its own savepoint, so only the rows that
  really fail are dead-lettered (``sink_unavailable`` when retries could not help, ``sink_rejected``
  for a permanent error), with ``attempts`` = how many writes the row took part in.
* Rows whose id is already in the sink are compared with the stored payload: identical is a
  harmless duplicate; different is ``conflicting_duplicate`` (an id must not change meaning).

Nothing here commits: the pipeline stores the offsets and commits once per batch.

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from platform_kit.ingestion._idempotent_sql import SinkRow, SinkTables, WriteMethod, stored_payloads, write_rows

__all__ = ["FaultInjector", "ResilientSink", "RetryPolicy", "SinkOutcome", "TransientSinkError", "is_transient"]

#: SQLSTATE classes/codes worth retrying: transaction rollback (40xxx: serialization failure,
#: deadlock), lock not available, statement timeout / query cancelled, insufficient resources.
_TRANSIENT_CODES = ("40", "55P03", "57014", "53")


class TransientSinkError(RuntimeError):
    """A sink failure that may succeed if tried again (a blip, throttling, a lock timeout)."""


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: :class:`TransientSinkError` and transient PostgreSQL errors."""
    if isinstance(exc, TransientSinkError):
        return True
    code = getattr(exc, "pgcode", None)
    return bool(code) and any(code.startswith(prefix) for prefix in _TRANSIENT_CODES)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: the wait after failed attempt ``n`` is drawn from
    ``[0, min(cap_s, base_s * multiplier ** (n - 1))]`` (``full`` jitter), its upper half (``equal``)
    or is exactly that bound (``none``). Jitter spreads the retries of many consumers that failed
    together, so they do not hammer the recovering sink in lockstep.

    Raises:
        ValueError: A non-positive attempt count or negative delays.
    """

    max_attempts: int = 4
    base_s: float = 0.01
    cap_s: float = 0.2
    multiplier: float = 2.0
    jitter: Literal["full", "equal", "none"] = "full"

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.base_s < 0 or self.cap_s < 0 or self.multiplier < 1:
            raise ValueError("base_s and cap_s must be >= 0 and multiplier >= 1")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"jitter must be full, equal or none, got {self.jitter!r}")

    def bound(self, attempt: int) -> float:
        """Upper bound of the wait after failed attempt ``attempt`` (1-based)."""
        return min(self.cap_s, self.base_s * self.multiplier ** (attempt - 1))

    def delay(self, attempt: int, rng: np.random.Generator) -> float:
        """A wait after failed attempt ``attempt``, jittered."""
        bound = self.bound(attempt)
        if self.jitter == "full":
            return float(rng.uniform(0, bound))
        if self.jitter == "equal":
            return bound / 2 + float(rng.uniform(0, bound / 2))
        return bound


class FaultInjector:
    """Makes the sink misbehave on purpose: random transient failures, poison ids, slowness.

    The attributes may be changed while a pipeline runs (the lab slows the sink down mid-stream).

    Args:
        transient_rate: Probability that a write call raises :class:`TransientSinkError`.
        poison_ids: Event ids whose write always fails transiently (retries cannot help).
        delay_s: Sleep before every write call (a slow sink).
        seed: Seed of the random failures.
    """

    def __init__(self, *, transient_rate: float = 0.0, poison_ids: Iterable[str] = (), delay_s: float = 0.0,
                 seed: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.transient_rate = transient_rate
        self.poison_ids = {str(i) for i in poison_ids}
        self.delay_s = delay_s
        self.calls = 0
        self.injected = 0
        self._rng = np.random.default_rng(seed)
        self._sleep = sleep

    def before_write(self, rows: Sequence[SinkRow], attempt: int) -> None:
        """Called before each write attempt; sleeps and/or raises as configured."""
        self.calls += 1
        if self.delay_s > 0:
            self._sleep(self.delay_s)
        poisoned = [r.event_id for r in rows if r.event_id in self.poison_ids]
        if poisoned:
            self.injected += 1
            raise TransientSinkError(f"injected: the sink times out on id {poisoned[0]} (attempt {attempt})")
        if self.transient_rate > 0 and self._rng.random() < self.transient_rate:
            self.injected += 1
            raise TransientSinkError(f"injected: connection reset by peer (attempt {attempt})")


@dataclass
class SinkOutcome:
    """What happened to the rows of one batch."""

    inserted: list[str] = field(default_factory=list)
    duplicates: list[SinkRow] = field(default_factory=list)
    conflicts: list[SinkRow] = field(default_factory=list)
    failed: list[tuple[SinkRow, str, int, str]] = field(default_factory=list)  # row, reason, attempts, error
    attempts: int = 0
    retries: int = 0
    isolated: bool = False


def _same(a: str, b: Any) -> bool:
    try:
        return json.loads(a) == (json.loads(b) if isinstance(b, str) else b)
    except ValueError:
        return False


class ResilientSink:
    """The idempotent sink with retries (see the module docstring). Does not commit.

    Args:
        tables: Sink and offsets tables.
        retry: Backoff policy for transient failures.
        faults: Optional :class:`FaultInjector`.
        method: ``values`` or ``copy`` (see :func:`write_rows`).
        seed: Seed of the jitter.
        sleep: Injected in tests.
    """

    def __init__(self, tables: SinkTables, *, retry: RetryPolicy | None = None, faults: FaultInjector | None = None,
                 method: WriteMethod = "values", seed: int = 0, sleep: Callable[[float], None] = time.sleep) -> None:
        self.tables = tables
        self.retry = retry or RetryPolicy()
        self.faults = faults
        self.method: WriteMethod = method
        self._rng = np.random.default_rng(seed)
        self._sleep = sleep

    def _attempt(self, cursor: Any, rows: Sequence[SinkRow], attempt: int, name: str) -> list[str]:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            if self.faults is not None:
                self.faults.before_write(rows, attempt)
            inserted = write_rows(cursor, rows, self.tables, method=self.method)
        except Exception:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
        cursor.execute(f"RELEASE SAVEPOINT {name}")
        return inserted

    def write(self, cursor: Any, rows: Sequence[SinkRow]) -> SinkOutcome:
        """Write ``rows`` (ids may repeat) in the caller's transaction; classify every row's fate."""
        out = SinkOutcome()
        first: dict[str, SinkRow] = {}
        for row in rows:
            seen = first.get(row.event_id)
            if seen is None:
                first[row.event_id] = row
            elif _same(row.payload, seen.payload):
                out.duplicates.append(row)
            else:
                out.conflicts.append(row)
        unique = list(first.values())
        if unique:
            written = self._write_part(cursor, unique, out, Counter(), top=True)
            self._classify_existing(cursor, written, out)
        return out

    def _write_part(self, cursor: Any, rows: Sequence[SinkRow], out: SinkOutcome, tries: Counter[str],
                    *, top: bool = False) -> list[SinkRow]:
        """Write ``rows`` with retries; on failure bisect, so only the failing rows are dead-lettered.

        Returns the rows that are now in the sink (inserted, or present already).
        """
        failure: BaseException = RuntimeError("no attempt made")
        for attempt in range(1, self.retry.max_attempts + 1):
            if top:
                out.attempts = attempt
            tries.update(r.event_id for r in rows)
            try:
                out.inserted += self._attempt(cursor, rows, attempt, "pk_write")
                return list(rows)
            except Exception as exc:  # noqa: BLE001 - classified just below
                failure = exc
                if not is_transient(exc):
                    break
                if attempt < self.retry.max_attempts:
                    out.retries += 1
                    self._sleep(self.retry.delay(attempt, self._rng))
        out.isolated = True
        if len(rows) == 1:
            row = rows[0]
            reason = "sink_unavailable" if is_transient(failure) else "sink_rejected"
            out.failed.append((row, reason, tries[row.event_id], f"{type(failure).__name__}: {failure}"[:500]))
            return []
        middle = len(rows) // 2
        return (self._write_part(cursor, rows[:middle], out, tries)
                + self._write_part(cursor, rows[middle:], out, tries))

    def _classify_existing(self, cursor: Any, rows: Sequence[SinkRow], out: SinkOutcome) -> None:
        new = set(out.inserted)
        existing = [r for r in rows if r.event_id not in new]
        if not existing:
            return
        stored = stored_payloads(cursor, self.tables, (r.event_id for r in existing))
        for row in existing:
            (out.duplicates if _same(row.payload, stored.get(row.event_id)) else out.conflicts).append(row)
