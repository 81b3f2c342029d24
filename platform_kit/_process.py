"""Managed subprocesses: ports, start with health wait, state records, stop.

A service started by ``workbench up`` is detached (its own session) and recorded in
``<state>/run/<name>.json`` so later processes (a notebook, ``workbench status``)
attach to it. A service started implicitly by a notebook or a test is *owned*: it
is stopped at interpreter exit, and a guardian process (:func:`guard`) stops it if the
owner dies without running exit hooks, so a killed kernel leaves no orphans.
(``PR_SET_PDEATHSIG`` is not used: it fires when the starting *thread* exits.)
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from platform_kit._state import state_dir
from platform_kit.errors import PortInUseError, ServiceError

_log = logging.getLogger(__name__)

__all__ = [
    "ServiceRecord",
    "choose_port",
    "pid_alive",
    "port_open",
    "read_record",
    "remove_record",
    "spawn",
    "guard",
    "stop_pid",
    "tail",
    "wait_until",
    "write_record",
]


@dataclass
class ServiceRecord:
    """What a running service left in the state directory for others to find it."""

    name: str
    type: str
    pid: int
    endpoint: str
    port: int
    data_dir: str
    log_path: str
    started_at: float = field(default_factory=time.time)
    owner_pid: int | None = None  # set when owned by a notebook/test process
    extra: dict[str, str] = field(default_factory=dict)


def _run_dir() -> Path:
    path = state_dir() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_record(record: ServiceRecord) -> None:
    """Persist ``record`` atomically under ``<state>/run``."""
    target = _run_dir() / f"{record.name}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(record), indent=1))
    tmp.replace(target)


def read_record(name: str) -> ServiceRecord | None:
    """Return the record of service ``name`` if one exists and parses."""
    path = _run_dir() / f"{name}.json"
    if not path.is_file():
        return None
    try:
        return ServiceRecord(**json.loads(path.read_text()))
    except (ValueError, TypeError) as exc:
        _log.warning("ignoring unreadable service record %s: %s", path, exc)
        return None


def remove_record(name: str) -> None:
    """Delete the record of service ``name`` (no error when absent)."""
    (_run_dir() / f"{name}.json").unlink(missing_ok=True)


def pid_alive(pid: int | None) -> bool:
    """True when a process ``pid`` exists and is not a zombie."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, preferred: int, *, strict: bool, service: str) -> int:
    """Return ``preferred`` if free, else a free port (or raise when ``strict``).

    Args:
        host: Interface to bind, normally 127.0.0.1.
        preferred: Wanted port; 0 asks the OS for any free port.
        strict: Raise :class:`PortInUseError` instead of falling back.
        service: Service name, for messages.
    """
    if preferred and _port_free(host, preferred):
        return preferred
    if preferred and strict:
        raise PortInUseError(
            f"{service}: port {preferred} on {host} is already in use",
            fix=f"stop the process using it (`ss -ltnp 'sport = :{preferred}'`), or set "
            f"WORKBENCH__{service.upper()}__STRICT_PORT=false to pick a free port",
        )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = int(sock.getsockname()[1])
    if preferred:
        _log.warning("%s: port %d busy, using %d instead", service, preferred, port)
    return port


def spawn(
    cmd: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    owned: bool,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` with stdout/stderr appended to ``log_path``.

    Args:
        cmd: Program and arguments.
        log_path: File receiving the process output.
        env: Extra environment variables.
        cwd: Working directory.
        owned: True keeps the child in this process group (callers add a guardian);
            False detaches it into its own session so it outlives the caller.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "ab") as log:
        log.write(f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(cmd)}\n".encode())
        log.flush()
        try:
            return subprocess.Popen(  # noqa: S603 - commands are built by the package
                list(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=not owned,
            )
        except OSError as exc:
            raise ServiceError(f"cannot execute {cmd[0]}: {exc}", fix="reinstall with `make install`") from exc


def guard(stop_command: Sequence[str], *, log_path: Path) -> subprocess.Popen[bytes]:
    """Start a guardian that runs ``stop_command`` once this process is gone.

    The guardian lives in its own session, so killing this process's group (as Jupyter
    does to a kernel) does not take the guardian down before it has cleaned up.
    Kill the returned process when stopping the service normally.
    """
    import sys

    command = [sys.executable, "-m", "platform_kit._guardian", "--owner", str(os.getpid()),
               "--", *stop_command]
    return spawn(command, log_path=log_path, owned=False)


def tail(path: Path | str, lines: int = 20) -> str:
    """Return the last ``lines`` lines of a log file ('' when missing)."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(
    ready: Callable[[], bool],
    *,
    service: str,
    timeout: float,
    proc: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
    interval: float = 0.1,
) -> None:
    """Poll ``ready`` until true; fail fast with the log tail if ``proc`` exits.

    Raises:
        ServiceError: The process exited, or ``timeout`` passed; the message carries
            the last lines of the service log, so a crash is never a silent hang.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(
                f"{service} exited with status {proc.returncode} while starting; last log lines:\n"
                f"{tail(log_path) if log_path else '(no log)'}",
                fix=f"read the full log at {log_path}, then `workbench doctor`",
            )
        try:
            if ready():
                return
        except Exception as exc:  # a probe may fail while the server boots
            _log.debug("%s not ready yet: %s", service, exc)
        time.sleep(interval)
    if proc is not None and proc.poll() is None:
        proc.kill()
    raise ServiceError(
        f"{service} did not become ready within {timeout:.0f} s; last log lines:\n"
        f"{tail(log_path) if log_path else '(no log)'}",
        fix=f"read the full log at {log_path}; `workbench doctor` checks ports, memory and disk",
    )


def stop_pid(pid: int, *, timeout: float = 10.0, group: bool = False) -> bool:
    """SIGTERM ``pid`` (or its process group), then SIGKILL after ``timeout``.

    Returns:
        True if the process was running.
    """
    if not pid_alive(pid):
        return False
    sender = os.killpg if group else os.kill
    try:
        sender(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    try:
        sender(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _log.warning("pid %d ignored SIGTERM for %.0f s and was killed", pid, timeout)
    return True
