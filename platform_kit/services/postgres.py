"""PostgreSQL: the embedded server from the ``pgserver`` wheel, or any PostgreSQL.

The embedded server is real PostgreSQL 16 with the pgoutput plugin and pgvector,
started with ``wal_level=logical`` for the CDC labs and listening on 127.0.0.1 (not
only a Unix socket), so CDC tools and JDBC-style URLs work as against a real host.
When run as root, PostgreSQL refuses root, so it runs as the ``pgserver`` system user
(created on first use, as the pgserver package itself does).

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import warnings
from abc import abstractmethod
from typing import Any, Literal

from pydantic import Field

from platform_kit._deps import require
from platform_kit.errors import ConfigError, CorruptStateError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit import _process as proc
from platform_kit.services._base import Service, ServiceStatus

_log = logging.getLogger(__name__)

__all__ = ["POSTGRES_BACKENDS", "EmbeddedPostgres", "ExternalPostgres", "Postgres"]

_SYSTEM_USER = "pgserver"


class Postgres(Service):
    """Interface of the PostgreSQL kind."""

    kind = "postgres"

    @abstractmethod
    def dsn(self, database: str | None = None) -> str:
        """libpq connection URI."""

    def connect(self, database: str | None = None, **kwargs: Any) -> Any:
        """A psycopg2 connection (autocommit off, as psycopg2 defaults)."""
        psycopg2 = require("psycopg2")
        try:
            return psycopg2.connect(self.dsn(database), connect_timeout=5, **kwargs)
        except psycopg2.OperationalError as exc:
            raise ServiceError(f"cannot connect to PostgreSQL: {str(exc).strip()}",
                               fix="`workbench status` / `workbench up postgres`") from exc

    def query(self, sql: str, params: Any = None, database: str | None = None) -> list[tuple[Any, ...]]:
        """Run one statement in autocommit and return its rows (empty for DDL)."""
        conn = self.connect(database)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def sqlalchemy_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL (psycopg2 driver), for pandas ``read_sql``."""
        return self.dsn(database).replace("postgresql://", "postgresql+psycopg2://", 1)


class PgserverConfig(BackendConfig):
    """Embedded PostgreSQL 16 from the pgserver wheel."""

    type: Literal["pgserver"] = "pgserver"
    host: str = "127.0.0.1"
    port: int = Field(15432, ge=0, le=65535)
    strict_port: bool = False
    database: str = "workbench"
    wal_level: Literal["replica", "logical"] = "logical"
    max_replication_slots: int = 10
    extensions: list[str] = ["vector"]


POSTGRES_BACKENDS: Registry[Postgres] = Registry("postgres")


def _bin(name: str) -> str:
    pgserver = require("pgserver._commands")
    return str(pgserver.POSTGRES_BIN_PATH / name)


