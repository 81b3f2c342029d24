"""What capture costs the source: a write workload with no capture, log-based CDC, and polling.

:class:`WriteWorkload` runs small OLTP transactions (update an order, often a "hot" one;
insert; delete; update a customer), timing each commit and logging every change it makes
(the truth). :func:`measure_capture_load` runs it under each capture mode and reports
throughput, commit latency, the CPU time of the *server* processes doing the capture (the
walsender decoding WAL, or the backend answering polls: read from ``/proc`` when PostgreSQL
runs on this machine) and the queries each mode issues.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.ingestion._cdc_polling import PollingCapture
from platform_kit.ingestion._cdc_setup import KEYS, CdcSource, current_lsn
from platform_kit.ingestion._cdc_worker import ConnectorProcess

__all__ = ["MODES", "LoadPhase", "WorkloadResult", "WriteWorkload", "measure_capture_load", "polling_blind_spots",
           "process_cpu_ms"]

MODES = ("no capture", "log-based CDC", "polling")
_STATUSES = ("placed", "paid", "shipped", "delivered", "returned")
_SEGMENTS = ("consumer", "premium", "business")


def process_cpu_ms(pid: int | None) -> float | None:
    """User + system CPU time of a local process in ms (None when it is not on this machine)."""
    if not pid:
        return None
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * 1000.0 / os.sysconf("SC_CLK_TCK")


@dataclass
class WorkloadResult:
    """One workload run: commit latencies and the changes it made, in order."""

    latencies_ms: np.ndarray
    changes: list[tuple[str, tuple[Any, ...], str]]
    seconds: float
    first_lsn: int
    last_lsn: int

    @property
    def transactions(self) -> int:
        return len(self.latencies_ms)

    @property
    def tps(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


class WriteWorkload:
    """Small write transactions against the lab tables; remembers which keys exist.

    Args:
        dsn: Source database.
        source: The :class:`CdcSource` (schema; changes are appended to ``source.truth``).
        seed: Random seed.
        hot_keys: Size of the set of frequently updated orders (half of the order updates hit it).
    """

    def __init__(self, dsn: str, source: CdcSource, *, seed: int = 42, hot_keys: int = 10) -> None:
        psycopg2 = require("psycopg2")
        self.source = source
        self.conn = psycopg2.connect(dsn, connect_timeout=5)
        self.rng = np.random.default_rng(seed)
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT order_id FROM {source.schema}.orders")
            self.orders = [r[0] for r in cur.fetchall()]
            cur.execute(f"SELECT customer_id FROM {source.schema}.customers")
            self.customers = [r[0] for r in cur.fetchall()]
        self.conn.commit()
        self.next_order = max(self.orders, default=0) + 1
        self.hot = self.orders[:hot_keys]

    def _pick_order(self) -> int:
        if self.hot and self.rng.random() < 0.5:
            return int(self.hot[self.rng.integers(len(self.hot))])
        return int(self.orders[self.rng.integers(len(self.orders))])

    def _one(self, cur: Any) -> tuple[str, tuple[Any, ...], str]:
        schema, roll = self.source.schema, self.rng.random()
        if roll < 0.15 or len(self.orders) < 20:
            order, self.next_order = self.next_order, self.next_order + 1
            cur.execute(f"INSERT INTO {schema}.orders (order_id, customer_id, order_ts, status, channel, region, "
                        "currency, total_amount) VALUES (%s, %s, now()::timestamp, 'placed', 'web', 'eu-west', "
                        "'EUR', %s)", (order, int(self.rng.choice(self.customers)), round(float(self.rng.uniform(5, 500)), 2)))
            self.orders.append(order)
            return ("orders", (order,), "c")
        if roll < 0.25:
            order = int(self.orders[self.rng.integers(len(self.orders))])
            if order in self.hot:
                self.hot.remove(order)
            self.orders.remove(order)
            cur.execute(f"DELETE FROM {schema}.orders WHERE order_id = %s", (order,))
            return ("orders", (order,), "d")
        if roll < 0.35:
            customer = int(self.rng.choice(self.customers))
            cur.execute(f"UPDATE {schema}.customers SET segment = %s, marketing_opt_in = NOT marketing_opt_in "
                        "WHERE customer_id = %s", (str(self.rng.choice(_SEGMENTS)), customer))
            return ("customers", (customer,), "u")
        order = self._pick_order()
        cur.execute(f"UPDATE {schema}.orders SET status = %s, total_amount = total_amount + 1 WHERE order_id = %s",
                    (str(self.rng.choice(_STATUSES)), order))
        return ("orders", (order,), "u")

    def run(self, *, duration_s: float | None = None, transactions: int | None = None) -> WorkloadResult:
        """Run one-statement transactions for ``duration_s`` seconds or ``transactions`` commits."""
        if duration_s is None and transactions is None:
            raise ValueError("give duration_s or transactions")
        latencies: list[float] = []
        changes: list[tuple[str, tuple[Any, ...], str]] = []
        with self.conn.cursor() as cur:
            first = current_lsn(cur)
            self.conn.commit()
            began = time.perf_counter()
            while True:
                if transactions is not None and len(latencies) >= transactions:
                    break
                if duration_s is not None and time.perf_counter() - began >= duration_s:
                    break
                t0 = time.perf_counter()
                change = self._one(cur)
                self.conn.commit()
                latencies.append((time.perf_counter() - t0) * 1000.0)
                changes.append(change)
            seconds = time.perf_counter() - began
            last = self.mark()
        self.source.truth.extend(changes)
        return WorkloadResult(np.asarray(latencies), changes, seconds, first, last)

    def mark(self) -> int:
        """An LSN every change made so far commits at or after (wait for a checkpoint past it)."""
        with self.conn.cursor() as cur:
            lsn = current_lsn(cur)
        self.conn.commit()
        return lsn

    def close(self) -> None:
        self.conn.close()


@dataclass
class LoadPhase:
    """One capture mode's run: the workload, and the CPU the capture cost on each side."""

    mode: str
    result: WorkloadResult
    source_cpu_ms: float | None
    client_cpu_ms: float | None
    queries: int
    polled: list[tuple[str, Any, Any]] = field(default_factory=list)
    broker_cpu_ms: float | None = None


