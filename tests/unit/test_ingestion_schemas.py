"""Section 3 of lab 2: Avro with a schema registry, compatibility, broker-side validation, DLQ routing.

Pure tier (schemas, records, compatibility), failure tier (hostile records and bytes against an
in-process registry and fake producers), the exercise's grader, and a small engine tier.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from confluent_kafka import KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from platform_kit.errors import InputError, ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import DeadLetter, DeadLetterQueue, Record, Stage
from platform_kit.ingestion import schemas as sc
from platform_kit.ingestion._schemas_broker import _CHDIR_EXEC
from platform_kit.services._schema_registry_server import make_server
from platform_kit.services._schema_registry_store import RegistryStore

GOOD = {"order_id": 17, "customer_id": 91, "order_ts": 1704097254963, "status": "delivered", "channel": "web",
        "region": "us-west", "currency": "USD", "total_amount": 1643.97}


class FakeMessage:
    def __init__(self, partition: int, offset: int) -> None:
        self._p, self._o = partition, offset

    def partition(self) -> int:
        return self._p

    def offset(self) -> int:
        return self._o


class FakeProducer:
    """Acknowledges at flush; ``reject(value)`` makes a batch fail with INVALID_RECORD as tansu does.

    With ``batching``, a batch holding any rejected record fails as a whole; alone, only the bad one fails.
    """

    def __init__(self, reject: Any = None, *, stuck: int = 0) -> None:
        self.reject = reject or (lambda value: False)
        self.stuck = stuck
        self.sent: list[dict[str, Any]] = []
        self._pending: list[tuple[dict[str, Any], Any]] = []

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None,
                headers: Any = None, on_delivery: Any = None) -> None:
        item = {"topic": topic, "value": value, "key": key, "headers": headers}
        self.sent.append(item)
        self._pending.append((item, on_delivery))

    def poll(self, timeout: float = 0) -> int:
        return 0

    def flush(self, timeout: float = 0) -> int:
        if self.stuck:
            return self.stuck
        batch, self._pending = self._pending, []
        bad_batch = any(self.reject(item["value"]) for item, _ in batch)
        for offset, (_, callback) in enumerate(batch):
            error = KafkaError(KafkaError.INVALID_RECORD) if bad_batch else None
            callback(error, FakeMessage(0, -1 if bad_batch else offset))
        return 0


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = RegistryStore(tmp_path_factory.mktemp("registry") / "registry.json")
    server = make_server("127.0.0.1", 0, store)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def client(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def dlq_with(producer: FakeProducer | None = None) -> tuple[DeadLetterQueue, FakeProducer]:
    producer = producer or FakeProducer()
    return DeadLetterQueue(producer, "orders.dlq"), producer


def letters(producer: FakeProducer) -> list[DeadLetter]:
    return [DeadLetter.from_dlq_record(Record(topic=p["topic"], partition=0, offset=i, key=p["key"], value=p["value"],
                                              headers=dict(p["headers"]))) for i, p in enumerate(producer.sent)]


# --- pure tier ---------------------------------------------------------------------------


def test_order_records_match_schema_v1() -> None:
    from platform_kit.datasets import generate_company

    orders = generate_company("tiny", 42)["orders"]
    records = sc.order_records(orders, limit=50)
    assert len(records) == 50 and records[0]["order_id"] == int(orders["order_id"].iat[0])
    assert records[0]["order_ts"] == int(orders["order_ts"].iat[0].value // 1_000_000)
    parsed = fastavro.parse_schema(sc.ORDER_SCHEMA_V1)
    assert all(fastavro.validation.validate(r, parsed, raise_errors=False) for r in records)
    with pytest.raises(InputError, match="total_amount"):
        sc.order_records(orders.drop(columns=["total_amount"]))


def test_v2_is_fully_compatible_with_v1() -> None:
    assert sc.check_compatibility(sc.ORDER_SCHEMA_V2, sc.ORDER_SCHEMA_V1, "FULL_TRANSITIVE").compatible


def test_evolution_matrix_matches_avro_rules() -> None:
    matrix = sc.evolution_matrix(sc.candidate_evolutions(), sc.ORDER_SCHEMA_V1)
    got = {(r.candidate, r.level): r.compatible for r in matrix.itertuples()}
    expected = {  # (BACKWARD, FORWARD, FULL)
        "add coupon_code with a default": (True, True, True),
        "add loyalty_tier without a default": (False, True, False),
        "rename total_amount -> amount": (False, False, False),
        "rename total_amount -> amount with an alias": (True, False, False),
        "change total_amount double -> string": (False, False, False),
        "widen customer_id int -> long": (True, False, False),
        "drop channel": (True, False, False),
    }
    for name, verdicts in expected.items():
        assert tuple(got[(name, level)] for level in ("BACKWARD", "FORWARD", "FULL")) == verdicts, name
    assert all(bool(r.why) != r.compatible for r in matrix.itertuples())


def test_check_compatibility_explains_direction_and_rejects_bad_input() -> None:
    report = sc.check_compatibility(sc.candidate_evolutions()["drop channel"], sc.ORDER_SCHEMA_V1, "full")
    assert not report.compatible and report.directions == {"forward"} and "channel" in report.messages[0]
    with pytest.raises(InputError, match="not a valid Avro schema"):
        sc.check_compatibility({"type": "record"}, sc.ORDER_SCHEMA_V1)
    with pytest.raises(InputError, match="BACKWARD_TRANSITIVE"):
        sc.check_compatibility(sc.ORDER_SCHEMA_V2, sc.ORDER_SCHEMA_V1, "loose")
    with pytest.raises(InputError, match="lacks field"):
        sc.candidate_evolutions({"type": "record", "name": "X", "fields": [{"name": "a", "type": "int"}]})


def test_bad_orders_all_violate_v1_and_malformed_values_are_labelled() -> None:
    import io

    parsed = fastavro.parse_schema(sc.ORDER_SCHEMA_V1)
    for name, record in sc.bad_orders(GOOD).items():  # what produce_avro checks: validation, then strict writing
        with pytest.raises((ValueError, TypeError, fastavro.validation.ValidationError)):
            fastavro.validation.validate(record, parsed, raise_errors=True)
            fastavro.schemaless_writer(io.BytesIO(), parsed, record, strict=True)
            pytest.fail(name)
    valid = b"\x00\x00\x00\x00\x07" + b"\x01" * 20
    corpus = sc.malformed_values(valid)
    assert set(corpus) == set(sc.MALFORMED_EXPECTED)
    assert sc.wire_schema_id(corpus["unknown schema id"]) == 2**31 - 7
    assert sc.wire_schema_id(corpus["plain JSON"]) is None and sc.wire_schema_id(b"") is None
    with pytest.raises(InputError):
        sc.malformed_values(b'{"json": true}')


def test_validating_broker_runs_tansu_in_its_folder_with_a_relative_registry(tmp_path: Path) -> None:
    from platform_kit import Workbench

    broker = sc.ValidatingTansuBroker(Workbench("embedded"), name="vb-test")
    command = broker.command(12345)
    assert command[1:4] == ["-c", _CHDIR_EXEC, str(broker.data_dir)]
    assert command[command.index("--schema-registry") + 1] == "file://./schemas"
    assert command[command.index("--storage-engine") + 1] == "memory://tansu/"
    assert broker.name == "vb-test" and broker.data_dir.name == "vb-test" and broker.preferred_port() == (0, False)
    path = broker.add_json_schema("t.one", sc.ORDER_JSON_SCHEMA)
    assert path == broker.schemas_dir / "t.one.json" and json.loads(path.read_text()) == sc.ORDER_JSON_SCHEMA
    with pytest.raises(InputError, match="properties.key"):
        broker.add_json_schema("t.two", {"type": "object"})
    avsc = json.loads(broker.add_avro_schema("t.three", sc.ORDER_SCHEMA_V1, key="string").read_text())
    assert [f["name"] for f in avsc["fields"]] == ["key", "value"]
    with pytest.raises(InputError, match="silently|skip validation"):
        broker.add_avro_schema("t.four", {"type": "record", "name": "Bad", "fields": [{"name": "x", "type": "recrd"}]})
    assert not (broker.schemas_dir / "t.four.avsc").exists()
    broker.reset()
    assert not broker.data_dir.exists()


def test_json_items_quote_keys_and_container_files_embed_the_schema() -> None:
    (item,) = sc.json_items([GOOD])
    assert item.key == b'"17"' and json.loads(item.value) == GOOD
    blob = sc.avro_container_bytes(sc.ORDER_SCHEMA_V1, GOOD)
    assert blob[:4] == b"Obj\x01" and b"com.northwind.sales" in blob and len(blob) > 300


# --- failure tier: hostile records and bytes ---------------------------------------------


def test_produce_avro_dead_letters_every_violation_and_loses_nothing(registry_url: str) -> None:
    dlq, dlq_producer = dlq_with()
    producer = FakeProducer()
    bad = sc.bad_orders(GOOD)
    report = sc.produce_avro(producer, client(registry_url), "orders.p1", [GOOD, *bad.values(), GOOD], sc.ORDER_SCHEMA_V1,
                             dlq)
    assert (report.attempted, report.delivered, report.dead_letters["schema_violation"], report.lost) == (
        2 + len(bad), 2, len(bad), 0)
    assert len(report.schema_ids) == 1 and sum(report.schema_ids.values()) == 2
    assert all(sc.wire_schema_id(p["value"]) in report.schema_ids for p in producer.sent)
    dead = letters(dlq_producer)
    assert {d.reason for d in dead} == {"schema_violation"} and {d.stage for d in dead} == {Stage.SCHEMA}
    assert (dead[0].partition, dead[0].offset) == (-1, -1) and json.loads(dead[0].value)["total_amount"] == "12,50"


def test_avro_serializer_alone_lets_out_of_range_values_through(registry_url: str) -> None:
    """The trap produce_avro's validation closes: fastavro packs 2**40 into an Avro int."""
    wide = {**GOOD, "customer_id": 2**40}
    context = SerializationContext("orders.p2", MessageField.VALUE)
    assert AvroSerializer(client(registry_url), json.dumps(sc.ORDER_SCHEMA_V1))(wide, context)
    dlq, _ = dlq_with()
    unchecked = sc.produce_avro(FakeProducer(), client(registry_url), "orders.p2", [wide], sc.ORDER_SCHEMA_V1, dlq,
                                validate=False)
    checked = sc.produce_avro(FakeProducer(), client(registry_url), "orders.p2", [wide], sc.ORDER_SCHEMA_V1, dlq)
    assert (unchecked.delivered, checked.delivered, checked.dead_letters["schema_violation"]) == (1, 0, 1)