@POSTGRES_BACKENDS.register("pgserver", PgserverConfig)
class EmbeddedPostgres(Postgres):
    """PostgreSQL run with the pgserver wheel's binaries, managed with ``pg_ctl``."""

    config: PgserverConfig

    def __init__(self, config: BackendConfig, workbench: Any) -> None:
        super().__init__(config, workbench)
        self._owned = False

    # helpers -------------------------------------------------------------------
    def _user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR on import
            warnings.simplefilter("ignore")
            utils = require("pgserver.utils")
        utils.ensure_user_exists(_SYSTEM_USER)
        return _SYSTEM_USER

    def _run(self, args: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, user=self._user(), capture_output=True, text=True, timeout=timeout,
                              check=False, cwd="/")

    def _postmaster(self) -> tuple[int, int] | None:
        """(pid, port) from postmaster.pid when the server is up."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, IndexError, ValueError):
            return None
        return (pid, port) if proc.pid_alive(pid) else None

    def _prepare(self) -> None:
        data = self.data_dir
        if data.exists() and any(data.iterdir()) and not (data / "PG_VERSION").exists():
            raise CorruptStateError(
                f"{data} is not empty but holds no PostgreSQL cluster (PG_VERSION missing)",
                fix="`workbench reset postgres` to re-create it (this deletes its contents)",
            )
        user = self._user()
        data.mkdir(parents=True, exist_ok=True)
        if user:
            utils = require("pgserver.utils")
            utils.ensure_prefix_permissions(data)
            entry = pwd.getpwnam(user)
            os.chown(data, entry.pw_uid, entry.pw_gid)
            data.chmod(0o700)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self.log_path.touch()
            os.chown(self.log_path, entry.pw_uid, entry.pw_gid)
        if not (data / "PG_VERSION").exists():
            done = self._run([_bin("initdb"), "-D", str(data), "--auth=trust", "--encoding=UTF8",
                              "-U", "postgres", "--no-instructions"])
            if done.returncode != 0:
                raise ServiceError(f"initdb failed: {done.stderr.strip()[-800:]}",
                                   fix="`workbench doctor`; then `workbench reset postgres`")

    def dsn(self, database: str | None = None) -> str:
        info = self._postmaster()
        if info is None:
            raise ServiceError("embedded PostgreSQL is not running", fix="`workbench up postgres`")
        return f"postgresql://postgres@{self.config.host}:{info[1]}/{database or self.config.database}"

    # lifecycle -------------------------------------------------------------------
    def start(self, *, owned: bool = True) -> None:
        if self._postmaster() is None:
            self._prepare()
            port = proc.choose_port(self.config.host, self.config.port, strict=self.config.strict_port,
                                    service=self.kind)
            options = (f"-h {self.config.host} -p {port} -k '' -c wal_level={self.config.wal_level} "
                       f"-c max_replication_slots={self.config.max_replication_slots} -c max_wal_senders=10")
            done = self._run([_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", "-l", str(self.log_path),
                              "-o", options, "start"], timeout=90)
            if done.returncode != 0 or self._postmaster() is None:
                raise ServiceError(
                    f"PostgreSQL failed to start: {done.stdout.strip()[-300:]} {done.stderr.strip()[-300:]}\n"
                    f"last log lines:\n{proc.tail(self.log_path)}",
                    fix=f"read {self.log_path}; a crashed cluster may need `workbench reset postgres`",
                )
            self._owned = owned
            if owned:
                self._guard()
        self._ensure_database()

    def _guard(self) -> None:
        """Stop the server when this process ends, even if it is killed (see ``_guardian``)."""
        import atexit

        stop = self._stop_command()
        if self._user():
            stop = ["runuser", "-u", _SYSTEM_USER, "--", *stop]
        self._guardian = proc.guard(stop, log_path=self.log_path.with_name("postgres-guardian.log"))
        atexit.register(self.stop)

    def _stop_command(self) -> list[str]:
        return [_bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-m", "fast", "stop"]

    def _ensure_database(self) -> None:
        name = self.config.database
        if not self.query("SELECT 1 FROM pg_database WHERE datname = %s", (name,), database="postgres"):
            self.query(f'CREATE DATABASE "{name}"', database="postgres")
        for extension in self.config.extensions:
            self.query(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')

    def stop(self) -> None:
        guardian = getattr(self, "_guardian", None)
        if guardian is not None:  # we stop it ourselves now; the guardian must not run later
            guardian.kill()
            guardian.wait(timeout=5)
            self._guardian = None
        if self._postmaster() is None:
            return
        done = self._run(self._stop_command())
        if done.returncode != 0:
            _log.warning("pg_ctl stop failed: %s", done.stderr.strip())

    def status(self) -> ServiceStatus:
        info = self._postmaster()
        if info is None:
            state = "stopped" if not (self.data_dir / "postmaster.pid").exists() else "crashed"
            return ServiceStatus(self.kind, "pgserver", state, False, data_dir=str(self.data_dir),
                                 detail=proc.tail(self.log_path, 3) if state == "crashed" else "")
        pid, port = info
        try:
            wal = self.query("SHOW wal_level")[0][0]
            healthy, detail = True, f"wal_level={wal}; log {self.log_path}"
        except ServiceError as exc:
            healthy, detail = False, exc.message
        return ServiceStatus(self.kind, "pgserver", "running", healthy, f"{self.config.host}:{port}", pid,
                             str(self.data_dir), detail)

    def restart(self) -> None:
        """Stop and start again, keeping data."""
        self.stop()
        self.start(owned=self._owned)


class ExternalPostgresConfig(BackendConfig):
    """A PostgreSQL server we connect to (compose stack, or yours)."""

    type: Literal["postgres"] = "postgres"
    host: str = "127.0.0.1"
    port: int = Field(5432, ge=1, le=65535)
    user: str = "postgres"
    password_env: str | None = None
    database: str = "workbench"
    sslmode: str = "prefer"


@POSTGRES_BACKENDS.register("postgres", ExternalPostgresConfig)
class ExternalPostgres(Postgres):
    """Connects to an existing PostgreSQL; never starts one."""

    config: ExternalPostgresConfig

    def dsn(self, database: str | None = None) -> str:
        from urllib.parse import quote

        cfg = self.config
        password = ""
        if cfg.password_env:
            if cfg.password_env not in os.environ:
                raise ConfigError(f"{cfg.password_env} is not set", fix=f"export {cfg.password_env}=... (.env)")
            password = ":" + quote(os.environ[cfg.password_env], safe="")
        return (f"postgresql://{quote(cfg.user, safe='')}{password}@{cfg.host}:{cfg.port}/"
                f"{database or cfg.database}?sslmode={cfg.sslmode}")

    def start(self, *, owned: bool = True) -> None:
        self.query("SELECT 1")

    def stop(self) -> None:
        """External: nothing to stop."""

    def status(self) -> ServiceStatus:
        endpoint = f"{self.config.host}:{self.config.port}"
        try:
            self.query("SELECT 1")
            return ServiceStatus(self.kind, "postgres", "external", True, endpoint)
        except Exception as exc:
            return ServiceStatus(self.kind, "postgres", "unreachable", False, endpoint, detail=str(exc)[:200])

    def reset(self) -> None:
        raise ServiceError("refusing to wipe an external PostgreSQL", fix="drop objects with SQL")
