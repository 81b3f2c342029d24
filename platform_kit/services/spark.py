"""Spark: local mode (embedded), a standalone/YARN/k8s master, or Spark Connect.

One SparkSession per process, reused: starting one costs ~8-14 s here. Scaling out
is a config change (``type: standalone`` with ``master: spark://host:7077``, or
``type: connect`` with ``remote: sc://host:15002``), never a code change.

pyspark bundles no spark-avro, spark-sql-kafka or hadoop-aws jars and Maven is not
reachable offline, so labs read S3 through pyarrow/s3fs, Avro through fastavro and
Kafka through the Python clients. Spark 4 rejects nanosecond Parquet timestamps:
write microseconds (the datasets module does).

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from typing import Any, Literal

from pydantic import Field

from platform_kit._deps import require
from platform_kit._state import state_dir
from platform_kit.errors import DependencyMissingError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import Service, ServiceStatus

_log = logging.getLogger(__name__)

__all__ = ["SPARK_BACKENDS", "SparkBackend", "check_java"]


def check_java() -> str:
    """Return ``java -version``'s first line, or raise with how to install a JDK."""
    import subprocess

    java = shutil.which("java", path=os.path.join(os.environ.get("JAVA_HOME", ""), "bin") + os.pathsep
                        + os.environ.get("PATH", "")) if os.environ.get("JAVA_HOME") else shutil.which("java")
    fix = ("install a Java 17 runtime: `sudo apt-get install -y openjdk-17-jre-headless` (Debian/Ubuntu), "
           "`brew install openjdk@17` (macOS) or `conda install -c conda-forge openjdk=17`")
    if java is None:
        raise DependencyMissingError("Spark needs Java 17+, and no `java` is on PATH", fix=fix)
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, timeout=30)
    first = (done.stderr or done.stdout).strip().splitlines()[0] if (done.stderr or done.stdout) else ""
    if done.returncode != 0:
        raise DependencyMissingError(f"`java -version` failed: {first}", fix=fix)
    return first


class _SparkCommon(BackendConfig):
    app_name: str = "workbench"
    conf: dict[str, str] = {}


class LocalSparkConfig(_SparkCommon):
    """Spark in this process's JVM: ``local[*]`` uses every core."""

    type: Literal["local"] = "local"
    master: str = "local[*]"
    ui_enabled: bool = False
    ui_port: int = Field(4040, ge=0, le=65535)
    event_log: bool = True
    driver_memory: str = "2g"


class StandaloneSparkConfig(_SparkCommon):
    """A cluster manager URL: ``spark://host:7077``, ``yarn`` or ``k8s://...``."""

    type: Literal["standalone"] = "standalone"
    master: str
    driver_host: str | None = None
    ui_enabled: bool = True
    ui_port: int = Field(4040, ge=0, le=65535)
    event_log: bool = True
    driver_memory: str = "2g"
    executor_memory: str = "1g"
    executor_cores: int = 1


class ConnectSparkConfig(_SparkCommon):
    """A Spark Connect server: ``sc://host:15002``."""

    type: Literal["connect"] = "connect"
    remote: str


class SparkBackend(Service):
    """Spark session factory; one session per process."""

    in_process = True

    kind = "spark"
    _session: Any = None

    @property
    def event_log_dir(self) -> str:
        """Folder receiving Spark event logs (read by the stage-profiling lab)."""
        path = state_dir() / "spark-events"
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def builder_conf(self) -> dict[str, str]:
        """All ``spark.*`` settings the session is built with."""
        cfg = self.config
        conf: dict[str, str] = {}
        if isinstance(cfg, LocalSparkConfig | StandaloneSparkConfig):
            conf |= {
                "spark.driver.memory": cfg.driver_memory,
                "spark.ui.enabled": str(cfg.ui_enabled).lower(),
                "spark.ui.port": str(cfg.ui_port),
                "spark.ui.showConsoleProgress": "false",
                "spark.eventLog.enabled": str(cfg.event_log).lower(),
                "spark.sql.warehouse.dir": str(state_dir() / "spark-warehouse"),
                "spark.driver.extraJavaOptions": f"-Dderby.system.home={state_dir() / 'derby'}",
            }
            if cfg.event_log:
                conf["spark.eventLog.dir"] = "file://" + self.event_log_dir
        if isinstance(cfg, LocalSparkConfig):
            # Explicitly off: a cluster application started first in this JVM leaves spark.authenticate
            # in its system properties, and a local context that inherits it stores a random secret in
            # the JVM-wide Hadoop UGI, which every later cluster application would then present.
            conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1",
                     "spark.authenticate": "false"}
        if isinstance(cfg, StandaloneSparkConfig):
            conf |= {"spark.executor.memory": cfg.executor_memory, "spark.executor.cores": str(cfg.executor_cores)}
            if cfg.driver_host:
                conf["spark.driver.host"] = cfg.driver_host
        return conf | dict(cfg.conf)

    def session(self) -> Any:
        """The process-wide SparkSession, created on first use."""
        cls = SparkBackend
        if cls._session is not None:
            return cls._session
        sql = require("pyspark.sql")
        cfg = self.config
        builder = sql.SparkSession.builder.appName(cfg.app_name)
        if isinstance(cfg, ConnectSparkConfig):
            builder = builder.remote(cfg.remote)
        else:
            check_java()
            if isinstance(cfg, LocalSparkConfig):  # a cluster's executors must reach the driver
                os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            builder = builder.master(cfg.master)
        for key, value in self.builder_conf().items():
            builder = builder.config(key, value)
        began = time.monotonic()
        try:
            cls._session = builder.getOrCreate()
        except Exception as exc:
            raise ServiceError(f"Spark session failed to start ({cfg.type}): {str(exc).strip()[:800]}",
                               fix="`workbench doctor` checks Java and memory; for clusters check spark.master") from exc
        cls._session.sparkContext.setLogLevel("ERROR") if not isinstance(cfg, ConnectSparkConfig) else None
        _log.info("Spark session (%s) ready in %.1f s", cfg.type, time.monotonic() - began)
        return cls._session

    def start(self, *, owned: bool = True) -> None:
        self.session()

    def stop(self) -> None:
        cls = SparkBackend
        if cls._session is not None:
            cls._session.stop()
            cls._session = None

    def status(self) -> ServiceStatus:
        active = SparkBackend._session is not None
        target = getattr(self.config, "master", None) or getattr(self.config, "remote", None)
        detail = "session active in this process" if active else "starts on first use (~10 s)"
        ui = None
        if active and not isinstance(self.config, ConnectSparkConfig):
            ui = SparkBackend._session.sparkContext.uiWebUrl
            detail += f"; UI {ui}" if ui else ""
        return ServiceStatus(self.kind, self.config.type, "in-process", True, target, os.getpid() if active else None,
                             self.event_log_dir, detail)

    def reset(self) -> None:
        for name in ("spark-events", "spark-warehouse", "derby"):
            shutil.rmtree(state_dir() / name, ignore_errors=True)


SPARK_BACKENDS: Registry[SparkBackend] = Registry("spark")
SPARK_BACKENDS.register("local", LocalSparkConfig)(SparkBackend)
SPARK_BACKENDS.register("standalone", StandaloneSparkConfig)(SparkBackend)
SPARK_BACKENDS.register("connect", ConnectSparkConfig)(SparkBackend)
