"""Object stores: the embedded moto S3 server, any S3 endpoint (MinIO, AWS), local folders.

All three hand out the same things: an fsspec filesystem, a pyarrow filesystem,
``storage_options`` for pandas, a boto3 client, and ``uri(bucket, key)`` so lab code
never spells a backend-specific path.

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import os
import sys
from abc import abstractmethod
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from platform_kit._deps import require
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import ProcessService, Service, ServiceStatus

__all__ = ["OBJECT_STORES", "LocalStore", "MotoStore", "ObjectStore", "S3Store"]

# moto accepts any credentials; these are placeholders, not secrets.
_MOTO_KEY = "workbench"


class ObjectStore(Service):
    """Interface of the object store kind."""

    kind = "object_store"

    @property
    def buckets(self) -> list[str]:
        """Buckets created at start."""
        return list(getattr(self.config, "buckets", []))

    @abstractmethod
    def storage_options(self) -> dict[str, Any]:
        """fsspec/pandas ``storage_options`` for ``uri()`` paths."""

    @abstractmethod
    def uri(self, bucket: str, key: str = "") -> str:
        """Address of ``key`` in ``bucket`` usable with ``filesystem()`` and pandas."""

    def filesystem(self) -> Any:
        """An fsspec filesystem for ``uri()`` paths."""
        import fsspec

        protocol = self.uri("x").split("://")[0] if "://" in self.uri("x") else "file"
        return fsspec.filesystem(protocol, **self.storage_options())

    def arrow_filesystem(self) -> Any:
        """A pyarrow filesystem wrapping :meth:`filesystem` (for ``pyarrow.dataset``)."""
        from pyarrow.fs import FSSpecHandler, PyFileSystem

        return PyFileSystem(FSSpecHandler(self.filesystem()))

    def write_parquet(self, frame: Any, bucket: str, key: str) -> str:
        """Write a DataFrame as Parquet (microsecond timestamps, no index); returns its uri."""
        uri = self.uri(bucket, key)
        fs = self.filesystem()
        fs.makedirs(uri.rsplit("/", 1)[0], exist_ok=True)  # a no-op on S3, needed for folders
        with fs.open(uri, "wb") as handle:
            frame.to_parquet(handle, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
        return uri

    def read_parquet(self, uri: str, columns: list[str] | None = None) -> Any:
        """Read a Parquet file or folder written by any client into pandas."""
        import pandas as pd

        return pd.read_parquet(uri, columns=columns, storage_options=self.storage_options())

    def strip_protocol(self, uri: str) -> str:
        """Path of ``uri`` as the pyarrow filesystem expects it (no ``s3://``)."""
        return uri.split("://", 1)[1] if "://" in uri else uri


class _S3Like(ObjectStore):
    """Shared logic of S3-protocol stores."""

    region: str = "us-east-1"

    @property
    @abstractmethod
    def endpoint_url(self) -> str | None:
        """HTTP endpoint, or None for AWS itself."""

    @abstractmethod
    def credentials(self) -> tuple[str, str]:
        """(access key, secret key)."""

    def storage_options(self) -> dict[str, Any]:
        key, secret = self.credentials()
        options: dict[str, Any] = {"key": key, "secret": secret, "client_kwargs": {"region_name": self.region}}
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        # fsspec caches instances; a restarted server must not be served a stale one.
        options["skip_instance_cache"] = True
        return options

    def uri(self, bucket: str, key: str = "") -> str:
        return f"s3://{bucket}/{key.lstrip('/')}" if key else f"s3://{bucket}"

    def client(self) -> Any:
        """A boto3 S3 client."""
        boto3 = require("boto3")
        from botocore.config import Config

        key, secret = self.credentials()
        return boto3.client(
            "s3", endpoint_url=self.endpoint_url, aws_access_key_id=key, aws_secret_access_key=secret,
            region_name=self.region, config=Config(retries={"max_attempts": 3}, connect_timeout=3),
        )

    def credentials_env(self) -> dict[str, str]:
        """AWS_* variables for child processes (the tansu broker) to reach this store."""
        key, secret = self.credentials()
        env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": self.region,
               "AWS_REGION": self.region}
        if self.endpoint_url:
            env |= {"AWS_ENDPOINT": self.endpoint_url, "AWS_ENDPOINT_URL": self.endpoint_url,
                    "AWS_ALLOW_HTTP": str(self.endpoint_url.startswith("http://")).lower()}
        return env

    def ensure_buckets(self) -> None:
        """Create the configured buckets that do not exist yet."""
        client = self.client()
        try:
            existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
            for bucket in self.buckets:
                if bucket not in existing:
                    client.create_bucket(Bucket=bucket)
        except Exception as exc:
            raise ServiceError(
                f"object store at {self.endpoint_url or 'AWS'} refused bucket set-up: {exc}",
                fix="check the endpoint and credentials (`workbench status`)",
            ) from exc


