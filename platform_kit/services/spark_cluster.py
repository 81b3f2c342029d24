"""Spark standalone clusters: one started here from pip pyspark, or an existing one.

``embedded`` runs a real master and N workers on 127.0.0.1 with pyspark's own
``bin/spark-class`` (no Spark download, no Docker), supervised as one process
(:mod:`platform_kit.services._spark_cluster_main`) so it is started, attached to,
health-checked and stopped like every other server: ``workbench up spark_cluster``.
``external`` points at a running master (the compose stack's, or a real cluster's):
the same lab code then runs there. Executors are real JVMs launched by the workers,
so executor layouts, dynamic allocation and shuffles between executors are real.

The cluster is started on demand (Lab 3 starts it; ``workbench up`` without names
leaves it alone) because its JVMs cost ~1 GiB and ~7 s of two cores.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
import urllib.request
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from platform_kit import _process as proc
from platform_kit.errors import DependencyMissingError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import ProcessService, Service, ServiceStatus

_log = logging.getLogger(__name__)

__all__ = ["SPARK_CLUSTERS", "ClusterState", "EmbeddedSparkCluster", "ExternalSparkCluster", "SparkCluster",
           "find_spark_home"]


def find_spark_home() -> Path:
    """The pip-installed pyspark folder, which ships ``bin/spark-class`` and all jars."""
    try:
        import pyspark
    except ImportError as exc:
        raise DependencyMissingError("pyspark is not installed", fix="`make install`") from exc
    home = Path(pyspark.__file__).parent
    launcher = home / "bin" / "spark-class"
    if not launcher.is_file():
        raise DependencyMissingError(f"{launcher} is missing from the pyspark package",
                                     fix="reinstall pyspark: `pip install --force-reinstall pyspark`")
    for script in (launcher, home / "bin" / "load-spark-env.sh", home / "bin" / "find-spark-home"):
        if script.is_file() and not script.stat().st_mode & 0o111:
            script.chmod(script.stat().st_mode | 0o755)
    return home


@dataclass(frozen=True)
class ClusterState:
    """What the master reports: workers, cores, memory and applications."""

    master_url: str
    status: str
    alive_workers: int
    cores: int
    cores_used: int
    memory_mb: int
    memory_used_mb: int
    active_apps: int
    workers: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ClusterState:
        """Build from the master UI's ``/json/`` document."""
        return cls(doc.get("url", ""), doc.get("status", "?"), int(doc.get("aliveworkers", 0)),
                   int(doc.get("cores", 0)), int(doc.get("coresused", 0)), int(doc.get("memory", 0)),
                   int(doc.get("memoryused", 0)), len(doc.get("activeapps", [])),
                   tuple(w for w in doc.get("workers", []) if w.get("state") == "ALIVE"))


def _get_json(url: str, timeout: float = 2.0) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own URLs
        return json.loads(response.read())


class SparkCluster(Service):
    """Interface of the ``spark_cluster`` kind."""

    kind = "spark_cluster"
    #: Started only when named (``workbench up spark_cluster``) or by the lab that needs it.
    on_demand = True

    @property
    @abstractmethod
    def master_url(self) -> str:
        """``spark://host:port`` for ``SparkSession.builder.master``."""

    @property
    @abstractmethod
    def ui_url(self) -> str:
        """The master web UI (its ``/json/`` document is the health check)."""

    def application_conf(self) -> dict[str, str]:
        """Settings an application needs to run on this cluster (none for an external one)."""
        return {}

    def state(self) -> ClusterState:
        """Ask the master for its workers and applications."""
        try:
            return ClusterState.from_json(_get_json(self.ui_url.rstrip("/") + "/json/"))
        except (OSError, ValueError) as exc:
            raise ServiceError(f"Spark master UI at {self.ui_url} did not answer: {exc}",
                               fix="`workbench status spark_cluster`; `workbench up spark_cluster`") from exc


class EmbeddedSparkClusterConfig(BackendConfig):
    """A master and ``workers`` workers started here from the pip pyspark."""

    type: Literal["embedded"] = "embedded"
    host: str = "127.0.0.1"
    port: int = Field(17077, ge=0, le=65535, description="master RPC port")
    ui_port: int = Field(18080, ge=0, le=65535, description="master web UI port")
    strict_port: bool = False
    workers: int = Field(2, ge=1, le=16)
    worker_cores: int = Field(2, ge=1, le=64, description="cores each worker offers (may exceed the machine's)")
    worker_memory: str = Field("2g", pattern=r"^\d+[mMgG]$")
    daemon_memory: str = Field("256m", pattern=r"^\d+[mMgG]$", description="heap of the master/worker JVMs")
    start_timeout: float = Field(90.0, gt=0)


class ExternalSparkClusterConfig(BackendConfig):
    """A running standalone master (compose's ``spark-master``, or your own)."""

    type: Literal["external"] = "external"
    master_url: str = Field(pattern=r"^spark://")
    ui_url: str = Field(pattern=r"^https?://")


SPARK_CLUSTERS: Registry[SparkCluster] = Registry("spark_cluster")


