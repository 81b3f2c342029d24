"""A pool of consumer processes reused across the cells of the partitions x consumers grid.

Starting a Python process with confluent-kafka costs ~0.3-0.5 s on 2 cores, and a consumer joining a
new group on the embedded broker ~3 s, so the grid starts its processes once and, by default, hands
each one its partitions the way Kafka's range assignor would (:func:`range_assignment`) instead of
joining a group per cell. ``group=True`` uses a real consumer group instead (seconds per cell).

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from platform_kit._state import state_dir
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.ingestion._partitions_worker import Channel

__all__ = ["ConsumerPool", "range_assignment"]


def range_assignment(partitions: int | Sequence[int], consumers: int) -> list[list[int]]:
    """Kafka's range assignor for one topic: consumer i gets a contiguous block; the first
    ``partitions % consumers`` consumers get one extra; consumers beyond the partition count get none.

    >>> range_assignment(5, 2)
    [[0, 1, 2], [3, 4]]
    >>> range_assignment(2, 3)
    [[0], [1], []]
    """
    ids = list(range(partitions)) if isinstance(partitions, int) else sorted(partitions)
    if isinstance(consumers, bool) or not isinstance(consumers, int) or consumers < 1:
        raise ConfigError(f"consumers must be an int >= 1, got {consumers!r}", fix="use at least one consumer")
    if not ids or len(set(ids)) != len(ids) or any(not isinstance(p, int) or p < 0 for p in ids):
        raise ConfigError(f"partitions must be >= 1 distinct ids >= 0, got {partitions!r}",
                          fix="pass a partition count or a list of partition ids")
    per, extra = divmod(len(ids), consumers)
    out, at = [], 0
    for i in range(consumers):
        size = per + (1 if i < extra else 0)
        out.append(ids[at:at + size])
        at += size
    return out


class ConsumerPool:
    """``processes`` consumer processes (``python -m platform_kit.ingestion._partitions_worker``) for one
    broker, talking JSON lines over their stdin/stdout; their stderr goes to
    ``<state>/logs/partition-consumers.log``.

    Args:
        consumer_config: librdkafka settings (bootstrap servers, security, group timing).
        processes: How many processes to start (the grid's largest consumer count).
    """

    def __init__(self, consumer_config: Mapping[str, Any], processes: int, *, start_timeout_s: float = 60.0) -> None:
        if isinstance(processes, bool) or not isinstance(processes, int) or not 1 <= processes <= 64:
            raise ConfigError(f"processes must be an int in 1..64, got {processes!r}", fix="use 1-8 on 2 cores")
        config = json.dumps({k: v for k, v in consumer_config.items() if k != "group.id"})
        log_path = state_dir() / "logs" / "partition-consumers.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._conns: list[Channel] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        began = time.monotonic()
        try:
            with open(log_path, "ab") as log:
                for _ in range(processes):
                    proc = subprocess.Popen(  # noqa: S603 - our own module
                        [sys.executable, "-m", "platform_kit.ingestion._partitions_worker", config],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, bufsize=0)
                    self._procs.append(proc)
                    self._conns.append(Channel(proc.stdout.fileno(), proc.stdin.fileno()))  # type: ignore[union-attr]
            for i, conn in enumerate(self._conns):
                self._expect(conn, i, "ready", start_timeout_s)
        except BaseException:
            self.close()
            raise
        self.start_s = time.monotonic() - began

    @property
    def size(self) -> int:
        """Number of consumer processes."""
        return len(self._procs)

    @property
    def pids(self) -> list[int]:
        """OS process ids of the consumers (distinct processes, by construction)."""
        return [p.pid for p in self._procs]

    def _expect(self, conn: Channel, index: int, kind: str, timeout: float) -> Any:
        try:
            ready = conn.poll(timeout)
        except EOFError:
            raise ServiceError(f"consumer process {index} exited (waiting for {kind})",
                               fix=f"read {state_dir() / 'logs' / 'partition-consumers.log'}") from None
        if not ready:
            raise ServiceError(f"consumer process {index} sent nothing for {timeout:.0f} s (waiting for {kind})",
                               fix="check the broker (`workbench status broker`)")
        got, payload = conn.recv()
        if got == "error":
            raise ServiceError(f"consumer process {index} failed: {payload}", fix="see the message above")
        if got != kind:
            raise ServiceError(f"consumer process {index} sent {got!r}, expected {kind!r}", fix="a bug: report it")
        return payload

    def run(self, topic: str, expected_by_partition: Mapping[int, int], consumers: int, *, cost_s: float,
            handler: str = "sleep", group: bool = False, prefetch: str = "all", timeout_s: float = 120.0,
            lead_s: float = 0.05) -> dict[str, Any]:
        """Consume ``topic`` with ``consumers`` processes at ``cost_s`` per record; returns the cell.

        ``prefetch="all"`` (default) lets each process fetch its records before the common start, so
        the cell measures how handling parallelises (stable on a busy 2-core machine); ``"first"``
        fetches one record per partition first and keeps the rest of the fetching in the clock.

        Returns:
            ``seconds`` (common start to the last consumer's end), ``records``, ``throughput``
            (records/s), ``assignment`` (partitions per consumer), ``per_consumer`` (records each) and
            ``rebalanced`` (a group rebalanced during the measurement).
        """
        if prefetch not in ("all", "first") or handler not in ("sleep", "cpu") or cost_s < 0:
            raise ConfigError(f"prefetch={prefetch!r}, handler={handler!r}, cost_s={cost_s!r}",
                              fix="prefetch 'all' or 'first', handler 'sleep' or 'cpu', cost_s >= 0")
        if not 1 <= consumers <= self.size:
            raise ConfigError(f"{consumers} consumers requested from a pool of {self.size}",
                              fix="start the pool with as many processes as the largest consumer count")
        partitions = sorted(expected_by_partition)
        plan = range_assignment(partitions, consumers) if not group else [[] for _ in range(consumers)]
        group_id = f"bench-{uuid.uuid4().hex[:8]}" if group else None
        conns = self._conns[:consumers]
        for conn, owned in zip(conns, plan, strict=True):
            conn.send({"topic": topic, "partitions": owned, "expected_by_partition": dict(expected_by_partition),
                       "cost_s": cost_s, "handler": handler, "group": group_id, "prefetch": prefetch})
        assignment = self._settle(conns, partitions, group, timeout_s)
        start_at = time.time() + lead_s
        for conn in conns:
            conn.send(("go", start_at))
        results = [self._expect(conn, i, "done", timeout_s) for i, conn in enumerate(conns)]
        records = sum(r["records"] for r in results)
        seconds = max(r["end"] for r in results) - start_at
        return {"records": records, "seconds": seconds, "throughput": records / seconds if seconds > 0 else 0.0,
                "assignment": assignment, "per_consumer": [r["records"] for r in results],
                "rebalanced": any(r.get("rebalanced") for r in results)}

    def _settle(self, conns: list[Channel], partitions: list[int], group: bool, timeout_s: float,
                stable_s: float = 1.0) -> list[list[int]]:
        """Latest assignment of every consumer, once together they own every partition exactly once
        (in a real group: and no rebalance was reported for ``stable_s``)."""
        latest: list[list[int] | None] = [None] * len(conns)
        changed = time.monotonic()
        deadline = changed + timeout_s
        while time.monotonic() < deadline:
            for i, conn in enumerate(conns):
                while conn.poll(0):
                    kind, payload = conn.recv()
                    if kind == "error":
                        raise ServiceError(f"consumer process {i} failed: {payload}", fix="see the message")
                    latest[i] = list(payload)
                    changed = time.monotonic()
            if all(a is not None for a in latest):
                owned = sorted(p for a in latest for p in a)  # type: ignore[union-attr]
                if owned == partitions and (not group or time.monotonic() - changed >= stable_s):
                    return [list(a) for a in latest]  # type: ignore[arg-type]
            time.sleep(0.02)
        raise ServiceError(f"consumers did not own all partitions within {timeout_s:.0f} s: {latest}",
                           fix="check the broker; group joins take ~session_timeout/2 on tansu")

    def close(self) -> None:
        """Stop every consumer process (they also exit when their stdin closes)."""
        for conn in self._conns:
            try:
                conn.send(None)
            except OSError:
                pass
        for proc in self._procs:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self._conns, self._procs = [], []

    def __enter__(self) -> ConsumerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
