"""Sinks with a real per-call cost: each ``write`` is one INSERT and one COMMIT in PostgreSQL.

That fixed cost per call (a network round trip, statement parsing, a commit, and with
``synchronous_commit=on`` a WAL flush to disk) is what micro-batching amortises. The sink keeps
its own accounting: calls, rows, time spent writing, and, when PostgreSQL runs on this machine,
the CPU its backend process used (read from ``/proc``, 10 ms resolution).

Introduced in: Lab 2 (ingestion), section 4.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError, ServiceError

__all__ = ["EVENT_COLUMNS", "PostgresSink", "probe_sink_cost"]

#: Columns of the landed events table (``run`` tells the triggers apart).
EVENT_COLUMNS: dict[str, str] = {
    "run": "text", "event_id": "text", "customer_id": "bigint", "event_type": "text", "event_ts": "text",
    "produced_ns": "bigint",
}
_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _proc_cpu_s(pid: int | None) -> float | None:
    """User+system CPU seconds of process ``pid`` from /proc (None when unreadable: another host, macOS)."""
    if pid is None:
        return None
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - one read
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class PostgresSink:
    """One INSERT + COMMIT per :meth:`write` into ``table``.

    Args:
        pg: A :class:`~platform_kit.services.Postgres`.
        table: Target table (created if missing, with :data:`EVENT_COLUMNS`).
        synchronous_commit: ``True`` makes every commit wait for its WAL flush (durable, slower);
            ``False`` lets PostgreSQL flush in the background (a crash may lose the last few hundred
            ms of commits; safe when offsets are stored in the same transaction and replayed).
    """

    def __init__(self, pg: Any, table: str, *, synchronous_commit: bool = False) -> None:
        if not _TABLE.match(table):
            raise ConfigError(f"table {table!r} must be a lower-case SQL identifier", fix="e.g. lab02_s4_events")
        self.pg, self.table, self.synchronous_commit = pg, table, synchronous_commit
        self._conn: Any = None
        self.backend_pid: int | None = None
        self.calls = self.rows = 0
        self.busy_s = 0.0

    def open(self) -> PostgresSink:
        """Connect, set the commit mode, create the table."""
        if self._conn is not None:
            return self
        self._conn = self.pg.connect()
        with self._conn.cursor() as cur:
            cur.execute(f"SET synchronous_commit = {'on' if self.synchronous_commit else 'off'}")
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.table,))
            columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.table} ({columns})")
            cur.execute("SELECT pg_backend_pid()")
            self.backend_pid = int(cur.fetchone()[0])
        self._conn.commit()
        return self

    def write(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert ``rows`` and commit; returns the wall-clock time (ns) at which they were committed.

        Raises:
            ServiceError: The insert or commit failed (the transaction is rolled back).
        """
        from psycopg2 import Error as PgError
        from psycopg2.extras import execute_values

        if self._conn is None:
            self.open()
        began = time.perf_counter()
        try:
            with self._conn.cursor() as cur:
                execute_values(cur, f"INSERT INTO {self.table} VALUES %s", rows, page_size=max(1, len(rows)))
            self._conn.commit()
        except PgError as exc:
            self._conn.rollback()
            raise ServiceError(f"insert of {len(rows)} row(s) into {self.table} failed: {str(exc).strip()}",
                               fix="check the rows against the table's columns") from exc
        committed = time.time_ns()
        self.busy_s += time.perf_counter() - began
        self.calls += 1
        self.rows += len(rows)
        return committed

    def server_cpu_s(self) -> float | None:
        """CPU seconds used so far by this sink's PostgreSQL backend (None if not readable here)."""
        return _proc_cpu_s(self.backend_pid)

    def count(self, run: str | None = None) -> int:
        """Rows in the table (of one run)."""
        sql, params = f"SELECT count(*) FROM {self.table}", None
        if run is not None:
            sql, params = sql + " WHERE run = %s", (run,)
        return int(self.pg.query(sql, params)[0][0])

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def probe_sink_cost(pg: Any, table: str, *, sizes: Sequence[int] = (1, 100, 1000), calls: int = 20) -> pd.DataFrame:
    """Milliseconds per ``write`` of ``sizes`` rows, with and without synchronous commit.

    Returns:
        One row per (synchronous_commit, rows_per_call): ``ms_per_call``, ``us_per_row`` and
        ``max_rows_per_s`` (what a consumer calling the sink this way could sustain at best).
    """
    out = []
    for durable in (True, False):
        sink = PostgresSink(pg, table, synchronous_commit=durable).open()
        try:
            for size in sizes:
                rows = [("probe", f"p{i}", i, "probe", "", 0) for i in range(size)]
                repeat = max(2, min(calls, 2000 // size))
                sink.write(rows)  # warm the statement path
                began = time.perf_counter()
                for _ in range(repeat):
                    sink.write(rows)
                per_call = (time.perf_counter() - began) / repeat
                out.append({"synchronous_commit": "on" if durable else "off", "rows_per_call": size,
                            "ms_per_call": per_call * 1e3, "us_per_row": per_call / size * 1e6,
                            "max_rows_per_s": size / per_call})
        finally:
            sink.close()
    pg.query(f"DELETE FROM {table} WHERE run = 'probe'")
    return pd.DataFrame(out)
