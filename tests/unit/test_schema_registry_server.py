"""The embedded schema registry: its store (pure logic) and its HTTP API, driven by confluent-kafka's client.

The server runs in a thread of the test process (no subprocess); the contract suite
(tests/contract/test_schema_registry_contract.py) covers the managed service.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from platform_kit.errors import CorruptStateError
from platform_kit.services._schema_registry_compat import (
    InvalidSchemaError,
    compatibility_problems,
    normalize_level,
    parse_avro,
)
from platform_kit.services._schema_registry_server import CONTENT_TYPE, make_server
from platform_kit.services._schema_registry_store import RegistryError, RegistryStore

V1 = {"type": "record", "name": "Order", "fields": [{"name": "order_id", "type": "long"},
                                                     {"name": "amount", "type": "double"}]}
V2 = {**V1, "fields": [*V1["fields"], {"name": "coupon", "type": ["null", "string"], "default": None}]}
NO_DEFAULT = {**V1, "fields": [*V1["fields"], {"name": "tier", "type": "string"}]}
DROPPED = {**V1, "fields": V1["fields"][:1]}


def body(schema: object, **extra: object) -> dict:
    return {"schema": json.dumps(schema), **extra}


@pytest.fixture
def store(tmp_path: Path) -> RegistryStore:
    return RegistryStore(tmp_path / "registry.json")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, RegistryStore]]:
    store = RegistryStore(tmp_path / "registry.json")
    server = make_server("127.0.0.1", 0, store)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", store
    server.shutdown()
    server.server_close()


def client_for(url: str) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url, "max.retries": 0})


def raw_request(url: str, method: str, path: str, payload: bytes | None = None) -> tuple[int, str, dict]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request(method, path, body=payload, headers={"Content-Type": CONTENT_TYPE} if payload else {})
    response = conn.getresponse()
    data = json.loads(response.read() or b"null")
    conn.close()
    return response.status, response.getheader("Content-Type"), data


# --- compatibility (the avro package's checker) --------------------------------------------


@pytest.mark.parametrize(("level", "candidate", "compatible"), [
    ("BACKWARD", V2, True), ("BACKWARD", NO_DEFAULT, False), ("BACKWARD", DROPPED, True),
    ("FORWARD", NO_DEFAULT, True), ("FORWARD", DROPPED, False), ("FULL", V2, True),
    ("FULL", NO_DEFAULT, False), ("FULL", DROPPED, False), ("NONE", {"type": "string"}, True),
])
def test_compatibility_levels_follow_confluent_directions(level: str, candidate: dict, compatible: bool) -> None:
    assert (not compatibility_problems(candidate, [(1, V1)], level)) is compatible


def test_transitive_levels_check_every_version_others_only_the_latest() -> None:
    # v1 {a}, v2 {a, b=default}, candidate {a, b} without default: readable from v2 data, not from v1
    v1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}]}
    v2 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"},
                                                    {"name": "b", "type": "long", "default": 0}]}
    candidate = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "long"}]}
    history = [(1, v1), (2, v2)]
    assert compatibility_problems(candidate, history, "BACKWARD") == []
    problems = compatibility_problems(candidate, history, "backward_transitive")
    assert [p.old_version for p in problems] == [1]
    assert problems[0].kinds == ("reader_field_missing_default_value",) and problems[0].messages == ("b",)


def test_incompatibility_message_names_direction_field_and_location() -> None:
    (problem,) = compatibility_problems(NO_DEFAULT, [(3, V1)], "BACKWARD")
    assert "the new schema cannot read data written with version 3" in problem.summary
    assert "tier at /fields/2" in problem.summary
    assert str(problem).startswith("{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE'")
    (forward,) = compatibility_problems(DROPPED, [(1, V1)], "FORWARD")
    assert forward.direction == "forward" and "version 1 cannot read data written with the new schema" in forward.summary


@pytest.mark.parametrize("bad", [
    "not json", '{"type": "recrd"}', {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long",
                                                                                "default": "x"}]},
    {"type": "record", "name": "R", "fields": [{"name": "a", "type": ["string", "null"], "default": None}]},
    {"type": "record", "name": "R"},
])
def test_parse_avro_rejects_invalid_schemas_and_bad_defaults(bad: object) -> None:
    with pytest.raises(InvalidSchemaError):
        parse_avro(bad)  # type: ignore[arg-type]


def test_normalize_level_lists_valid_levels() -> None:
    assert normalize_level("full_transitive") == "FULL_TRANSITIVE"
    with pytest.raises(ValueError, match="BACKWARD_TRANSITIVE"):
        normalize_level("strict")


# --- the store ---------------------------------------------------------------------------


def test_same_schema_same_id_across_subjects_and_versions_count_up(store: RegistryStore) -> None:
    first = store.register("a-value", body(V1))
    assert first["id"] == 1 and first["version"] == 1
    assert store.register("a-value", body(V1))["version"] == 1  # idempotent
    assert store.register("b-value", body(V1))["id"] == 1  # same text, another subject: same id
    assert store.register("a-value", body(V2)) | {"guid": None} == {"id": 2, "version": 2, "guid": None,
                                                                    "subject": "a-value"}
    assert store.versions("a-value") == [1, 2] and store.subjects() == ["a-value", "b-value"]
    assert store.version("a-value", "latest")["id"] == 2


def test_whitespace_and_key_order_do_not_make_a_new_schema(store: RegistryStore) -> None:
    spaced = json.dumps(V1, indent=4)
    reordered = json.dumps({"fields": V1["fields"], "name": "Order", "type": "record"})
    ids = {store.register("s", {"schema": text})["id"] for text in (json.dumps(V1), spaced, reordered)}
    assert ids == {1}


def test_incompatible_registration_is_refused_with_409_and_nothing_stored(store: RegistryStore) -> None:
    store.register("s", body(V1))
    with pytest.raises(RegistryError) as info:
        store.register("s", body(NO_DEFAULT))
    assert info.value.error_code == 409 and info.value.http_status == 409
    assert 'incompatible with an earlier schema for subject "s"' in info.value.message and "tier" in info.value.message
    assert store.versions("s") == [1]
    store.set_config("s", {"compatibility": "NONE"})
    assert store.register("s", body(NO_DEFAULT))["version"] == 2


@pytest.mark.parametrize(("request_body", "fragment"), [
    (None, "non-empty `schema`"), ({"schema": ""}, "non-empty"), ({"schema": 42}, "non-empty"),
    ({"schema": '{"type": "object"}', "schemaType": "JSON"}, "AVRO schemas only"),
    ({"schema": "syntax = 'proto3';", "schemaType": "PROTOBUF"}, "AVRO schemas only"),
    ({"schema": json.dumps(V1), "references": [{"name": "x", "subject": "y", "version": 1}]}, "references"),
    ({"schema": json.dumps(V1), "ruleSet": {"domainRules": []}}, "rule sets"),
    ({"schema": "{not json"}, "not JSON"),
])
def test_invalid_or_unsupported_schemas_get_42201(store: RegistryStore, request_body: object, fragment: str) -> None:
    with pytest.raises(RegistryError) as info:
        store.register("s", request_body)
    assert info.value.error_code == 42201 and fragment in info.value.message


def test_lookup_and_missing_things_use_confluent_error_codes(store: RegistryStore) -> None:
    store.register("s", body(V1))
    assert store.lookup("s", body(V1))["version"] == 1
    for call, code in [
        (lambda: store.lookup("nope", body(V1)), 40401), (lambda: store.lookup("s", body(V2)), 40403),
        (lambda: store.version("s", 9), 40402), (lambda: store.version("s", "x"), 42202),
        (lambda: store.version("s", 0), 42202), (lambda: store.versions("nope"), 40401),
        (lambda: store.schema_by_id(99), 40403), (lambda: store.get_config("s"), 40408),
        (lambda: store.set_config(None, {"compatibility": "STRICT"}), 42203),
        (lambda: store.set_config(None, {"compatibilityGroup": "x"}), 42203),
    ]:
        with pytest.raises(RegistryError) as info:
            call()
        assert info.value.error_code == code


def test_deletes_are_soft_then_permanent(store: RegistryStore) -> None:
    store.register("s", body(V1))
    store.register("s", body(V2))
    with pytest.raises(RegistryError, match="not deleted first") as info:
        store.delete_version("s", 1, permanent=True)
    assert info.value.error_code == 40407
    assert store.delete_version("s", 1) == 1
    assert store.versions("s") == [2] and store.versions("s", deleted=True) == [1, 2]
    assert store.delete_subject("s") == [2]
    assert store.subjects() == [] and store.subjects(deleted=True) == ["s"] == store.subjects(deleted_only=True)
    with pytest.raises(RegistryError) as again:
        store.delete_subject("s")
    assert again.value.error_code == 40404
    assert store.delete_subject("s", permanent=True) == [1, 2]
    assert store.subjects(deleted=True) == []
    assert store.schema_by_id(1)["schema"]  # ids stay resolvable: old records still decode
    assert store.register("s", body(V1)) | {"guid": None} == {"id": 1, "version": 1, "guid": None, "subject": "s"}


def test_config_falls_back_to_global_only_when_asked(store: RegistryStore) -> None:
    assert store.get_config() == {"compatibilityLevel": "BACKWARD"}
    assert store.get_config("s", default_to_global=True) == {"compatibilityLevel": "BACKWARD"}
    assert store.set_config("s", {"compatibility": "full"}) == {"compatibility": "FULL"}
    assert store.level_for("s") == "FULL" and store.level_for("other") == "BACKWARD"
    assert store.delete_config("s") == {"compatibilityLevel": "FULL"}
    assert store.level_for("s") == "BACKWARD"


def test_test_compatibility_against_a_version_latest_or_all(store: RegistryStore) -> None:
    assert store.test_compatibility("new-subject", "latest", body(V1)) == {"is_compatible": True}
    store.register("s", body(V1))
    verbose = store.test_compatibility("s", "latest", body(NO_DEFAULT), verbose=True)
    assert verbose["is_compatible"] is False and "READER_FIELD_MISSING_DEFAULT_VALUE" in verbose["messages"][0]
    assert store.test_compatibility("s", None, body(V2))["is_compatible"] is True
    with pytest.raises(RegistryError) as info:
        store.test_compatibility("s", 5, body(V2))
    assert info.value.error_code == 40402


def test_state_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    first = RegistryStore(path)
    first.register("s", body(V1))
    first.set_config("s", {"compatibility": "FULL"})
    first.set_config(None, {"compatibility": "FORWARD"})
    again = RegistryStore(path)
    assert again.version("s", 1)["schema"] == json.dumps(json.loads(again.schema_by_id(1)["schema"]),
                                                          separators=(",", ":"))
    assert again.level_for("s") == "FULL" and again.level_for(None) == "FORWARD"
    assert again.register("t", body(V2))["id"] == 2  # the id counter was persisted too
    assert not list(tmp_path.glob("*.tmp"))


def test_unreadable_state_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    path.write_text("{half a file")
    with pytest.raises(CorruptStateError, match="workbench reset schema_registry"):
        RegistryStore(path)


# --- over HTTP, with confluent-kafka's SchemaRegistryClient --------------------------------


def test_client_round_trip_register_lookup_versions_and_config(served: tuple[str, RegistryStore]) -> None:
    url, _ = served
    client = client_for(url)
    schema_id = client.register_schema("orders-value", Schema(json.dumps(V1), "AVRO"))
    assert client.register_schema("orders-value", Schema(json.dumps(V1), "AVRO")) == schema_id
    assert client.get_subjects() == ["orders-value"] and client.get_versions("orders-value") == [1]
    latest = client.get_latest_version("orders-value")
    assert (latest.version, latest.schema_id) == (1, schema_id)
    assert json.loads(client.get_schema(schema_id).schema_str) == json.loads(latest.schema.schema_str)
    assert client.lookup_schema("orders-value", Schema(json.dumps(V1), "AVRO")).version == 1
    assert client.test_compatibility("orders-value", Schema(json.dumps(V2), "AVRO")) is True
    assert client.test_compatibility("orders-value", Schema(json.dumps(NO_DEFAULT), "AVRO")) is False
    client.set_compatibility("orders-value", "FULL")
    assert client.get_compatibility("orders-value") == "FULL" and client.get_compatibility() == "BACKWARD"
    assert client.get_config("orders-value").compatibility_level.value == "FULL"
    assert client.get_schema_versions(schema_id)[0].subject == "orders-value"


def test_client_sees_confluent_errors(served: tuple[str, RegistryStore]) -> None:
    client = client_for(served[0])
    client.register_schema("s", Schema(json.dumps(V1), "AVRO"))
    cases = [
        (lambda: client.register_schema("s", Schema(json.dumps(NO_DEFAULT), "AVRO")), 409, 409),
        (lambda: client.register_schema("j", Schema('{"type": "object"}', "JSON")), 422, 42201),
        (lambda: client.get_schema(12345), 404, 40403),
        (lambda: client.get_version("s", 7), 404, 40402),
        (lambda: client.get_versions("missing"), 404, 40401),
        (lambda: client.set_compatibility(level="sideways"), 422, 42203),
    ]
    for call, status, code in cases:
        with pytest.raises(SchemaRegistryError) as info:
            call()
        assert (info.value.http_status_code, info.value.error_code) == (status, code)


def test_subject_names_with_slashes_and_dots_are_url_encoded(served: tuple[str, RegistryStore]) -> None:
    client = client_for(served[0])
    subject = "lab02/orders.v1 test-value"
    client.register_schema(subject, Schema(json.dumps(V1), "AVRO"))
    assert client.get_subjects() == [subject] and client.get_latest_version(subject).version == 1


def test_http_layer_content_type_unknown_paths_and_bad_json(served: tuple[str, RegistryStore]) -> None:
    url, _ = served
    status, kind, data = raw_request(url, "GET", "/subjects")
    assert (status, kind, data) == (200, CONTENT_TYPE, [])
    status, _, data = raw_request(url, "GET", "/no/such/path")
    assert status == 404 and data["error_code"] == 404
    status, _, data = raw_request(url, "POST", "/subjects/s/versions", b"{broken")
    assert status == 400 and "not JSON" in data["message"]
    status, _, data = raw_request(url, "GET", "/schemas/ids/abc")
    assert (status, data["error_code"]) == (404, 40403)
    status, _, data = raw_request(url, "GET", "/schemas/types")
    assert data == ["AVRO"]


def test_concurrent_registrations_give_one_id_per_schema(served: tuple[str, RegistryStore]) -> None:
    url, store = served
    schemas = [{"type": "record", "name": "R", "fields": [{"name": f"f{i}", "type": ["null", "long"],
                                                           "default": None}]} for i in range(4)]
    results: list[int] = []
    store.set_config(None, {"compatibility": "NONE"})

    def work(i: int) -> None:
        client = client_for(url)
        results.append(client.register_schema(f"s{i % 3}", Schema(json.dumps(schemas[i % 4]), "AVRO")))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12 and len(set(results)) == 4


# --- the service kind in the profiles --------------------------------------------------------


def test_profiles_choose_embedded_or_confluent_registry() -> None:
    from platform_kit import Workbench
    from platform_kit.services import KINDS

    assert KINDS.index("schema_registry") == KINDS.index("broker") + 1
    embedded = Workbench("embedded").service("schema_registry")
    assert embedded.config.type == "embedded" and embedded.preferred_port() == (18081, False)
    assert embedded.command(18099)[-2:] == ["--compatibility", "BACKWARD"]
    compose = Workbench("compose").service("schema_registry")
    assert compose.config.type == "confluent" and compose.url == "http://127.0.0.1:8081"
    assert compose.client_config(max_retries=1) == {"url": "http://127.0.0.1:8081", "max.retries": 1}
    state = compose.status()  # nothing listens on 8081 here (or a real registry does): never raises
    assert state.state in ("unreachable", "external") and state.kind == "schema_registry"


def test_registry_config_is_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit import Workbench
    from platform_kit.errors import ConfigError

    monkeypatch.setenv("WORKBENCH__SCHEMA_REGISTRY__DEFAULT_COMPATIBILITY", "LOOSE")
    with pytest.raises(ConfigError, match="default_compatibility"):
        Workbench("embedded")
    monkeypatch.delenv("WORKBENCH__SCHEMA_REGISTRY__DEFAULT_COMPATIBILITY")
    with pytest.raises(ConfigError, match="schema_registry_url"):  # moved to the schema_registry section
        Workbench("compose", overrides={"broker": {"schema_registry_url": "http://x:8081"}})


def test_confluent_registry_basic_auth_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit import Workbench
    from platform_kit.errors import ConfigError, ServiceError

    overrides = {"schema_registry": {"url": "http://127.0.0.1:9/", "basic_auth_user_info_env": "SR_AUTH_TEST"}}
    registry = Workbench("compose", overrides=overrides).service("schema_registry")
    monkeypatch.delenv("SR_AUTH_TEST", raising=False)
    with pytest.raises(ConfigError, match="SR_AUTH_TEST"):
        registry.client_config()
    monkeypatch.setenv("SR_AUTH_TEST", "user:secret")
    assert registry.client_config()["basic.auth.user.info"] == "user:secret"
    with pytest.raises(ServiceError, match="no schema registry answers"):
        registry.start()
    with pytest.raises(ServiceError, match="refusing to wipe"):
        registry.reset()
