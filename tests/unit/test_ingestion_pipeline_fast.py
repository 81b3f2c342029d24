"""The pipeline's fast paths give exactly what the plain paths give: validation, frame encoding, COPY text."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.ingestion import Record
from platform_kit.ingestion import corpus as C
from platform_kit.ingestion import pipeline as P
from platform_kit.ingestion._idempotent_sql import _COPY_ESCAPES, SinkRow, _copy_text
from platform_kit.ingestion._pipeline_fastcheck import _acceptor, acceptor_source, validate_batch

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
GOOD = {"order_id": 7, "customer_id": 3, "order_ts": "2025-05-30T10:00:00.123456", "status": "shipped",
        "channel": "web", "region": "eu-west", "currency": "EUR", "total_amount": 19.99}


def _record(value: bytes | None, key: bytes | None = b"7", offset: int = 0) -> Record:
    return Record("orders", 0, offset, key, value, {}, None)


def _limit(delta_s: float) -> str:
    return (NOW.replace(tzinfo=None) + timedelta(seconds=300 + delta_s)).isoformat()


def _cases() -> list[Record]:
    corpus = C.build_corpus([{**GOOD, "order_id": i + 1} for i in range(40)], per_kind=3, exact_duplicates=3,
                            seed=2, now=NOW)
    out = [_record(r.value, r.key, r.index) for r in corpus]
    good = json.dumps(GOOD).encode()
    variants: list[tuple[bytes | None, bytes | None]] = [
        (good, b"7"), (b"  " + good, b"7"), (good + b"\n", b"7"), (good + b" x", b"7"), (good, None), (good, b"8"),
        (None, b"7"), (b"", b"7"), (b"\xff", b"7"), (b"[1]", b"7"), (b'{"order_id": 7}', b"7"), (b"{" * 3000, b"7"),
        (json.dumps({**GOOD, "extra": [1, {"x": None}]}).encode(), b"7"),
        (json.dumps({**GOOD, "order_id": True}).encode(), b"True"),
        (json.dumps({**GOOD, "total_amount": 10}).encode(), b"7"),
        (json.dumps({**GOOD, "total_amount": -0.5}).encode(), b"7"),
        (json.dumps({**GOOD, "region": None}).encode(), b"7"),
        (json.dumps({**GOOD, "order_ts": "yesterday"}).encode(), b"7"),
        (json.dumps({**GOOD, "order_ts": 5}).encode(), b"7"),
        (json.dumps({**GOOD, "status": ["shipped"]}).encode(), b"7"),
        (json.dumps({**GOOD, "order_ts": "2025-06-01T14:04:59+02:00"}).encode(), b"7"),
        (json.dumps({**GOOD, "order_ts": "2025-06-01T14:05:01+02:00"}).encode(), b"7"),
    ]
    for delta in (-1.0, -0.002, -0.001, -0.000001, 0.0, 0.000001, 0.001, 1.0):  # around the future limit
        variants.append((json.dumps({**GOOD, "order_ts": _limit(delta)}).encode(), b"7"))
    return out + [_record(v, k, 1000 + i) for i, (k, v) in enumerate(variants)]


def test_validate_batch_returns_what_validate_record_returns() -> None:
    records = _cases()
    fast = validate_batch(records, P.ORDER_SPEC, now_ms=NOW_MS)
    slow = [P.validate_record(r, P.ORDER_SPEC, now_ms=NOW_MS) for r in records]
    assert fast == slow
    assert {x.reason for x in slow if isinstance(x, P.Rejection)} >= {"malformed_json", "key_mismatch",
                                                                      "future_timestamp", "wrong_type", "oversize"}


def test_the_acceptor_takes_good_records_and_leaves_the_rest() -> None:
    accept = _acceptor(P.ORDER_SPEC)
    late = datetime(2030, 1, 1)
    assert accept(_record(json.dumps(GOOD).encode()), late, late.replace(tzinfo=UTC)) == GOOD
    for value in (b" " + json.dumps(GOOD).encode(), json.dumps({**GOOD, "channel": "fax"}).encode(), b"{"):
        assert accept(_record(value), late, late.replace(tzinfo=UTC)) is None
    source, consts = acceptor_source(P.ORDER_SPEC)
    assert source.startswith("def accept(") and consts["ID"] == "order_id"


@pytest.mark.parametrize("field", [P.FieldRule("coupon", "string", required=False, max_len=4),
                                   P.FieldRule("coupon", "string", nullable=True, enum=frozenset({"A"})),
                                   P.FieldRule("coupon", "bool", required=False, nullable=True),
                                   P.FieldRule("coupon", "number", nullable=True, min=0, max=1)])
def test_optional_and_nullable_fields_match_too(field: Any) -> None:
    spec = replace(P.ORDER_SPEC, fields=(*P.ORDER_SPEC.fields, field), key_required=False)
    values = [GOOD, {**GOOD, "coupon": None}, {**GOOD, "coupon": "A"}, {**GOOD, "coupon": "ABCDE"},
              {**GOOD, "coupon": True}, {**GOOD, "coupon": 0.5}, {**GOOD, "coupon": 2}, {**GOOD, "coupon": 1}]
    records = [_record(json.dumps(v).encode(), None, i) for i, v in enumerate(values)]
    assert validate_batch(records, spec, now_ms=NOW_MS) == [P.validate_record(r, spec, now_ms=NOW_MS) for r in records]


@pytest.mark.parametrize("frame", [
    pd.DataFrame([GOOD, {**GOOD, "order_id": 8, "total_amount": float("nan")}]),
    pd.DataFrame({"a": [np.int64(1), "x"], "b": [pd.Timestamp("2025-01-01"), None], "c": [True, False]}),
    pd.DataFrame({"t": pd.to_datetime(["2025-01-01", "2025-01-02"]), "i": pd.array([1, None], dtype="Int64")}),
    pd.DataFrame({"o": [pd.NA, np.float64(1.5)], "d": [np.datetime64("2025-01-01T00:00"), {"k": [1]}]}),
    pd.DataFrame({"s": pd.array(["a", None], dtype="string"), "z": pd.to_datetime(["2025-01-01"] * 2, utc=True)}),
    pd.DataFrame([[1, 2]], columns=["x", "x"]),
    pd.DataFrame(index=range(2)),
])
@pytest.mark.filterwarnings("ignore:DataFrame columns are not unique")
def test_frame_texts_match_to_dict_records(frame: pd.DataFrame) -> None:
    try:
        expected = [json.dumps(r, default=P._json_default) for r in frame.to_dict("records")]
    except TypeError:
        with pytest.raises(TypeError):
            P._frame_texts(frame)
        return
    assert P._frame_texts(frame) == expected


def test_copy_text_matches_escaping_every_field() -> None:
    rows = [SinkRow("id\t1", "t\\x", 0, 1, '{"a": "back\\\\slash\\n"}\r\n'), SinkRow("2", "t\\x", 1, 2, "{}"),
            SinkRow("3", "t", 2, 3, '{"tab": "\t"}')]
    expected = "".join(f"{r.event_id.translate(_COPY_ESCAPES)}\t{r.topic.translate(_COPY_ESCAPES)}\t{r.partition}\t"
                       f"{r.offset}\t{r.payload.translate(_COPY_ESCAPES)}\n" for r in rows)
    assert _copy_text(rows).getvalue() == expected
