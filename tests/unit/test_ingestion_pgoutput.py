"""The pgoutput decoder on hand-built byte messages: every message type, and hostile input."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest

from platform_kit.ingestion._pgoutput import (
    UNCHANGED,
    Begin,
    Column,
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
    parse_lsn,
    pg_time,
)

# --- builders (the protocol, written out) -------------------------------------------------------

T0 = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
T0_US = int((T0 - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)


def s(text: str) -> bytes:
    return text.encode() + b"\x00"


def tup(*values: object) -> bytes:
    out = struct.pack(">h", len(values))
    for v in values:
        if v is None:
            out += b"n"
        elif v is UNCHANGED:
            out += b"u"
        elif isinstance(v, bytes):
            out += b"b" + struct.pack(">i", len(v)) + v
        else:
            data = str(v).encode()
            out += b"t" + struct.pack(">i", len(data)) + data
    return out


def begin(final_lsn: int = 0x16B3748, xid: int = 737) -> bytes:
    return b"B" + struct.pack(">QqI", final_lsn, T0_US, xid)


def commit(commit_lsn: int = 0x16B3748, end_lsn: int = 0x16B3778) -> bytes:
    return b"C" + struct.pack(">bQQq", 0, commit_lsn, end_lsn, T0_US)


def relation(oid: int = 16_400, ns: str = "shop", name: str = "orders", identity: bytes = b"d",
             columns: tuple[tuple[int, str, int], ...] = ((1, "id", 20), (0, "status", 25), (0, "amount", 1700))) -> bytes:
    body = b"R" + struct.pack(">I", oid) + s(ns) + s(name) + identity + struct.pack(">h", len(columns))
    for flags, col, type_oid in columns:
        body += struct.pack(">b", flags) + s(col) + struct.pack(">Ii", type_oid, -1)
    return body


def insert(oid: int = 16_400, *values: object) -> bytes:
    return b"I" + struct.pack(">I", oid) + b"N" + tup(*values)


def update(oid: int, old_kind: bytes | None, old: tuple[object, ...] | None, new: tuple[object, ...]) -> bytes:
    body = b"U" + struct.pack(">I", oid)
    if old_kind:
        body += old_kind + tup(*(old or ()))
    return body + b"N" + tup(*new)


def delete(oid: int, kind: bytes, old: tuple[object, ...]) -> bytes:
    return b"D" + struct.pack(">I", oid) + kind + tup(*old)


def truncate(*oids: int, options: int = 0) -> bytes:
    return b"T" + struct.pack(">ib", len(oids), options) + b"".join(struct.pack(">I", o) for o in oids)


VALID = {
    "begin": begin(),
    "commit": commit(),
    "origin": b"O" + struct.pack(">Q", 0x10) + s("upstream"),
    "relation": relation(),
    "type": b"Y" + struct.pack(">I", 70_000) + s("shop") + s("mood"),
    "insert": insert(16_400, 1, "placed", "10.50"),
    "update_full": update(16_400, b"O", (1, "placed", "10.50"), (1, "paid", "10.50")),
    "update_key": update(16_400, b"K", (1, None, None), (2, "paid", "10.50")),
    "update_plain": update(16_400, None, None, (1, "paid", UNCHANGED)),
    "delete": delete(16_400, b"K", (1, None, None)),
    "truncate": truncate(16_400, 16_401, options=3),
    "message": b"M" + struct.pack(">b", 1) + s("audit") + struct.pack(">Qi", 0x20, 3) + b"abc",
}


# --- pure tier -----------------------------------------------------------------------------------


def test_begin_and_commit_carry_lsns_xid_and_commit_time() -> None:
    assert decode_message(begin()) == Begin(0x16B3748, T0, 737)
    assert decode_message(commit()) == Commit(0, 0x16B3748, 0x16B3778, T0)


def test_relation_lists_columns_with_key_flags_and_identity() -> None:
    rel = decode_message(relation(identity=b"f"))
    assert isinstance(rel, Relation) and rel.qualified_name == "shop.orders" and rel.replica_identity == "full"
    assert rel.columns[0] == Column("id", 20, -1, True)
    assert [c.key for c in rel.columns] == [True, False, False]
    assert decode_message(relation(ns="")).qualified_name == "pg_catalog.orders"


def test_tuples_decode_null_unchanged_text_and_binary() -> None:
    msg = decode_message(insert(7, None, UNCHANGED, "héllo", b"\x00\xff"))
    assert msg == Insert(7, (None, UNCHANGED, "héllo", b"\x00\xff"))


def test_update_variants_old_tuple_key_tuple_and_none() -> None:
    full = decode_message(VALID["update_full"])
    assert isinstance(full, Update) and full.old_kind == "O" and full.old == ("1", "placed", "10.50")
    keyed = decode_message(VALID["update_key"])
    assert keyed.old_kind == "K" and keyed.old == ("1", None, None) and keyed.new[0] == "2"
    plain = decode_message(VALID["update_plain"])
    assert plain.old_kind is None and plain.old is None and plain.new[2] is UNCHANGED


def test_delete_truncate_type_origin_and_logical_message() -> None:
    assert decode_message(VALID["delete"]) == Delete(16_400, "K", ("1", None, None))
    trunc = decode_message(VALID["truncate"])
    assert trunc == Truncate(3, (16_400, 16_401)) and trunc.cascade and trunc.restart_identity
    assert decode_message(VALID["type"]) == TypeInfo(70_000, "shop", "mood")
    assert decode_message(VALID["origin"]) == Origin(0x10, "upstream")
    assert decode_message(VALID["message"]) == LogicalMessage(True, "audit", 0x20, b"abc")


def test_accepts_memoryview_and_bytearray() -> None:
    assert decode_message(memoryview(begin())) == decode_message(bytearray(begin()))


@pytest.mark.parametrize(("text", "value"), [("0/0", 0), ("0/16B3748", 0x16B3748), ("1/0", 1 << 32),
                                             ("FFFFFFFF/FFFFFFFF", (1 << 64) - 1)])
def test_lsn_text_round_trip(text: str, value: int) -> None:
    assert parse_lsn(text) == value and format_lsn(value) == text


@pytest.mark.parametrize("bad", ["", "16B3748", "0/xyz", "1/2/3", "100000000/0", "-1/0"])
def test_parse_lsn_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="not an LSN"):
        parse_lsn(bad)


def test_format_lsn_rejects_out_of_range() -> None:
    with pytest.raises(ValueError, match="unsigned 64-bit"):
        format_lsn(-1)


def test_pg_time_epoch_and_overflow() -> None:
    assert pg_time(0) == datetime(2000, 1, 1, tzinfo=UTC)
    with pytest.raises(PgOutputError, match="out of range"):
        pg_time(2**62)


def test_unchanged_marker_is_a_singleton_with_a_readable_repr() -> None:
    import copy
    import pickle

    assert copy.deepcopy(UNCHANGED) is UNCHANGED and pickle.loads(pickle.dumps(UNCHANGED)) is UNCHANGED
    assert repr(UNCHANGED) == "UNCHANGED"


# --- failure tier: malformed and hostile input ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_truncation_of_every_message_is_a_clear_error(name: str) -> None:
    message = VALID[name]
    for cut in range(len(message)):
        with pytest.raises(PgOutputError) as info:
            decode_message(message[:cut])
        assert info.value.reason in {"truncated", "malformed"}, (name, cut, info.value)
        assert "truncated" in str(info.value) or "empty" in str(info.value) or "expected" in str(info.value)


@pytest.mark.parametrize("name", sorted(VALID))
def test_trailing_bytes_are_rejected(name: str) -> None:
    with pytest.raises(PgOutputError, match="trailing byte") as info:
        decode_message(VALID[name] + b"\x00")
    assert info.value.reason == "malformed"


def test_truncation_error_names_the_field_and_offset() -> None:
    with pytest.raises(PgOutputError, match=r"B message truncated at byte 1: final LSN needs 8 byte\(s\), 2 left"):
        decode_message(begin()[:3])


@pytest.mark.parametrize(
    ("payload", "reason", "match"),
    [
        (b"", "truncated", "empty pgoutput message"),
        (b"Z\x00", "unknown-message", "unknown pgoutput message type 'Z'"),
        (b"S\x00\x00\x00\x01\x01", "unsupported-message", "proto_version >= 2"),
        (b"I" + struct.pack(">I", 1) + b"X" + tup(1), "malformed", "expected 'N'"),
        (b"I" + struct.pack(">I", 1) + b"N" + struct.pack(">h", 1) + b"x", "malformed", "has kind 'x'"),
        (b"I" + struct.pack(">I", 1) + b"N" + struct.pack(">h", -1), "malformed", "negative column count"),
        (b"I" + struct.pack(">I", 1) + b"N" + struct.pack(">h", 1) + b"t" + struct.pack(">i", -5), "malformed",
         "negative length"),
        (b"I" + struct.pack(">I", 1) + b"N" + struct.pack(">h", 1) + b"t" + struct.pack(">i", 2) + b"\xff\xfe",
         "malformed", "not UTF-8"),
        (b"I" + struct.pack(">I", 1) + b"N" + struct.pack(">h", 1) + b"t" + struct.pack(">i", 2**31 - 1) + b"ab",
         "truncated", "needs 2147483647 byte"),
        (b"D" + struct.pack(">I", 1) + b"N" + tup(1), "malformed", "expected 'K' or 'O'"),
        (b"U" + struct.pack(">I", 1) + b"K" + tup(1) + b"O" + tup(1), "malformed", "expected 'N'"),
        (relation(identity=b"z"), "malformed", "unknown replica identity 'z'"),
        (b"R" + struct.pack(">I", 1) + b"sh\xffop\x00orders\x00d" + struct.pack(">h", 0), "malformed", "not UTF-8"),
        (b"R" + struct.pack(">I", 1) + b"shop", "truncated", "no NUL terminator"),
        (b"T" + struct.pack(">ib", -1, 0), "malformed", "negative relation count"),
        (b"M" + struct.pack(">b", 0) + s("p") + struct.pack(">Qi", 1, -2), "malformed", "negative length"),
        (b"B" + struct.pack(">QqI", 1, 2**62, 1), "malformed", "out of range"),
    ],
)
def test_malformed_messages_give_a_reason_and_a_readable_message(payload: bytes, reason: str, match: str) -> None:
    with pytest.raises(PgOutputError, match=match) as info:
        decode_message(payload)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_non_bytes_input_is_rejected() -> None:
    with pytest.raises(PgOutputError, match="is bytes, got str"):
        decode_message("B...")  # type: ignore[arg-type]


def test_random_garbage_never_raises_anything_but_pgoutput_error() -> None:
    import random

    rng = random.Random(5)
    seeds = list(VALID.values())
    for _ in range(3000):
        base = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):  # flip, insert or delete bytes
            pos = rng.randrange(len(base))
            action = rng.random()
            if action < 0.5:
                base[pos] = rng.randrange(256)
            elif action < 0.75:
                base.insert(pos, rng.randrange(256))
            elif len(base) > 1:
                del base[pos]
        try:
            decode_message(bytes(base))
        except PgOutputError:
            pass