@SPARK_CLUSTERS.register("embedded", EmbeddedSparkClusterConfig)
class EmbeddedSparkCluster(SparkCluster, ProcessService):
    """Master + workers from ``pyspark/bin/spark-class``, supervised as one process."""

    config: EmbeddedSparkClusterConfig

    @property
    def start_timeout(self) -> float:  # type: ignore[override]
        return self.config.start_timeout

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.config.host

    @property
    def _ports_file(self) -> Path:
        return self.data_dir / "ports.json"

    def _ui_port(self) -> int:
        try:
            return int(json.loads(self._ports_file.read_text())["ui_port"])
        except (OSError, ValueError, KeyError):
            return self.config.ui_port

    @property
    def master_url(self) -> str:
        if self.port is None:
            raise ServiceError("the Spark cluster is not started",
                               fix="call start() or run `workbench up spark_cluster`")
        return f"spark://{self.host}:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self._ui_port()}"

    def application_conf(self) -> dict[str, str]:
        """Settings every application needs here: the cluster's shared secret (each start makes
        a new one, so stale workers of an earlier cluster cannot join) and this interpreter for
        the executors' Python workers (same machine, same virtualenv)."""
        conf = {"spark.pyspark.python": sys.executable}
        properties = self.data_dir / "cluster.properties"
        if properties.is_file():
            for line in properties.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key.startswith("spark.authenticate"):
                    conf[key] = value.strip()
        return conf

    def before_start(self, owned: bool) -> None:
        from platform_kit.services.spark import check_java

        check_java()

    def command(self, port: int) -> list[str]:
        ui_port = proc.choose_port(self.host, self.config.ui_port, strict=self.config.strict_port,
                                   service=f"{self.name} UI")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_hex(24)
        properties = self.data_dir / "cluster.properties"
        properties.touch(mode=0o600)
        properties.chmod(0o600)
        # maxRetries 0: a master whose port was taken between choose_port and its bind (another
        # cluster starting at the same moment) must fail, not move silently to port + 1 while the
        # workers and the record still name the port it lost.
        properties.write_text(f"spark.authenticate true\nspark.authenticate.secret {secret}\n"
                              "spark.port.maxRetries 0\n")
        spec = {"properties_file": str(properties),"host": self.host, "master_port": port, "ui_port": ui_port,
                "workers": self.config.workers, "worker_cores": self.config.worker_cores,
                "worker_memory": self.config.worker_memory, "daemon_memory": self.config.daemon_memory,
                "spark_home": str(find_spark_home()), "work_dir": str(self.data_dir),
                "start_timeout": self.config.start_timeout}
        (self.data_dir / "cluster.json").write_text(json.dumps(spec, indent=1))
        self._ports_file.write_text(json.dumps({"master_port": port, "ui_port": ui_port}))
        return [sys.executable, "-m", "platform_kit.services._spark_cluster_main",
                str(self.data_dir / "cluster.json")]

    def environment(self) -> dict[str, str]:
        java_home = os.environ.get("JAVA_HOME")
        return {"JAVA_HOME": java_home} if java_home else {}

    def ready(self, port: int) -> bool:
        if not proc.port_open(self.host, port):
            return False
        try:
            state = ClusterState.from_json(_get_json(f"http://{self.host}:{self._ui_port()}/json/"))
        except (OSError, ValueError):  # a master going down resets the connection
            return False
        return state.status == "ALIVE" and state.alive_workers >= self.config.workers

    def status(self) -> ServiceStatus:
        status = super().status()
        if status.state == "running":
            detail = f"master {self.host}:{status.endpoint.split(':')[-1] if status.endpoint else '?'}, UI {self.ui_url}"
            try:
                state = self.state()
                detail += f"; {state.alive_workers} workers, {state.cores} cores, {state.active_apps} apps"
            except ServiceError:
                detail += "; master UI not answering"
            return ServiceStatus(status.kind, status.type, status.state, status.healthy, status.endpoint,
                                 status.pid, status.data_dir, f"{detail}; {status.detail}")
        return status

    def describe(self) -> dict[str, Any]:
        return {"type": "embedded", "master_url": self.master_url if self.port else None, "ui_url": self.ui_url,
                "workers": self.config.workers, "worker_cores": self.config.worker_cores,
                "worker_memory": self.config.worker_memory}


@SPARK_CLUSTERS.register("external", ExternalSparkClusterConfig)
class ExternalSparkCluster(SparkCluster):
    """Connects to an existing standalone master; never starts one."""

    config: ExternalSparkClusterConfig

    @property
    def master_url(self) -> str:
        return self.config.master_url

    @property
    def ui_url(self) -> str:
        return self.config.ui_url

    def start(self, *, owned: bool = True) -> None:
        state = self.state()
        if state.status != "ALIVE" or state.alive_workers == 0:
            raise ServiceError(f"Spark master {self.master_url} is {state.status} with "
                               f"{state.alive_workers} alive workers",
                               fix="start workers (compose: `docker compose --profile lab3 up -d`)")

    def stop(self) -> None:
        """An external cluster is not ours to stop."""

    def status(self) -> ServiceStatus:
        try:
            state = self.state()
        except ServiceError as exc:
            return ServiceStatus(self.kind, "external", "unreachable", False, self.master_url, detail=exc.message)
        return ServiceStatus(self.kind, "external", "external", state.status == "ALIVE" and state.alive_workers > 0,
                             self.master_url, detail=f"{state.alive_workers} workers, {state.cores} cores")

    def reset(self) -> None:
        """Nothing of an external cluster lives in our state folder."""
