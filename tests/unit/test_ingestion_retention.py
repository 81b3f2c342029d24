"""Lab 2 section 1: topic settings, the cost/durability calculator, the compose path, the exercise."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import pytest

from platform_kit.errors import ConfigError, ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import retention
from platform_kit.ingestion.retention import (
    DurabilityTarget,
    RetentionSettings,
    TopicSettings,
    Workload,
    cheapest_settings,
    compose_broker_services,
    compose_command,
    durability,
    evaluate_settings,
    normalise_acks,
    pareto_front,
    settings_grid,
    storage_bytes,
)

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


# --- pure logic: durability --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("rf", "isr", "acks", "lossless", "writable"),
    [
        (3, 2, "all", 1, 1),  # the classic pair
        (3, 3, "all", 2, 0),  # no loss through 2 failures, but one failure stops writes
        (2, 2, "all", 1, 0),
        (2, 1, "all", 0, 1),  # ISR may shrink to the leader alone
        (5, 3, "all", 2, 2),
        (1, 1, "all", 0, 0),
        (3, 2, "1", 0, 2),  # leader-only acknowledgement
        (3, 2, 1, 0, 2),
        (3, 1, "0", -1, 2),  # fire and forget
        (3, 2, -1, 1, 1),  # -1 is 'all'
    ],
)
def test_durability_table(rf: int, isr: int, acks: Any, lossless: int, writable: int) -> None:
    assert durability(rf, isr, acks) == {"lossless_failures": lossless, "writable_failures": writable}


@pytest.mark.parametrize("acks", ["2", "none", None, 0.5, "al"])
def test_bad_acks_rejected(acks: Any) -> None:
    with pytest.raises(ConfigError, match="acks"):
        normalise_acks(acks)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"replication_factor": 2, "min_insync_replicas": 3, "acks": "all", "retention_hours": 1},
        {"replication_factor": 0, "min_insync_replicas": 1, "acks": "all", "retention_hours": 1},
        {"replication_factor": 1.5, "min_insync_replicas": 1, "acks": "all", "retention_hours": 1},
        {"replication_factor": True, "min_insync_replicas": 1, "acks": "all", "retention_hours": 1},
        {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": 0},
        {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": float("nan")},
        {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": 1,
         "retention_bytes": 0},
    ],
)
def test_invalid_settings_give_clear_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        RetentionSettings(**kwargs)
    assert err.value.fix


def test_settings_from_mapping_names_missing_and_unknown_keys() -> None:
    with pytest.raises(ConfigError, match=r"missing \['acks'\].*unknown \['replication.factor'\]"):
        RetentionSettings.from_mapping({"replication.factor": 3, "replication_factor": 3, "min_insync_replicas": 2,
                                        "retention_hours": 1})
    with pytest.raises(ConfigError, match="must be a dict"):
        RetentionSettings.from_mapping([("replication_factor", 3)])  # type: ignore[arg-type]


# --- pure logic: storage cost ------------------------------------------------------------------
def test_storage_by_hand() -> None:
    # 1000 rec/s x 100 B = 100 kB/s over 2 partitions = 50 kB/s each; 1 h = 180 MB per partition-replica
    work = Workload(write_rate_per_s=1000, record_bytes=100, partitions=2, segment_bytes=10_000_000,
                    segment_ms=3_600_000, usd_per_gb_month=0.1)
    sizes = storage_bytes(work, RetentionSettings(3, 2, "all", 1.0))
    assert sizes["data_bytes"] == pytest.approx(180e6 * 2 * 3)
    assert sizes["segment_slack_bytes"] == pytest.approx(10e6 * 2 * 3)  # the 10 MB segment fills before 1 h
    assert sizes["index_bytes"] == pytest.approx((1080e6 + 60e6) * retention.INDEX_OVERHEAD)
    row = evaluate_settings(work, RetentionSettings(3, 2, "all", 1.0))
    assert row["usd_month"] == pytest.approx(sizes["total_bytes"] / 1e9 * 0.1)


def test_segment_slack_is_time_bound_for_slow_topics() -> None:
    # 1 rec/s x 100 B, segments rolled hourly: each partition holds at most 1 h = 360 kB of slack
    work = Workload(write_rate_per_s=1, record_bytes=100, partitions=1, segment_ms=3_600_000)
    assert storage_bytes(work, RetentionSettings(1, 1, "all", 24))["segment_slack_bytes"] == pytest.approx(360_000)


def test_retention_bytes_caps_each_partition() -> None:
    work = Workload(write_rate_per_s=1000, record_bytes=1000, partitions=4, segment_bytes=1_000_000)
    capped = storage_bytes(work, RetentionSettings(1, 1, "all", 168, retention_bytes=5_000_000))
    assert capped["data_bytes"] == pytest.approx(4 * 5_000_000)


def test_cost_is_linear_in_rf_and_retention() -> None:
    work = Workload(write_rate_per_s=500, record_bytes=200)
    cost = {(rf, h): evaluate_settings(work, RetentionSettings(rf, 1, "all", h))["usd_month"]
            for rf in (1, 2, 3) for h in (24, 48)}
    assert cost[(3, 24)] == pytest.approx(3 * cost[(1, 24)])
    assert cost[(2, 48)] > cost[(2, 24)] and cost[(1, 48)] < 2 * cost[(1, 24)] + 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [{"write_rate_per_s": -1, "record_bytes": 10}, {"write_rate_per_s": 1, "record_bytes": 0},
     {"write_rate_per_s": 1, "record_bytes": 10, "partitions": 0},
     {"write_rate_per_s": float("inf"), "record_bytes": 10}, {"write_rate_per_s": "1", "record_bytes": 10}],
)
def test_bad_workloads_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Workload(**kwargs)


def test_evaluate_reports_every_problem_in_words() -> None:
    work = Workload(write_rate_per_s=2000, record_bytes=500)
    row = evaluate_settings(work, {"replication_factor": 4, "min_insync_replicas": 1, "acks": 1,
                                   "retention_hours": 72}, DurabilityTarget(1, True), 10.0, 3)
    text = " ".join(row["problems"])
    assert "acks=1" in text and "budget" in text and "3" in text
    assert not row["meets_durability"] and not row["within_budget"] and not row["fits_cluster"]


def test_grid_pareto_front_is_rf1_rf3_rf5() -> None:
    grid = settings_grid(Workload(write_rate_per_s=2000, record_bytes=500), retention_hours=(72,))
    front = grid[grid["pareto"]]
    assert front["label"].tolist() == ["RF1/isr1/acks=all", "RF3/isr2/acks=all", "RF5/isr3/acks=all"]
    assert (grid.loc[grid["replication_factor"] == 2, "tolerated_failures"] <= 0).all()  # RF=2 buys nothing here
    assert settings_grid(Workload(1, 1), brokers=3)["replication_factor"].max() == 3


def test_pareto_front_marks_only_the_first_of_identical_rows() -> None:
    import pandas as pd

    frame = pd.DataFrame({"usd_month": [1.0, 1.0, 2.0, 2.0], "tolerated_failures": [0, 0, 0, 1]})
    assert pareto_front(frame).tolist() == [True, False, False, True]


def test_cheapest_settings() -> None:
    work = Workload(write_rate_per_s=2000, record_bytes=500)
    best = cheapest_settings(work, DurabilityTarget(1, True), min_retention_hours=72, budget_usd_month=100, brokers=3)
    assert (best.replication_factor, best.min_insync_replicas, best.acks) == (3, 2, "all")
    relaxed = cheapest_settings(work, DurabilityTarget(1, False), min_retention_hours=72)
    assert (relaxed.replication_factor, relaxed.min_insync_replicas) == (2, 2)
    assert cheapest_settings(work, DurabilityTarget(1, True), min_retention_hours=72, budget_usd_month=10) is None
    assert cheapest_settings(work, DurabilityTarget(2, True), min_retention_hours=1, brokers=4) is None


def test_plot_runs_headless() -> None:
    import matplotlib

    matplotlib.use("Agg")
    work = Workload(write_rate_per_s=100, record_bytes=100)
    axes = retention.plot_cost_vs_durability(work, settings_grid(work, retention_hours=(24,)), budget_usd_month=1)
    assert len(axes) == 2 and axes[0].get_xlabel().startswith("storage cost")


# --- topic settings ----------------------------------------------------------------------------
def test_topic_config_strings() -> None:
    spec = TopicSettings("lab02.t", retention_ms=3_600_000, segment_ms=600_000, cleanup_policy="delete, compact",
                         extra={"max.message.bytes": 2_000_000})
    config = spec.topic_config()
    assert config["cleanup.policy"] == "compact,delete" and config["retention.ms"] == "3600000"
    assert config["max.message.bytes"] == "2000000" and all(isinstance(v, str) for v in config.values())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "bad name!"}, "invalid topic name"),
        ({"name": ""}, "invalid topic name"),
        ({"name": "x" * 250}, "invalid topic name"),
        ({"name": "t", "cleanup_policy": "bogus"}, "cleanup.policy"),
        ({"name": "t", "retention_ms": "abc"}, "retention_ms"),
        ({"name": "t", "retention_ms": 0}, "delete every record"),
        ({"name": "t", "retention_bytes": -2}, "retention_bytes"),
        ({"name": "t", "partitions": 0}, "partitions"),
        ({"name": "t", "replication_factor": 2, "min_insync_replicas": 3}, "exceeds the replication factor"),
        ({"name": "t", "retention_ms": 3_600_000, "segment_ms": 7_200_000}, "segment.ms"),
    ],
)
def test_topic_settings_reject_what_tansu_would_accept(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TopicSettings(**kwargs)


# --- compose path (no Docker needed) -------------------------------------------------------------
def test_compose_services_from_node_ids() -> None:
    assert compose_broker_services(COMPOSE) == {1: "kafka-1", 2: "kafka-2", 3: "kafka-3"}


def test_compose_commands() -> None:
    assert compose_command("stop", "kafka-2", path=COMPOSE) == ["docker", "compose", "-f", str(COMPOSE), "stop",
                                                               "kafka-2"]
    assert compose_command("start", ["kafka-1", "kafka-3"], path=COMPOSE)[-3:] == ["start", "kafka-1", "kafka-3"]
    with pytest.raises(ConfigError, match="pick from kafka-1"):
        compose_command("stop", "postgres", path=COMPOSE)
    with pytest.raises(ConfigError, match="'stop' or 'start'"):
        compose_command("rm", "kafka-1", path=COMPOSE)
    with pytest.raises(ConfigError):
        compose_command("stop", [], path=COMPOSE)


def test_compose_file_without_kafka_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  db:\n    image: postgres:16\n    environment: [POSTGRES_DB=x]\n")
    with pytest.raises(ConfigError, match="no Kafka broker service"):
        compose_broker_services(path)
    path.write_text("services: [unbalanced\n")
    with pytest.raises(ConfigError, match="cannot read"):
        compose_broker_services(path)


def test_compose_list_form_environment(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  k9:\n    image: apache/kafka:4.1.2\n    environment: [KAFKA_NODE_ID=9]\n")
    assert compose_broker_services(path) == {9: "k9"}


def test_compose_demo_refuses_other_profiles() -> None:
    class Fake:
        profile = "embedded"

    with pytest.raises(ConfigError, match="compose profile"):
        retention.replicated_stop_demo(Fake(), runner=lambda cmd: None)


def test_compose_demo_flow_with_a_fake_cluster() -> None:
    """The demo's command sequence (stop the leader's service, start it again) with fakes for Docker and Kafka."""
    from platform_kit.ingestion import _retention_compose as rc

    ran: list[list[str]] = []
    produced: list[bytes] = []

    class Producer:
        def produce(self, topic: str, key: bytes, value: bytes, on_delivery: Any) -> None:
            produced.append(key)
            on_delivery(None, type("M", (), {"key": lambda self, k=key: k})())

        def poll(self, _t: float) -> None: ...

        def flush(self, _t: float) -> int:
            return 0

        def purge(self) -> None: ...

        def close(self) -> None: ...

    class Fake:
        profile = "compose"
        broker = object()

    originals = (rc.create_topic_quietly, rc._leader_of, rc.drain_topic, rc._durable_producer)
    rc.create_topic_quietly = lambda *a, **k: None  # type: ignore[assignment]
    rc._leader_of = lambda *a, **k: 2  # type: ignore[assignment]
    rc.drain_topic = lambda *a, **k: [type("R", (), {"key": k})() for k in produced]  # type: ignore[assignment]
    rc._durable_producer = lambda broker: Producer()  # type: ignore[assignment]
    try:
        report = rc.replicated_stop_demo(Fake(), records=10, runner=ran.append, compose_path=COMPOSE, settle_s=0)
    finally:
        rc.create_topic_quietly, rc._leader_of, rc.drain_topic, rc._durable_producer = originals
    assert [cmd[-2:] for cmd in ran] == [["stop", "kafka-2"], ["start", "kafka-2"]]
    assert report["lost"] == 0 and report["acknowledged"] == report["read"] == 10 and report["stopped"] == "kafka-2"


# --- the exercise -------------------------------------------------------------------------------
def _choose(scenario: dict[str, Any]) -> dict[str, Any] | None:
    k = scenario["broker_failures"]
    isr = k + 1
    rf = isr + (k if scenario["stay_writable"] else 0)
    if rf > scenario["brokers"]:
        return None
    settings = {"replication_factor": rf, "min_insync_replicas": isr, "acks": "all",
                "retention_hours": scenario["min_retention_hours"]}
    work = Workload(write_rate_per_s=scenario["write_rate_per_s"], record_bytes=scenario["record_bytes"],
                    partitions=scenario["partitions"], usd_per_gb_month=scenario["usd_per_gb_month"])
    return settings if evaluate_settings(work, settings)["usd_month"] <= scenario["budget_usd_month"] else None


SCENARIO = {"write_rate_per_s": 2000.0, "record_bytes": 171.0, "partitions": 6, "usd_per_gb_month": 0.08,
            "min_retention_hours": 72.0, "broker_failures": 1, "stay_writable": True, "budget_usd_month": 40.0,
            "brokers": 3}


def test_exercise_accepts_the_solution() -> None:
    assert check("ingestion.durable_settings", _choose, context={"scenario": SCENARIO}, show=False).passed


@pytest.mark.parametrize(
    ("wrong", "why"),
    [
        (lambda s: {"replication_factor": 3, "min_insync_replicas": 2, "acks": 1, "retention_hours": 72}, "acks=1"),
        (lambda s: {"replication_factor": 3, "min_insync_replicas": 1, "acks": "all", "retention_hours": 72},
         "min.insync.replicas=1"),
        (lambda s: {"replication_factor": 1, "min_insync_replicas": 1, "acks": "all", "retention_hours": 72},
         "can lose it"),
        (lambda s: {"replication_factor": 5, "min_insync_replicas": 3, "acks": "all", "retention_hours": 72},
         "brokers"),
        (lambda s: {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": 24},
         "shorter than"),
        (lambda s: {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": 2000},
         "over the budget"),
        (lambda s: None, "returned None"),
        (lambda s: {"replication.factor": 3}, "invalid"),
        (lambda s: "RF=3", "return a dict"),
    ],
)
def test_exercise_rejects_wrong_settings(wrong: Any, why: str) -> None:
    result = check("ingestion.durable_settings", wrong, context={"scenario": SCENARIO}, show=False)
    assert not result.passed and why in result.message


def test_exercise_rejects_settings_when_nothing_fits_and_mutation() -> None:
    def always(s: dict[str, Any]) -> dict[str, Any]:
        return _choose(s) or {"replication_factor": 3, "min_insync_replicas": 2, "acks": "all", "retention_hours": 72}

    result = check("ingestion.durable_settings", always, show=False)
    assert not result.passed and "return None" in result.message

    def mutating(s: dict[str, Any]) -> dict[str, Any] | None:
        s["budget_usd_month"] = 1e9
        return _choose(s)

    result = check("ingestion.durable_settings", mutating, show=False)
    assert not result.passed and "changed the scenario" in result.message


# --- engine tier: the embedded broker ------------------------------------------------------------
@pytest.fixture(scope="module")
def pk() -> Any:
    import platform_kit

    return platform_kit.connect("embedded")


def test_settings_round_trip_through_the_admin_api(pk: Any) -> None:
    spec = TopicSettings(f"test.retention.{uuid.uuid4().hex[:6]}", partitions=2, retention_ms=86_400_000,
                         retention_bytes=1 << 20, segment_bytes=1 << 20, segment_ms=3_600_000,
                         cleanup_policy="compact")
    report = retention.topic_settings_report(pk.broker, spec)
    assert report["matches"].all(), report
    assert set(report["config"]) >= {"retention.ms", "cleanup.policy", "min.insync.replicas", "replication.factor"}
    with pytest.raises(ServiceError, match="cannot create topic"):
        retention.topic_settings_report(pk.broker, spec)  # exists already


def test_tansu_lists_one_broker_three_times_for_rf3(pk: Any) -> None:
    spec = TopicSettings(f"test.rf3.{uuid.uuid4().hex[:6]}", replication_factor=3, min_insync_replicas=2)
    rows = retention.topic_settings_report(pk.broker, spec).set_index("config")
    assert rows.loc["replication.factor", "effective"] == "3"
    assert rows.loc["replica brokers (distinct)", "effective"] == "1"  # not real replication


def test_private_broker_is_separate_and_refuses_the_shared_one(pk: Any) -> None:
    with pytest.raises(ConfigError, match="PrivateTansuBroker"):
        retention.produce_through_restart(pk.broker)
    with pytest.raises(ConfigError, match="label"):
        retention.PrivateTansuBroker.create(pk, "Bad Label")
    shared = pk.broker.bootstrap_servers
    with retention.PrivateTansuBroker.create(pk, "unit") as private:
        assert private.bootstrap_servers != shared and private.name.startswith("broker-unit-")
        assert private.config.bucket == "broker-unit"
        with pytest.raises(ConfigError, match="valid stream"):
            retention.produce_through_restart(private, records=0)
        report = retention.produce_through_restart(private, records=300, rate_per_s=3000, restart_after_s=0.05)
        assert report.lossless and report.read == 300 and not math.isnan(report.restart_s)
    assert private.port is None
    assert pk.broker.bootstrap_servers == shared and pk.broker.list_topics()
