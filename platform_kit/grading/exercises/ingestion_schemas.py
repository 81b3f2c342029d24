"""Exercise of lab ``02_ingestion``, section 3 (schema validation with a schema registry)."""

from __future__ import annotations

import copy
import io
from typing import Any

from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise

LAB = "02_ingestion"
NEW_FIELDS = {"loyalty_tier": "string", "discount": "double"}

_CUSTOMER = {
    "type": "record", "name": "Customer", "namespace": "com.northwind.crm",
    "fields": [{"name": "customer_id", "type": "int"}, {"name": "segment", "type": "string"},
               {"name": "email", "type": ["null", "string"], "default": None}],
}
_CUSTOMER_ROW = {"customer_id": 7, "segment": "outdoor", "email": None}


def _cases() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(label, base schema, a record of it)."""
    from platform_kit.ingestion.schemas import ORDER_SCHEMA_V1, ORDER_SCHEMA_V2

    order = {"order_id": 17, "customer_id": 91, "order_ts": 1704097254963, "status": "delivered",
             "channel": "web", "region": "us-west", "currency": "USD", "total_amount": 1643.97}
    return [
        ("the order schema v1", ORDER_SCHEMA_V1, order),
        ("the order schema v2 (with coupon_code)", ORDER_SCHEMA_V2, {**order, "coupon_code": "SPRING10"}),
        ("a customer schema", _CUSTOMER, _CUSTOMER_ROW),
    ]


def _branches(avro_type: Any) -> list[Any]:
    return list(avro_type) if isinstance(avro_type, list) else [avro_type]


def _name_of(branch: Any) -> Any:
    return branch.get("type") if isinstance(branch, dict) and branch.get("type") in ("string", "double") else branch


def _check_shape(new: Any, base: dict[str, Any], label: str) -> None:
    from platform_kit.services._schema_registry_compat import InvalidSchemaError, parse_avro

    if not isinstance(new, dict):
        fail(f"expected a schema dict, got {type(new).__name__} (for {label})")
    try:
        parse_avro(new)
    except InvalidSchemaError as exc:
        fail(f"your schema for {label} is not valid Avro: {exc} (a union's default must match its FIRST branch: "
             "['null', 'string'] with default null)")
    if (new.get("name"), new.get("namespace")) != (base.get("name"), base.get("namespace")):
        fail(f"you changed the record's name or namespace (for {label}): readers look records up by full name")
    fields = {f.get("name"): f for f in new.get("fields", []) if isinstance(f, dict)}
    for old in base["fields"]:
        if old["name"] not in fields:
            fail(f"field {old['name']!r} is gone (for {label}): consumers still on the old schema need it and it "
                 "has no default, so they could not read new records (FORWARD breaks)")
        if fields[old["name"]].get("type") != old["type"]:
            fail(f"field {old['name']!r} changed type (for {label}): leave existing fields exactly as they are")
    for name, kind in NEW_FIELDS.items():
        field = fields.get(name)
        if field is None:
            fail(f"the new schema has no field {name!r} (for {label})")
        if kind not in [_name_of(b) for b in _branches(field.get("type"))]:
            fail(f"{name!r} must be a {kind} (optionally in a union with null), got {field.get('type')!r}")
        if "default" not in field:
            fail(f"{name!r} has no default (for {label}): a consumer on the new schema could not read the orders "
                 "already in the topic, which lack it (BACKWARD breaks)")


def _round_trip(new: dict[str, Any], base: dict[str, Any], row: dict[str, Any], label: str) -> None:
    """Old data read with the new schema, new data read with the old one (fastavro, as the serde does)."""
    import fastavro

    old_parsed, new_parsed = fastavro.parse_schema(copy.deepcopy(base)), fastavro.parse_schema(copy.deepcopy(new))
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, old_parsed, row)
    buffer.seek(0)
    upgraded: Any = fastavro.schemaless_reader(buffer, old_parsed, new_parsed)
    if any(name not in upgraded for name in NEW_FIELDS):
        fail(f"reading an old record of {label} with your schema did not fill in the new fields")
    newer = {**upgraded, "loyalty_tier": "gold", "discount": 0.1}
    buffer = io.BytesIO()
    try:
        fastavro.schemaless_writer(buffer, new_parsed, newer)
    except Exception as exc:  # noqa: BLE001 - the learner's types are at fault
        fail(f"a record with loyalty_tier='gold' and discount=0.1 does not fit your schema for {label}: {exc}")
    buffer.seek(0)
    downgraded: Any = fastavro.schemaless_reader(buffer, new_parsed, old_parsed)
    if downgraded != {k: v for k, v in upgraded.items() if k in downgraded}:
        fail(f"an old consumer reading a new record of {label} did not get the original values back")


def _compatible(new: dict[str, Any], history: list[dict[str, Any]], label: str) -> None:
    from platform_kit.ingestion.schemas import check_compatibility

    report = check_compatibility(new, history, "FULL_TRANSITIVE")
    if not report.compatible:
        fail(f"not FULL compatible with {label}: " + "; ".join(report.messages))


@exercise(
    id="ingestion.schema_evolution",
    lab=LAB,
    kind="function",
    title="evolve the order schema without breaking old or new consumers",
    hint="copy.deepcopy the schema; append {'name': 'loyalty_tier', 'type': ['null', 'string'], 'default': None} "
    "and a double 'discount' with a default (0.0); keep every existing field as it is",
)
def _grade_schema_evolution(answer: Any, context: dict[str, Any]) -> str:
    for label, base, row in _cases():
        pristine = copy.deepcopy(base)
        given = copy.deepcopy(base)
        new = answer(given)
        if given != pristine:
            fail(f"your function modified the schema it was given (for {label}); build the new one from a deep copy")
        _check_shape(new, pristine, label)
        _compatible(new, [pristine], label)
        _round_trip(new, pristine, row, label)
    history = (context or {}).get("history")
    if history:
        subject = (context or {}).get("subject", "the subject")
        new = answer(copy.deepcopy(history[-1]))
        _check_shape(new, history[-1], f"the latest version of {subject}")
        _compatible(new, list(history), f"the {len(history)} registered version(s) of {subject}")
        return (f"FULL compatible with all {len(history)} registered version(s) of {subject} and with 3 hand-made "
                "schemas: old consumers read new orders and new consumers read old ones")
    return "FULL compatible on 3 hand-made schemas, checked by the avro package and a fastavro round trip"
