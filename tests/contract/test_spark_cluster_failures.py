"""Failure tier of the Spark cluster: a dead worker, busy ports, bad config, no cluster at all."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_kit import Workbench
from platform_kit import _process as proc
from platform_kit.errors import ConfigError, DependencyMissingError, ServiceError
from platform_kit.services import SparkBackend

pytestmark = pytest.mark.contract


@pytest.fixture()
def fresh_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = Path(tempfile.mkdtemp(prefix="workbench-cluster-"))
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    yield home
    Workbench("embedded").down(["spark_cluster"])
    shutil.rmtree(home, ignore_errors=True)


def _cluster_jvms(data_dir: Path) -> list[int]:
    """Pids of the worker JVMs of the cluster whose data lives in ``data_dir`` (their work dir is under it)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "org.apache.spark.deploy.worker.Worker" in cmdline and str(data_dir) in cmdline:
            pids.append(int(entry.name))
    return pids


def test_cluster_dead_worker_is_reported_crashed_then_restarts(fresh_home: Path) -> None:
    workbench = Workbench("embedded", overrides={"spark_cluster": {"workers": 1, "worker_cores": 1}})
    cluster = workbench.service("spark_cluster")
    cluster.start(owned=True)
    workers = _cluster_jvms(cluster.data_dir)
    assert len(workers) == 1
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while cluster.status().state != "crashed" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert cluster.status().state == "crashed"  # the supervisor stopped the rest instead of limping on
    cluster.start(owned=True)
    assert cluster.state().alive_workers == 1
    record = proc.read_record(cluster.name)
    assert record is not None
    cluster.stop()
    assert not proc.pid_alive(record.pid)
    assert not [pid for pid in _cluster_jvms(cluster.data_dir) if proc.pid_alive(pid)]


def test_cluster_busy_master_port_falls_back(fresh_home: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        workbench = Workbench("embedded", overrides={"spark_cluster": {"port": busy, "workers": 1, "worker_cores": 1}})
        cluster = workbench.service("spark_cluster")
        cluster.start(owned=True)
        assert cluster.port != busy
        assert cluster.state().alive_workers == 1
        cluster.stop()


def test_cluster_master_losing_its_port_race_fails_instead_of_moving(
        fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process binds the port between choose_port and the master's bind (two clusters
    starting at once): the start fails with the master's log, no master moves to port + 1."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        busy = blocker.getsockname()[1]
        choose = proc.choose_port
        monkeypatch.setattr(proc, "choose_port", lambda host, preferred, **kw: (
            preferred if preferred == busy else choose(host, preferred, **kw)))  # "free" when it was checked
        workbench = Workbench("embedded", overrides={"spark_cluster": {
            "port": busy, "workers": 1, "worker_cores": 1, "start_timeout": 40}})
        cluster = workbench.service("spark_cluster")
        with pytest.raises(ServiceError) as caught:
            cluster.start(owned=True)
        assert not [pid for pid in _cluster_jvms(cluster.data_dir) if proc.pid_alive(pid)]
    master_log = (cluster.data_dir / "logs" / "master.log").read_text()
    assert "Successfully started service 'sparkMaster'" not in master_log
    assert "BindException" in master_log or "Address already in use" in master_log, caught.value


@pytest.mark.parametrize(("override", "needle"), [
    ({"worker_memory": "lots"}, "worker_memory"),
    ({"workers": 0}, "workers"),
    ({"speed": "fast"}, "speed"),
])
def test_cluster_bad_config_is_rejected_with_the_key(override: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Workbench("embedded", overrides={"spark_cluster": override})
    assert needle in str(caught.value)


def test_cluster_without_java_says_how_to_install(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(DependencyMissingError) as caught:
        Workbench("embedded").service("spark_cluster").start(owned=True)
    assert "java" in caught.value.message.lower() and "openjdk" in (caught.value.fix or "")


def test_session_falls_back_to_local_when_no_cluster_answers(fresh_home: Path) -> None:
    from platform_kit.spark import cluster_session

    workbench = Workbench("embedded", overrides={"spark_cluster": {
        "type": "external", "master_url": "spark://127.0.0.1:9", "ui_url": "http://127.0.0.1:9"}})
    spark, target = cluster_session(workbench, app_name="fallback")
    try:
        assert target.mode == "local" and not target.on_cluster
        assert "fell back to local[*]" in target.reason and "127.0.0.1:9" in target.reason
        assert spark.range(10).count() == 10
    finally:
        spark.stop()
        SparkBackend._session = None
