"""The one entry point labs use: ``pk = platform_kit.connect()``.

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from platform_kit._state import state_dir
from platform_kit.config import load_raw_config
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.registry import BackendConfig
from platform_kit.services import (
    KINDS, OLAP, REGISTRIES, Broker, ObjectStore, Postgres, SchemaRegistry, Service, ServiceStatus, SparkCluster,
)

_log = logging.getLogger(__name__)

__all__ = ["DataSettings", "Workbench", "connect"]


class DataSettings(BaseModel):
    """The ``data:`` section: default scale and seed of the synthetic company."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scale: str = "tiny"
    seed: int = Field(42, ge=0)


class Workbench:
    """Clients of every engine of one profile, started lazily on first use.

    Attributes are the clients labs use: :attr:`spark` (a SparkSession), :attr:`broker`,
    :attr:`store` (object store), :attr:`olap` (ClickHouse SQL) and :attr:`pg`
    (PostgreSQL). Services started through these attributes are *owned*: they stop
    when the process exits, unless ``workbench up`` already runs them (then they are
    shared and left running).

    Args:
        profile: Profile name (``embedded``, ``compose``...); ``None`` reads
            ``$WORKBENCH_PROFILE``, then defaults to ``embedded``.
        overrides: Nested mapping merged over the loaded config, e.g.
            ``{"broker": {"port": 0}}``.
    """

    def __init__(self, profile: str | None = None, overrides: dict[str, Any] | None = None) -> None:
        from platform_kit.config._loader import deep_merge

        raw = load_raw_config(profile)
        if overrides:
            raw = deep_merge(raw, overrides)
        self.profile: str = raw.pop("profile")
        unknown = set(raw) - set(KINDS) - {"data"}
        if unknown:
            raise ConfigError(
                f"unknown config sections: {', '.join(sorted(unknown))}; valid: data, {', '.join(KINDS)}",
                fix="remove or rename them in environments/*.yml",
            )
        self.data = DataSettings.model_validate(raw.get("data", {}))
        self.configs: dict[str, BackendConfig] = {}
        for kind in KINDS:
            section = raw.get(kind)
            if section is None:
                raise ConfigError(f"profile {self.profile!r} has no `{kind}:` section",
                                  fix="add it to environments/base.yml")
            self.configs[kind] = REGISTRIES[kind].parse_config(section)
        self._services: dict[str, Service] = {}

    def __repr__(self) -> str:
        kinds = ", ".join(f"{k}={c.type}" for k, c in self.configs.items())
        return f"<Workbench profile={self.profile!r} {kinds}>"

    @property
    def state_dir(self) -> Path:
        """Folder of lab state (service data, progress, catalog); wiped by ``workbench reset``."""
        return state_dir()

    # services -----------------------------------------------------------------
    def service(self, kind: str) -> Service:
        """The (not necessarily started) backend of ``kind``."""
        if kind not in REGISTRIES:
            raise ConfigError(f"unknown service {kind!r}; valid: {', '.join(KINDS)}",
                              fix=f"use one of: {', '.join(KINDS)}")
        if kind not in self._services:
            self._services[kind] = REGISTRIES[kind].create(self.configs[kind], workbench=self)
        return self._services[kind]

    def _started(self, kind: str) -> Any:
        service = self.service(kind)
        service.start(owned=True)
        return service

    @property
    def store(self) -> ObjectStore:
        """The object store (moto S3, an S3 endpoint, or local folders)."""
        return self._started("object_store")

    @property
    def broker(self) -> Broker:
        """The Kafka-protocol broker."""
        return self._started("broker")

    @property
    def schema_registry(self) -> SchemaRegistry:
        """The schema registry (embedded Confluent-API server, or a Confluent Schema Registry)."""
        return self._started("schema_registry")

    @property
    def olap(self) -> OLAP:
        """The ClickHouse-SQL engine (chdb or a ClickHouse server)."""
        return self._started("olap")

    @property
    def pg(self) -> Postgres:
        """PostgreSQL (embedded pgserver or external)."""
        return self._started("postgres")

    @property
    def spark(self) -> Any:
        """The process-wide SparkSession."""
        return self._started("spark").session()  # type: ignore[attr-defined]

    @property
    def spark_cluster(self) -> SparkCluster:
        """The Spark standalone cluster (embedded master + workers, or an external master)."""
        return self._started("spark_cluster")

    # lifecycle ----------------------------------------------------------------
    def _select(self, kinds: Iterable[str] | None) -> list[str]:
        chosen = list(kinds or KINDS)
        for kind in chosen:
            self.service(kind)  # validates the name
        return [k for k in KINDS if k in chosen]

    def up(self, kinds: Iterable[str] | None = None, *, owned: bool = False) -> list[ServiceStatus]:
        """Start ``kinds`` (default: all but on-demand ones such as the Spark cluster) in dependency
        order; returns their status."""
        selected = self._select(kinds)
        if kinds is None:
            selected = [k for k in selected if not getattr(self.service(k), "on_demand", False)]
        for kind in selected:
            service = self.service(kind)
            if not service.in_process:  # in-process engines start in the process that uses them
                service.start(owned=owned)
        return [self.service(k).status() for k in selected]

    def down(self, kinds: Iterable[str] | None = None) -> None:
        """Stop ``kinds`` (default: all) in reverse dependency order."""
        for kind in reversed(self._select(kinds)):
            self.service(kind).stop()

    def status(self, kinds: Iterable[str] | None = None) -> list[ServiceStatus]:
        """Health of each service, starting nothing."""
        return [self.service(k).status() for k in self._select(kinds)]

    def reset(self, kinds: Iterable[str] | None = None) -> list[str]:
        """Stop services and wipe their data; with no ``kinds`` also the progress store and runs.

        Returns:
            What was wiped, for display.
        """
        wiped: list[str] = []
        selected = self._select(kinds)
        self.down(selected)
        for kind in selected:
            service = self.service(kind)
            try:
                service.reset()
                wiped.append(f"{kind}: {service.data_dir}")
            except ServiceError as exc:
                wiped.append(f"{kind}: skipped ({exc.message})")
        if kinds is None:
            for extra in ("catalog", "baselines", "run", "logs", "progress.sqlite"):
                path = state_dir() / extra
                if path.is_dir():
                    shutil.rmtree(path)
                    wiped.append(str(path))
                elif path.exists():
                    path.unlink()
                    wiped.append(str(path))
        return wiped

    def close(self) -> None:
        """Stop what this process owns (services started by `workbench up` keep running)."""
        for kind in reversed(KINDS):
            service = self._services.get(kind)
            if service is not None and getattr(service, "_owned", False):
                service.stop()
        spark = self._services.get("spark")
        if spark is not None:
            spark.stop()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_CACHE: dict[str, Workbench] = {}


def connect(profile: str | None = None) -> Workbench:
    """Return the process's :class:`Workbench` for ``profile`` (created once, then reused).

    Args:
        profile: ``embedded`` (default), ``compose``, or another file in ``environments/``.

    Example:
        >>> pk = connect()                      # doctest: +SKIP
        >>> pk.olap.query_df("SELECT 1 AS one")  # doctest: +SKIP
    """
    from platform_kit.config import DEFAULT_PROFILE, PROFILE_ENV_VAR
    import os

    name = profile or os.environ.get(PROFILE_ENV_VAR) or DEFAULT_PROFILE
    if name not in _CACHE:
        _CACHE[name] = Workbench(name)
    return _CACHE[name]
