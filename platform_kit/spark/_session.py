"""Spark sessions on the standalone cluster, one application at a time.

An executor layout (cores, memory, overhead, dynamic allocation) is fixed when an
application starts, so comparing layouts means stopping the session and starting a
new application: :func:`cluster_session` does that, keeps the workbench's settings
(event log, time zone, warehouse) and installs the new session as the process-wide
one (``pk.spark``). When the cluster cannot start, it falls back to ``local[*]`` and
says why in :attr:`SparkTarget.reason`, so a lab still runs (with the caveat shown).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from platform_kit._deps import require
from platform_kit.errors import ServiceError, WorkbenchError
from platform_kit.services.spark import SparkBackend, check_java

if TYPE_CHECKING:
    from platform_kit._workbench import Workbench

_log = logging.getLogger(__name__)

__all__ = ["FAST_START_JAVA_OPTIONS", "SparkTarget", "cluster_session", "executor_count", "wait_for_executors"]

#: JVM options for short jobs on small machines: C1-only JIT and the serial GC cut the first
#: job of a new application from ~10-16 s to ~7 s and steady 200k-row jobs from ~1.9 to ~0.7 s
#: on 2 cores (measured). Pass ``fast_start=False`` for long jobs on real clusters, where
#: C2-compiled code and G1 win.
FAST_START_JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"

#: Settings of the workbench's local session that do not carry over to a cluster application.
_LOCAL_ONLY = ("spark.driver.bindAddress",)


@dataclass(frozen=True)
class SparkTarget:
    """Where the current application runs.

    Attributes:
        mode: ``cluster`` (standalone master with separate executor JVMs) or ``local``.
        master: The master URL the session was built with.
        reason: Why it runs where it does (the fallback's cause when ``local``).
        ui_url: The driver's web UI (its ``/api/v1`` REST API feeds the measurements).
        cluster_ui_url: The standalone master's UI, when on a cluster.
        executors: Executors registered when the session was handed out.
        conf: The layout-specific settings this application was started with.
    """

    mode: Literal["cluster", "local"]
    master: str
    reason: str
    ui_url: str | None
    cluster_ui_url: str | None
    executors: int
    conf: Mapping[str, str]

    @property
    def on_cluster(self) -> bool:
        """True when executors are separate JVMs on the standalone cluster."""
        return self.mode == "cluster"


def executor_count(spark: Any) -> int:
    """Executors currently registered with the driver (0 in local mode: the driver runs tasks)."""
    jsc = spark.sparkContext._jsc.sc()
    if jsc.isLocal():
        return 0
    return max(0, int(jsc.getExecutorMemoryStatus().size()) - 1)  # the driver is listed too


def wait_for_executors(spark: Any, wanted: int, *, timeout: float = 60.0) -> int:
    """Block until ``wanted`` executors registered (or ``timeout``); returns how many did.

    Executors are JVMs the workers launch after the application registers (~3-10 s on
    two cores); timing a job before they are up measures their start, not the job.
    """
    if spark.sparkContext._jsc.sc().isLocal() or wanted <= 0:
        return 0
    deadline = time.monotonic() + timeout
    count = executor_count(spark)
    while count < wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        count = executor_count(spark)
    if count < wanted:
        _log.warning("only %d of %d executors registered within %.0f s", count, wanted, timeout)
    return count


def _base_conf(workbench: Workbench) -> dict[str, str]:
    backend = workbench.service("spark")
    conf = dict(backend.builder_conf())  # type: ignore[attr-defined]
    for key in _LOCAL_ONLY:
        conf.pop(key, None)
    # The REST API of the driver UI is how the lab reads stage metrics while the app runs.
    conf |= {"spark.ui.enabled": "true", "spark.ui.port": "0", "spark.ui.showConsoleProgress": "false",
             "spark.driver.host": "127.0.0.1"}
    return conf


def _expected_executors(cluster_cores: int, conf: Mapping[str, str]) -> int:
    if conf.get("spark.dynamicAllocation.enabled", "false").lower() == "true":
        return int(conf.get("spark.dynamicAllocation.initialExecutors", conf.get("spark.dynamicAllocation.minExecutors", "0")))
    per_executor = int(conf.get("spark.executor.cores", "0") or 0)
    cap = int(conf.get("spark.cores.max", str(cluster_cores)))
    if per_executor <= 0:
        return -1  # one executor per worker, whatever its cores: ask the master
    return max(1, min(cluster_cores, cap) // per_executor)


def cluster_session(
    workbench: Workbench,
    conf: Mapping[str, str] | None = None,
    *,
    app_name: str = "lab3",
    use_cluster: bool = True,
    fast_start: bool = True,
    executor_timeout: float = 60.0,
) -> tuple[Any, SparkTarget]:
    """Start a Spark application with ``conf`` on the cluster and make it ``pk.spark``.

    Any running session of this process is stopped first (one application per process).

    Args:
        workbench: The connected workbench (its ``spark_cluster`` service is started).
        conf: Layout settings for this application (``spark.executor.cores``...).
        app_name: Name shown in the master UI and the event log.
        use_cluster: False runs ``local[*]`` on purpose (reported as such).
        fast_start: Add :data:`FAST_START_JAVA_OPTIONS` to executors (and to the driver when
            this is the process's first JVM) unless ``conf`` sets Java options itself.
        executor_timeout: Seconds to wait for the expected executors.

    Returns:
        The SparkSession and where it runs.
    """
    sql = require("pyspark.sql")
    check_java()
    conf = dict(conf or {})
    reason, master, cluster_ui, cores = "local[*] requested", "local[*]", None, os.cpu_count() or 1
    cluster_conf: dict[str, str] = {}
    if use_cluster:
        try:
            cluster = workbench.spark_cluster
            state = cluster.state()
            master, cluster_ui, cores = cluster.master_url, cluster.ui_url, state.cores
            cluster_conf = cluster.application_conf()
            reason = f"standalone cluster: {state.alive_workers} workers, {state.cores} cores, {state.memory_mb} MiB"
        except WorkbenchError as exc:
            reason = f"fell back to local[*]: the Spark cluster could not start ({exc.message})"
            _log.warning(reason)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # PySpark picks the executors' Python from PYSPARK_PYTHON when the context starts (the conf
    # key is only honoured by spark-submit); without it they run `python3`, which lacks pyarrow.
    python = cluster_conf.pop("spark.pyspark.python", None)
    if python:
        os.environ.setdefault("PYSPARK_PYTHON", python)
    SparkBackend._session = None
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    settings = _base_conf(workbench) | cluster_conf
    if fast_start:
        settings["spark.executor.extraJavaOptions"] = FAST_START_JAVA_OPTIONS
        driver_opts = settings.get("spark.driver.extraJavaOptions", "")
        settings["spark.driver.extraJavaOptions"] = f"{FAST_START_JAVA_OPTIONS} {driver_opts}".strip()
    builder = sql.SparkSession.builder.appName(app_name).master(master)
    for key, value in (settings | conf).items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        raise ServiceError(f"Spark application failed to start on {master}: {str(exc).strip()[:600]}",
                           fix="check the layout settings fit the workers (`workbench status spark_cluster`)") from exc
    session.sparkContext.setLogLevel("ERROR")
    SparkBackend._session = session
    executors = 0
    if master != "local[*]":
        wanted = _expected_executors(cores, conf)
        if wanted < 0:
            wanted = state.alive_workers
        executors = wait_for_executors(session, wanted, timeout=executor_timeout)
    target = SparkTarget("cluster" if master != "local[*]" else "local", master, reason,
                         session.sparkContext.uiWebUrl, cluster_ui, executors, conf)
    _log.info("Spark application %s on %s (%d executors)", session.sparkContext.applicationId, master, executors)
    return session, target
