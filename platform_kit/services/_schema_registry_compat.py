"""Avro schema parsing and compatibility as Confluent's Schema Registry defines them.

The verdict on every pair of schemas comes from the ``avro`` package's
:class:`avro.compatibility.ReaderWriterCompatibilityChecker` (the port of Avro Java's
``SchemaCompatibility``, which Confluent's registry uses too); this module only decides *which*
pairs to check for a compatibility level, and in which direction:

==================== ======================================================================
BACKWARD             the new schema, as reader, reads data written with the latest version
FORWARD              the latest version, as reader, reads data written with the new schema
FULL                 both
``*_TRANSITIVE``     the same against every registered version, not only the latest
NONE                 nothing is checked
==================== ======================================================================

Used by the embedded registry server and by :mod:`platform_kit.ingestion.schemas` (so a lab,
a grader and the server agree by construction).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LEVELS",
    "Incompatibility",
    "InvalidSchemaError",
    "canonical_text",
    "compatibility_problems",
    "normalize_level",
    "parse_avro",
]

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")


class InvalidSchemaError(ValueError):
    """The text is not a valid Avro schema (Confluent error 42201)."""


def normalize_level(level: str) -> str:
    """``"backward"`` -> ``"BACKWARD"``; raises ``ValueError`` naming the valid levels."""
    name = str(level).strip().upper()
    if name not in LEVELS:
        raise ValueError(f"invalid compatibility level {level!r}; valid levels: {', '.join(LEVELS)}")
    return name


def parse_avro(schema: str | dict[str, Any] | list[Any]) -> Any:
    """Parse an Avro schema given as JSON text or as its decoded JSON (dict, list or type name).

    Both the ``avro`` package (whose checker decides compatibility) and ``fastavro`` (which
    confluent-kafka's serializers use, and which also checks that defaults match their types)
    must accept it.

    Returns:
        The ``avro.schema.Schema``.

    Raises:
        InvalidSchemaError: Not JSON, not Avro, or a default that does not match its field's type.
    """
    import avro.errors
    import avro.schema
    import fastavro

    text = schema if isinstance(schema, str) else json.dumps(schema)
    try:
        decoded = json.loads(text)
    except ValueError as exc:
        raise InvalidSchemaError(f"the schema is not JSON: {exc}") from None
    try:
        parsed = avro.schema.parse(text)
    except (avro.errors.AvroException, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidSchemaError(f"invalid Avro schema: {exc}") from None
    try:
        fastavro.parse_schema(decoded, _write_hint=False)
    except Exception as exc:  # noqa: BLE001 - fastavro raises several unrelated types
        raise InvalidSchemaError(f"invalid Avro schema: {exc}") from None
    _check_union_defaults(decoded)
    return parsed


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _check_union_defaults(node: Any, path: str = "") -> None:
    """A union field's default must match the union's FIRST branch (Avro spec; fastavro lets it pass)."""
    from fastavro.validation import validate

    if isinstance(node, list):
        for branch in node:
            _check_union_defaults(branch, path)
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "record":
        for field in node.get("fields", []):
            where = f"{path}/{field.get('name')}"
            kind = field.get("type")
            if isinstance(kind, list) and kind and "default" in field and kind[0] in _PRIMITIVES:
                if not validate(field["default"], kind[0], raise_errors=False):
                    raise InvalidSchemaError(
                        f"invalid default for field {where.lstrip('/')}: {field['default']!r} does not match the "
                        f"union's first branch {kind[0]!r} (put the default's type first, e.g. ['null', ...])")
            _check_union_defaults(kind, where)
    elif node.get("type") == "array":
        _check_union_defaults(node.get("items"), path)
    elif node.get("type") == "map":
        _check_union_defaults(node.get("values"), path)


def canonical_text(parsed: Any) -> str:
    """Compact JSON of a parsed schema: the identity of a schema (same text -> same id)."""
    return json.dumps(parsed.to_json(), separators=(",", ":"))


_EXPLAIN = {
    "reader_field_missing_default_value": "the reader has a field the writer lacks, and it has no default",
    "type_mismatch": "a field's type cannot be converted",
    "name_mismatch": "a named type was renamed without an alias",
    "missing_enum_symbols": "the writer has enum symbols the reader lacks (and no enum default)",
    "missing_union_branch": "the writer's union has a branch the reader cannot take",
    "fixed_size_mismatch": "a fixed type changed size",
}


@dataclass(frozen=True)
class Incompatibility:
    """One failed (reader, writer) check.

    Attributes:
        direction: ``"backward"`` (the new schema reads old data) or ``"forward"`` (an old
            version reads new data).
        old_version: The registered version on the other side, or ``None`` when unknown.
        kinds: The checker's incompatibility types (``reader_field_missing_default_value``...).
        messages: The checker's messages (field names, expected types...).
        locations: JSON-pointer-like paths into the reader schema (``/fields/3``).
        level: The compatibility level that asked for this check.
    """

    direction: str
    old_version: int | None
    kinds: tuple[str, ...]
    messages: tuple[str, ...]
    locations: tuple[str, ...]
    level: str

    @property
    def summary(self) -> str:
        """One line for people: who cannot read what, and why."""
        old = f"version {self.old_version}" if self.old_version is not None else "the old schema"
        who = (f"the new schema cannot read data written with {old}" if self.direction == "backward"
               else f"{old} cannot read data written with the new schema")
        why = "; ".join(_EXPLAIN.get(k, k) for k in dict.fromkeys(self.kinds))
        return f"{who}: {why} ({', '.join(self.messages)} at {', '.join(self.locations)})"

    def __str__(self) -> str:
        # Shaped like Confluent's verbose messages, so both registries read alike.
        kinds = ",".join(k.upper() for k in dict.fromkeys(self.kinds))
        return (f"{{errorType:'{kinds}', description:'{self.summary}', additionalInfo:'{', '.join(self.messages)}'}}"
                f" {{oldSchemaVersion: {self.old_version}}} {{compatibility: '{self.level}'}}")


def _check(reader: Any, writer: Any) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None:
    from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

    # A fresh checker per pair: it memoises on object ids.
    result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    kinds = tuple(k.value for k in result.incompatibilities)
    return kinds, tuple(sorted(result.messages)), tuple(sorted(result.locations))


def compatibility_problems(
    new: Any, previous: Sequence[tuple[int | None, Any]], level: str,
) -> list[Incompatibility]:
    """Everything that makes ``new`` incompatible with ``previous`` under ``level``.

    Args:
        new: The candidate schema (parsed, or JSON text/dict).
        previous: ``(version, schema)`` pairs, oldest first (schemas parsed or JSON text/dict).
            Non-transitive levels look at the last one only.
        level: One of :data:`LEVELS` (any case).

    Returns:
        An empty list when compatible.
    """
    level = normalize_level(level)
    if level == "NONE" or not previous:
        return []
    new_schema = new if hasattr(new, "to_json") else parse_avro(new)
    targets = list(previous) if level.endswith("_TRANSITIVE") else list(previous)[-1:]
    base = level.removesuffix("_TRANSITIVE")
    problems: list[Incompatibility] = []
    for version, old in reversed(targets):  # newest first, as Confluent reports them
        old_schema = old if hasattr(old, "to_json") else parse_avro(old)
        pairs = []
        if base in ("BACKWARD", "FULL"):
            pairs.append(("backward", new_schema, old_schema))
        if base in ("FORWARD", "FULL"):
            pairs.append(("forward", old_schema, new_schema))
        for direction, reader, writer in pairs:
            found = _check(reader, writer)
            if found is not None:
                problems.append(Incompatibility(direction, version, *found, level=level))
    return problems
