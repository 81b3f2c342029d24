"""The compose profile's replication demo: RF=3, min.insync.replicas=2, one broker stopped mid-stream.

Real Kafka (three brokers in docker-compose.yml) is where replication, retention and compaction are
enforced. The demo creates a replicated topic, writes with acks=all, stops the broker leading
partition 0 with ``docker compose stop <service>``, keeps writing (two in-sync replicas remain, so
writes are accepted), reads everything back and starts the broker again. The compose service of a
broker is found from ``KAFKA_NODE_ID`` in docker-compose.yml; commands are built here and run by an
injectable runner, so they are unit-tested without Docker.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import ConfigError, DependencyMissingError, ServiceError
from platform_kit.ingestion._retention_topics import client_config, create_topic_quietly
from platform_kit.ingestion._topics import drain_topic

__all__ = ["compose_broker_services", "compose_command", "compose_file", "replicated_stop_demo"]

Runner = Callable[[list[str]], Any]

def compose_file(start: Path | None = None) -> Path:
    """docker-compose.yml of the project (next to the ``platform_kit`` package, or above ``start``)."""
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        candidate = folder / "docker-compose.yml"
        if candidate.is_file():
            return candidate
    raise ConfigError("docker-compose.yml not found above " + str(here),
                      fix="run from the project checkout, or pass compose_path=")


def compose_broker_services(path: Path | None = None) -> dict[int, str]:
    """``{KAFKA_NODE_ID: service}`` for the Kafka services of the compose file."""
    import yaml

    path = path or compose_file()
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", fix="check the compose file") from exc
    out: dict[int, str] = {}
    for service, body in (spec or {}).get("services", {}).items():
        env = (body or {}).get("environment") or {}
        if isinstance(env, list):  # the KEY=value list form
            env = dict(item.split("=", 1) for item in env if "=" in item)
        node = env.get("KAFKA_NODE_ID")
        if node is not None and "kafka" in str(body.get("image", "")):
            out[int(node)] = service
    if not out:
        raise ConfigError(f"no Kafka broker service (with KAFKA_NODE_ID) in {path}",
                          fix="use the project's docker-compose.yml")
    return out


def compose_command(action: str, services: Sequence[str] | str, *, path: Path | None = None,
                    docker: str = "docker") -> list[str]:
    """``docker compose -f <file> <stop|start> <service>...`` for services declared in the file.

    Raises:
        ConfigError: Unknown action, or a service the file does not declare.
    """
    if action not in ("stop", "start"):
        raise ConfigError(f"compose action must be 'stop' or 'start', got {action!r}",
                          fix="stop a broker, then start it again")
    names = [services] if isinstance(services, str) else list(services)
    path = path or compose_file()
    declared = set(compose_broker_services(path).values())
    unknown = [n for n in names if n not in declared]
    if not names or unknown:
        raise ConfigError(f"not Kafka services of {path.name}: {unknown or names}",
                          fix=f"pick from {', '.join(sorted(declared))}")
    return [docker, "compose", "-f", str(path), action, *names]


def _run(command: list[str]) -> Any:
    if shutil.which(command[0]) is None:
        raise DependencyMissingError(f"{command[0]} is not on PATH",
                                     fix="install Docker, or run the embedded profile's restart demo")
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)  # noqa: S603


def _leader_of(broker: Any, topic: str, partition: int = 0, timeout: float = 10.0) -> int:
    admin = require("confluent_kafka.admin").AdminClient(client_config(broker))
    meta = admin.list_topics(topic=topic, timeout=timeout)
    return int(meta.topics[topic].partitions[partition].leader)


def _durable_producer(broker: Any) -> Any:
    """acks=all + idempotence; the stopped broker's connection errors stay out of the notebook."""
    return require("confluent_kafka").Producer(client_config(
        broker, log_level=2, acks="all", enable_idempotence=True, linger_ms=5, message_timeout_ms=60000))


def replicated_stop_demo(workbench: Any, *, records: int = 2000, runner: Runner | None = None,
                         compose_path: Path | None = None, settle_s: float = 2.0) -> dict[str, Any]:
    """On the compose profile: RF=3/min.insync=2 topic, acks=all, stop partition 0's leader mid-stream.

    Returns:
        ``topic``, ``stopped`` (service), ``acknowledged``, ``failed``, ``read``, ``lost``,
        ``duplicates`` and ``stop_s`` (time for ``docker compose stop``).

    Raises:
        ConfigError: Not the compose profile (the embedded broker is a single tansu process).
    """
    if getattr(workbench, "profile", None) != "compose":
        raise ConfigError("the broker-stop demo needs the compose profile's three Kafka brokers",
                          fix="`docker compose --profile lab2 up -d` and WORKBENCH_PROFILE=compose")
    run = runner or _run
    broker = workbench.broker
    topic = f"lab02.replicated.{uuid.uuid4().hex[:6]}"
    create_topic_quietly(broker, topic, 3, 3, {"min.insync.replicas": "2"})
    service = compose_broker_services(compose_path)[_leader_of(broker, topic)]
    producer = _durable_producer(broker)
    acked: list[int] = []
    failed: list[str] = []

    def report(err: Any, msg: Any) -> None:
        (failed.append(str(err)) if err is not None else acked.append(int(msg.key())))

    def send(seqs: range) -> None:
        for seq in seqs:
            producer.produce(topic, key=str(seq).encode(), value=f'{{"seq": {seq}}}'.encode(), on_delivery=report)
            producer.poll(0)

    send(range(records // 2))
    producer.flush(30)
    began = time.monotonic()
    run(compose_command("stop", service, path=compose_path))
    stop_s = time.monotonic() - began
    try:
        time.sleep(settle_s)
        send(range(records // 2, records))
        if producer.flush(90):
            raise ServiceError("records still unacknowledged 90 s after a broker stop",
                               fix="check the two remaining brokers (`docker compose ps`)")
        found = drain_topic(broker, topic, expected=len(acked), timeout_s=60)
    finally:
        producer.purge()  # nothing is left after a successful flush; after a failure, do not wait it out
        producer.close()
        run(compose_command("start", service, path=compose_path))
    keys = [int(r.key) for r in found]
    return {"topic": topic, "stopped": service, "acknowledged": len(acked), "failed": len(failed),
            "read": len(keys), "lost": len(set(acked) - set(keys)), "duplicates": len(keys) - len(set(keys)),
            "stop_s": stop_s}
