"""The CDC connector as a separate process, so it can be killed mid-stream and restarted.

``python -m platform_kit.ingestion._cdc_worker CONFIG.json`` runs a :class:`CdcConnector`
until SIGTERM (graceful: flush, checkpoint, exit 0) or until its parent dies. SIGKILL is the
crash: whatever was produced but not yet checkpointed is streamed again on the next start.
:class:`ConnectorProcess` starts, watches, kills and stops it from a notebook or a test.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import ServiceError
from platform_kit.ingestion._cdc_connector import CdcConnector, LsnStore, PgReplicationSource
from platform_kit.ingestion._pgoutput import format_lsn

__all__ = ["ConnectorProcess", "main"]

_log = logging.getLogger(__name__)

#: Producer settings of the connector: acknowledged by all in-sync replicas, and ordered per partition
#: because only one request is in flight; 20 ms of linger batches the events of busy moments. The idempotent producer would also drop retry duplicates, but
#: its producer-id handshake delays the first delivery by 0.5-1 s on the embedded broker (measured), and
#: the consumer deduplicates anyway (the crash window re-sends events in any case).
PRODUCER_SETTINGS = {"acks": "all", "linger.ms": 20, "enable.idempotence": False,
                     "max.in.flight.requests.per.connection": 1}
_ONE_SHOT_FAULTS = ("crash_after_events", "inject_garbage_after")


class ConnectorProcess:
    """A running connector process and its checkpoint file.

    Args:
        config: Worker settings: ``dsn``, ``producer`` (confluent config), ``slot``, ``publication``,
            ``topic_prefix``, ``dlq_topic``, ``state_path``, ``primary_keys``, optional
            ``partitions``, ``crash_after_events``, ``inject_garbage_after``, ``checkpoint_interval_s``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = dict(config)
        self.store = LsnStore(self.config["state_path"])
        state = Path(self.config["state_path"])
        self.ready_path = state.with_name(state.name + ".ready")
        self.log_path = state.with_name(state.name + ".log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> ConnectorProcess:
        """Start the worker and wait until it streams (its replication connection is open)."""
        if self.alive:
            return self
        self.ready_path.unlink(missing_ok=True)
        config_path = self.ready_path.with_name(self.ready_path.name.replace(".ready", ".config.json"))
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(json.dumps({**self.config, "parent_pid": os.getpid()}))
        for fault in _ONE_SHOT_FAULTS:  # a restart is a clean connector
            self.config.pop(fault, None)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "platform_kit.ingestion._cdc_worker",
                                             str(config_path)], stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.ready_path.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ServiceError(f"CDC connector did not start (exit {self.process.poll()}): "
                                   f"{self._log_tail()}", fix=f"read {self.log_path}")
            time.sleep(0.02)
        return self

    def _log_tail(self, lines: int = 5) -> str:
        try:
            return " | ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    @property
    def checkpoint(self) -> dict[str, Any]:
        """The stored checkpoint (``{}`` before the first)."""
        return self.store.load() or {}

    def wait_for_lsn(self, lsn: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the checkpoint reaches ``lsn`` (read after your last commit: everything delivered)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.checkpoint
            if state.get("lsn", 0) >= lsn:
                return state
            if not self.alive:
                raise ServiceError(f"CDC connector exited ({self.returncode}) at {state.get('lsn_text', '0/0')} "
                                   f"before {format_lsn(lsn)}: {self._log_tail()}", fix=f"read {self.log_path}")
            if time.monotonic() > deadline:
                raise ServiceError(f"CDC connector still at {state.get('lsn_text', '0/0')} after {timeout:g} s, "
                                   f"waiting for {format_lsn(lsn)}", fix=f"read {self.log_path}")
            time.sleep(0.02)

    def wait_exit(self, timeout: float = 10.0) -> int | None:
        """Wait for the process to end by itself (e.g. an injected crash); returns its exit code."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> int | None:
        """SIGKILL: the crash (no flush, no checkpoint)."""
        if self.alive and self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            return self.process.wait(10)
        return self.returncode

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM: flush, checkpoint, close the stream, exit."""
        if self.alive and self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                return self.kill()
        return self.returncode


class _GarbageSource:
    """Wraps a source and, once, slips in a truncated frame (fault injection for the DLQ path)."""

    def __init__(self, source: PgReplicationSource, after: int) -> None:
        self.source, self.after, self.count = source, after, 0
        self.held: tuple[bytes, int] | None = None

    def read(self, timeout: float) -> tuple[bytes, int] | None:
        if self.held is not None:
            frame, self.held = self.held, None
            return frame
        frame = self.source.read(timeout)
        if frame is not None:
            self.count += 1
            if self.count == self.after:  # an extra, truncated copy first; the real frame next
                self.after, self.held = -1, frame
                return frame[0][:3], frame[1]
        return frame

    def confirm(self, lsn: int) -> None:
        self.source.confirm(lsn)

    def position(self) -> int:
        return self.source.position()

    def close(self) -> None:
        self.source.close()


def main(argv: list[str] | None = None) -> int:
    """Run the connector described by the JSON config file ``argv[0]``."""
    args = sys.argv[1:] if argv is None else argv
    config = json.loads(Path(args[0]).read_text())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s cdc[%(process)d] %(levelname)s %(message)s")
    confluent = require("confluent_kafka")
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    parent = int(config.get("parent_pid", os.getppid()))
    store = LsnStore(config["state_path"])
    start = store.lsn
    source: Any = PgReplicationSource(config["dsn"], config["slot"], config["publication"], start_lsn=start)
    if config.get("inject_garbage_after"):
        source = _GarbageSource(source, int(config["inject_garbage_after"]))
    producer = confluent.Producer({**config["producer"], **PRODUCER_SETTINGS})
    connector = CdcConnector(source, producer, store, topic_prefix=config["topic_prefix"],
                             dlq_topic=config["dlq_topic"], slot=config["slot"],
                             primary_keys=config.get("primary_keys"), partitions=config.get("partitions"),
                             checkpoint_interval_s=float(config.get("checkpoint_interval_s", 0.2)),
                             crash_after_events=config.get("crash_after_events"))
    Path(str(config["state_path"]) + ".ready").write_text(str(os.getpid()))
    logging.info("streaming slot %s from %s", config["slot"], format_lsn(start))
    stats = connector.run(should_stop=lambda: bool(stopping) or not _alive(parent))
    logging.info("stopped at %s: %s", format_lsn(connector.stored_lsn), stats)
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
