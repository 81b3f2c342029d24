"""Managed subprocesses: ports, crash reporting, stop (failure tier)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from platform_kit.errors import PortInUseError, ServiceError
from platform_kit import _process as proc


@pytest.fixture()
def busy_port() -> int:  # type: ignore[misc]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_choose_port_keeps_free_preferred_port() -> None:
    free = proc.choose_port("127.0.0.1", 0, strict=False, service="x")
    assert proc.choose_port("127.0.0.1", free, strict=False, service="x") == free


def test_choose_port_falls_back_when_busy(busy_port: int) -> None:
    chosen = proc.choose_port("127.0.0.1", busy_port, strict=False, service="broker")
    assert chosen != busy_port and chosen > 0


def test_choose_port_strict_busy_port_names_port_and_fix(busy_port: int) -> None:
    with pytest.raises(PortInUseError) as info:
        proc.choose_port("127.0.0.1", busy_port, strict=True, service="broker")
    assert str(busy_port) in info.value.message
    assert "WORKBENCH__BROKER__STRICT_PORT" in (info.value.fix or "")


def test_wait_until_reports_crash_with_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    child = proc.spawn([sys.executable, "-c", "print('boom: config broken'); raise SystemExit(3)"],
                       log_path=log, owned=True)
    with pytest.raises(ServiceError) as info:
        proc.wait_until(lambda: False, service="svc", timeout=20, proc=child, log_path=log)
    assert "exited with status 3" in info.value.message
    assert "boom: config broken" in info.value.message


def test_wait_until_times_out_instead_of_hanging(tmp_path: Path) -> None:
    log = tmp_path / "slow.log"
    child = proc.spawn([sys.executable, "-c", "import time; print('still booting'); time.sleep(60)"],
                       log_path=log, owned=True)
    with pytest.raises(ServiceError, match="did not become ready within 1 s"):
        proc.wait_until(lambda: False, service="slow", timeout=1, proc=child, log_path=log)
    child.wait(timeout=5)  # wait_until killed it
    assert child.returncode is not None


def test_stop_pid_terminates_process(tmp_path: Path) -> None:
    child = proc.spawn([sys.executable, "-c", "import time; time.sleep(60)"], log_path=tmp_path / "l", owned=True)
    assert proc.pid_alive(child.pid)
    assert proc.stop_pid(child.pid, timeout=5) is True
    child.wait(timeout=5)
    assert not proc.pid_alive(child.pid)
    assert proc.stop_pid(child.pid) is False


def test_records_round_trip_and_ignore_garbage() -> None:
    record = proc.ServiceRecord(name="unit", type="t", pid=1, endpoint="h:1", port=1, data_dir="d", log_path="l")
    proc.write_record(record)
    assert proc.read_record("unit") == record
    (proc._run_dir() / "unit.json").write_text("{not json")
    assert proc.read_record("unit") is None
    proc.remove_record("unit")
    assert proc.read_record("unit") is None
