"""A pure decoder of PostgreSQL's ``pgoutput`` logical replication protocol (version 1).

PostgreSQL streams a logical replication slot as a sequence of binary messages, one per
``XLogData`` frame. With ``proto_version`` 1 these are::

    B  Begin      final (commit) LSN, commit time, xid
    C  Commit     flags, commit LSN, end LSN, commit time
    O  Origin     origin's commit LSN, origin name      (only for replicated-in changes)
    R  Relation   oid, namespace, name, replica identity, columns (flags, name, type oid, typmod)
    Y  Type       oid, namespace, name                  (non-built-in column types)
    I  Insert     relation oid, 'N' + new tuple
    U  Update     relation oid, ['K' key | 'O' old tuple], 'N' + new tuple
    D  Delete     relation oid, 'K' key | 'O' old tuple
    T  Truncate   relation count, options (1 CASCADE, 2 RESTART IDENTITY), oids
    M  Message    flags, prefix, LSN, content            (pg_logical_emit_message)

Integers are big-endian, strings NUL-terminated UTF-8, times microseconds since
2000-01-01 UTC. A tuple is an Int16 column count followed by, per column, ``n`` (NULL),
``u`` (unchanged TOASTed value: not sent), ``t`` + Int32 length + text, or ``b`` + Int32
length + binary. :func:`decode_message` turns one frame into a frozen dataclass and raises
:class:`PgOutputError` (with the byte offset and what it expected) on anything truncated,
unknown or left over, so a connector can dead-letter it instead of guessing.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

from platform_kit.ingestion._cdc_wire import (
    PG_EPOCH,
    UNCHANGED,
    Begin,
    Column,
    Commit,
    Delete,
    Insert,
    LogicalMessage,
    Origin,
    PgOutputError,
    PgOutputMessage,
    Relation,
    Truncate,
    TupleData,
    TypeInfo,
    Update,
    format_lsn,
    parse_lsn,
    pg_time,
)

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
    "decode_message",
    "format_lsn",
    "parse_lsn",
    "pg_time",
]

_INT = {1: struct.Struct(">b"), 2: struct.Struct(">h"), 4: struct.Struct(">i"), 8: struct.Struct(">q")}
_UINT = {4: struct.Struct(">I"), 8: struct.Struct(">Q")}
_LENGTH = struct.Struct(">i").unpack_from
_IDENTITY = {"d": "default", "n": "nothing", "f": "full", "i": "index"}
_LATER_PROTOCOLS = {
    "S": "Stream Start", "E": "Stream Stop", "c": "Stream Commit", "A": "Stream Abort",
    "b": "Begin Prepare", "P": "Prepare", "K": "Commit Prepared", "r": "Rollback Prepared", "p": "Stream Prepare",
}



class _Reader:
    """Cursor over one message; every read checks the remaining length."""

    def __init__(self, data: bytes, kind: str) -> None:
        self.data, self.pos, self.kind = data, 1, kind

    def _need(self, n: int, what: str) -> None:
        if self.pos + n > len(self.data):
            raise PgOutputError(
                f"{self.kind} message truncated at byte {self.pos}: {what} needs {n} byte(s), "
                f"{len(self.data) - self.pos} left (message is {len(self.data)} bytes)",
                reason="truncated", offset=self.pos,
            )

    def int(self, size: int, what: str, *, unsigned: bool = False) -> int:
        self._need(size, what)
        fmt = _UINT[size] if unsigned else _INT[size]
        (value,) = fmt.unpack_from(self.data, self.pos)
        self.pos += size
        return int(value)

    def char(self, what: str) -> str:
        self._need(1, what)
        value = chr(self.data[self.pos])
        self.pos += 1
        return value

    def raw(self, size: int, what: str) -> bytes:
        if size < 0:
            raise PgOutputError(f"{self.kind} message: negative length {size} for {what} at byte {self.pos - 4}",
                                reason="malformed", offset=self.pos - 4)
        self._need(size, what)
        value = self.data[self.pos:self.pos + size]
        self.pos += size
        return value

    def string(self, what: str) -> str:
        end = self.data.find(b"\x00", self.pos)
        if end < 0:
            raise PgOutputError(f"{self.kind} message truncated at byte {self.pos}: {what} has no NUL terminator",
                                reason="truncated", offset=self.pos)
        raw = self.data[self.pos:end]
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PgOutputError(f"{self.kind} message: {what} at byte {self.pos} is not UTF-8 ({exc.reason})",
                                reason="malformed", offset=self.pos) from None
        self.pos = end + 1
        return value

    def lsn(self, what: str) -> int:
        return self.int(8, what, unsigned=True)

    def time(self, what: str) -> datetime:
        return pg_time(self.int(8, what))

    def tuple(self, what: str) -> TupleData:
        count = self.int(2, f"column count of the {what}")
        if count < 0:
            raise PgOutputError(f"{self.kind} message: negative column count {count} in the {what}",
                                reason="malformed", offset=self.pos - 2)
        data, pos, size = self.data, self.pos, len(self.data)
        values: list[Any] = []
        append = values.append
        for index in range(count):  # the hot path: inlined reads, same checks as the methods
            if pos >= size:
                self.pos = pos
                self._need(1, f"kind of column {index} of the {what}")
            kind = data[pos]
            pos += 1
            if kind == 0x6E:  # 'n'
                append(None)
            elif kind == 0x74 or kind == 0x62:  # 't', 'b'
                if pos + 4 > size:
                    self.pos = pos
                    self._need(4, f"length of column {index} of the {what}")
                length = _LENGTH(data, pos)[0]
                pos += 4
                if length < 0:
                    raise PgOutputError(f"{self.kind} message: negative length {length} for column {index} of the "
                                        f"{what}", reason="malformed", offset=pos - 4)
                if pos + length > size:
                    self.pos = pos
                    self._need(length, f"value of column {index} of the {what}")
                raw = data[pos:pos + length]
                pos += length
                if kind == 0x62:
                    append(raw)
                    continue
                try:
                    append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise PgOutputError(f"{self.kind} message: text value of column {index} of the {what} is not "
                                        "UTF-8", reason="malformed", offset=pos - length) from None
            elif kind == 0x75:  # 'u'
                append(UNCHANGED)
            else:
                raise PgOutputError(
                    f"{self.kind} message: column {index} of the {what} has kind {chr(kind)!r} at byte {pos - 1}; "
                    "expected 'n' (null), 'u' (unchanged TOAST), 't' (text) or 'b' (binary)",
                    reason="malformed", offset=pos - 1,
                )
        self.pos = pos
        return tuple(values)

    def tag(self, allowed: str, what: str) -> str:
        tag = self.char(what)
        if tag not in allowed:
            raise PgOutputError(
                f"{self.kind} message: expected {' or '.join(repr(a) for a in allowed)} for {what} at byte "
                f"{self.pos - 1}, got {tag!r}", reason="malformed", offset=self.pos - 1,
            )
        return tag

    def end(self) -> None:
        if self.pos != len(self.data):
            raise PgOutputError(
                f"{self.kind} message has {len(self.data) - self.pos} unexpected trailing byte(s) after byte "
                f"{self.pos} (is the stream a different proto_version?)", reason="malformed", offset=self.pos,
            )


def _relation(r: _Reader) -> Relation:
    oid = r.int(4, "relation oid", unsigned=True)
    namespace, name = r.string("namespace"), r.string("relation name")
    setting = r.char("replica identity")
    if setting not in _IDENTITY:
        raise PgOutputError(f"R message: unknown replica identity {setting!r} for {namespace}.{name}",
                            reason="malformed", offset=r.pos - 1)
    count = r.int(2, "column count")
    if count < 0:
        raise PgOutputError(f"R message: negative column count {count}", reason="malformed", offset=r.pos - 2)
    columns = []
    for index in range(count):
        flags = r.int(1, f"flags of column {index}")
        col = r.string(f"name of column {index}")
        columns.append(Column(col, r.int(4, f"type of column {col}", unsigned=True),
                              r.int(4, f"type modifier of column {col}"), bool(flags & 1)))
    return Relation(oid, namespace, name, _IDENTITY[setting], tuple(columns))


def _update(r: _Reader) -> Update:
    oid = r.int(4, "relation oid", unsigned=True)
    tag = r.tag("KON", "the old-tuple marker or new tuple")
    old_kind, old = None, None
    if tag in "KO":
        old_kind, old = tag, r.tuple("old tuple" if tag == "O" else "key tuple")
        r.tag("N", "the new-tuple marker")
    return Update(oid, old_kind, old, r.tuple("new tuple"))


def _decode(r: _Reader) -> PgOutputMessage:
    kind = r.kind
    if kind == "B":
        return Begin(r.lsn("final LSN"), r.time("commit timestamp"), r.int(4, "xid", unsigned=True))
    if kind == "C":
        return Commit(r.int(1, "flags"), r.lsn("commit LSN"), r.lsn("end LSN"), r.time("commit timestamp"))
    if kind == "O":
        return Origin(r.lsn("origin commit LSN"), r.string("origin name"))
    if kind == "R":
        return _relation(r)
    if kind == "Y":
        return TypeInfo(r.int(4, "type oid", unsigned=True), r.string("namespace"), r.string("type name"))
    if kind == "I":
        oid = r.int(4, "relation oid", unsigned=True)
        r.tag("N", "the new-tuple marker")
        return Insert(oid, r.tuple("new tuple"))
    if kind == "U":
        return _update(r)
    if kind == "D":
        oid = r.int(4, "relation oid", unsigned=True)
        tag = r.tag("KO", "the old-tuple marker")
        return Delete(oid, tag, r.tuple("old tuple" if tag == "O" else "key tuple"))
    if kind == "T":
        count = r.int(4, "relation count")
        if count < 0:
            raise PgOutputError(f"T message: negative relation count {count}", reason="malformed", offset=1)
        options = r.int(1, "options")
        return Truncate(options, tuple(r.int(4, f"oid of relation {i}", unsigned=True) for i in range(count)))
    if kind == "M":
        flags = r.int(1, "flags")
        prefix, lsn = r.string("prefix"), r.lsn("message LSN")
        return LogicalMessage(bool(flags & 1), prefix, lsn, r.raw(r.int(4, "content length"), "content"))
    if kind in _LATER_PROTOCOLS:
        raise PgOutputError(
            f"{_LATER_PROTOCOLS[kind]} ({kind!r}) messages belong to pgoutput proto_version >= 2; "
            "this decoder speaks version 1 (start replication with options proto_version '1', no streaming)",
            reason="unsupported-message", offset=0,
        )
    raise PgOutputError(f"unknown pgoutput message type {kind!r} (first byte 0x{ord(kind):02x})",
                        reason="unknown-message", offset=0)


def decode_message(payload: bytes | bytearray | memoryview) -> PgOutputMessage:
    """Decode one pgoutput (proto_version 1) message.

    Args:
        payload: The bytes of one ``XLogData`` frame (psycopg2's ``msg.payload`` with ``decode=False``).

    Returns:
        One of :class:`Begin`, :class:`Commit`, :class:`Origin`, :class:`Relation`, :class:`TypeInfo`,
        :class:`Insert`, :class:`Update`, :class:`Delete`, :class:`Truncate`, :class:`LogicalMessage`.

    Raises:
        PgOutputError: Empty, truncated, unknown or malformed message, or trailing bytes.
    """
    if not isinstance(payload, bytes | bytearray | memoryview):
        raise PgOutputError(f"a pgoutput message is bytes, got {type(payload).__name__}", reason="malformed")
    data = bytes(payload)
    if not data:
        raise PgOutputError("empty pgoutput message (no type byte)", reason="truncated", offset=0)
    reader = _Reader(data, chr(data[0]))
    message = _decode(reader)
    reader.end()
    return message