def test_incompatible_schema_raises_instead_of_dead_lettering(registry_url: str) -> None:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    dlq, dlq_producer = dlq_with()
    sc.produce_avro(FakeProducer(), client(registry_url), "orders.p3", [GOOD], sc.ORDER_SCHEMA_V1, dlq)
    breaking = sc.candidate_evolutions()["change total_amount double -> string"]
    with pytest.raises(SchemaRegistryError) as info:
        sc.produce_avro(FakeProducer(), client(registry_url), "orders.p3", [{**GOOD, "total_amount": "1"}], breaking, dlq)
    assert info.value.http_status_code == 409 and not dlq_producer.sent


def test_registry_outage_is_raised_not_dead_lettered() -> None:
    from platform_kit.ingestion._schemas_codec import transient_errors

    dead_registry = SchemaRegistryClient({"url": "http://127.0.0.1:9", "max.retries": 0})
    dlq, dlq_producer = dlq_with()
    with pytest.raises(transient_errors()):
        sc.produce_avro(FakeProducer(), dead_registry, "orders.p4", [GOOD], sc.ORDER_SCHEMA_V1, dlq)
    framed = b"\x00\x00\x00\x00\x01" + b"\x02" * 10
    with pytest.raises(transient_errors()):
        sc.decode_records([Record("orders.p4", 0, 0, None, framed)], dead_registry, dlq)
    assert not dlq_producer.sent


