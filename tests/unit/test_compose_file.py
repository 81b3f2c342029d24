"""docker-compose.yml (the `compose` profile's stack) is valid and agrees with environments/compose.yml.

No Docker engine is needed. The file is checked three ways:

* the ``compose-spec`` package (a typed parser of the Compose Specification that rejects unknown
  keys and wrongly typed values) after the same ``${VAR}`` interpolation Compose performs;
* ``docker-compose config -q`` (Debian's 1.29) and ``docker compose config -q`` (v2) when the
  binaries are installed, each skipped with its reason otherwise;
* structural assertions read with PyYAML: KRaft brokers, healthchecks, memory limits, ports on
  127.0.0.1, pinned images, lab profiles, no literal secrets, and the ports and hosts of
  environments/compose.yml.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
PROFILE_FILE = ROOT / "environments" / "compose.yml"

LAB_PROFILES = [f"lab{n}" for n in range(1, 10)] + ["all"]
KAFKA_BROKERS = ("kafka-1", "kafka-2", "kafka-3")
MEMORY_BUDGET = 8 * 1024**3  # every long-running service of `--profile all` together
# What each lab needs at least (the table at the top of docker-compose.yml may add more).
LAB_NEEDS = {
    "lab2": {*KAFKA_BROKERS, "schema-registry", "postgres", "minio", "minio-init"},
    "lab3": {"spark-master", "spark-worker", "minio"},
    "lab4": {"postgres", "minio", "clickhouse"},
    "lab5": {"redis", "postgres", "minio"},
    "lab8": {"clickhouse", "redis", *KAFKA_BROKERS, "postgres"},
}
SECRET_KEY = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|API_KEY|CREDENTIAL", re.IGNORECASE)
REQUIRED_REF = re.compile(r"^\$\{([A-Z][A-Z0-9_]*):\?[^}]+\}$")
PINNED_TAG = re.compile(r"^(?:\d+\.\d+|RELEASE\.\d{4}-\d{2}-\d{2})")
_INTERPOLATION = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")


# --- helpers ---------------------------------------------------------------------------------


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a dotenv file (comments and blanks skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$`` substitution."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.groups()
        value = env.get(name)
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise KeyError(f"{name}: {arg}")
        return value or ""

    return _INTERPOLATION.sub(substitute, text)


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def published(service: dict[str, Any]) -> list[tuple[str | None, int, int]]:
    """(host_ip, host_port, container_port) of each published port, short or long syntax."""
    result = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            result.append((entry.get("host_ip"), int(entry["published"]), int(entry["target"])))
            continue
        spec = str(entry).split("/")[0]
        parts = spec.rsplit(":", 2) if spec.count(":") >= 2 else [None, *spec.split(":")]
        if len(parts) == 2:  # "9000": a random host port, on every interface
            parts = [None, "0", parts[1]]
        host_ip, host_port, container_port = parts
        result.append((host_ip, int(host_port or 0), int(container_port)))
    return result


def memory_bytes(value: str | int) -> int:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(value).strip().lower())
    assert match, f"unreadable memory value {value!r}"
    number, unit = match.groups()
    return int(float(number) * {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])


def memory_limit(service: dict[str, Any]) -> int | None:
    limit = service.get("mem_limit")
    if limit is None:
        limit = (((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}).get("memory")
    return None if limit is None else memory_bytes(limit)


def image_default(image: str) -> str:
    """The image a reference resolves to when no override variable is set."""
    return interpolate(image, {})


def is_long_running(service: dict[str, Any]) -> bool:
    return str(service.get("restart", "no")) != "no"


def command_text(service: dict[str, Any]) -> str:
    command = service.get("command") or ""
    return " ".join(command) if isinstance(command, list) else str(command)


def listeners(value: str) -> dict[str, str]:
    """``NAME://host:port,...`` -> {NAME: "host:port"}."""
    return dict(item.split("://", 1) for item in value.split(",") if item)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text: str) -> dict[str, Any]:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return yaml.safe_load(PROFILE_FILE.read_text())


def in_profile(services: dict[str, dict[str, Any]], name: str) -> set[str]:
    return {svc for svc, spec in services.items() if name in (spec.get("profiles") or [])}


