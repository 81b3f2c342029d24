"""From pgoutput messages to change events: ``before``, ``after``, ``op``, ``source``.

:class:`ChangeStream` is the pure state machine between the decoder and Kafka: it remembers
the Relation messages (column names, types, replica identity), the open transaction (xid,
commit LSN and time), and turns each Insert/Update/Delete/Truncate into
:class:`ChangeEvent` s. Values arrive in PostgreSQL's text format and are converted by type
oid (integers, floats, numerics as float like Debezium's ``decimal.handling.mode=double``,
booleans; everything else stays text, e.g. timestamps as ``'2024-01-01 08:20:54.963648'``).

An update that changes the primary key becomes a delete of the old key plus a create of the
new one (``source.key_change``), as Debezium does: the two keys may live in different
partitions, and per-key order only holds if each key's history stays on its own key.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit.ingestion._pgoutput import (
    UNCHANGED,
    Begin,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    PgOutputError,
    Relation,
    Truncate,
    TypeInfo,
    Update,
    decode_message,
    format_lsn,
)

__all__ = ["OPS", "UNCHANGED_TOAST", "ChangeEvent", "ChangeStream", "Step", "convert_text", "event_identity"]

#: Operation codes (Debezium's): create, update, delete, truncate (``r`` = snapshot read is not emitted here).
OPS = ("c", "u", "d", "t")
#: Placeholder for an unchanged TOASTed value that no ``before`` image could fill in.
UNCHANGED_TOAST = "__unchanged_toast__"

_BOOL = {"t": True, "f": False, "true": True, "false": False}  # wire form, and ::text form
_CONVERTERS: dict[int, Callable[[str], Any]] = {
    16: lambda s: _BOOL[s],          # bool
    20: int, 21: int, 23: int, 26: int,  # int8, int2, int4, oid
    700: float, 701: float, 1700: float,  # float4, float8, numeric (as double)
}


def convert_text(type_oid: int, text: str | None) -> Any:
    """A text-format column value as a JSON-friendly Python value, by its type oid.

    Raises:
        PgOutputError: The text is not valid for its type (reason ``unconvertible``).
    """
    if text is None:
        return None
    convert = _CONVERTERS.get(type_oid)
    if convert is None:
        return text
    try:
        return convert(text)
    except (KeyError, ValueError):
        raise PgOutputError(f"value {text[:40]!r} is not valid for type oid {type_oid}",
                            reason="unconvertible") from None


@dataclass(frozen=True)
class ChangeEvent:
    """One row change, ready for Kafka (key = primary key as JSON, value = :meth:`value`)."""

    schema: str
    table: str
    op: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    key: dict[str, Any] | None
    lsn: int
    commit_lsn: int
    txid: int
    commit_ts: str
    seq: int
    key_change: bool = False
    origin: str | None = None

    def value(self) -> dict[str, Any]:
        """The JSON document: ``before``, ``after``, ``op``, ``key`` and ``source``."""
        source: dict[str, Any] = {
            "lsn": self.lsn, "lsn_text": format_lsn(self.lsn), "commit_lsn": self.commit_lsn,
            "txid": self.txid, "schema": self.schema, "table": self.table, "commit_ts": self.commit_ts,
            "seq": self.seq,
        }
        if self.key_change:
            source["key_change"] = True
        if self.origin:
            source["origin"] = self.origin
        return {"op": self.op, "before": self.before, "after": self.after, "key": self.key, "source": source}

    def kafka_value(self) -> bytes:
        return json.dumps(self.value(), separators=(",", ":"), default=str).encode()

    def kafka_key(self) -> bytes | None:
        """Primary key as canonical JSON (same key, same partition: per-key order); None for truncates."""
        if self.key is None:
            return None
        return json.dumps(self.key, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_identity(event: Mapping[str, Any]) -> tuple[Any, ...]:
    """``(lsn, schema.table, primary key, op)`` of a decoded event value: equal for a redelivered copy."""
    source = event["source"]
    key = event.get("key")
    return (int(source["lsn"]), f"{source['schema']}.{source['table']}",
            None if key is None else tuple(sorted(key.items())), event["op"])


@dataclass
class Step:
    """What one message did: events to emit, and the commit that closed a transaction (if any)."""

    message: Any
    events: list[ChangeEvent] = field(default_factory=list)
    commit: Commit | None = None


class ChangeStream:
    """Stateful translation of pgoutput frames into change events.

    Args:
        primary_keys: ``{"schema.table": ["col", ...]}``; tables not listed use the replica identity
            columns the Relation message flags (which, under REPLICA IDENTITY FULL, is every column:
            pass the primary key for those tables).
        split_key_changes: Emit a primary-key change as ``d`` (old key) + ``c`` (new key).
    """

    def __init__(self, primary_keys: Mapping[str, Sequence[str]] | None = None, *,
                 split_key_changes: bool = True) -> None:
        self.primary_keys = {k: list(v) for k, v in (primary_keys or {}).items()}
        self.split_key_changes = split_key_changes
        self.relations: dict[int, Relation] = {}
        self.types: dict[int, TypeInfo] = {}
        self.tx: Begin | None = None
        self.origin: str | None = None
        self._seq = 0

    def feed(self, payload: bytes | memoryview, lsn: int) -> Step:
        """Decode one frame (``lsn`` = its ``data_start``) and translate it.

        Raises:
            PgOutputError: Undecodable frame, or a change of a relation never described
                (``unknown-relation``) or outside a transaction (``no-transaction``).
        """
        message = decode_message(payload)
        step = Step(message)
        if isinstance(message, Begin):
            self.tx, self.origin, self._seq = message, None, 0
        elif isinstance(message, Commit):
            self._require_tx(message)
            step.commit, self.tx = message, None
        elif isinstance(message, Relation):
            self.relations[message.oid] = message
        elif isinstance(message, TypeInfo):
            self.types[message.oid] = message
        elif isinstance(message, Origin):
            self.origin = message.name
        elif isinstance(message, Insert | Update | Delete | Truncate):
            step.events = self._changes(message, lsn)
        elif isinstance(message, LogicalMessage):
            pass  # only sent when the 'messages' option is on; nothing to capture
        return step

    # --- helpers ---------------------------------------------------------------------------------
    def _require_tx(self, message: Any) -> Begin:
        if self.tx is None:
            raise PgOutputError(f"{type(message).__name__} message outside a transaction (no Begin seen)",
                                reason="no-transaction")
        return self.tx

    def _relation(self, oid: int) -> Relation:
        relation = self.relations.get(oid)
        if relation is None:
            raise PgOutputError(f"change for relation oid {oid} before its Relation message",
                                reason="unknown-relation")
        return relation

    def _row(self, relation: Relation, values: tuple[Any, ...] | None, *, key_only: bool = False,
             fill: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        if values is None:
            return None
        if len(values) != len(relation.columns):
            raise PgOutputError(f"tuple has {len(values)} column(s) but {relation.qualified_name} has "
                                f"{len(relation.columns)}", reason="malformed")
        row: dict[str, Any] = {}
        for column, value in zip(relation.columns, values, strict=True):
            if key_only and not column.key:
                continue
            if value is UNCHANGED:
                row[column.name] = (fill or {}).get(column.name, UNCHANGED_TOAST)
            elif isinstance(value, bytes):
                row[column.name] = value.hex()
            else:
                row[column.name] = convert_text(column.type_oid, value)
        return row

    def _key(self, relation: Relation, row: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        names = self.primary_keys.get(relation.qualified_name) or [c.name for c in relation.columns if c.key]
        missing = [n for n in names if n not in row]
        if missing:
            raise PgOutputError(f"{relation.qualified_name}: key column(s) {missing} not in the row image",
                                reason="malformed")
        return {n: row[n] for n in names}

    def _event(self, relation: Relation, op: str, before: Any, after: Any, key: Any, lsn: int,
               key_change: bool = False) -> ChangeEvent:
        tx = self._require_tx(relation)
        self._seq += 1
        return ChangeEvent(relation.namespace, relation.name, op, before, after, key, lsn, tx.final_lsn, tx.xid,
                           tx.commit_ts.isoformat(), self._seq, key_change, self.origin)

    def _changes(self, message: Insert | Update | Delete | Truncate, lsn: int) -> list[ChangeEvent]:
        if isinstance(message, Truncate):
            self._require_tx(message)
            return [self._event(self._relation(oid), "t", None, None, None, lsn) for oid in message.relation_oids]
        relation = self._relation(message.relation_oid)
        self._require_tx(message)
        if isinstance(message, Insert):
            after = self._row(relation, message.new)
            return [self._event(relation, "c", None, after, self._key(relation, after), lsn)]
        if isinstance(message, Delete):
            before = self._row(relation, message.old, key_only=message.old_kind == "K")
            return [self._event(relation, "d", before, None, self._key(relation, before), lsn)]
        before = self._row(relation, message.old, key_only=message.old_kind == "K")
        after = self._row(relation, message.new, fill=before)
        new_key = self._key(relation, after)
        old_key = self._key(relation, before) if before is not None else new_key
        if old_key != new_key and self.split_key_changes:
            return [self._event(relation, "d", before, None, old_key, lsn, key_change=True),
                    self._event(relation, "c", None, after, new_key, lsn, key_change=True)]
        return [self._event(relation, "u", before, after, new_key, lsn, key_change=old_key != new_key)]