def test_decode_records_routes_each_malformed_kind_to_its_reason(registry_url: str) -> None:
    context = SerializationContext("orders.c1", MessageField.VALUE)
    valid = AvroSerializer(client(registry_url), json.dumps(sc.ORDER_SCHEMA_V1))(GOOD, context)
    corpus = sc.malformed_values(valid)
    records = [Record("orders.c1", 0, i, b"k", value) for i, value in enumerate([valid, *corpus.values(), None])]
    dlq, dlq_producer = dlq_with()
    report = sc.decode_records(records, client(registry_url), dlq)
    wanted: dict[str, int] = {}
    for reason in [*sc.MALFORMED_EXPECTED.values(), "null_value"]:
        if reason:
            wanted[reason] = wanted.get(reason, 0) + 1
    assert dict(report.dead_letters) == wanted
    assert report.lost == 0 and report.read == len(records)
    assert len(report.values) == 2  # the valid one and the bit flip, which Avro cannot detect
    assert report.values[0]["total_amount"] == GOOD["total_amount"] != report.values[1]["total_amount"]
    dead = letters(dlq_producer)
    assert {(d.reason, d.stage) for d in dead} == {
        ("no_magic_byte", Stage.DECODE), ("unknown_schema_id", Stage.SCHEMA), ("corrupt_payload", Stage.DECODE),
        ("null_value", Stage.DECODE)}
    assert all(d.topic == "orders.c1" and d.offset >= 1 for d in dead)


