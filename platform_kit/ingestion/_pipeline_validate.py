"""Validation at ingestion: decode -> schema (fields, types) -> business rules, each failure with a reason.

A :class:`RecordSpec` declares what a good record is; :func:`validate_record` returns the decoded
event or a :class:`Rejection` naming the reason and the stage. Reasons are stable, short codes
(they become the ``dlq.reason`` header and the keys of the DLQ rate alerts):

=====================  =======  ==============================================================
reason                 stage    when
=====================  =======  ==============================================================
empty_value            decode   value is ``None`` (tombstone) or empty/whitespace
oversize               decode   value longer than ``max_bytes`` (checked before decoding)
bad_encoding           decode   not UTF-8
malformed_json         decode   not strict JSON: truncated, NaN/Infinity, 1e400, nested too deep
not_an_object          decode   JSON, but an array, string, number...
missing_key            schema   the Kafka key is absent (the topic is keyed by the id)
missing_field          schema   a required field is absent
null_field             schema   a required field is ``null``
wrong_type             schema   e.g. a string where a number is expected, or ``true`` for an int
bad_timestamp          schema   a timestamp field that is not ISO 8601
key_mismatch           schema   the Kafka key differs from the id field
out_of_range           rule     number outside [min, max]
unknown_enum           rule     value not in the allowed set
future_timestamp       rule     timestamp later than now + ``max_future_s``
=====================  =======  ==============================================================

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from platform_kit.datasets import FX_PER_USD
from platform_kit.ingestion._topics import Record
from platform_kit.ingestion.dlq import Stage

__all__ = ["ORDER_SPEC", "FieldRule", "RecordSpec", "Rejection", "classify_failure", "decode_strict",
           "spec_summary", "validate_record"]

FieldType = Literal["int", "number", "string", "timestamp", "bool"]


@dataclass(frozen=True)
class FieldRule:
    """One field of a record: its type, whether it may be missing or null, and its rules."""

    name: str
    type: FieldType
    required: bool = True
    nullable: bool = False
    enum: frozenset[str] | None = None
    min: float | None = None
    max: float | None = None
    max_len: int | None = None


@dataclass(frozen=True)
class RecordSpec:
    """What a good record of a topic is.

    Args:
        id_field: Field holding the natural id (the sink's key).
        fields: The field rules, in order of checking.
        max_bytes: Largest value accepted, in bytes.
        key_required: The Kafka key must be present and equal to ``str(event[id_field])``.
        max_future_s: Timestamps may run ahead of the consumer's clock by this much (clock skew).
    """

    id_field: str
    fields: tuple[FieldRule, ...]
    max_bytes: int = 4096
    key_required: bool = True
    max_future_s: float = 300.0

    def field_named(self, name: str) -> FieldRule:
        """The rule of ``name``.

        Raises:
            KeyError: No such field.
        """
        for rule in self.fields:
            if rule.name == name:
                return rule
        raise KeyError(f"no field {name!r}; fields: {', '.join(r.name for r in self.fields)}")

    def with_enum(self, name: str, *values: str) -> RecordSpec:
        """A copy whose ``name`` field also allows ``values`` (the "fix" before a DLQ replay)."""
        rule = self.field_named(name)
        widened = replace(rule, enum=frozenset(rule.enum or ()) | set(values))
        return replace(self, fields=tuple(widened if r.name == name else r for r in self.fields))


#: The order events of Lab 2 (one per order of ``generate_company()["orders"]``).
ORDER_SPEC = RecordSpec(
    id_field="order_id",
    fields=(
        FieldRule("order_id", "int", min=1, max=2**53),
        FieldRule("customer_id", "int", min=1, max=2**53),
        FieldRule("order_ts", "timestamp"),
        FieldRule("status", "string", enum=frozenset({"cancelled", "delivered", "processing", "returned", "shipped"})),
        FieldRule("channel", "string", enum=frozenset({"marketplace", "mobile_app", "phone", "web"})),
        FieldRule("region", "string", max_len=32),
        FieldRule("currency", "string", enum=frozenset(FX_PER_USD)),  # every currency the company sells in
        FieldRule("total_amount", "number", min=0, max=10_000_000),
    ),
)


@dataclass(frozen=True)
class Rejection:
    """Why a record was rejected: a reason code, the stage, and a human-readable detail."""

    reason: str
    stage: Stage
    detail: str = ""

    def as_tuple(self) -> tuple[str, str]:
        """``(reason, stage)`` as plain strings."""
        return self.reason, self.stage.value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise ValueError(f"number {token[:20]} overflows a double")
    return value


_STRICT = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_MISSING = object()


def decode_strict(data: bytes) -> Any:
    """Strict JSON from UTF-8 bytes: no NaN/Infinity, no number that overflows to infinity.

    Raises:
        UnicodeDecodeError: Not UTF-8.
        ValueError: Not strict JSON (``json.JSONDecodeError`` is a ``ValueError``).
        RecursionError: Nested too deeply for the parser.
    """
    return _STRICT.decode(data.decode("utf-8"))


_EPOCH = datetime(1970, 1, 1)
_NUMERIC = ("int", "number")
_TYPES: dict[str, Any] = {"int": int, "number": (int, float), "bool": bool, "string": str, "timestamp": str}


def _epoch_s(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp (naive means UTC). Raises ValueError."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return (parsed - _EPOCH).total_seconds()
    return parsed.timestamp()


def validate_record(record: Record, spec: RecordSpec = ORDER_SPEC, *, now_ms: int | None = None) -> dict[str, Any] | Rejection:
    """The decoded event of a good record, or the :class:`Rejection` of a bad one (never raises).

    Schema problems (missing, null, wrong type, bad timestamp, key) are reported before rule problems
    (range, enum, future), whatever the order of the fields.

    Args:
        record: The consumed record.
        spec: What a good record is.
        now_ms: The consumer's clock for the future-timestamp rule (default: now).
    """
    value = record.value
    if value is None or not value.strip():
        return Rejection("empty_value", Stage.DECODE, "tombstone or empty value")
    if len(value) > spec.max_bytes:
        return Rejection("oversize", Stage.DECODE, f"{len(value)} bytes > {spec.max_bytes}")
    try:
        event = decode_strict(value)
    except UnicodeDecodeError as exc:
        return Rejection("bad_encoding", Stage.DECODE, str(exc)[:200])
    except (ValueError, RecursionError) as exc:
        return Rejection("malformed_json", Stage.DECODE, f"{type(exc).__name__}: {str(exc)[:200]}")
    if not isinstance(event, dict):
        return Rejection("not_an_object", Stage.DECODE, f"JSON {type(event).__name__}")
    if spec.key_required and not record.key:
        return Rejection("missing_key", Stage.SCHEMA, "the record has no Kafka key")
    stamps: dict[str, float] = {}
    for rule in spec.fields:
        item = event.get(rule.name, _MISSING)
        if item is _MISSING:
            if rule.required:
                return Rejection("missing_field", Stage.SCHEMA, f"{rule.name} is missing")
            continue
        if item is None:
            if not rule.nullable:
                return Rejection("null_field", Stage.SCHEMA, f"{rule.name} is null")
            continue
        if (item.__class__ is bool and rule.type != "bool") or not isinstance(item, _TYPES[rule.type]):
            return Rejection("wrong_type", Stage.SCHEMA,
                             f"{rule.name} should be {rule.type}, got {type(item).__name__} {item!r:.40}")
        if rule.type == "timestamp":
            try:
                stamps[rule.name] = _epoch_s(item)
            except ValueError:
                return Rejection("bad_timestamp", Stage.SCHEMA, f"{rule.name}={item!r:.40} is not ISO 8601")
    if spec.key_required:
        ident = event.get(spec.id_field)
        if record.key != str(ident).encode():
            return Rejection("key_mismatch", Stage.SCHEMA, f"key {record.key!r:.40} != {spec.id_field} {ident!r:.40}")
    latest = (now_ms / 1000 if now_ms is not None else time.time()) + spec.max_future_s
    for rule in spec.fields:
        item = event.get(rule.name)
        if item is None:
            continue
        if rule.type in _NUMERIC and (rule.min is not None and item < rule.min
                                      or rule.max is not None and item > rule.max):
            return Rejection("out_of_range", Stage.RULE, f"{rule.name}={item!r} outside [{rule.min}, {rule.max}]")
        if rule.max_len is not None and len(item) > rule.max_len:
            return Rejection("out_of_range", Stage.RULE, f"{rule.name} longer than {rule.max_len} characters")
        if rule.enum is not None and item not in rule.enum:
            return Rejection("unknown_enum", Stage.RULE, f"{rule.name}={item!r:.40} not in {sorted(rule.enum)}")
        if rule.name in stamps and stamps[rule.name] > latest:
            return Rejection("future_timestamp", Stage.RULE, f"{rule.name}={item} is in the future")
    return event


def classify_failure(record: Record, spec: RecordSpec = ORDER_SPEC, *, now_ms: int | None = None) -> tuple[str, str] | None:
    """``(reason, stage)`` of a bad record, ``None`` for a good one (the shape of the lab's exercise)."""
    outcome = validate_record(record, spec, now_ms=now_ms)
    return outcome.as_tuple() if isinstance(outcome, Rejection) else None


def spec_summary(spec: RecordSpec) -> list[dict[str, Any]]:
    """The spec as rows (for display in the lab)."""
    return [{"field": r.name, "type": r.type, "required": r.required, "nullable": r.nullable,
             "enum": ", ".join(sorted(r.enum)) if r.enum else "", "min": r.min, "max": r.max, "max_len": r.max_len}
            for r in spec.fields]