def compose_subprocess_env(example_env: dict[str, str], *, with_secrets: bool = True) -> dict[str, str]:
    """The caller's environment minus WORKBENCH_* and COMPOSE_*, plus .env.example's values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_", "COMPOSE_"))}
    if with_secrets:
        env.update(example_env)
    return env


def run_compose(cmd: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # An empty --env-file so a developer's real .env can neither help nor break the test.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return subprocess.run(
        [*cmd, "--project-directory", str(ROOT), "-f", str(COMPOSE_FILE), "--env-file", str(empty),
         "--profile", "all", "config", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


# --- validators ------------------------------------------------------------------------------


def test_compose_spec_package_accepts_the_file(compose_text: str, example_env: dict[str, str]) -> None:
    compose_spec = pytest.importorskip("compose_spec")
    parsed = compose_spec.PyCompose.from_yaml(interpolate(compose_text, example_env))
    parsed.to_spec()  # the pydantic model of the whole specification
    parsed.validate()
    assert set(parsed.service_names()) == set(yaml.safe_load(compose_text)["services"])


def test_compose_spec_package_really_validates() -> None:
    """Guards the test above: the parser rejects an unknown key and a wrongly typed value."""
    compose_spec = pytest.importorskip("compose_spec")
    with pytest.raises(ValueError, match="bogus"):
        compose_spec.PyCompose.from_yaml("services:\n  a:\n    image: redis:7.4.6\n    bogus: 1\n")
    with pytest.raises(ValueError, match="mem_limit"):
        compose_spec.PyCompose.from_yaml("services:\n  a:\n    image: redis:7.4.6\n    mem_limit: [1]\n")


def test_references_resolve(services: dict[str, dict[str, Any]], compose: dict[str, Any]) -> None:
    """depends_on targets and named volumes exist; a dependency is enabled wherever its user is."""
    declared_volumes = set(compose.get("volumes") or {})
    for name, spec in services.items():
        for dep in spec.get("depends_on") or {}:
            assert dep in services, f"{name} depends on undefined service {dep}"
            missing = set(spec.get("profiles") or []) - set(services[dep].get("profiles") or [])
            assert not missing, f"{name} runs in {sorted(missing)} but its dependency {dep} does not"
        for mount in spec.get("volumes") or []:
            source = mount.get("source") if isinstance(mount, dict) else str(mount).split(":")[0]
            if source and not source.startswith((".", "/", "~", "$")):
                assert source in declared_volumes, f"{name} mounts undeclared volume {source}"


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="docker-compose (v1) not on PATH: apt-get install --no-install-recommends docker-compose")
def test_docker_compose_v1_config(example_env: dict[str, str], tmp_path: Path) -> None:
    ok = run_compose(["docker-compose"], compose_subprocess_env(example_env), tmp_path)
    assert ok.returncode == 0, ok.stderr
    missing = run_compose(["docker-compose"], compose_subprocess_env(example_env, with_secrets=False), tmp_path)
    assert missing.returncode != 0
    assert "set it in .env" in missing.stderr


def _docker_compose_v2() -> bool:
    if shutil.which("docker") is None:
        return False
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _docker_compose_v2(), reason="`docker compose` (v2 plugin) is not installed")
def test_docker_compose_v2_config(example_env: dict[str, str], tmp_path: Path) -> None:
    ok = run_compose(["docker", "compose"], compose_subprocess_env(example_env), tmp_path)
    assert ok.returncode == 0, ok.stderr
    missing = run_compose(["docker", "compose"], compose_subprocess_env(example_env, with_secrets=False), tmp_path)
    assert missing.returncode != 0
    assert "set it in .env" in missing.stderr


# --- structure -------------------------------------------------------------------------------


def test_three_kraft_brokers(services: dict[str, dict[str, Any]]) -> None:
    node_ids, cluster_ids = set(), set()
    for name in KAFKA_BROKERS:
        assert name in services, f"missing Kafka broker {name}"
        env = environment(services[name])
        assert services[name]["image"].startswith("apache/kafka:")
        assert "ZOOKEEPER" not in " ".join(env), "KRaft mode: no ZooKeeper settings"
        assert "controller" in env["KAFKA_PROCESS_ROLES"].split(",")
        assert "broker" in env["KAFKA_PROCESS_ROLES"].split(",")
        voters = dict(v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(","))
        assert voters == {"1": "kafka-1:9093", "2": "kafka-2:9093", "3": "kafka-3:9093"}
        assert voters.get(env["KAFKA_NODE_ID"], "").split(":")[0] == services[name]["hostname"] == name, (
            f"{name}: KAFKA_NODE_ID {env['KAFKA_NODE_ID']} is not this broker's quorum voter id")
        node_ids.add(env["KAFKA_NODE_ID"])
        cluster_ids.add(env["CLUSTER_ID"])
        for key in ("KAFKA_DEFAULT_REPLICATION_FACTOR", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
                    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
            assert env[key] == "3", f"{name}: {key} must be 3 with three brokers"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        # an internal listener for containers, an external one advertised to the host
        advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
        assert advertised["INTERNAL"] == f"{name}:19092"
        host_ip, host_port, container_port = published(services[name])[0]
        assert advertised["EXTERNAL"] == f"127.0.0.1:{host_port}" and host_port == container_port, (
            f"{name}: EXTERNAL must advertise the published 127.0.0.1 port, not {advertised['EXTERNAL']}")
        assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
        assert "CONTROLLER" not in advertised, "controller listener must not be advertised"
    assert node_ids == {"1", "2", "3"}, "node ids must be distinct"
    assert len(cluster_ids) == 1, "all brokers must share one CLUSTER_ID"


def test_every_long_running_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        if not is_long_running(spec):
            continue
        check = spec.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL") if isinstance(check["test"], list) else True


def test_every_service_has_a_memory_limit(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        assert memory_limit(spec), f"{name} has no mem_limit / deploy.resources.limits.memory"


def test_whole_stack_fits_the_memory_budget(services: dict[str, dict[str, Any]]) -> None:
    everything = in_profile(services, "all")
    total = sum(memory_limit(services[s]) or 0 for s in everything if is_long_running(services[s]))
    assert total <= MEMORY_BUDGET, f"`--profile all` may use {total / 1024**3:.2f} GiB"


def test_ports_bind_localhost_only(services: dict[str, dict[str, Any]]) -> None:
    host_ports: dict[int, str] = {}
    for name, spec in services.items():
        for host_ip, host_port, _ in published(spec):
            assert host_ip == "127.0.0.1", f"{name} publishes port {host_port} beyond 127.0.0.1"
            assert host_port, f"{name} publishes a random host port"
            assert host_port not in host_ports, f"{name} and {host_ports.get(host_port)} share {host_port}"
            host_ports[host_port] = name


def test_images_are_pinned_and_allowed(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        image = image_default(spec["image"])
        assert "bitnami/" not in image, f"{name}: Bitnami's free images ended in 2025"
        repo = image.rsplit(":", 1)[0].removeprefix("docker.io/").removeprefix("index.docker.io/")
        assert repo not in ("minio/minio", "minio/mc"), f"{name}: Docker Hub's minio images are gone (quay.io)"
        assert ":" in image.rsplit("/", 1)[-1], f"{name}: image {image} has no tag"
        tag = image.rsplit(":", 1)[1].split("@")[0]
        assert tag != "latest" and PINNED_TAG.match(tag), f"{name}: tag {tag!r} is not a pinned version"


def test_lab_profiles_select_services(services: dict[str, dict[str, Any]]) -> None:
    for lab in LAB_PROFILES:
        running = {s for s in in_profile(services, lab) if is_long_running(services[s])}
        assert running, f"profile {lab} starts no long-running service"
    for lab, needed in LAB_NEEDS.items():
        assert needed <= in_profile(services, lab), f"{lab} lacks {sorted(needed - in_profile(services, lab))}"
    assert in_profile(services, "all") == set(services), "`all` must start every service"
    unprofiled = [s for s, spec in services.items() if not spec.get("profiles")]
    assert not unprofiled, f"services outside every profile start on a bare `up`: {unprofiled}"


def test_postgres_runs_with_logical_wal(services: dict[str, dict[str, Any]]) -> None:
    postgres = services["postgres"]
    command = postgres["command"]
    tokens = command if isinstance(command, list) else command.split()
    assert "wal_level=logical" in tokens and tokens[tokens.index("wal_level=logical") - 1] == "-c", (
        f"postgres must start with `-c wal_level=logical` (CDC), got {tokens}")
    assert "pgvector" in postgres["image"] or postgres["image"].startswith("postgres:16")


def test_no_literal_secrets(services: dict[str, dict[str, Any]], example_env: dict[str, str]) -> None:
    referenced = set()
    for name, spec in services.items():
        for key, value in environment(spec).items():
            if SECRET_KEY.search(key) or key in ("MINIO_ROOT_USER",):
                match = REQUIRED_REF.match(value)
                assert match, f"{name}.{key} must be a required ${{VAR:?...}} reference, not {value!r}"
                referenced.add(match.group(1))
        for arg in (spec.get("build") or {}).get("args") or {}:
            assert not SECRET_KEY.search(str(arg)), f"{name}: secrets must not be build args"
    assert referenced <= set(example_env), f".env.example lacks {sorted(referenced - set(example_env))}"


def test_env_file_is_ignored_and_example_committed() -> None:
    assert ENV_EXAMPLE.is_file()
    lines = (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in lines
    if shutil.which("git") and (ROOT / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
        assert ignored.returncode == 0, ".env is not git-ignored"
        example = subprocess.run(["git", "check-ignore", "-q", ".env.example"], cwd=ROOT, check=False)
        assert example.returncode == 1, ".env.example must not be ignored"


# --- agreement with environments/compose.yml ----------------------------------------------------


def service_publishing(services: dict[str, dict[str, Any]], port: int) -> tuple[str, int]:
    """(service, container_port) behind host port ``port`` on 127.0.0.1."""
    hits = [(name, target) for name, spec in services.items()
            for host_ip, host_port, target in published(spec) if host_port == port and host_ip == "127.0.0.1"]
    assert len(hits) == 1, f"host port {port} is published by {hits or 'no service'}"
    return hits[0]


def test_profile_bootstrap_servers_match_brokers(services: dict[str, dict[str, Any]], profile: dict) -> None:
    servers = profile["broker"]["bootstrap_servers"].split(",")
    assert len(servers) == len(KAFKA_BROKERS)
    for server in servers:
        host, port = server.rsplit(":", 1)
        assert host == "127.0.0.1"
        name, _ = service_publishing(services, int(port))
        assert name in KAFKA_BROKERS
        assert listeners(environment(services[name])["KAFKA_ADVERTISED_LISTENERS"])["EXTERNAL"] == server
    registry = urlparse(profile["schema_registry"]["url"])
    assert registry.hostname == "127.0.0.1"
    assert service_publishing(services, registry.port) == ("schema-registry", 8081)


def test_profile_object_store_matches_minio(services: dict[str, dict[str, Any]], profile: dict) -> None:
    store = profile["object_store"]
    url = urlparse(store["endpoint_url"])
    assert url.hostname == "127.0.0.1"
    assert service_publishing(services, url.port) == ("minio", 9000)
    minio_env = environment(services["minio"])
    assert REQUIRED_REF.match(minio_env["MINIO_ROOT_USER"]).group(1) == store["access_key_env"]
    assert REQUIRED_REF.match(minio_env["MINIO_ROOT_PASSWORD"]).group(1) == store["secret_key_env"]
    created = re.findall(r"local/([a-z0-9.-]+)", command_text(services["minio-init"]))
    assert sorted(created) == sorted(store["buckets"]), f"minio-init creates {created}, the profile lists {store['buckets']}"


def test_profile_olap_matches_clickhouse(services: dict[str, dict[str, Any]], profile: dict) -> None:
    olap = profile["olap"]
    assert olap["host"] == "127.0.0.1"
    assert service_publishing(services, olap["port"]) == ("clickhouse", 8123)
    env = environment(services["clickhouse"])
    assert env["CLICKHOUSE_USER"] == olap["username"]
    assert REQUIRED_REF.match(env["CLICKHOUSE_PASSWORD"]).group(1) == olap["password_env"]


def test_profile_postgres_matches(services: dict[str, dict[str, Any]], profile: dict) -> None:
    pg = profile["postgres"]
    assert pg["host"] == "127.0.0.1"
    assert service_publishing(services, pg["port"]) == ("postgres", 5432)
    env = environment(services["postgres"])
    assert env["POSTGRES_USER"] == pg["user"]
    assert env["POSTGRES_DB"] == pg["database"]
    assert REQUIRED_REF.match(env["POSTGRES_PASSWORD"]).group(1) == pg["password_env"]


def test_profile_spark_master_matches(services: dict[str, dict[str, Any]], profile: dict) -> None:
    master = urlparse(profile["spark"]["master"])
    assert master.scheme == "spark" and master.hostname == "127.0.0.1"
    assert service_publishing(services, master.port) == ("spark-master", master.port)
    assert f"--port {master.port}" in command_text(services["spark-master"])


def test_jupyter_overrides_are_valid_config(services: dict[str, dict[str, Any]]) -> None:
    """The container's WORKBENCH__ overrides load into the compose profile and name real services."""
    from platform_kit.config import load_raw_config
    from platform_kit.services import REGISTRIES

    env = environment(services["jupyter"])
    assert env["WORKBENCH_PROFILE"] == "compose"
    overrides = {k: v for k, v in env.items() if k.startswith("WORKBENCH__")}
    config = load_raw_config("compose", root=ROOT, environ=overrides)
    hostnames = {spec.get("hostname", name) for name, spec in services.items()}
    for key, value in overrides.items():
        section, field = key.removeprefix("WORKBENCH__").lower().split("__", 1)
        assert str(config[section][field]) == value
        REGISTRIES[section].parse_config(config[section])  # strict models: no unknown keys
        hosts = [value] if field.endswith("host") else re.findall(r"(?:^|//|,)([a-z][a-z0-9-]*)(?=:\d)", value)
        for host in hosts:
            assert host in hostnames, f"{key} points at {host}, which no service is called"
    assert config["broker"]["bootstrap_servers"] == ",".join(f"{b}:19092" for b in KAFKA_BROKERS)
