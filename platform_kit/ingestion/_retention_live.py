"""A private tansu broker to restart and crash under producer streams, and what came back.

The lab's shared broker may be serving other notebooks, so the restart demo starts its own tansu
instance (:class:`PrivateTansuBroker`): its own service name (records, logs and lock are keyed by
it), a free port fixed for its whole life (a restart must come back where the producer looks), and its
own bucket in the same object store. tansu writes every produce request to S3 before it answers, so
what an ``acks=all`` producer saw acknowledged survives a restart (SIGTERM). A crash (SIGKILL) is
different: measured here, it sometimes loses acknowledged records (see :func:`streams_through_restart`).

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from platform_kit._deps import require
from platform_kit._process import choose_port
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.ingestion._retention_topics import client_config, create_topic_quietly
from platform_kit.ingestion._topics import Record, drain_topic, record_from_message
from platform_kit.services.broker import TansuBroker, TansuConfig

__all__ = ["PrivateTansuBroker", "RestartReport", "produce_through_restart", "streams_through_restart"]

_log = logging.getLogger(__name__)


class PrivateTansuBroker(TansuBroker):
    """A second tansu broker on a fixed free port, storing topics in its own bucket of the lab's store.

    Use it as a context manager (``with PrivateTansuBroker.create(pk, "s1") as broker:``); it stops
    when the block ends, and like every owned service when the process exits.
    """

    @classmethod
    def create(cls, workbench: Any, label: str = "private") -> PrivateTansuBroker:
        """A not-yet-started private broker for ``workbench`` (bucket ``broker-<label>``, unique name)."""
        if not label.replace("-", "").isalnum() or label != label.lower():
            raise ConfigError(f"label {label!r} must be lower-case letters, digits and dashes",
                              fix="use a short label such as 's1'")
        store = workbench.service("object_store")
        if not hasattr(store, "client"):
            raise ConfigError(f"a tansu broker needs an S3 object store, not {store.config.type!r}",
                              fix="use the embedded profile (moto) or an S3 endpoint")
        store.start(owned=True)
        bucket = f"broker-{label}"
        client = store.client()
        if bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=bucket)
        port = choose_port("127.0.0.1", 0, strict=False, service=f"broker-{label}")
        config = TansuConfig(port=port, strict_port=True, bucket=bucket, cluster_id=f"private-{label}")
        return cls(config, workbench, name=f"broker-{label}-{uuid.uuid4().hex[:6]}")

    def crash_restart(self) -> float:
        """SIGKILL the broker (no graceful shutdown), start it again on the same port; returns seconds."""
        if self._proc is None:
            raise ServiceError(f"{self.name} is not running", fix="start() it first")
        began = time.monotonic()
        os.kill(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=10)
        self._proc = None
        self.stop()  # removes the record and the guardian of the dead process
        self.start(owned=True)
        return time.monotonic() - began

    def graceful_restart(self) -> float:
        """SIGTERM and start again on the same port; returns seconds (up to ~5 s: with several clients
        connected, tansu waits for them before it exits)."""
        began = time.monotonic()
        self.restart()
        return time.monotonic() - began

    def __enter__(self) -> PrivateTansuBroker:
        self.start(owned=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class RestartReport:
    """What a stream produced through a broker restart left on the broker.

    ``acknowledged`` counts delivery reports without error (for acks=0 the client reports success
    without hearing from the broker). ``lost`` = acknowledged ids not read back; ``duplicates`` =
    records read more than once.
    """

    topic: str
    acks: str
    idempotent: bool
    mode: str
    produced: int
    acknowledged: int
    failed: int
    read: int
    unique_read: int
    lost: int
    duplicates: int
    restart_s: float
    produce_s: float
    restart_at_record: int
    errors: list[str] = field(default_factory=list)

    @property
    def lossless(self) -> bool:
        """Every acknowledged record read back exactly once."""
        return self.lost == 0 and self.duplicates == 0 and self.failed == 0

    def as_dict(self) -> dict[str, Any]:
        """Plain fields for a DataFrame row."""
        return asdict(self)


def _payloads(records: int, rows: list[dict[str, Any]] | None) -> list[bytes]:
    rows = rows or [{}]
    return [json.dumps({"seq": i, **rows[i % len(rows)]}, default=str).encode() for i in range(records)]


class _Stream:
    """One producer and its topic: what it sent and what the broker acknowledged."""

    def __init__(self, broker: PrivateTansuBroker, acks: Any, idempotent: bool, topic: str, partitions: int) -> None:
        from platform_kit.ingestion._retention_calc import normalise_acks

        self.acks = normalise_acks(acks)
        self.idempotent = bool(idempotent) and self.acks == "all"  # idempotence needs acks=all
        self.topic = topic
        self.acked: list[int] = []
        self.ends: dict[int, int] = {}  # partition -> last acknowledged offset + 1 (acks>=1 only)
        self.errors: list[str] = []
        create_topic_quietly(broker, topic, partitions, 1)
        # short reconnect/retry backoffs: the broker is back within a second, do not wait the 10 s maximum;
        # the connection errors the restart causes are expected: log_level=2 keeps them out of the notebook
        self.producer = require("confluent_kafka").Producer(client_config(
            broker, log_level=2, acks=self.acks, linger_ms=20, reconnect_backoff_ms=20, reconnect_backoff_max_ms=250,
            retry_backoff_ms=20, retry_backoff_max_ms=250, message_timeout_ms=30000,
            **({"enable_idempotence": True} if self.idempotent else {})))

    def on_delivery(self, err: Any, msg: Any) -> None:
        if err is None:
            self.acked.append(int(msg.key()))
            if msg.offset() is not None and msg.offset() >= 0:
                self.ends[msg.partition()] = max(self.ends.get(msg.partition(), 0), msg.offset() + 1)
        else:
            self.errors.append(str(err))

    def send(self, seq: int, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(self.topic, key=str(seq).encode(), value=value, on_delivery=self.on_delivery)
                break
            except BufferError:
                self.producer.poll(0.05)
        self.producer.poll(0)


def streams_through_restart(
    broker: PrivateTansuBroker,
    streams: list[tuple[Any, bool]] | None = None,
    *,
    records: int = 4000,
    rate_per_s: float = 3000.0,
    restart_after_s: float = 0.4,
    mode: Literal["kill", "term"] = "term",
    partitions: int = 2,
    rows: list[dict[str, Any]] | None = None,
    topics: list[str] | None = None,
) -> list[RestartReport]:
    """Produce the same stream through one broker restart with several producers at once.

    Each ``(acks, idempotent)`` pair gets its own producer and topic; every record (keyed by its
    sequence number) goes to each of them in turn at ``rate_per_s``. A background thread restarts the
    broker ``restart_after_s`` into the stream, on the same port: ``mode="term"`` (default) stops it
    with SIGTERM as a deploy or rolling restart would, ``"kill"`` crashes it with SIGKILL. The
    producers keep producing and their clients retry whatever was in flight. Afterwards each topic is
    read back by assignment and compared with its delivery reports. One restart for all streams: the
    comparison is fair and the demo pays for one restart.

    Measured on the embedded tansu broker (S3 engine): a graceful restart never lost an acknowledged
    record; a SIGKILL late in a stream sometimes did (100-300 of 5,000, offsets reused after the
    restart), so ``mode="kill"`` is a characterisation, not a guarantee. A single broker's acks=all is
    only as durable as its own storage path; replication (RF=3, min.insync.replicas=2) is the fix.

    Args:
        broker: A started :class:`PrivateTansuBroker` (never the lab's shared broker).
        streams: ``(acks, idempotent)`` per producer (default: acks=all with idempotence, and acks=0).
        rows: Payload rows (e.g. orders as dicts), cycled; each record's value is its row plus ``seq``.
        topics: Topic names, one per stream (default: fresh unique names).
    """
    if not isinstance(broker, PrivateTansuBroker):
        raise ConfigError("the restart demo restarts its broker: give it a PrivateTansuBroker",
                          fix="use PrivateTansuBroker.create(pk, 's1'), never the lab's shared pk.broker")
    wanted = list(streams) if streams is not None else [("all", True), ("0", False)]
    if records < 1 or rate_per_s <= 0 or mode not in ("kill", "term") or not wanted:
        raise ConfigError(f"records={records}, rate_per_s={rate_per_s}, mode={mode!r}, {len(wanted)} stream(s) "
                          "is not a valid stream", fix="records >= 1, rate_per_s > 0, mode 'kill' or 'term'")
    names = topics or [f"lab02.restart.{uuid.uuid4().hex[:6]}" for _ in wanted]
    if len(names) != len(wanted):
        raise ConfigError(f"{len(names)} topic(s) for {len(wanted)} stream(s)", fix="one topic per stream")
    live = [_Stream(broker, acks, idem, name, partitions) for (acks, idem), name in zip(wanted, names, strict=True)]
    values = _payloads(records, rows)
    restart: dict[str, Any] = {}
    progress = {"sent": 0}

    def restarter() -> None:
        time.sleep(restart_after_s)
        restart["at"] = progress["sent"]
        try:
            restart["s"] = broker.crash_restart() if mode == "kill" else broker.graceful_restart()
        except Exception as exc:  # surfaced after the stream, never swallowed
            restart["error"] = exc

    thread = threading.Thread(target=restarter, name="broker-restart", daemon=True)
    began = time.monotonic()
    thread.start()
    for seq, value in enumerate(values):
        if (lag := began + seq / rate_per_s - time.monotonic()) > 0:
            time.sleep(lag)
        for stream in live:
            stream.send(seq, value)
        progress["sent"] = seq + 1
    thread.join(timeout=60)
    left = [stream.producer.flush(40) for stream in live]
    produce_s = time.monotonic() - began
    if "error" in restart:
        raise ServiceError(f"the broker did not restart: {restart['error']}",
                           fix=f"read {broker.log_path}") from restart["error"]
    reports = []
    for stream, queued in zip(live, left, strict=True):
        if queued:
            stream.producer.purge()  # close() would otherwise wait out message.timeout.ms
        stream.producer.close()  # deterministic teardown, not whenever the garbage collector gets to it
    for stream, queued in zip(live, left, strict=True):
        if queued:
            stream.errors.append(f"{queued} record(s) still queued after 40 s")
        found = _read_back(broker, stream.topic, stream.ends if stream.acks != "0" else None)
        keys = [int(r.key) for r in found]
        reports.append(RestartReport(
            topic=stream.topic, acks=stream.acks, idempotent=stream.idempotent, mode=mode, produced=records,
            acknowledged=len(stream.acked), failed=len(stream.errors), read=len(keys), unique_read=len(set(keys)),
            lost=len(set(stream.acked) - set(keys)), duplicates=len(keys) - len(set(keys)),
            restart_s=float(restart.get("s", float("nan"))), produce_s=produce_s,
            restart_at_record=int(restart.get("at", -1)), errors=stream.errors[:5],
        ))
    return reports


def produce_through_restart(
    broker: PrivateTansuBroker,
    *,
    records: int = 4000,
    rate_per_s: float = 3000.0,
    restart_after_s: float = 0.4,
    mode: Literal["kill", "term"] = "term",
    acks: str = "all",
    idempotent: bool = True,
    partitions: int = 2,
    rows: list[dict[str, Any]] | None = None,
    topic: str | None = None,
) -> RestartReport:
    """One producer through one restart: :func:`streams_through_restart` with a single stream."""
    return streams_through_restart(broker, [(acks, idempotent)], records=records, rate_per_s=rate_per_s,
                                   restart_after_s=restart_after_s, mode=mode, partitions=partitions, rows=rows,
                                   topics=[topic] if topic else None)[0]


def _read_back(broker: Any, topic: str, ends: dict[int, int] | None) -> list[Record]:
    """Every record of ``topic`` up to the last acknowledged offset of each partition (``ends``).

    A duplicate written by a retry sits *below* the offset its acknowledgement reports, so reading up
    to the acknowledged ends sees every duplicate without reading at the log end (a fetch there is
    held ~5 s by tansu). Without offsets (acks=0) the topic is read until idle.
    """
    if not ends:
        return drain_topic(broker, topic, idle_s=0.6, timeout_s=30)
    kafka = require("confluent_kafka")
    consumer = kafka.Consumer({**broker.consumer_config(f"readback-{uuid.uuid4().hex[:8]}", fetch_wait_max_ms=100,
                                                        enable_auto_commit=False), "log_level": 4})
    consumer.assign([kafka.TopicPartition(topic, p, 0) for p in sorted(ends)])
    waiting, found = set(ends), []
    began = last = time.monotonic()
    try:
        while waiting and time.monotonic() - last < 2.0 and time.monotonic() - began < 60:
            for message in consumer.consume(1000, 0.2):
                if message.error() is not None:
                    continue
                found.append(record_from_message(message))
                last = time.monotonic()
                if message.offset() + 1 >= ends[message.partition()]:
                    waiting.discard(message.partition())
    finally:
        consumer.close()
    if waiting:
        _log.warning("%s: partitions %s ended before their acknowledged offsets", topic, sorted(waiting))
    return found