def test_old_and_new_readers_resolve_mixed_versions(registry_url: str) -> None:
    context = SerializationContext("orders.c2", MessageField.VALUE)
    old = AvroSerializer(client(registry_url), json.dumps(sc.ORDER_SCHEMA_V1))(GOOD, context)
    new = AvroSerializer(client(registry_url), json.dumps(sc.ORDER_SCHEMA_V2))({**GOOD, "coupon_code": "X"}, context)
    records = [Record("orders.c2", 0, 0, None, old), Record("orders.c2", 0, 1, None, new)]
    dlq, _ = dlq_with()
    as_v1 = sc.decode_records(records, client(registry_url), dlq, reader_schema=sc.ORDER_SCHEMA_V1)
    as_v2 = sc.decode_records(records, client(registry_url), dlq, reader_schema=sc.ORDER_SCHEMA_V2)
    assert ["coupon_code" in v for v in as_v1.values] == [False, False]
    assert [v["coupon_code"] for v in as_v2.values] == [None, "X"]
    assert len(as_v2.schema_ids) == 2


def test_deliver_resends_a_rejected_batch_alone_and_dead_letters_only_the_bad() -> None:
    producer = FakeProducer(reject=lambda value: b"bad" in (value or b""))
    items = [sc.Outgoing(b"1", b"good-1"), sc.Outgoing(b"2", b"bad-2"), sc.Outgoing(b"3", b"good-3")]
    dlq, dlq_producer = dlq_with()
    report = sc.deliver(producer, "strict", items, dlq)
    assert (report.delivered, report.dead_letters["broker_rejected"], report.resent_alone, report.lost) == (2, 1, 3, 0)
    (dead,) = letters(dlq_producer)
    assert dead.value == b"bad-2" and dead.stage is Stage.SCHEMA and dead.attempts == 2
    assert "INVALID_RECORD" in dead.error


def test_deliver_raises_when_records_stay_queued() -> None:
    dlq, dlq_producer = dlq_with()
    with pytest.raises(ServiceError, match="still queued"):
        sc.deliver(FakeProducer(stuck=1), "t", [sc.Outgoing(None, b"x")], dlq)
    assert not dlq_producer.sent


# --- the exercise ---------------------------------------------------------------------------


