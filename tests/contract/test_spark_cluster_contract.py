"""Contract of the ``spark_cluster`` kind: a standalone master with workers that run real executors.

Runs against the embedded cluster (master + workers from pip pyspark) and, when reachable, the
compose stack's master. One application is started on it and measured through the REST API.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from platform_kit import _process as proc
from platform_kit.services import SparkBackend

from ._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module", params=PROFILES)
def cluster(request: pytest.FixtureRequest) -> Any:
    return started_service(request, "spark_cluster")


@pytest.fixture(scope="module")
def application(cluster: Any) -> Iterator[tuple[Any, Any]]:
    from platform_kit.spark import cluster_session

    spark, target = cluster_session(cluster.workbench, {"spark.executor.cores": "1", "spark.executor.memory": "512m"},
                                    app_name="contract")
    yield spark, target
    spark.stop()
    SparkBackend._session = None  # later tests get a fresh local session


def test_cluster_reports_alive_workers_with_their_cores(cluster: Any) -> None:
    state = cluster.state()
    assert state.status == "ALIVE"
    assert state.alive_workers >= 1
    if cluster.config.type == "embedded":
        assert state.alive_workers == cluster.config.workers
        assert state.cores == cluster.config.workers * cluster.config.worker_cores
    assert cluster.master_url.startswith("spark://")


def test_cluster_status_is_healthy(cluster: Any) -> None:
    status = cluster.status()
    assert status.healthy, status
    assert "workers" in status.detail


def test_application_runs_on_separate_executor_jvms(application: tuple[Any, Any], cluster: Any) -> None:
    spark, target = application
    assert target.on_cluster and target.master == cluster.master_url
    assert target.executors >= 2  # 1-core executors: at least one per worker
    pids = spark.sparkContext.parallelize(range(16), 8).map(lambda _: os.getpid()).distinct().collect()
    # tasks ran in Python workers forked by executor JVMs, not in this driver process
    assert os.getpid() not in pids
    assert cluster.state().active_apps >= 1


def test_application_job_is_measured_through_rest_api(application: tuple[Any, Any]) -> None:
    from platform_kit.spark import measure

    spark, _ = application
    frame = spark.range(0, 200_000, numPartitions=4).selectExpr("id % 97 AS k").groupBy("k").count()
    metrics = measure(spark, frame.collect, "contract-agg")
    assert len(metrics.result) == 97
    assert len(metrics.stages) >= 2  # a map stage and a reduce stage behind a shuffle
    assert metrics.shuffle_bytes > 0 and metrics.task_ms > 0


def test_embedded_cluster_secret_is_private_and_given_to_applications(cluster: Any) -> None:
    if cluster.config.type != "embedded":
        pytest.skip("an external cluster manages its own authentication")
    properties = cluster.data_dir / "cluster.properties"
    assert properties.stat().st_mode & 0o077 == 0  # readable by its owner only
    conf = cluster.application_conf()
    assert conf["spark.authenticate"] == "true" and len(conf["spark.authenticate.secret"]) >= 32
    record = proc.read_record(cluster.name)
    assert record is not None
    cmdline = open(f"/proc/{record.pid}/cmdline", "rb").read().decode()
    assert conf["spark.authenticate.secret"] not in cmdline


def test_application_after_a_local_session_still_authenticates(cluster: Any, application: tuple[Any, Any]) -> None:
    """Cluster, then local, then cluster in one driver JVM (the order of a notebook that falls back)."""
    from platform_kit.spark import cluster_session

    if cluster.config.type != "embedded":
        pytest.skip("only the embedded cluster authenticates with a per-start secret")
    application[0].stop()
    SparkBackend._session = None
    local, target = cluster_session(cluster.workbench, use_cluster=False, app_name="contract-local")
    assert not target.on_cluster
    assert local.range(10).count() == 10
    again, target = cluster_session(cluster.workbench, {"spark.executor.cores": "1"}, app_name="contract-again",
                                    executor_timeout=30)
    assert target.on_cluster and target.executors >= 1
    assert again.range(1000, numPartitions=4).count() == 1000
    again.stop()
    SparkBackend._session = None


def test_embedded_cluster_stops_every_jvm(cluster: Any, application: tuple[Any, Any]) -> None:
    if cluster.config.type != "embedded":
        pytest.skip("an external cluster is not ours to stop")
    spark, _ = application
    spark.stop()
    SparkBackend._session = None
    record = proc.read_record(cluster.name)
    assert record is not None
    cluster.stop()
    assert not proc.pid_alive(record.pid)
    assert cluster.status().state == "stopped"

