"""Service lifecycle through the CLI, and the failure tier: crashes, corrupt data, bad input."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_kit import Workbench
from platform_kit.errors import CorruptStateError, DependencyMissingError
from platform_kit.services import check_java
from platform_kit import _process as proc

pytestmark = pytest.mark.contract
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def fresh_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="workbench-cli-"))
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    yield home
    Workbench("embedded").down()
    shutil.rmtree(home, ignore_errors=True)


def _cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "platform_kit.cli", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=180, check=False)


def test_cli_up_status_down_cycle(fresh_home: Path) -> None:
    up = _cli("up", "object_store", "broker", "postgres", home=fresh_home)
    assert up.returncode == 0, up.stdout + up.stderr
    status = _cli("status", home=fresh_home)
    assert status.returncode == 0
    for kind in ("object_store", "broker", "postgres"):
        line = next(x for x in status.stdout.splitlines() if f" {kind} " in x)
        assert "running" in line and "yes" in line, line
    # services outlive `workbench up`: a notebook process attaches to them
    record = proc.read_record("broker")
    assert record is not None and proc.pid_alive(record.pid)
    down = _cli("down", home=fresh_home)
    assert down.returncode == 0
    assert not proc.pid_alive(record.pid)
    assert "running" not in _cli("status", "broker", home=fresh_home).stdout


def test_cli_unknown_profile_exits_2_with_fix(fresh_home: Path) -> None:
    done = _cli("status", "--profile", "prod", home=fresh_home)
    assert done.returncode == 2
    assert "unknown profile 'prod'" in done.stderr and "fix:" in done.stderr


def test_cli_unknown_service_exits_2(fresh_home: Path) -> None:
    done = _cli("up", "kafka", home=fresh_home)
    assert done.returncode == 2
    assert "unknown service 'kafka'" in done.stderr


def test_cli_doctor_reports_each_check(fresh_home: Path) -> None:
    done = _cli("doctor", home=fresh_home)
    for check in ("python", "java", "memory", "disk", "tansu", "pgserver", "docker"):
        assert check in done.stdout
    assert done.returncode == 0, done.stdout  # this machine has everything the embedded profile needs


def test_cli_reset_wipes_service_data(fresh_home: Path) -> None:
    workbench = Workbench("embedded")
    workbench.store.filesystem().pipe(workbench.store.uri("lake", "x.txt"), b"x")
    workbench.down()
    assert any((fresh_home / "data" / "object_store" / "lake").iterdir())
    done = _cli("reset", "--yes", home=fresh_home)
    assert done.returncode == 0, done.stderr
    assert not (fresh_home / "data" / "object_store").exists()


def test_crashed_service_is_reported_then_restarted(fresh_home: Path) -> None:
    workbench = Workbench("embedded")
    store = workbench.service("object_store")
    store.start(owned=True)
    record = proc.read_record("object_store")
    assert record is not None
    os.kill(record.pid, signal.SIGKILL)
    store._proc.wait(timeout=5)  # type: ignore[attr-defined]  # reap, as a parent would
    status = store.status()
    assert status.state == "crashed" and not status.healthy
    fresh = Workbench("embedded").service("object_store")
    fresh.start(owned=True)
    assert fresh.status().state == "running"
    fresh.stop()


def test_corrupt_postgres_data_dir_is_refused_with_fix(fresh_home: Path) -> None:
    data = fresh_home / "data" / "postgres"
    data.mkdir(parents=True)
    (data / "garbage.txt").write_text("not a cluster")
    with pytest.raises(CorruptStateError) as info:
        Workbench("embedded").service("postgres").start()
    assert "PG_VERSION missing" in info.value.message
    assert "workbench reset postgres" in (info.value.fix or "")


def test_missing_java_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DependencyMissingError) as info:
        check_java()
    assert "openjdk-17-jre-headless" in (info.value.fix or "")


def test_tansu_on_local_folders_is_a_config_error(fresh_home: Path) -> None:
    from platform_kit.errors import ConfigError

    workbench = Workbench("embedded", overrides={"object_store": {"type": "local"}})
    with pytest.raises(ConfigError, match="needs an S3 object store"):
        workbench.service("broker").start()