def _adds(fields: list[dict[str, Any]]) -> Any:
    def evolve(schema: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(schema)
        out["fields"] = [*out["fields"], *copy.deepcopy(fields)]
        return out
    return evolve


TIER = {"name": "loyalty_tier", "type": ["null", "string"], "default": None}
DISCOUNT = {"name": "discount", "type": "double", "default": 0.0}


def test_schema_evolution_grader_accepts_the_reference_and_variants() -> None:
    history = [sc.ORDER_SCHEMA_V1, sc.ORDER_SCHEMA_V2]
    result = check("ingestion.schema_evolution", sc.evolve_reference, context={"history": history, "subject": "s"},
                   show=False)
    assert result.passed, result.message
    plain = _adds([{"name": "loyalty_tier", "type": "string", "default": "none"},
                   {"name": "discount", "type": ["null", "double"], "default": None}])
    assert check("ingestion.schema_evolution", plain, show=False).passed


def _mutating(schema: dict[str, Any]) -> dict[str, Any]:
    schema["fields"] += [TIER, DISCOUNT]
    return schema


def _dropping(schema: dict[str, Any]) -> dict[str, Any]:
    out = sc.evolve_reference(schema)
    out["fields"] = [f for f in out["fields"] if f["name"] not in ("channel", "segment")]
    return out


def _retyping(schema: dict[str, Any]) -> dict[str, Any]:
    out = sc.evolve_reference(schema)
    out["fields"][0] = {**out["fields"][0], "type": "string"}
    return out


def _renaming(schema: dict[str, Any]) -> dict[str, Any]:
    return {**sc.evolve_reference(schema), "name": "OrderV2"}


@pytest.mark.parametrize(("answer", "fragment"), [
    (_adds([{"name": "loyalty_tier", "type": "string"}, DISCOUNT]), "has no default"),
    (_adds([TIER, {"name": "discount", "type": "double"}]), "has no default"),
    (_adds([TIER]), "no field 'discount'"),
    (_adds([TIER, {"name": "discount", "type": "string", "default": "0"}]), "must be a double"),
    (_adds([{"name": "loyalty_tier", "type": ["string", "null"], "default": None}, DISCOUNT]), "FIRST branch"),
    (_mutating, "modified the schema"),
    (_dropping, "is gone"),
    (_retyping, "changed type"),
    (_renaming, "name or namespace"),
    (lambda schema: json.dumps(sc.evolve_reference(schema)), "expected a schema dict"),
])
def test_schema_evolution_grader_rejects_breaking_evolutions(answer: Any, fragment: str) -> None:
    result = check("ingestion.schema_evolution", answer, show=False)
    assert not result.passed and result.attempted and fragment in result.message, result.message


def test_schema_evolution_grader_checks_the_live_history_transitively() -> None:
    # v2 added `gift` with a default; an answer that drops that default is FULL compatible with v2
    # alone but cannot read v1's records, which lack `gift`: only the check against all versions sees it
    v2 = copy.deepcopy(sc.ORDER_SCHEMA_V1)
    v2["fields"].append({"name": "gift", "type": "boolean", "default": False})

    def strips_gift_default(schema: dict[str, Any]) -> dict[str, Any]:
        out = sc.evolve_reference(schema)
        out["fields"] = [{k: v for k, v in f.items() if not (f["name"] == "gift" and k == "default")}
                         for f in out["fields"]]
        return out

    assert check("ingestion.schema_evolution", strips_gift_default, show=False).passed
    result = check("ingestion.schema_evolution", strips_gift_default,
                   context={"history": [sc.ORDER_SCHEMA_V1, v2], "subject": "s"}, show=False)
    assert not result.passed and "2 registered version(s)" in result.message and "gift" in result.message


def test_schema_evolution_learner_stub_is_not_attempted() -> None:
    def stub(schema: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    result = check("ingestion.schema_evolution", stub, show=False)
    assert not result.passed and not result.attempted


# --- engine tier ----------------------------------------------------------------------------


def test_avro_round_trip_through_broker_and_embedded_registry() -> None:
    import uuid

    from platform_kit import Workbench
    from platform_kit.ingestion import dlq_topic_for, read_dead_letters

    with Workbench("embedded") as workbench:
        broker, registry = workbench.broker, workbench.schema_registry
        topic = f"unit.schemas.{uuid.uuid4().hex[:8]}"
        broker.create_topic(topic, 2)
        dlq = DeadLetterQueue(broker.producer(linger_ms=5), dlq_topic_for(topic))
        sent = sc.produce_avro(broker.producer(linger_ms=5), registry.client(), topic, [GOOD, {**GOOD, "order_id": 18},
                               sc.bad_orders(GOOD)["status missing"]], sc.ORDER_SCHEMA_V1, dlq,
                               raw=[sc.Outgoing(b"x", b"plain text")])
        got = sc.consume_avro(broker, registry.client(), topic, dlq, expected=sent.delivered)
        assert sorted(v["order_id"] for v in got.values) == [17, 18] and got.dead_letters == {"no_magic_byte": 1}
        reasons = sorted(d.reason for d in read_dead_letters(broker, dlq_topic_for(topic), expected=2))
        assert reasons == ["no_magic_byte", "schema_violation"]
        del dlq  # a producer still connected makes tansu's shutdown wait ~5 s
