"""The order event's schemas (Avro v1, v2 and typical evolutions; a JSON Schema for the broker) and records.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

from platform_kit.errors import InputError

__all__ = [
    "ORDER_JSON_SCHEMA",
    "ORDER_SCHEMA_V1",
    "ORDER_SCHEMA_V2",
    "candidate_evolutions",
    "order_records",
    "schema_text",
]

ORDER_SCHEMA_V1: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "com.northwind.sales",
    "doc": "One order of Northwind Outfitters, as the order service publishes it.",
    "fields": [
        {"name": "order_id", "type": "long"},
        {"name": "customer_id", "type": "int"},
        {"name": "order_ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "status", "type": "string"},
        {"name": "channel", "type": "string"},
        {"name": "region", "type": "string"},
        {"name": "currency", "type": "string"},
        {"name": "total_amount", "type": "double"},
    ],
}

#: v1 plus an optional coupon code: a new field WITH a default, compatible in both directions.
ORDER_SCHEMA_V2: dict[str, Any] = {
    **ORDER_SCHEMA_V1,
    "fields": [
        *ORDER_SCHEMA_V1["fields"],
        {"name": "coupon_code", "type": ["null", "string"], "default": None,
         "doc": "Promotion code applied at checkout; null when none (added in v2)."},
    ],
}

#: The same order as JSON Schema, for tansu's broker-side validation (``<topic>.json``).
ORDER_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "pattern": "^[0-9]+$"},
        "value": {
            "type": "object",
            "required": ["order_id", "customer_id", "order_ts", "status", "currency", "total_amount"],
            "properties": {
                "order_id": {"type": "integer", "minimum": 1},
                "customer_id": {"type": "integer", "minimum": 1},
                "order_ts": {"type": "integer"},
                "status": {"enum": ["processing", "shipped", "delivered", "returned", "cancelled"]},
                "channel": {"type": "string"},
                "region": {"type": "string"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "total_amount": {"type": "number", "minimum": 0},
            },
        },
    },
}


def schema_text(schema: dict[str, Any] | str) -> str:
    """The JSON text of a schema given as a dict (or already as text)."""
    return schema if isinstance(schema, str) else json.dumps(schema)


def order_records(orders: Any, limit: int | None = None) -> list[dict[str, Any]]:
    """Order rows of ``generate_company()["orders"]`` as dicts matching :data:`ORDER_SCHEMA_V1`.

    ``order_ts`` becomes epoch milliseconds (UTC), ids become Python ints.

    Raises:
        InputError: A column of the schema is missing.
    """
    names = [f["name"] for f in ORDER_SCHEMA_V1["fields"]]
    missing = [n for n in names if n not in orders.columns]
    if missing:
        raise InputError(f"the orders frame lacks column(s) {missing}", fix="pass generate_company(...)['orders']")
    frame = orders.head(limit) if limit is not None else orders
    stamps = frame["order_ts"].to_numpy(dtype="datetime64[ms]").astype(np.int64).tolist()
    out = []
    for row, ts in zip(frame[names].itertuples(index=False), stamps, strict=True):
        out.append({
            "order_id": int(row.order_id), "customer_id": int(row.customer_id), "order_ts": int(ts),
            "status": str(row.status), "channel": str(row.channel), "region": str(row.region),
            "currency": str(row.currency), "total_amount": float(row.total_amount),
        })
    return out


def _with_fields(base: dict[str, Any], fields: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out["fields"] = fields
    return out


def _replace(base: dict[str, Any], field_name: str, **changes: Any) -> dict[str, Any]:
    fields = copy.deepcopy(base["fields"])
    for field in fields:
        if field["name"] == field_name:
            field.update(changes)
    return _with_fields(base, fields)


def candidate_evolutions(base: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Typical changes to the order schema, compatible and not, keyed by a short description.

    Args:
        base: The schema to evolve (default :data:`ORDER_SCHEMA_V1`); must have the v1 fields.
    """
    base = copy.deepcopy(base or ORDER_SCHEMA_V1)
    names = {f["name"] for f in base["fields"]}
    needed = {"customer_id", "channel", "total_amount"}
    if not needed <= names:
        raise InputError(f"the base schema lacks field(s) {sorted(needed - names)}",
                         fix="evolve ORDER_SCHEMA_V1 or a schema derived from it")
    fields = base["fields"]
    return {
        "add coupon_code with a default": _with_fields(base, [
            *copy.deepcopy(fields),
            {"name": "coupon_code", "type": ["null", "string"], "default": None}]),
        "add loyalty_tier without a default": _with_fields(base, [
            *copy.deepcopy(fields), {"name": "loyalty_tier", "type": "string"}]),
        "rename total_amount -> amount": _replace(base, "total_amount", name="amount"),
        "rename total_amount -> amount with an alias": _replace(base, "total_amount", name="amount",
                                                                 aliases=["total_amount"]),
        "change total_amount double -> string": _replace(base, "total_amount", type="string"),
        "widen customer_id int -> long": _replace(base, "customer_id", type="long"),
        "drop channel": _with_fields(base, [copy.deepcopy(f) for f in fields if f["name"] != "channel"]),
    }
