"""Crash drills: run a consumer as a process, SIGKILL it again and again, then let it finish.

Each run is a fresh ``python -m platform_kit.ingestion._idempotent_worker`` process. A *random*
kill lands a uniform random time after the worker reported its partitions assigned (so it can hit
the poll, the write, the commit or anything between); a *planned* kill is the worker SIGKILLing
itself at a chosen point of a chosen batch (between the write and the commit is the interesting
one). After every kill the drill reads what PostgreSQL committed. A last run goes to the end.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from platform_kit._deps import require
from platform_kit.errors import ServiceError
from platform_kit.ingestion._idempotent_consume import Crash
from platform_kit.ingestion._idempotent_sql import SinkTables, WriteMethod
from platform_kit.ingestion._idempotent_worker import CONFIG_ENV, DSN_ENV, format_offsets

__all__ = ["CrashDrillReport", "run_crash_drill", "run_naive_drill"]


@dataclass
class CrashDrillReport:
    """Every run of a drill (one row per kill, plus the final run) and the last worker's report."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def kills(self) -> int:
        """Runs that ended by SIGKILL."""
        return sum(1 for r in self.runs if r["exit"] == -signal.SIGKILL)

    def frame(self) -> Any:
        """The runs as a DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.runs)


class _Worker:
    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self._log_file, env=env,
                                        text=True, start_new_session=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_line(self, prefix: str, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if line is None:
                return None
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.process.wait(timeout=10)
        self._log_file.close()
        return code

    def tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
        except OSError:
            return ""


def _committed(dsn: str, tables: SinkTables, consumer_id: str, topic: str) -> tuple[int, int]:
    psycopg2 = require("psycopg2")
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"SELECT coalesce(sum(next_offset), 0) FROM {tables.offsets} WHERE consumer = %s AND topic = %s",
                        (consumer_id, topic))
            offsets = int(cur.fetchone()[0])
            cur.execute(f"SELECT count(*) FROM {tables.table}")
            rows = int(cur.fetchone()[0])
        return offsets, rows
    finally:
        conn.close()


def run_crash_drill(
    consumer_config: Mapping[str, Any],
    dsn: str,
    topic: str,
    *,
    consumer_id: str,
    tables: SinkTables,
    end_offsets: Mapping[int, int],
    kills: int = 20,
    kill_after_s: tuple[float, float] = (0.02, 0.3),
    planned: Sequence[Crash] = (),
    batch_size: int = 1000,
    method: WriteMethod = "values",
    seed: int = 0,
    timeout_s: float = 120.0,
    log_dir: Path | None = None,
) -> CrashDrillReport:
    """Kill a consumer process at ``planned`` points, then ``kills`` times at random moments, then finish.

    Args:
        consumer_config: confluent-kafka settings of the worker (passed through the environment).
        dsn: PostgreSQL URI of the sink.
        topic: Source topic.
        consumer_id: The worker's offsets key.
        tables: Sink and offsets tables (created here first, so workers never race on DDL).
        end_offsets: Delivery-report end offsets: the worker is done when it committed them.
        kills: Random SIGKILLs, each ``uniform(*kill_after_s)`` seconds after the worker is ready.
        planned: Crashes the worker inflicts on itself (SIGKILL at a point of a batch), mixed in.
        batch_size: Records per transaction in the worker.
        method: The sink's write method.
        seed: Seed of the kill schedule.
        timeout_s: Longest a single run may take.
        log_dir: Where the workers' stderr goes (default: a temporary folder).

    Returns:
        One row per run (kind, delay, exit status, offsets and rows committed before and after).

    Raises:
        ServiceError: A worker failed (not killed by us), or the last run did not reach the end.
    """
    psycopg2 = require("psycopg2")
    conn = psycopg2.connect(dsn, connect_timeout=5)
    try:
        with conn.cursor() as cur:
            tables.create(cur)
        conn.commit()
    finally:
        conn.close()
    rng = np.random.default_rng(seed)
    # Planned crashes run first, while work is certain to remain (a planned crash in batch 2 of a
    # run that finds one batch left would never fire); random kills follow, then the final run.
    schedule: list[tuple[str, Any]] = [("planned", crash) for crash in planned]
    schedule += [("random", float(rng.uniform(*kill_after_s))) for _ in range(kills)]
    schedule.append(("final", None))
    env = {**os.environ, CONFIG_ENV: json.dumps(dict(consumer_config)), DSN_ENV: dsn}
    logs = Path(log_dir or tempfile.mkdtemp(prefix="crash-drill-"))
    logs.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "platform_kit.ingestion._idempotent_worker", "--topic", topic, "--consumer",
            consumer_id, "--table", tables.table, "--offsets-table", tables.offsets, "--end",
            format_offsets(dict(end_offsets)), "--batch-size", str(batch_size), "--method", method,
            "--timeout", str(timeout_s)]
    report = CrashDrillReport()
    began = time.monotonic()
    for run, (kind, what) in enumerate(schedule, start=1):
        before = _committed(dsn, tables, consumer_id, topic)
        command = list(base)
        if kind == "planned":
            command += ["--crash-batch", str(what.batch), "--crash-point", what.point.value]
        worker = _Worker(command, env, logs / f"worker-{run:03d}.log")
        started = time.monotonic()
        ready = worker.wait_line("READY", timeout=min(timeout_s, 60.0))
        done = None
        if ready is None and worker.process.poll() not in (None, -signal.SIGKILL):
            worker.finish(5)
            raise ServiceError(f"crash-drill worker {run} failed before it was ready:\n{worker.tail()}",
                               fix="read the worker log; check the broker and PostgreSQL")
        if kind == "random":
            deadline = time.monotonic() + what
            while time.monotonic() < deadline and worker.process.poll() is None:
                time.sleep(0.005)
            worker.kill()
        elif kind == "final":
            done = worker.wait_line("DONE", timeout=timeout_s)
        code = worker.finish(timeout_s)
        after = _committed(dsn, tables, consumer_id, topic)
        if code not in (0, -signal.SIGKILL):
            raise ServiceError(f"crash-drill worker {run} exited with {code}:\n{worker.tail()}",
                               fix="read the worker log; check the broker and PostgreSQL")
        if kind == "random":
            label = f"SIGKILL {what:.2f} s after ready"
        elif kind == "planned":
            label = f"self-SIGKILL in batch {what.batch}, {what.point.value.replace('_', ' ')}"
        else:
            label = "run to the end"
        report.runs.append({
            "run": run, "kind": kind, "what": label, "exit": code,
            "seconds": round(time.monotonic() - started, 3),
            "offsets_before": before[0], "offsets_after": after[0], "rows_before": before[1], "rows_after": after[1],
        })
        if done is not None:
            report.final = json.loads(done)
    report.seconds = time.monotonic() - began
    if not report.final.get("finished"):
        raise ServiceError(f"the last crash-drill run did not reach the end offsets {dict(end_offsets)}",
                           fix=f"read the worker logs in {logs}")
    return report


def run_naive_drill(
    consumer_config: Mapping[str, Any],
    pg: Any,
    topic: str,
    *,
    table_prefix: str,
    end_offsets: Mapping[int, int],
    expected_ids: Sequence[str],
    planned: Sequence[Crash],
    modes: Sequence[str] = ("commit_first", "write_first"),
    batch_size: int = 1000,
    timeout_s: float = 60.0,
) -> dict[str, dict[str, int]]:
    """Run each naive consumer through the same planned crashes (in-process, one thread per mode).

    Each mode gets its own keyless sink ``<table_prefix>_<mode>`` and its own consumer group
    (``<group.id>-<mode>``); after every planned crash it restarts, then runs to the end.

    Returns:
        Per mode, :func:`~platform_kit.ingestion.idempotent.reconcile_sink` of its sink plus ``runs``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from platform_kit.ingestion._idempotent_batch import reconcile_sink
    from platform_kit.ingestion._idempotent_consume import SimulatedCrash, consume_naively

    group = str(consumer_config.get("group.id", "naive"))
    dsn = pg if isinstance(pg, str) else pg.dsn()

    def one(mode: str) -> dict[str, int]:
        tables = SinkTables(f"{table_prefix}_{mode}", keyed=False)
        config = {**consumer_config, "group.id": f"{group}-{mode}"}
        runs = 0
        for crash in [*planned, None]:
            runs += 1
            try:
                consume_naively(config, dsn, topic, tables=tables, mode=mode,  # type: ignore[arg-type]
                                end_offsets=end_offsets, batch_size=batch_size, crash=crash, idle_s=None,
                                timeout_s=timeout_s)
            except SimulatedCrash:
                continue
        psycopg2 = require("psycopg2")
        conn = psycopg2.connect(dsn, connect_timeout=5)
        try:
            with conn.cursor() as cur:
                return {**reconcile_sink(cur, tables, expected_ids), "runs": runs}
        finally:
            conn.close()

    with ThreadPoolExecutor(max_workers=len(modes)) as pool:
        results = dict(zip(modes, pool.map(one, modes), strict=True))
    return results
