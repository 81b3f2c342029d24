"""The interface every backend implements, and the shared logic of server processes."""

from __future__ import annotations

import atexit
import os
import fcntl
import logging
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from platform_kit._state import state_dir
from platform_kit.errors import ServiceError
from platform_kit.registry import BackendConfig
from platform_kit import _process as proc

if TYPE_CHECKING:
    from platform_kit._workbench import Workbench

_log = logging.getLogger(__name__)

__all__ = ["ProcessService", "Service", "ServiceStatus"]


@dataclass(frozen=True)
class ServiceStatus:
    """One line of ``workbench status``.

    ``state`` is one of: ``running`` (a server we manage is up), ``in-process``
    (a library engine such as chdb or local Spark), ``external`` (a server we only
    connect to), ``stopped``, ``crashed`` (a record exists but its process died) or
    ``unreachable`` (an external server does not answer).
    """

    kind: str
    type: str
    state: str
    healthy: bool
    endpoint: str | None = None
    pid: int | None = None
    data_dir: str | None = None
    detail: str = ""


class Service(ABC):
    """A backend of one kind (broker, object store, OLAP, PostgreSQL, Spark).

    Args:
        config: The backend's validated config.
        workbench: The owning :class:`~platform_kit.Workbench`, used to reach other
            services this one depends on (tansu needs the object store).
    """

    kind: ClassVar[str]
    #: True for engines living inside the calling process (chdb, local Spark, folders):
    #: `workbench up` cannot start them on behalf of other processes.
    in_process: ClassVar[bool] = False

    def __init__(self, config: BackendConfig, workbench: Workbench, *, name: str | None = None) -> None:
        self.config = config
        self.workbench = workbench
        self._instance_name = name

    @property
    def name(self) -> str:
        """Name used for records, logs, locks and data directories: the kind, unless this is an
        extra instance given its own ``name`` (e.g. a private broker for one demo)."""
        return self._instance_name or self.kind

    @property
    def data_dir(self) -> Path:
        """Where this service keeps data that must survive restarts."""
        return state_dir() / "data" / self.name

    @property
    def log_path(self) -> Path:
        """The service's log file."""
        return state_dir() / "logs" / f"{self.name}.log"

    @abstractmethod
    def start(self, *, owned: bool = True) -> None:
        """Make the service usable: attach to a running one or start it (idempotent).

        Args:
            owned: True stops the service when this process exits (notebooks, tests);
                False leaves it running for other processes (``workbench up``).
        """

    @abstractmethod
    def stop(self) -> None:
        """Stop the service if this package manages it (idempotent)."""

    @abstractmethod
    def status(self) -> ServiceStatus:
        """Report health without starting anything."""

    def reset(self) -> None:
        """Wipe the service's data (the service must be stopped)."""
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
            _log.info("%s: wiped %s", self.name, self.data_dir)


