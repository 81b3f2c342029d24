"""Query-based change capture: ``SELECT ... WHERE updated_at > last_seen``, on a timer.

Polling needs no replication privileges, slots or plugins, which is why it is everywhere.
What it cannot see, by construction:

* deletes (a deleted row matches no query);
* intermediate versions (a row updated three times between two polls is read once, in its
  last state);
* rows whose ``updated_at`` is older than ``last_seen`` when they become visible (a long
  transaction that commits after a faster one was polled): set ``overlap_s`` to re-read a
  window, at the price of duplicates.

It also costs the source a query per table per interval whether anything changed or not.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["PollingCapture", "UpdatedAtPoller"]


class UpdatedAtPoller:
    """Incremental reads of one table by its ``updated_at`` column.

    Args:
        conn: A psycopg2 connection (autocommit is switched on: a poller must not hold a snapshot).
        table: ``schema.table``.
        key: Primary key column.
        since: Start from this ``updated_at`` (default: only rows changed after the first poll's ``now()``).
        overlap_s: Re-read this many seconds before ``last_seen`` (catches late commits, creates duplicates).
    """

    def __init__(self, conn: Any, table: str, key: str, *, column: str = "updated_at",
                 since: datetime | None = None, overlap_s: float = 0.0) -> None:
        self.conn, self.table, self.key, self.column = conn, table, key, column
        self.conn.autocommit = True
        self.overlap = timedelta(seconds=overlap_s)
        self.queries = 0
        self.rows_read = 0
        if since is None:
            with conn.cursor() as cur:
                cur.execute("SELECT clock_timestamp()")
                since = cur.fetchone()[0]
        self.last_seen: datetime = since

    def poll(self) -> list[dict[str, Any]]:
        """Rows changed since the last poll (their current state), oldest first."""
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {self.table} WHERE {self.column} > %s ORDER BY {self.column}, {self.key}",
                        (self.last_seen - self.overlap,))
            names = [d.name for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        self.queries += 1
        self.rows_read += len(rows)
        if rows:
            self.last_seen = max(self.last_seen, rows[-1][self.column])
        return rows


@dataclass
class PollingCapture:
    """Polls several tables every ``interval_s`` in a background thread (start/stop).

    Attributes:
        seen: ``(table, key, updated_at)`` of every row version read.
        queries: SELECTs issued (one per table per tick).
        backend_pid: The server process answering the polls (its CPU time is the source-side cost).
        client_cpu_ms: CPU time of the polling thread itself (client side).
    """

    dsn: str
    tables: Sequence[tuple[str, str]]  # (schema.table, key column)
    interval_s: float = 0.05
    seen: list[tuple[str, Any, Any]] = field(default_factory=list)
    queries: int = 0
    backend_pid: int | None = None
    client_cpu_ms: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def start(self) -> PollingCapture:
        import psycopg2

        conn = psycopg2.connect(self.dsn, connect_timeout=5)
        self.backend_pid = conn.get_backend_pid()
        pollers = [UpdatedAtPoller(conn, t, k) for t, k in self.tables]
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(conn, pollers), name="cdc-poller", daemon=True)
        self._thread.start()
        return self

    def _loop(self, conn: Any, pollers: list[UpdatedAtPoller]) -> None:
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                for poller in pollers:
                    for row in poller.poll():
                        self.seen.append((poller.table, row[poller.key], row[poller.column]))
                    self.queries += 1
                self._stop.wait(max(0.0, self.interval_s - (time.monotonic() - began)))
            for poller in pollers:  # one last poll so the phase's tail is not unfairly missed
                for row in poller.poll():
                    self.seen.append((poller.table, row[poller.key], row[poller.column]))
                self.queries += 1
        except BaseException as exc:  # reported by stop()
            self._error = exc
        finally:
            self.client_cpu_ms = time.thread_time() * 1000.0
            conn.close()

    def stop(self) -> PollingCapture:
        """Stop polling (after a final poll).

        Raises:
            Exception: Whatever the polling thread failed with.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self._error is not None:
            raise self._error
        return self