def _walsender_pid(pg: Any, slot: str) -> int | None:
    rows = pg.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    return rows[0][0] if rows else None


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _cpu_of(pids: Sequence[int]) -> float | None:
    values = [process_cpu_ms(p) for p in pids]
    return None if not values or any(v is None for v in values) else sum(v for v in values if v is not None)


def measure_capture_load(pg: Any, source: CdcSource, workload: WriteWorkload, connector: ConnectorProcess, *,
                         duration_s: float = 1.0, poll_interval_s: float = 0.05,
                         broker_pids: Sequence[int] = ()) -> tuple[pd.DataFrame, list[LoadPhase]]:
    """Run the workload under log-based CDC, then no capture, then polling; one row per mode.

    The connector is started (and caught up) for the first mode and stopped for the other two;
    the slot keeps what they write, so restart it afterwards to deliver that too. ``broker_pids``:
    local processes of the broker (and its storage) whose CPU the CDC path also costs this machine.

    Returns:
        A frame indexed by mode (tps, p50/p99 commit latency; CPU in % of one core of the server
        process serving the capture, of the capture client and of the local broker; queries per
        minute) and the phases (workload results, polled rows).
    """
    phases: list[LoadPhase] = []
    connector.start()
    connector.wait_for_lsn(workload.mark(), timeout=60)  # catch up first: measure steady state
    sender, client = _walsender_pid(pg, source.slot), connector.process.pid if connector.process else None
    s0, c0, b0 = process_cpu_ms(sender), process_cpu_ms(client), _cpu_of(broker_pids)
    result = workload.run(duration_s=duration_s)
    s1, c1, b1 = process_cpu_ms(sender), process_cpu_ms(client), _cpu_of(broker_pids)
    connector.wait_for_lsn(result.last_lsn, timeout=60)
    phases.append(LoadPhase("log-based CDC", result, _delta(s0, s1), _delta(c0, c1), 0, broker_cpu_ms=_delta(b0, b1)))
    connector.stop()
    b0 = _cpu_of(broker_pids)
    result = workload.run(duration_s=duration_s)
    phases.append(LoadPhase("no capture", result, 0.0, 0.0, 0, broker_cpu_ms=_delta(b0, _cpu_of(broker_pids))))
    poller = PollingCapture(pg.dsn(), [(f"{source.schema}.{t}", KEYS[t]) for t in source.tables], poll_interval_s)
    poller.start()
    s0, b0 = process_cpu_ms(poller.backend_pid), _cpu_of(broker_pids)
    result = workload.run(duration_s=duration_s)
    s1, b1 = process_cpu_ms(poller.backend_pid), _cpu_of(broker_pids)
    poller.stop()
    phases.append(LoadPhase("polling", result, _delta(s0, s1), poller.client_cpu_ms, poller.queries,
                            list(poller.seen), broker_cpu_ms=_delta(b0, b1)))
    rows = []
    for phase in phases:
        lat, seconds = phase.result.latencies_ms, max(phase.result.seconds, 1e-9)
        rows.append({
            "mode": phase.mode, "transactions": phase.result.transactions, "tps": phase.result.tps,
            "p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)),
            "source_cpu_pct": None if phase.source_cpu_ms is None else phase.source_cpu_ms / seconds / 10.0,
            "client_cpu_pct": None if phase.client_cpu_ms is None else phase.client_cpu_ms / seconds / 10.0,
            "broker_cpu_pct": None if phase.broker_cpu_ms is None else phase.broker_cpu_ms / seconds / 10.0,
            "queries_per_min": phase.queries / seconds * 60.0,
        })
    frame = pd.DataFrame(rows).set_index("mode").loc[list(MODES)]
    return frame, phases