class ProcessService(Service):
    """A server run as a managed subprocess that other processes can attach to."""

    host: str = "127.0.0.1"
    start_timeout: float = 60.0

    def __init__(self, config: BackendConfig, workbench: Workbench, *, name: str | None = None) -> None:
        super().__init__(config, workbench, name=name)
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._owned = False

    # subclasses describe the process --------------------------------------
    @abstractmethod
    def command(self, port: int) -> list[str]:
        """The command line that starts the server on ``port``."""

    def environment(self) -> dict[str, str]:
        """Extra environment variables for the server process."""
        return {}

    @abstractmethod
    def ready(self, port: int) -> bool:
        """True once the server on ``port`` answers real requests."""

    def preferred_port(self) -> tuple[int, bool]:
        """(port, strict) from the config."""
        return int(getattr(self.config, "port", 0)), bool(getattr(self.config, "strict_port", False))

    def before_start(self, owned: bool) -> None:
        """Hook run before spawning (e.g. start a dependency with the same ownership)."""

    def after_start(self, port: int) -> None:
        """Hook run once the server is ready (e.g. create buckets)."""

    @property
    def endpoint(self) -> str:
        """host:port of the running server."""
        if self.port is None:
            raise ServiceError(f"{self.name} is not started", fix=f"call start() or run `workbench up {self.name}`")
        return f"{self.host}:{self.port}"

    # lifecycle ---------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        path = state_dir() / "run" / f"{self.name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _attach(self) -> bool:
        record = proc.read_record(self.name)
        if record is None:
            return False
        if record.type == self.config.type and proc.pid_alive(record.pid) and self.ready(record.port):
            self.port = record.port
            return True
        if not proc.pid_alive(record.pid):
            _log.warning(
                "%s (pid %d) is no longer running; restarting. Last log lines:\n%s",
                self.name, record.pid, proc.tail(record.log_path, 10),
            )
        else:
            proc.stop_pid(record.pid)
        proc.remove_record(self.name)
        return False

    def start(self, *, owned: bool = True) -> None:
        if self.port is not None and self.ready(self.port):
            return
        self.before_start(owned)
        with self._lock():
            if self._attach():
                _log.info("%s: attached to running server at %s", self.name, self.endpoint)
                return
            wanted, strict = self.preferred_port()
            port = proc.choose_port(self.host, wanted, strict=strict, service=self.name)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            began = time.monotonic()
            child = proc.spawn(
                self.command(port), log_path=self.log_path, env=self.environment(), owned=owned
            )
            proc.wait_until(
                lambda: self.ready(port), service=self.name, timeout=self.start_timeout,
                proc=child, log_path=self.log_path,
            )
            self._proc, self.port, self._owned = child, port, owned
            proc.write_record(
                proc.ServiceRecord(
                    name=self.name, type=self.config.type, pid=child.pid, endpoint=self.endpoint,
                    port=port, data_dir=str(self.data_dir), log_path=str(self.log_path),
                    owner_pid=os.getpid() if owned else None,
                )
            )
            _log.info("%s started on %s in %.1f s", self.name, self.endpoint, time.monotonic() - began)
        self.after_start(port)
        if owned:
            self._guardian = proc.guard(["kill", "-TERM", str(child.pid)],
                                        log_path=self.log_path.with_name(f"{self.name}-guardian.log"))
            atexit.register(self.stop)

    def stop(self) -> None:
        guardian = getattr(self, "_guardian", None)
        if guardian is not None:  # stopping normally: the guardian has nothing left to do
            guardian.kill()
            guardian.wait(timeout=5)
            self._guardian = None
        record = proc.read_record(self.name)
        pid = self._proc.pid if self._proc is not None else (record.pid if record else None)
        if pid is not None:
            proc.stop_pid(pid)
        if self._proc is not None:
            self._proc.wait(timeout=5) if self._proc.poll() is None else None
        if record is not None and (pid is None or record.pid == pid):
            proc.remove_record(self.name)
        self._proc, self.port = None, None

    def status(self) -> ServiceStatus:
        record = proc.read_record(self.name)
        if record is None:
            return ServiceStatus(self.kind, self.config.type, "stopped", False, data_dir=str(self.data_dir))
        if not proc.pid_alive(record.pid):
            return ServiceStatus(
                self.kind, self.config.type, "crashed", False, record.endpoint, record.pid, record.data_dir,
                detail=proc.tail(record.log_path, 3),
            )
        healthy = self.ready(record.port)
        owner = f"owned by pid {record.owner_pid}" if record.owner_pid else "started by `workbench up`"
        return ServiceStatus(
            self.kind, self.config.type, "running", healthy, record.endpoint, record.pid, record.data_dir,
            detail=f"{owner}; log {record.log_path}",
        )

    def restart(self) -> None:
        """Stop and start again, keeping data (used to test durability)."""
        owned = self._owned
        self.stop()
        self.start(owned=owned)

    def describe(self) -> dict[str, Any]:
        """Connection facts for display."""
        return {"type": self.config.type, "endpoint": self.endpoint if self.port else None}
