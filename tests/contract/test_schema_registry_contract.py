"""Contract of the schema_registry kind, checked with confluent-kafka's own client and Avro serde.

Every backend must pass: the embedded server always runs; Confluent's (compose profile) is
skipped with the reason when it does not answer.
"""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract

V1 = {"type": "record", "name": "ContractOrder", "namespace": "workbench.contract",
      "fields": [{"name": "order_id", "type": "long"}, {"name": "amount", "type": "double"}]}
V2 = {**V1, "fields": [*V1["fields"], {"name": "coupon", "type": ["null", "string"], "default": None}]}
NO_DEFAULT = {**V1, "fields": [*V1["fields"], {"name": "tier", "type": "string"}]}


@pytest.fixture(params=PROFILES)
def registry(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return started_service(request, "schema_registry")


def _subject() -> str:
    return f"contract-{uuid.uuid4().hex[:10]}-value"


def _schema(doc: dict) -> Schema:
    return Schema(json.dumps(doc), "AVRO")


def test_registry_register_is_idempotent_and_lists_versions(registry) -> None:  # type: ignore[no-untyped-def]
    client = registry.client()
    subject = _subject()
    first = client.register_schema(subject, _schema(V1))
    assert registry.client().register_schema(subject, _schema(V1)) == first  # a fresh client: no cache
    second = registry.client().register_schema(subject, _schema(V2))
    assert second != first
    fresh = registry.client()
    assert subject in fresh.get_subjects() and fresh.get_versions(subject) == [1, 2]
    latest = fresh.get_latest_version(subject)
    assert (latest.version, latest.schema_id) == (2, second)
    assert fresh.lookup_schema(subject, _schema(V1)).version == 1
    other = _subject()  # the same schema under another subject keeps its id
    assert fresh.register_schema(other, _schema(V1)) == first


def test_registry_avro_serde_uses_the_confluent_wire_format(registry) -> None:  # type: ignore[no-untyped-def]
    topic = f"contract-{uuid.uuid4().hex[:10]}"
    context = SerializationContext(topic, MessageField.VALUE)
    payload = AvroSerializer(registry.client(), json.dumps(V1))({"order_id": 7, "amount": 12.5}, context)
    schema_id = registry.client().get_latest_version(f"{topic}-value").schema_id
    assert payload[0] == 0 and int.from_bytes(payload[1:5], "big") == schema_id
    assert AvroDeserializer(registry.client())(payload, context) == {"order_id": 7, "amount": 12.5}


def test_registry_old_and_new_readers_decode_mixed_versions(registry) -> None:  # type: ignore[no-untyped-def]
    topic = f"contract-{uuid.uuid4().hex[:10]}"
    context = SerializationContext(topic, MessageField.VALUE)
    old = AvroSerializer(registry.client(), json.dumps(V1))({"order_id": 1, "amount": 1.0}, context)
    new = AvroSerializer(registry.client(), json.dumps(V2))({"order_id": 2, "amount": 2.0, "coupon": "X"}, context)
    assert old[1:5] != new[1:5]
    new_reader = AvroDeserializer(registry.client(), json.dumps(V2))
    old_reader = AvroDeserializer(registry.client(), json.dumps(V1))
    assert new_reader(old, context) == {"order_id": 1, "amount": 1.0, "coupon": None}
    assert old_reader(new, context) == {"order_id": 2, "amount": 2.0}


def test_registry_enforces_the_subject_compatibility_level(registry) -> None:  # type: ignore[no-untyped-def]
    client = registry.client()
    subject = _subject()
    client.register_schema(subject, _schema(V1))
    client.set_compatibility(subject, "BACKWARD")
    assert client.get_compatibility(subject) == "BACKWARD"
    assert client.test_compatibility(subject, _schema(V2)) is True
    assert client.test_compatibility(subject, _schema(NO_DEFAULT)) is False
    with pytest.raises(SchemaRegistryError) as info:
        client.register_schema(subject, _schema(NO_DEFAULT))
    assert info.value.http_status_code == 409
    assert client.get_versions(subject) == [1]
    client.set_compatibility(subject, "FORWARD")
    assert client.test_compatibility(subject, _schema(NO_DEFAULT)) is True


def test_registry_reports_missing_things_with_confluent_codes(registry) -> None:  # type: ignore[no-untyped-def]
    client = registry.client()
    subject = _subject()
    for call, codes in [
        (lambda: client.get_versions(subject), {40401}),
        (lambda: client.get_schema(2**31 - 3), {40403}),
        (lambda: client.get_compatibility(subject), {40408, 40401}),  # no subject-level config
    ]:
        with pytest.raises(SchemaRegistryError) as info:
            call()
        assert info.value.error_code in codes, info.value
    client.register_schema(subject, _schema(V1))
    with pytest.raises(SchemaRegistryError) as info:
        client.get_version(subject, 42)
    assert info.value.error_code == 40402


def test_registry_soft_then_permanent_delete(registry) -> None:  # type: ignore[no-untyped-def]
    client = registry.client()
    subject = _subject()
    schema_id = client.register_schema(subject, _schema(V1))
    assert client.delete_subject(subject) == [1]
    assert subject not in client.get_subjects()
    assert subject in client.get_subjects(deleted=True)
    assert client.delete_subject(subject, permanent=True) == [1]
    assert subject not in client.get_subjects(deleted=True)
    assert json.loads(registry.client().get_schema(schema_id).schema_str)["name"] == "ContractOrder"


def test_registry_status_is_healthy_and_describes_its_url(registry) -> None:  # type: ignore[no-untyped-def]
    state = registry.status()
    assert state.healthy and state.state in ("running", "external")
    assert registry.describe()["url"] == registry.url


def test_embedded_registry_keeps_subjects_across_a_restart(embedded) -> None:  # type: ignore[no-untyped-def]
    registry = embedded.service("schema_registry")
    registry.start()
    subject = _subject()
    schema_id = registry.client().register_schema(subject, _schema(V1))
    registry.client().set_compatibility(subject, "FULL")
    registry.restart()
    client = registry.client()
    assert client.get_latest_version(subject).schema_id == schema_id
    assert client.get_compatibility(subject) == "FULL"
    assert (registry.data_dir / "registry.json").is_file()
