"""OLAP engines speaking ClickHouse SQL: embedded chdb, or a ClickHouse server.

Both offer the same small surface: :meth:`OLAP.query_df` (SELECT into pandas),
:meth:`OLAP.execute` (DDL/DML), :meth:`OLAP.insert_df` (bulk load a DataFrame) and
:meth:`OLAP.query_value` (one scalar).

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from abc import abstractmethod
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from platform_kit._deps import require
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import Service, ServiceStatus

_log = logging.getLogger(__name__)

__all__ = ["OLAP", "OLAP_ENGINES", "ChdbOLAP", "ClickHouseOLAP", "OLAPQueryError"]


class OLAPQueryError(ServiceError):
    """The engine rejected a statement (syntax, unknown table...)."""


class OLAP(Service):
    """Interface of the OLAP kind."""

    kind = "olap"

    @abstractmethod
    def query_df(self, sql: str) -> pd.DataFrame:
        """Run a SELECT and return its rows."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run a statement that returns no rows (DDL, INSERT ... SELECT)."""

    @abstractmethod
    def insert_df(self, table: str, frame: pd.DataFrame) -> int:
        """Append ``frame`` to an existing ``table``; returns the rows inserted."""

    def query_value(self, sql: str) -> Any:
        """The single value of a one-row, one-column query."""
        frame = self.query_df(sql)
        if frame.shape != (1, 1):
            raise OLAPQueryError(f"expected one value, got shape {frame.shape}", fix="select exactly one column/row")
        return frame.iat[0, 0]

    def tables(self, database: str = "default") -> list[str]:
        """Table names in ``database``."""
        frame = self.query_df(f"SELECT name FROM system.tables WHERE database = '{database}' ORDER BY name")
        return frame["name"].tolist()


def _wrap(sql: str, exc: Exception) -> OLAPQueryError:
    text = str(exc).strip().splitlines()[0][:500]
    return OLAPQueryError(f"query failed: {text}\n  query: {sql.strip()[:300]}",
                          fix="correct the SQL (ClickHouse dialect)")


def _run(sql: str, call: Any) -> Any:
    """Run ``call()``; our own errors pass through, the driver's become OLAPQueryError."""
    try:
        return call()
    except ServiceError:
        raise
    except Exception as exc:
        raise _wrap(sql, exc) from exc


class ChdbConfig(BackendConfig):
    """chdb, ClickHouse in-process; tables persist in ``path`` across sessions."""

    type: Literal["chdb"] = "chdb"
    path: str | None = None


OLAP_ENGINES: Registry[OLAP] = Registry("olap")


@OLAP_ENGINES.register("chdb", ChdbConfig)
class ChdbOLAP(OLAP):
    """One chdb session per process (chdb allows only one), reused by every caller."""

    in_process = True

    config: ChdbConfig
    _session: Any = None
    _session_path: str | None = None
    _guard = threading.Lock()

    @property
    def data_dir(self) -> Path:
        return Path(self.config.path).expanduser().resolve() if self.config.path else super().data_dir

    def _sess(self) -> Any:
        cls = type(self)
        with cls._guard:
            if cls._session is not None and cls._session_path != str(self.data_dir):
                cls._session.close()
                cls._session = None
            if cls._session is None:
                session = require("chdb.session")
                self.data_dir.mkdir(parents=True, exist_ok=True)
                try:
                    cls._session = session.Session(str(self.data_dir))
                except Exception as exc:
                    raise ServiceError(
                        f"chdb cannot open {self.data_dir}: {exc}",
                        fix="another process may hold it; close other notebooks, or `workbench reset olap`",
                    ) from exc
                cls._session_path = str(self.data_dir)
            return cls._session

    def start(self, *, owned: bool = True) -> None:
        self.query_df("SELECT 1")

    def stop(self) -> None:
        cls = type(self)
        with cls._guard:
            if cls._session is not None:
                cls._session.close()
                cls._session, cls._session_path = None, None

    def status(self) -> ServiceStatus:
        opened = type(self)._session is not None
        exists = self.data_dir.exists()
        return ServiceStatus(
            self.kind, "chdb", "in-process", exists or opened, None, os.getpid() if opened else None,
            str(self.data_dir), detail="session open in this process" if opened else "opens on first query",
        )

    def query_df(self, sql: str) -> pd.DataFrame:
        result = _run(sql, lambda: self._sess().query(sql, "DataFrame"))
        return result if isinstance(result, pd.DataFrame) else pd.DataFrame()

    def execute(self, sql: str) -> None:
        _run(sql, lambda: self._sess().query(sql))

    def insert_df(self, table: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        # A Parquet hand-off keeps types exact (timestamps, nullables) without SQL literals.
        with tempfile.TemporaryDirectory(prefix="chdb-insert-") as tmp:
            path = Path(tmp) / "batch.parquet"
            frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
            self.execute(f"INSERT INTO {table} SELECT * FROM file('{path}', Parquet)")
        return len(frame)


class ClickHouseConfig(BackendConfig):
    """A ClickHouse server over HTTP (compose stack or your cluster)."""

    type: Literal["clickhouse"] = "clickhouse"
    host: str = "127.0.0.1"
    port: int = Field(8123, ge=1, le=65535)
    username: str = "default"
    password_env: str | None = None
    database: str = "default"
    secure: bool = False


@OLAP_ENGINES.register("clickhouse", ClickHouseConfig)
class ClickHouseOLAP(OLAP):
    """ClickHouse server through clickhouse-connect."""

    config: ClickHouseConfig
    _client: Any = None

    def _conn(self) -> Any:
        if self._client is None:
            cfg = self.config
            password = ""
            if cfg.password_env:
                if cfg.password_env not in os.environ:
                    raise ConfigError(f"{cfg.password_env} is not set", fix=f"export {cfg.password_env}=... (.env)")
                password = os.environ[cfg.password_env]
            driver = require("clickhouse_connect")
            try:
                self._client = driver.get_client(host=cfg.host, port=cfg.port, username=cfg.username,
                                                 password=password, database=cfg.database, secure=cfg.secure)
            except Exception as exc:
                raise ServiceError(f"ClickHouse at {cfg.host}:{cfg.port} unreachable: {exc}",
                                   fix="`docker compose --profile lab4 up -d clickhouse`") from exc
        return self._client

    def start(self, *, owned: bool = True) -> None:
        self._conn().command("SELECT 1")

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def status(self) -> ServiceStatus:
        endpoint = f"{self.config.host}:{self.config.port}"
        try:
            self._conn().command("SELECT 1")
            return ServiceStatus(self.kind, "clickhouse", "external", True, endpoint)
        except Exception as exc:
            return ServiceStatus(self.kind, "clickhouse", "unreachable", False, endpoint, detail=str(exc)[:200])

    def reset(self) -> None:
        raise ServiceError("refusing to wipe an external ClickHouse", fix="drop tables with SQL")

    def query_df(self, sql: str) -> pd.DataFrame:
        return _run(sql, lambda: self._conn().query_df(sql))

    def execute(self, sql: str) -> None:
        _run(sql, lambda: self._conn().command(sql))

    def insert_df(self, table: str, frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        _run(f"INSERT INTO {table}", lambda: self._conn().insert_df(table, frame))
        return len(frame)
