"""The consumer process of the partition benchmark (one OS process per consumer).

The parent (:class:`~platform_kit.ingestion._partitions_pool.ConsumerPool`) sends tasks over a pipe;
each task names a topic, the partitions this consumer owns (assigned like Kafka's range assignor, or
handed out by a real consumer group) and the handler's cost per record. Every consumer of a task starts
handling at the same wall-clock instant, so the group's throughput is records / (last end - start).

The handler models a sink: ``sleep`` costs a fixed time per record without using a core (an I/O-bound
sink: parallel consumers overlap their waits even on 2 cores); ``cpu`` spins for that time (a
CPU-bound transform: no more parallel than the machine has cores).

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
import uuid
from typing import Any

__all__ = ["Channel", "Handler", "worker_main"]

#: How long a consumer waits for its first record / between records before giving up.
_IDLE_LIMIT_S = 15.0


class Channel:
    """JSON lines over a pair of pipe file descriptors, with a timed ``poll`` (both ends use it)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._read_fd, self._write_fd = read_fd, write_fd
        self._buffer = b""

    def send(self, message: Any) -> None:
        """Write one message (JSON-serialisable)."""
        data = (json.dumps(message) + "\n").encode()
        while data:
            data = data[os.write(self._write_fd, data):]

    def poll(self, timeout: float = 0.0) -> bool:
        """True when a whole message can be read without waiting; waits up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._read_fd], [], [], left)
            if not ready:
                return False
            chunk = os.read(self._read_fd, 65536)
            if not chunk:
                raise EOFError("the other end closed the channel")
            self._buffer += chunk
        return True

    def recv(self) -> Any:
        """Read one message, waiting as long as it takes."""
        while not self.poll(3600.0):
            pass
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


class Handler:
    """Costs ``cost_s`` per record, on average, exactly: sleeps are scheduled against a deadline."""

    def __init__(self, cost_s: float, kind: str = "sleep") -> None:
        if cost_s < 0 or kind not in ("sleep", "cpu"):
            raise ValueError(f"handler cost {cost_s!r} / kind {kind!r}: need cost >= 0 and 'sleep' or 'cpu'")
        self.cost_s, self.kind = cost_s, kind
        self._due = 0.0

    def start(self, at: float) -> None:
        """Begin the schedule at wall-clock time ``at``."""
        self._due = at

    def __call__(self, _value: bytes | None) -> None:
        now = time.time()
        self._due = max(self._due, now) + self.cost_s
        if self.kind == "cpu":
            while time.time() < self._due:
                pass
        elif self._due - now > 0.002:  # batch tiny sleeps: the deadline keeps the average exact
            time.sleep(self._due - now)

    def finish(self) -> None:
        """Wait out the last scheduled work."""
        if (left := self._due - time.time()) > 0:
            time.sleep(left)


def _consumer(kafka: Any, config: dict[str, Any], group: str | None) -> Any:
    settings = {**config, "group.id": group or f"bench-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
                "fetch.wait.max.ms": 100, "auto.offset.reset": "earliest", "enable.partition.eof": False}
    return kafka.Consumer(settings)


def _run(kafka: Any, conn: Any, config: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """One task, with a fresh consumer (reusing one across topics was slower: metadata refreshes)."""
    topic = task["topic"]
    per_partition = {int(k): int(v) for k, v in task["expected_by_partition"].items()}
    handler = Handler(float(task["cost_s"]), task.get("handler", "sleep"))
    buffered: list[Any] = []
    grouped = bool(task.get("group"))
    state = {"started": False, "rebalanced": False, "closing": False}
    consumer = _consumer(kafka, config, task.get("group"))
    try:
        if grouped:
            owned: list[int] = []

            def on_assign(c: Any, parts: list[Any]) -> None:
                owned[:] = sorted(p.partition for p in parts)
                c.assign([kafka.TopicPartition(topic, p.partition, 0) for p in parts])
                if state["started"]:
                    state["rebalanced"] = True
                else:
                    conn.send(("assigned", list(owned)))

            def on_revoke(_c: Any, _parts: list[Any]) -> None:
                owned.clear()
                buffered.clear()  # re-assigned partitions are read again from offset 0
                if state["started"]:
                    state["rebalanced"] = state["rebalanced"] or not state["closing"]
                else:
                    conn.send(("assigned", []))

            consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            start_at = None
            while start_at is None:
                buffered.extend(m for m in consumer.consume(500, 0.1) if m.error() is None)
                if conn.poll(0):
                    start_at = conn.recv()[1]
            partitions = list(owned)
        else:
            partitions = list(task["partitions"])
            consumer.assign([kafka.TopicPartition(topic, p, 0) for p in partitions])
            if partitions:
                _warm_up(consumer, topic, partitions, per_partition, buffered, task.get("prefetch", "all"))
            conn.send(("assigned", partitions))
            start_at = conn.recv()[1]
        if (wait := start_at - time.time()) > 0:
            time.sleep(wait)
        state["started"] = True
        handler.start(start_at)
        expected = sum(per_partition.get(p, 0) for p in partitions)
        count, counts, last = 0, {p: 0 for p in partitions}, time.time()
        pending = buffered
        while count < expected:
            if not pending:
                pending = consumer.consume(500, 0.1)
                if not pending and time.time() - last > _IDLE_LIMIT_S:
                    break
            for message in pending:
                if not _ours(message, topic, partitions):
                    continue
                handler(message.value())
                counts[message.partition()] = counts.get(message.partition(), 0) + 1
                count += 1
            if pending:
                last = time.time()
            pending = []
        handler.finish()
        return {"partitions": partitions, "records": count, "counts": counts, "start": start_at,
                "end": time.time() if count else start_at, "rebalanced": state["rebalanced"]}
    finally:
        state["closing"] = True
        consumer.close()


def _warm_up(consumer: Any, topic: str, partitions: list[int], per_partition: dict[int, int],
             buffered: list[Any], prefetch: str) -> None:
    """Fetch before the clock starts: every record (``all``: the cell then measures how handling
    parallelises, robust to a busy machine) or one record per partition (``first``: fetching stays in
    the measurement)."""
    need = sum(per_partition.get(p, 0) for p in partitions) if prefetch == "all" else 0
    waiting = {p for p in partitions if per_partition.get(p)}
    began = time.time()
    while (waiting or len(buffered) < need) and time.time() - began < _IDLE_LIMIT_S:
        fresh = [m for m in consumer.consume(500, 0.05) if _ours(m, topic, partitions)]
        waiting -= {m.partition() for m in fresh}
        buffered.extend(fresh)


def _ours(message: Any, topic: str, partitions: list[int]) -> bool:
    """A record of this task (not an error, nor a late record of a previous task's assignment)."""
    return message.error() is None and message.topic() == topic and message.partition() in partitions


def worker_main(conn: Channel, config: dict[str, Any]) -> None:
    """Run tasks from ``conn`` until it sends ``None`` (or closes)."""
    import confluent_kafka as kafka

    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        try:
            conn.send(("done", _run(kafka, conn, config, task)))
        except Exception as exc:  # reported to the parent, which raises it with context
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def main() -> None:
    """``python -m platform_kit.ingestion._partitions_worker '<config json>'``: stdin/stdout carry the
    protocol; stray prints go to stderr."""
    config = json.loads(sys.argv[1])
    protocol_out = os.dup(1)
    os.dup2(2, 1)
    try:
        worker_main(Channel(0, protocol_out), config)
    except EOFError:
        pass


if __name__ == "__main__":
    main()
