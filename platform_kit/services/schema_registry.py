"""Schema registries speaking Confluent Schema Registry's REST API.

Two backends, one interface (:class:`SchemaRegistry`: ``url`` and ``client()``, which returns
confluent-kafka's own ``SchemaRegistryClient``), so lab code never branches on the backend:

``embedded``
    A small server of ours (``_schema_registry_server``) run as a managed subprocess on
    127.0.0.1, keeping subjects and schemas in ``<state>/data/schema_registry/registry.json``
    across restarts. It implements the subset of the API that ``SchemaRegistryClient``,
    ``AvroSerializer`` and ``AvroDeserializer`` use, AVRO schemas only; compatibility is decided
    by the ``avro`` package's ``ReaderWriterCompatibilityChecker``.
``confluent``
    An existing Confluent Schema Registry (the compose stack's, or yours); never started.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from abc import abstractmethod
from base64 import b64encode
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from platform_kit._deps import require
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import ProcessService, Service, ServiceStatus

__all__ = [
    "SCHEMA_REGISTRIES",
    "ConfluentSchemaRegistry",
    "EmbeddedSchemaRegistry",
    "SchemaRegistry",
]

Level = Literal["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"]


class SchemaRegistry(Service):
    """Interface of the schema registry kind."""

    kind = "schema_registry"

    @property
    @abstractmethod
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:18081``."""

    def basic_auth(self) -> str | None:
        """``user:password`` for HTTP basic auth, or None."""
        return None

    def client_config(self, **overrides: Any) -> dict[str, Any]:
        """``SchemaRegistryClient`` settings; underscores in ``overrides`` become dots."""
        config: dict[str, Any] = {"url": self.url}
        auth = self.basic_auth()
        if auth:
            config["basic.auth.user.info"] = auth
        return config | {key.replace("_", "."): value for key, value in overrides.items()}

    def client(self, **overrides: Any) -> Any:
        """A confluent-kafka ``SchemaRegistryClient`` (``max_retries=1`` and such as overrides)."""
        return require("confluent_kafka.schema_registry").SchemaRegistryClient(self.client_config(**overrides))

    def _answers(self, url: str, timeout: float = 2.0) -> bool:
        """True when ``GET {url}/subjects`` returns a JSON list."""
        request = urllib.request.Request(f"{url.rstrip('/')}/subjects")
        auth = self.basic_auth()
        if auth:
            request.add_header("Authorization", "Basic " + b64encode(auth.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own URL
                return response.status == 200 and isinstance(json.loads(response.read()), list)
        except (OSError, ValueError, urllib.error.URLError):
            return False

    def describe(self) -> dict[str, Any]:
        """Connection facts for display."""
        return {"type": self.config.type, "url": self.url}


SCHEMA_REGISTRIES: Registry[SchemaRegistry] = Registry("schema_registry")

#: Starts the server without running ``platform_kit/services/__init__.py``, which imports every
#: backend (pandas, pydantic models...): ~1.2 s of a ~1.5 s start. The child gets a bare package
#: object for ``platform_kit.services`` whose path is the services folder, so only the server's
#: own modules (standard library, avro, fastavro) load. argv: services folder, then server options.
_BOOT = (
    "import sys, types; import platform_kit; "
    "package = types.ModuleType('platform_kit.services'); package.__path__ = [sys.argv[1]]; "
    "sys.modules['platform_kit.services'] = package; "
    "from platform_kit.services._schema_registry_server import main; sys.exit(main(sys.argv[2:]))"
)


class EmbeddedRegistryConfig(BackendConfig):
    """Our Confluent-API server on loopback, state under the state dir."""

    type: Literal["embedded"] = "embedded"
    host: str = "127.0.0.1"
    port: int = Field(18081, ge=0, le=65535)
    strict_port: bool = False
    default_compatibility: Level = "BACKWARD"


@SCHEMA_REGISTRIES.register("embedded", EmbeddedRegistryConfig)
class EmbeddedSchemaRegistry(SchemaRegistry, ProcessService):
    """The embedded registry as a managed subprocess (see ``_schema_registry_server``)."""

    config: EmbeddedRegistryConfig
    start_timeout = 30.0

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.config.host

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def command(self, port: int) -> list[str]:
        return [
            sys.executable, "-c", _BOOT, str(Path(__file__).parent), "--host", self.host,
            "--port", str(port), "--data-dir", str(self.data_dir),
            "--compatibility", self.config.default_compatibility,
        ]

    def ready(self, port: int) -> bool:
        from platform_kit._process import port_open

        return port_open(self.host, port) and self._answers(f"http://{self.host}:{port}")

    def describe(self) -> dict[str, Any]:
        return {"type": "embedded", "url": self.url if self.port else None, "data_dir": str(self.data_dir)}


class ConfluentRegistryConfig(BackendConfig):
    """An external Confluent Schema Registry."""

    type: Literal["confluent"] = "confluent"
    url: str
    basic_auth_user_info_env: str | None = None  # name of a variable holding ``user:password``


@SCHEMA_REGISTRIES.register("confluent", ConfluentRegistryConfig)
class ConfluentSchemaRegistry(SchemaRegistry):
    """Connects to an existing Confluent Schema Registry; never starts one."""

    config: ConfluentRegistryConfig

    @property
    def url(self) -> str:
        return self.config.url.rstrip("/")

    def basic_auth(self) -> str | None:
        env = self.config.basic_auth_user_info_env
        if not env:
            return None
        if env not in os.environ:
            raise ConfigError(f"{env} is not set (schema registry basic auth)", fix=f"export {env}=user:password")
        return os.environ[env]

    def start(self, *, owned: bool = True) -> None:
        if not self._answers(self.url):
            raise ServiceError(
                f"no schema registry answers at {self.url}",
                fix="start the compose stack (`docker compose --profile lab2 up -d`) or fix schema_registry.url",
            )

    def stop(self) -> None:
        """External: nothing to stop."""

    def status(self) -> ServiceStatus:
        ok = self._answers(self.url)
        return ServiceStatus(self.kind, "confluent", "external" if ok else "unreachable", ok, self.url)

    def reset(self) -> None:
        raise ServiceError("refusing to wipe an external schema registry",
                           fix="delete subjects with the registry's API (DELETE /subjects/<name>)")