class MotoConfig(BackendConfig):
    """Embedded S3: moto's server on loopback, buckets mirrored to the state dir."""

    type: Literal["moto"] = "moto"
    host: str = "127.0.0.1"
    port: int = Field(19000, ge=0, le=65535)
    strict_port: bool = False
    region: str = "us-east-1"
    buckets: list[str] = ["lake", "broker", "warehouse"]
    snapshot_every_s: float = Field(30.0, ge=0)


OBJECT_STORES: Registry[ObjectStore] = Registry("object_store")


@OBJECT_STORES.register("moto", MotoConfig)
class MotoStore(_S3Like, ProcessService):
    """moto's S3 server as a managed subprocess (see ``_moto_main``)."""

    config: MotoConfig
    start_timeout = 60.0

    @property
    def region(self) -> str:  # type: ignore[override]
        return self.config.region

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.config.host

    @property
    def endpoint_url(self) -> str | None:
        return f"http://{self.endpoint}"

    def credentials(self) -> tuple[str, str]:
        return _MOTO_KEY, _MOTO_KEY

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-m", "platform_kit.services._moto_main", "--host", self.host, "--port", str(port),
            "--data-dir", str(self.data_dir), "--buckets", ",".join(self.buckets),
            "--snapshot-every", str(self.config.snapshot_every_s),
        ]

    def ready(self, port: int) -> bool:
        from platform_kit._process import port_open

        if not port_open(self.host, port):
            return False
        saved, self.port = self.port, port
        try:
            names = {b["Name"] for b in self.client().list_buckets().get("Buckets", [])}
        finally:
            self.port = saved
        return set(self.buckets) <= names


class S3Config(BackendConfig):
    """Any S3 endpoint: MinIO in the compose stack, or AWS itself (endpoint_url null)."""

    type: Literal["s3"] = "s3"
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_env: str = "AWS_ACCESS_KEY_ID"
    secret_key_env: str = "AWS_SECRET_ACCESS_KEY"
    buckets: list[str] = []


@OBJECT_STORES.register("s3", S3Config)
class S3Store(_S3Like):
    """An external S3-compatible store; we connect, we never start it."""

    config: S3Config

    @property
    def region(self) -> str:  # type: ignore[override]
        return self.config.region

    @property
    def endpoint_url(self) -> str | None:
        return self.config.endpoint_url

    def credentials(self) -> tuple[str, str]:
        names = (self.config.access_key_env, self.config.secret_key_env)
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise ConfigError(
                f"object store credentials missing: {', '.join(missing)} not set",
                fix="export them (compose: `cp .env.example .env` and `set -a; . ./.env`)",
            )
        return os.environ[names[0]], os.environ[names[1]]

    def start(self, *, owned: bool = True) -> None:
        self.ensure_buckets()

    def stop(self) -> None:
        """External: nothing to stop."""

    def status(self) -> ServiceStatus:
        try:
            self.client().list_buckets()
            return ServiceStatus(self.kind, "s3", "external", True, self.endpoint_url)
        except Exception as exc:
            return ServiceStatus(self.kind, "s3", "unreachable", False, self.endpoint_url, detail=str(exc)[:200])

    def reset(self) -> None:
        raise ServiceError("refusing to wipe an external object store", fix="delete objects with your S3 tooling")


class LocalConfig(BackendConfig):
    """Plain folders standing in for buckets (no S3 API; tansu cannot use it)."""

    type: Literal["local"] = "local"
    root: str | None = None
    buckets: list[str] = ["lake", "broker", "warehouse"]


@OBJECT_STORES.register("local", LocalConfig)
class LocalStore(ObjectStore):
    """Buckets as sub-folders of ``root`` (default ``<state>/data/object_store``)."""

    in_process = True

    config: LocalConfig

    @property
    def root(self) -> Path:
        """Folder holding one sub-folder per bucket."""
        return Path(self.config.root).expanduser().resolve() if self.config.root else self.data_dir

    def storage_options(self) -> dict[str, Any]:
        return {"auto_mkdir": True}

    def uri(self, bucket: str, key: str = "") -> str:
        # file:// keeps pandas on the fsspec path, so storage_options work for every store.
        path = self.root / bucket / key.lstrip("/") if key else self.root / bucket
        return f"file://{path}"

    def start(self, *, owned: bool = True) -> None:
        for bucket in self.buckets:
            (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def stop(self) -> None:
        """Nothing runs."""

    def status(self) -> ServiceStatus:
        ok = all((self.root / b).is_dir() for b in self.buckets)
        return ServiceStatus(self.kind, "local", "in-process", ok, str(self.root), data_dir=str(self.root))
