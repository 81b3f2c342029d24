"""The messages of PostgreSQL's pgoutput protocol (version 1) as frozen dataclasses, and LSN helpers.

Decoded by :func:`platform_kit.ingestion._pgoutput.decode_message`, which re-exports all of these.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "PG_EPOCH",
    "UNCHANGED",
    "Begin",
    "Column",
    "Commit",
    "Delete",
    "Insert",
    "LogicalMessage",
    "Origin",
    "PgOutputError",
    "PgOutputMessage",
    "Relation",
    "Truncate",
    "TupleData",
    "TypeInfo",
    "Update",
    "format_lsn",
    "parse_lsn",
    "pg_time",
]

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class PgOutputError(ValueError):
    """A pgoutput message that cannot be decoded (truncated, unknown type, bad tuple...).

    Attributes:
        reason: Short machine-readable reason, used as the dead-letter reason
            (``truncated``, ``unknown-message``, ``malformed``, ``unknown-relation``...).
        offset: Byte offset in the message where decoding failed (``-1`` when not positional).
    """

    def __init__(self, message: str, *, reason: str = "malformed", offset: int = -1) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(message)


class _Unchanged:
    """Marker of a TOASTed column value that PostgreSQL did not send because it did not change."""

    _instance: _Unchanged | None = None

    def __new__(cls) -> _Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"

    def __reduce__(self) -> str:
        return "UNCHANGED"


#: A column value of kind ``u``: unchanged TOASTed data that the server did not send.
UNCHANGED = _Unchanged()

#: One tuple: per column ``None`` (NULL), :data:`UNCHANGED`, ``str`` (text format) or ``bytes`` (binary).
TupleData = tuple[Any, ...]


def format_lsn(lsn: int) -> str:
    """``0x16B3748`` -> ``'0/16B3748'`` (PostgreSQL's text form of an LSN)."""
    if not 0 <= lsn < 1 << 64:
        raise ValueError(f"an LSN is an unsigned 64-bit integer, got {lsn}")
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    """``'0/16B3748'`` -> ``0x16B3748``.

    Raises:
        ValueError: Not of the form ``HEX/HEX`` with each half below 2**32.
    """
    high, sep, low = str(text).strip().partition("/")
    try:
        if not sep:
            raise ValueError
        hi, lo = int(high, 16), int(low, 16)
    except ValueError:
        raise ValueError(f"not an LSN: {text!r} (expected two hex numbers like '0/16B3748')") from None
    if not (0 <= hi < 1 << 32 and 0 <= lo < 1 << 32):
        raise ValueError(f"not an LSN: {text!r} (each half must fit in 32 bits)")
    return hi << 32 | lo


def pg_time(microseconds: int) -> datetime:
    """A PostgreSQL timestamp (microseconds since 2000-01-01 UTC) as an aware datetime."""
    try:
        return PG_EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        raise PgOutputError(f"timestamp {microseconds} us since 2000-01-01 is out of range",
                            reason="malformed") from None


@dataclass(frozen=True)
class Column:
    """A column of a :class:`Relation`; ``key`` is True when it is part of the replica identity."""

    name: str
    type_oid: int
    type_modifier: int
    key: bool


@dataclass(frozen=True)
class Begin:
    kind = "B"
    final_lsn: int
    commit_ts: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    kind = "C"
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_ts: datetime


@dataclass(frozen=True)
class Origin:
    kind = "O"
    commit_lsn: int
    name: str


@dataclass(frozen=True)
class Relation:
    kind = "R"
    oid: int
    namespace: str
    name: str
    replica_identity: str  # default, nothing, full, index
    columns: tuple[Column, ...]

    @property
    def qualified_name(self) -> str:
        """``schema.table`` (``pg_catalog`` when the namespace is empty, as pgoutput sends it)."""
        return f"{self.namespace or 'pg_catalog'}.{self.name}"


@dataclass(frozen=True)
class TypeInfo:
    kind = "Y"
    oid: int
    namespace: str
    name: str


@dataclass(frozen=True)
class Insert:
    kind = "I"
    relation_oid: int
    new: TupleData


@dataclass(frozen=True)
class Update:
    kind = "U"
    relation_oid: int
    old_kind: str | None  # 'K' (key columns only), 'O' (whole old row, REPLICA IDENTITY FULL) or None
    old: TupleData | None
    new: TupleData


@dataclass(frozen=True)
class Delete:
    kind = "D"
    relation_oid: int
    old_kind: str  # 'K' or 'O'
    old: TupleData


@dataclass(frozen=True)
class Truncate:
    kind = "T"
    options: int  # bit 1: CASCADE, bit 2: RESTART IDENTITY
    relation_oids: tuple[int, ...]

    @property
    def cascade(self) -> bool:
        return bool(self.options & 1)

    @property
    def restart_identity(self) -> bool:
        return bool(self.options & 2)


@dataclass(frozen=True)
class LogicalMessage:
    kind = "M"
    transactional: bool
    prefix: str
    lsn: int
    content: bytes


PgOutputMessage = Begin | Commit | Origin | Relation | TypeInfo | Insert | Update | Delete | Truncate | LogicalMessage
