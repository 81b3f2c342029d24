"""Preflight checks (``workbench doctor``): each finding says what is wrong and the fix.

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass
from typing import Literal

from platform_kit._state import state_dir
from platform_kit.errors import WorkbenchError

__all__ = ["Finding", "run_doctor"]

_MIN_RAM_GIB = 4.0
_MIN_DISK_GIB = 5.0


@dataclass(frozen=True)
class Finding:
    """One preflight result."""

    check: str
    level: Literal["ok", "warn", "fail"]
    message: str
    fix: str = ""


def _python() -> Finding:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] == (3, 11):
        return Finding("python", "ok", f"Python {version}")
    return Finding("python", "fail", f"Python {version}; the pinned stack is tested on 3.11",
                   "install Python 3.11 (pyenv install 3.11) and recreate .venv (`make clean install`)")


def _java() -> Finding:
    from platform_kit.services import check_java

    try:
        return Finding("java", "ok", check_java())
    except WorkbenchError as exc:
        return Finding("java", "fail", exc.message, exc.fix or "")


def _memory() -> Finding:
    try:
        with open("/proc/meminfo") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) for line in handle}
        avail = info["MemAvailable"] / 1024**2
    except (OSError, KeyError, ValueError):
        return Finding("memory", "warn", "cannot read /proc/meminfo", "make sure ~4 GiB RAM is free")
    if avail < _MIN_RAM_GIB:
        return Finding("memory", "warn", f"{avail:.1f} GiB RAM available; labs want {_MIN_RAM_GIB:.0f} GiB",
                       "close other programs or lower spark.driver_memory (WORKBENCH__SPARK__DRIVER_MEMORY=1g)")
    return Finding("memory", "ok", f"{avail:.1f} GiB RAM available")


def _disk() -> Finding:
    free = shutil.disk_usage(state_dir()).free / 1024**3
    if free < _MIN_DISK_GIB:
        return Finding("disk", "warn", f"{free:.1f} GiB free under {state_dir()}",
                       f"free space; labs at scale=small need ~{_MIN_DISK_GIB:.0f} GiB")
    return Finding("disk", "ok", f"{free:.1f} GiB free under {state_dir()}")


def _state_writable() -> Finding:
    path = state_dir()
    probe = path / ".doctor-probe"
    try:
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Finding("state dir", "fail", f"{path} is not writable: {exc}", "set WORKBENCH_HOME to a writable folder")
    return Finding("state dir", "ok", str(path))


def _ports(profile: str | None) -> list[Finding]:
    from platform_kit._workbench import Workbench
    from platform_kit import _process as proc

    findings: list[Finding] = []
    workbench = Workbench(profile)
    for kind, config in workbench.configs.items():
        port = getattr(config, "port", None)
        host = getattr(config, "host", "127.0.0.1")
        if not port or config.type not in {"moto", "tansu", "pgserver", "embedded"}:
            continue
        record = proc.read_record(kind)
        ours = record is not None and record.port == port and proc.pid_alive(record.pid)
        with socket.socket() as sock:
            busy = sock.connect_ex((host, port)) == 0
        if busy and not ours and not (kind == "postgres" and workbench.service(kind).status().state == "running"):
            strict = getattr(config, "strict_port", False)
            findings.append(Finding(
                f"port {port}", "fail" if strict else "warn",
                f"{kind} prefers {host}:{port}, which another process uses"
                + ("" if strict else "; a free port will be chosen instead"),
                f"free it (`ss -ltnp 'sport = :{port}'`) or set WORKBENCH__{kind.upper()}__PORT=0",
            ))
        else:
            findings.append(Finding(f"port {port}", "ok", f"{kind}: {host}:{port} " + ("used by our service" if busy else "free")))
    return findings


def _binaries() -> list[Finding]:
    from platform_kit.services.broker import find_tansu_binary

    findings = []
    try:
        findings.append(Finding("tansu", "ok", str(find_tansu_binary())))
    except WorkbenchError as exc:
        findings.append(Finding("tansu", "fail", exc.message, exc.fix or ""))
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        ok = (POSTGRES_BIN_PATH / "postgres").exists()
        findings.append(Finding("pgserver", "ok" if ok else "fail", str(POSTGRES_BIN_PATH),
                                "" if ok else "reinstall pgserver (`make install`); no wheel exists for Linux aarch64"))
    except ImportError:
        findings.append(Finding("pgserver", "fail", "pgserver is not installed", "`make install`"))
    from platform_kit.services.spark_cluster import find_spark_home

    try:
        findings.append(Finding("spark-class", "ok", str(find_spark_home() / "bin" / "spark-class")))
    except WorkbenchError as exc:
        findings.append(Finding("spark-class", "fail", exc.message, exc.fix or ""))
    return findings


def _docker(profile: str | None) -> Finding:
    import subprocess

    name = profile or os.environ.get("WORKBENCH_PROFILE") or "embedded"
    needed = name == "compose"
    level: Literal["ok", "fail"] = "fail" if needed else "ok"
    suffix = "" if needed else " (only the compose profile needs Docker)"
    docker = shutil.which("docker")
    if docker is None:
        return Finding("docker", level, "no docker client" + suffix,
                       "install Docker Engine and the compose plugin to use the compose profile")
    done = subprocess.run([docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                          check=False, timeout=20)
    if done.returncode != 0:
        return Finding("docker", level, "docker client found but no engine answers" + suffix,
                       "start the Docker daemon / Docker Desktop and give it >= 8 GB RAM")
    return Finding("docker", "ok", f"Docker engine {done.stdout.strip()}")


def run_doctor(profile: str | None = None) -> list[Finding]:
    """Run every preflight check for ``profile``; never raises for a failed check."""
    findings = [_python(), _java(), _memory(), _disk(), _state_writable()]
    findings += _binaries()
    try:
        findings += _ports(profile)
    except WorkbenchError as exc:
        findings.append(Finding("config", "fail", exc.message, exc.fix or ""))
    findings.append(_docker(profile))
    return findings