def polling_blind_spots(workload: WriteWorkload) -> dict[str, Any]:
    """Between two polls: update one order 3 times, delete one, insert one, change one's key.

    Returns the keys involved, the changes made (also appended to the truth), the rows the
    second poll returned, and the LSN range the scenario's commits fall in.
    """
    from platform_kit.ingestion._cdc_polling import UpdatedAtPoller

    source, conn = workload.source, workload.conn
    schema = source.schema
    hot, victim, renamed = (int(k) for k in workload.orders[-3:])
    new, renamed_to = workload.next_order, workload.next_order + 1
    workload.next_order += 2
    poller = UpdatedAtPoller(require("psycopg2").connect(workload.conn.dsn), f"{schema}.orders", "order_id")
    first = workload.mark()
    poller.poll()
    statements = [
        *[(f"UPDATE {schema}.orders SET status = %s WHERE order_id = %s", (s, hot)) for s in ("paid", "shipped",
                                                                                           "delivered")],
        (f"DELETE FROM {schema}.orders WHERE order_id = %s", (victim,)),
        (f"INSERT INTO {schema}.orders (order_id, customer_id, order_ts, status, channel, region, currency, "
         "total_amount) VALUES (%s, 1, now()::timestamp, 'placed', 'store', 'eu-west', 'EUR', 42.00)", (new,)),
        (f"UPDATE {schema}.orders SET order_id = %s WHERE order_id = %s", (renamed_to, renamed)),
    ]
    with conn.cursor() as cur:
        for sql, params in statements:
            cur.execute(sql, params)
            conn.commit()
    changes = [("orders", (hot,), "u")] * 3 + [("orders", (victim,), "d"), ("orders", (new,), "c"),
                                              ("orders", (renamed,), "d"), ("orders", (renamed_to,), "c")]
    for key in (victim, renamed):
        workload.orders.remove(key)
        if key in workload.hot:
            workload.hot.remove(key)
    workload.orders += [new, renamed_to]
    source.truth.extend(changes)
    polled = poller.poll()
    poller.conn.close()
    return {"hot": hot, "deleted": victim, "inserted": new, "key_changed": (renamed, renamed_to),
            "changes": changes, "polled": polled, "polls": poller.queries,
            "first_lsn": first, "last_lsn": workload.mark()}
