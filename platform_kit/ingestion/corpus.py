"""A malformed corpus: good order events mixed with many kinds of bad record, each labelled.

Every bad kind knows the reason and stage the pipeline must report for it, so a run can be
reconciled record by record: each produced record must end up in the sink (or be an exact
duplicate of a sink row) or in the DLQ with its expected reason, never both, never neither.

The kinds (see :data:`BAD_KINDS`) cover the decode stage (truncated JSON, bad UTF-8, oversize,
tombstones, NaN, nesting bombs, non-objects), the schema stage (missing/null fields, wrong types,
bools posing as ints, unparseable timestamps, missing or mismatched keys), business rules
(negative amounts, unknown enum values, future timestamps, an id re-sent with other content) and
the sink itself (a NUL character that PostgreSQL's jsonb refuses).

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

__all__ = ["BAD_KINDS", "BadKind", "CorpusRecord", "build_corpus", "corpus_frame", "encode_event", "order_events",
           "reconcile_corpus"]

Event = dict[str, Any]
Maker = Callable[[Event, datetime], tuple[bytes | None, bytes | None]]


def encode_event(event: Event) -> bytes:
    """Compact JSON bytes of an event."""
    return json.dumps(event, separators=(",", ":")).encode()


def order_events(orders: Any, limit: int | None = None) -> list[Event]:
    """Order events (plain JSON types) from ``generate_company(...)["orders"]``."""
    frame = orders.head(limit) if limit is not None else orders
    return [
        {"order_id": int(r.order_id), "customer_id": int(r.customer_id),
         "order_ts": r.order_ts.isoformat(timespec="microseconds"), "status": str(r.status),
         "channel": str(r.channel), "region": str(r.region), "currency": str(r.currency),
         "total_amount": float(r.total_amount)}
        for r in frame.itertuples(index=False)
    ]


def _key(event: Event) -> bytes:
    return str(event["order_id"]).encode()


def _with(**changes: Any) -> Maker:
    def make(event: Event, _now: datetime) -> tuple[bytes | None, bytes | None]:
        return _key(event), encode_event({**event, **changes})
    return make


def _without(name: str) -> Maker:
    def make(event: Event, _now: datetime) -> tuple[bytes | None, bytes | None]:
        return _key(event), encode_event({k: v for k, v in event.items() if k != name})
    return make


@dataclass(frozen=True)
class BadKind:
    """One kind of bad record: how to make it from a good event, and what the pipeline must say."""

    name: str
    reason: str
    stage: str
    description: str
    make: Maker


def _future(event: Event, now: datetime) -> tuple[bytes | None, bytes | None]:
    return _key(event), encode_event({**event, "order_ts": (now + timedelta(days=30)).replace(tzinfo=None)
                                      .isoformat(timespec="microseconds")})


def _bad_utf8(event: Event, _now: datetime) -> tuple[bytes | None, bytes | None]:
    data = encode_event({**event, "region": "REGION"})
    return _key(event), data.replace(b"REGION", b"eu-\xff\xfewest")


def _nan(event: Event, _now: datetime) -> tuple[bytes | None, bytes | None]:
    return _key(event), encode_event({**event, "total_amount": 1.5}).replace(b"1.5", b"NaN")


def _nesting(event: Event, _now: datetime) -> tuple[bytes | None, bytes | None]:
    return _key(event), (f'{{"order_id":{event["order_id"]},"items":' + "[" * 1500 + "]" * 1500 + "}").encode()


_KINDS: tuple[BadKind, ...] = (
    BadKind("truncated_json", "malformed_json", "decode", "JSON cut off half-way (a torn write)",
            lambda e, _n: (_key(e), encode_event(e)[: len(encode_event(e)) // 2])),
    BadKind("bad_utf8", "bad_encoding", "decode", "bytes that are not UTF-8 inside a string",
            _bad_utf8),
    BadKind("oversize", "oversize", "decode", "a 10 kB value (an attachment pasted into a field)",
            _with(notes="x" * 10_000)),
    BadKind("tombstone", "empty_value", "decode", "a null value (a compaction tombstone)",
            lambda e, _n: (_key(e), None)),
    BadKind("empty_bytes", "empty_value", "decode", "an empty value", lambda e, _n: (_key(e), b"")),
    BadKind("not_an_object", "not_an_object", "decode", "a JSON array of the values",
            lambda e, _n: (_key(e), json.dumps(list(e.values())).encode())),
    BadKind("nan_amount", "malformed_json", "decode", "NaN, which Python's json accepts but JSON forbids",
            _nan),
    BadKind("nesting_bomb", "malformed_json", "decode", "1,500 nested arrays (the parser's recursion limit)",
            _nesting),
    BadKind("missing_field", "missing_field", "schema", "no currency field", _without("currency")),
    BadKind("null_field", "null_field", "schema", "customer_id is null", _with(customer_id=None)),
    BadKind("wrong_type", "wrong_type", "schema", 'total_amount as a string "12.50"', _with(total_amount="12.50")),
    BadKind("bool_as_int", "wrong_type", "schema", "customer_id is true (bool is an int in Python)",
            _with(customer_id=True)),
    BadKind("bad_timestamp", "bad_timestamp", "schema", 'order_ts is "last tuesday"', _with(order_ts="last tuesday")),
    BadKind("missing_key", "missing_key", "schema", "no Kafka key (the topic is keyed by order_id)",
            lambda e, _n: (None, encode_event(e))),
    BadKind("key_mismatch", "key_mismatch", "schema", "the key names another order",
            lambda e, _n: (str(e["order_id"] + 1).encode(), encode_event(e))),
    BadKind("negative_amount", "out_of_range", "rule", "total_amount is negative",
            lambda e, _n: (_key(e), encode_event({**e, "total_amount": -abs(e["total_amount"]) - 1}))),
    BadKind("unknown_status", "unknown_enum", "rule", 'status "teleported"', _with(status="teleported")),
    BadKind("unknown_currency", "unknown_enum", "rule", 'currency "NOK" (a market opened after the spec was written)',
            _with(currency="NOK")),
    BadKind("future_timestamp", "future_timestamp", "rule", "order_ts 30 days in the future", _future),
    BadKind("conflicting_duplicate", "conflicting_duplicate", "rule",
            "an order id already ingested, re-sent with another amount", _with()),
    BadKind("nul_in_string", "sink_rejected", "sink", "a NUL character, valid JSON that jsonb refuses",
            _with(region="eu-\u0000west")),
)

#: Every bad kind by name.
BAD_KINDS: dict[str, BadKind] = {k.name: k for k in _KINDS}


@dataclass(frozen=True)
class CorpusRecord:
    """One record of the corpus and its expected fate (``expected_reason`` ``None``: the sink)."""

    index: int
    kind: str
    key: bytes | None
    value: bytes | None
    expected_reason: str | None
    expected_stage: str | None
    order_id: int | None

    @property
    def good(self) -> bool:
        """True when the record must reach the sink (exact duplicates included)."""
        return self.expected_reason is None


def build_corpus(
    events: Sequence[Event],
    *,
    kinds: Iterable[str] | None = None,
    per_kind: int = 2,
    exact_duplicates: int = 5,
    seed: int = 0,
    now: datetime | None = None,
    bad_id_base: int = 900_000_000,
) -> list[CorpusRecord]:
    """Good ``events`` (in order) with ``per_kind`` records of each bad kind spread among them.

    Bad records get fresh order ids (``bad_id_base + n``) so they never collide with good ones,
    except ``conflicting_duplicate`` (re-uses an earlier good id with another amount) and the
    ``exact_duplicates`` (byte-identical re-sends of earlier good records, which must be absorbed by
    the idempotent sink, not dead-lettered).

    Raises:
        KeyError: An unknown kind name.
        ValueError: Too few good events to host the duplicates.
    """
    chosen = [BAD_KINDS[name] for name in (kinds if kinds is not None else BAD_KINDS)]
    now = now or datetime.now(UTC)
    rng = np.random.default_rng(seed)
    out: list[tuple[float, str, bytes | None, bytes | None, str | None, str | None, int | None]] = []
    n_good = len(events)
    if n_good < 2 and (exact_duplicates or any(k.name == "conflicting_duplicate" for k in chosen)):
        raise ValueError("build_corpus needs at least 2 good events to re-send duplicates of")
    for i, event in enumerate(events):
        out.append((float(i), "good", _key(event), encode_event(event), None, None, int(event["order_id"])))
    serial = 0
    for kind in chosen:
        for _ in range(per_kind):
            if kind.name == "conflicting_duplicate":
                source = int(rng.integers(0, n_good // 2))
                event = dict(events[source])
                event["total_amount"] = round(float(event["total_amount"]) + 1.0, 2)
                position = float(rng.uniform(source + 1, n_good))
            else:
                serial += 1
                event = {**events[int(rng.integers(0, n_good))], "order_id": bad_id_base + serial}
                position = float(rng.uniform(0, n_good))
            key, value = kind.make(event, now)
            out.append((position, kind.name, key, value, kind.reason, kind.stage, int(event["order_id"])))
    for _ in range(exact_duplicates):
        source = int(rng.integers(0, n_good // 2 or 1))
        event = events[source]
        out.append((float(rng.uniform(source + 1, n_good)), "exact_duplicate", _key(event), encode_event(event),
                    None, None, int(event["order_id"])))
    out.sort(key=lambda item: item[0])
    return [CorpusRecord(i, kind, key, value, reason, stage, oid)
            for i, (_, kind, key, value, reason, stage, oid) in enumerate(out)]


def corpus_frame(corpus: Sequence[CorpusRecord]) -> Any:
    """One row per kind: how many records, the expected reason and stage, and the description."""
    import pandas as pd

    counts: dict[str, int] = {}
    for record in corpus:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    rows = []
    for name, n in counts.items():
        kind = BAD_KINDS.get(name)
        rows.append({"kind": name, "records": n,
                     "expected": kind.reason if kind else "sink",
                     "stage": kind.stage if kind else "",
                     "description": kind.description if kind else
                     ("a valid order" if name == "good" else "a byte-identical re-send (a retry)")})
    return pd.DataFrame(rows)


def reconcile_corpus(
    corpus: Sequence[CorpusRecord],
    placed: dict[Any, tuple[int, int]],
    letters: Iterable[Any],
    sink_rows: Iterable[tuple[Any, ...]],
    *,
    topic: str | None = None,
    tolerated: Iterable[str] = ("sink_unavailable",),
) -> Any:
    """Where did every corpus record end up? One row per record, with the invariant checked.

    Args:
        corpus: The records produced.
        placed: ``corpus index -> (partition, offset)`` from the delivery reports
            (``DeliveryTracker(keep=True).placed`` when produced with tags).
        letters: Dead letters read back from the DLQ (duplicates of one offset are fine).
        sink_rows: ``(event_id, source_partition, source_offset, payload)`` rows of the sink.
        topic: Only letters whose original topic is this one count (default: all).
        tolerated: DLQ reasons a good record may get without being "wrong" (injected sink faults).

    Returns:
        A DataFrame ``index, kind, partition, offset, expected, outcome, in_sink, in_dlq, ok``:
        ``in_sink`` is True for a row written from this offset or, for a good record, when its id has a
        row (an exact re-send absorbed by the first copy; the payload may differ after a transform);
        ``ok`` means in exactly one place, with the expected reason.
    """
    import pandas as pd

    dead = {(x.partition, x.offset): x.reason for x in letters if topic is None or x.topic == topic}
    sink_by_place: dict[tuple[int, int], str] = {}
    payloads: dict[str, Any] = {}
    for event_id, partition, offset, payload in sink_rows:
        sink_by_place[(int(partition), int(offset))] = str(event_id)
        payloads[str(event_id)] = json.loads(payload) if isinstance(payload, str) else payload
    allowed = set(tolerated)
    rows = []
    for record in corpus:
        partition, offset = placed.get(record.index, (-1, -1))
        in_dlq = (partition, offset) in dead
        in_sink = (partition, offset) in sink_by_place
        if not in_sink and record.good:  # an exact re-send is absorbed by the row of its first copy
            in_sink = str(record.order_id) in payloads
        outcome = dead[(partition, offset)] if in_dlq else ("sink" if in_sink else "LOST")
        if record.good:
            ok = in_sink != in_dlq and (in_sink or outcome in allowed)
        else:
            ok = in_dlq and not in_sink and outcome == record.expected_reason
        rows.append({"index": record.index, "kind": record.kind, "partition": partition, "offset": offset,
                     "expected": record.expected_reason or "sink", "outcome": outcome, "in_sink": in_sink,
                     "in_dlq": in_dlq, "ok": ok})
    return pd.DataFrame(rows)
