"""Create a topic with retention, segment, cleanup and ISR settings through the admin API; read them back.

Brokers differ in what they do with topic configs. Real Kafka validates them, enforces retention and
compaction, and reports where each value comes from. The embedded tansu broker accepts any key and any
value (``retention.ms=abc`` included), echoes them back as ``DEFAULT_CONFIG``, enforces none of them, and
"replicates" RF=3 on one broker by listing that broker three times. So :class:`TopicSettings` validates
on the client side, and :func:`topic_settings_report` shows requested against effective values and the
distinct brokers actually holding replicas.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import ConfigError, ServiceError

__all__ = ["CLEANUP_POLICIES", "TopicSettings", "client_config", "create_topic_quietly", "describe_topic_configs",
           "topic_settings_report"]

CLEANUP_POLICIES = ("delete", "compact", "compact,delete")


def client_config(broker: Any, *, log_level: int = 4, **overrides: Any) -> dict[str, Any]:
    """``broker.confluent_config(**overrides)`` with librdkafka's ``log_level`` (syslog levels: 4 keeps
    warnings and errors, drops the info lines such as "purging unserved events" that would land in a
    notebook's stderr; 2 also drops the connection errors a deliberate broker restart causes).

    The level is set here rather than through ``logger=`` (a Python logger called from librdkafka's
    threads), so client teardown never waits on the GIL.
    """
    return {**broker.confluent_config(**overrides), "log_level": log_level}
_HOUR_MS = 3600 * 1000


def _whole(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or int(value) != value or value < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r}",
                          fix=f"set {name} to an integer >= {minimum}")
    return int(value)


@dataclass(frozen=True)
class TopicSettings:
    """A topic and the storage settings it is created with (Kafka's defaults unless given).

    Attributes:
        retention_ms: ``retention.ms``; -1 keeps data forever.
        retention_bytes: ``retention.bytes`` per partition; -1 means no size limit.
        segment_bytes: ``segment.bytes``: retention deletes whole segments, so this is its granularity.
        segment_ms: ``segment.ms``: a segment is rolled at least this often.
        cleanup_policy: ``delete`` (by age/size), ``compact`` (keep the last value per key) or both.
        min_insync_replicas: ``min.insync.replicas``: acks=all writes need this many in-sync replicas.
        extra: Other topic configs, passed through as strings.
    """

    name: str
    partitions: int = 1
    replication_factor: int = 1
    retention_ms: int = 7 * 24 * _HOUR_MS
    retention_bytes: int = -1
    segment_bytes: int = 1 << 30
    segment_ms: int = 7 * 24 * _HOUR_MS
    cleanup_policy: str = "delete"
    min_insync_replicas: int = 1
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or len(self.name) > 249 \
                or any(not (c.isalnum() or c in "._-") for c in self.name) or self.name in (".", ".."):
            raise ConfigError(f"invalid topic name {self.name!r}",
                              fix="use 1-249 characters from [a-zA-Z0-9._-]")
        _whole("partitions", self.partitions, 1)
        _whole("replication_factor", self.replication_factor, 1)
        for name in ("retention_ms", "retention_bytes"):
            if _whole(name, getattr(self, name), -1) == 0:
                raise ConfigError(f"{name}=0 would delete every record at once",
                                  fix=f"use -1 (unlimited) or a positive {name}")
        _whole("segment_bytes", self.segment_bytes, 1)
        _whole("segment_ms", self.segment_ms, 1)
        _whole("min_insync_replicas", self.min_insync_replicas, 1)
        policy = str(self.cleanup_policy).replace(" ", "")
        if policy == "delete,compact":
            policy = "compact,delete"
        if policy not in CLEANUP_POLICIES:
            raise ConfigError(f"cleanup.policy must be one of {', '.join(CLEANUP_POLICIES)}, got "
                              f"{self.cleanup_policy!r}", fix="pick delete, compact or compact,delete")
        object.__setattr__(self, "cleanup_policy", policy)
        if self.min_insync_replicas > self.replication_factor:
            raise ConfigError(
                f"min.insync.replicas={self.min_insync_replicas} exceeds the replication factor "
                f"{self.replication_factor}: every acks=all write to {self.name!r} would fail",
                fix="lower min.insync.replicas or raise the replication factor",
            )
        if self.retention_ms > 0 and self.segment_ms > self.retention_ms:
            raise ConfigError(
                f"segment.ms={self.segment_ms} is longer than retention.ms={self.retention_ms}: data would "
                "outlive its retention by up to a whole segment",
                fix="roll segments at least as often as the retention (segment.ms <= retention.ms)",
            )

    def topic_config(self) -> dict[str, str]:
        """The topic configs as the admin API takes them (dotted keys, string values)."""
        return {
            "retention.ms": str(self.retention_ms),
            "retention.bytes": str(self.retention_bytes),
            "segment.bytes": str(self.segment_bytes),
            "segment.ms": str(self.segment_ms),
            "cleanup.policy": self.cleanup_policy,
            "min.insync.replicas": str(self.min_insync_replicas),
            **{str(k): str(v) for k, v in self.extra.items()},
        }


def describe_topic_configs(broker: Any, topic: str, timeout: float = 10.0) -> dict[str, tuple[str | None, str]]:
    """``{config: (value, source)}`` as the broker reports it (``DescribeConfigs``).

    Raises:
        ServiceError: The broker did not answer or the topic is unknown.
    """
    admin_mod = require("confluent_kafka.admin")
    admin = _admin(broker)  # keep a reference: a collected client cancels its futures
    resource = admin_mod.ConfigResource(admin_mod.ResourceType.TOPIC, topic)
    try:
        entries = admin.describe_configs([resource], request_timeout=timeout)[resource].result(timeout=timeout)
    except Exception as exc:
        raise ServiceError(f"cannot read the configs of topic {topic!r}: {exc}",
                           fix="check that the topic exists (broker.list_topics())") from exc
    out: dict[str, tuple[str | None, str]] = {}
    for name, entry in entries.items():
        try:
            source = admin_mod.ConfigSource(entry.source).name
        except ValueError:
            source = str(entry.source)
        out[name] = (entry.value, source)
    return out


def _admin(broker: Any) -> Any:
    """An AdminClient without librdkafka's info lines in the notebook's stderr."""
    return require("confluent_kafka.admin").AdminClient(client_config(broker))


def create_topic_quietly(broker: Any, name: str, partitions: int = 1, replication_factor: int = 1,
                         config: dict[str, str] | None = None, *, timeout: float = 15.0) -> None:
    """``broker.create_topic`` (topic must be new) with the client's log lines kept out of the notebook.

    Raises:
        ServiceError: The broker refused the topic (it exists, or bad partitions / replication factor).
    """
    admin_mod, kafka = require("confluent_kafka.admin"), require("confluent_kafka")
    admin = _admin(broker)  # keep a reference: a collected client cancels its futures
    topic = admin_mod.NewTopic(name, partitions, replication_factor, config=config or {})
    try:
        admin.create_topics([topic], operation_timeout=timeout)[name].result(timeout=timeout)
    except kafka.KafkaException as exc:
        raise ServiceError(f"cannot create topic {name!r}: {exc.args[0].str()}",
                           fix="use a new name, partitions >= 1 and a replication factor <= brokers") from exc


def _replica_brokers(broker: Any, topic: str, timeout: float) -> tuple[int, int]:
    """(replicas listed per partition, distinct brokers holding them) for partition 0."""
    meta = _admin(broker).list_topics(topic=topic, timeout=timeout)
    info = meta.topics.get(topic)
    if info is None or not info.partitions:
        raise ServiceError(f"topic {topic!r} has no partitions in the metadata", fix="create it first")
    replicas = info.partitions[min(info.partitions)].replicas
    return len(replicas), len(set(replicas))


def topic_settings_report(broker: Any, settings: TopicSettings, *, create: bool = True,
                          timeout: float = 15.0) -> pd.DataFrame:
    """Create the topic (unless ``create`` is False), read its configs back, compare with the request.

    Returns:
        One row per requested config plus ``replication.factor`` and ``replica brokers`` (distinct
        brokers in the metadata): ``config``, ``requested``, ``effective`` (``None`` when the broker
        does not report it), ``source``, ``matches``.
    """
    if create:
        create_topic_quietly(broker, settings.name, settings.partitions, settings.replication_factor,
                             settings.topic_config(), timeout=timeout)
    reported = describe_topic_configs(broker, settings.name, timeout)
    rows = []
    for key, wanted in settings.topic_config().items():
        value, source = reported.get(key, (None, "not reported"))
        rows.append({"config": key, "requested": wanted, "effective": value, "source": source,
                     "matches": value == wanted})
    listed, distinct = _replica_brokers(broker, settings.name, timeout)
    rf = str(settings.replication_factor)
    rows.append({"config": "replication.factor", "requested": rf, "effective": str(listed),
                 "source": "metadata", "matches": str(listed) == rf})
    rows.append({"config": "replica brokers (distinct)", "requested": rf, "effective": str(distinct),
                 "source": "metadata", "matches": str(distinct) == rf})
    return pd.DataFrame(rows)
