"""Exercises of lab ``02_ingestion``, sections 2 (the idempotent handler) and 6 (the DLQ validator)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "02_ingestion"

# --- ingestion.idempotent_handler -------------------------------------------------------------

_TXN = re.compile(r"^\s*(commit|end|abort|begin|start\s+transaction|rollback(?!\s+to\b))\b", re.IGNORECASE)


def _watched_classes() -> tuple[type, type]:
    import psycopg2.extensions as ext

    class WatchedConnection(ext.connection):  # type: ignore[misc, valid-type]
        guarded = False
        violations: list[str]

        def commit(self) -> None:
            if self.guarded:
                self.violations.append("called connection.commit()")
            super().commit()

        def rollback(self) -> None:
            if self.guarded:
                self.violations.append("called connection.rollback()")
            super().rollback()

    class WatchedCursor(ext.cursor):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002 - psycopg2's name
            text = query.decode(errors="replace") if isinstance(query, bytes) else (
                query if isinstance(query, str) else query.as_string(self))
            if _TXN.match(text) and getattr(self.connection, "guarded", False):
                self.connection.violations.append(f"executed {text.strip().split()[0].upper()}")
            return super().execute(query, vars)

    return WatchedConnection, WatchedCursor


def _records(seed: int, topic: str = "grader.events") -> tuple[list[Any], set[str]]:
    """Three partitions with producer retries (same value at a later offset) and a replayed slice."""
    from platform_kit.ingestion import Record

    rng = np.random.default_rng(seed)
    ids = [f"ev-{seed}-{i:05d}" for i in range(360)]
    per_partition: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for ident in ids:
        stream = per_partition[int(rng.integers(0, 3))]
        stream.append(ident)
        if rng.random() < 0.15:  # a producer retry: the same event again, right after
            stream.append(ident)
    for stream in per_partition.values():  # an upstream replay of an earlier slice
        start = len(stream) // 3
        stream.extend(stream[start:start + 25])
    records = []
    for partition, stream in per_partition.items():
        for offset, ident in enumerate(stream):
            value = json.dumps({"event_id": ident, "n": int(ident.rsplit("-", 1)[1])}).encode()
            records.append(Record(topic, partition, offset, ident.encode(), value, {}, None))
    return records, set(ids)


def _interleave(records: Sequence[Any], start: dict[int, int], size: int) -> list[list[Any]]:
    """Batches mixing partitions round-robin in chunks, each partition in offset order, from ``start``."""
    queues = {p: [r for r in records if r.partition == p and r.offset >= start.get(p, 0)] for p in (0, 1, 2)}
    flat: list[Any] = []
    while any(queues.values()):
        for p in (0, 1, 2):
            flat.extend(queues[p][:37])
            queues[p] = queues[p][37:]
    return [flat[i:i + size] for i in range(0, len(flat), size)]


@dataclass
class _Harness:
    handler: Callable[..., Any]
    conn: Any
    cursor_factory: type
    tables: Any
    consumer_id: str
    topic: str

    def stored(self) -> dict[int, int]:
        from platform_kit.ingestion.idempotent import read_offsets

        with self.conn.cursor() as cur:
            offsets = read_offsets(cur, self.tables, self.consumer_id, self.topic)
        self.conn.commit()
        return offsets

    def run(self, records: Sequence[Any], *, size: int, crash_at: int | None = None,
            start: dict[int, int] | None = None) -> tuple[int, bool]:
        """Consume from the stored offsets (or ``start``); returns (rows reported inserted, crashed)."""
        reported = 0
        batches = _interleave(records, self.stored() if start is None else start, size)
        for number, batch in enumerate(batches, start=1):
            self.conn.violations = []
            self.conn.guarded = True
            try:
                with self.conn.cursor(cursor_factory=self.cursor_factory) as cur:
                    result = self.handler(cur, batch, self.consumer_id, self.tables)
            except NotImplementedError:
                self.conn.guarded = False
                self.conn.rollback()
                raise  # a stub: "not attempted"
            except Exception as exc:
                self.conn.guarded = False
                self.conn.rollback()
                name = type(exc).__name__
                if "UniqueViolation" in name:
                    fail("your handler raised UniqueViolation on a batch with a re-sent event: insert with "
                         "ON CONFLICT (event_id) DO NOTHING so a duplicate is a no-op")
                fail(f"your handler raised {name}: {str(exc).strip()[:200]}")
            finally:
                self.conn.guarded = False
            if self.conn.violations:
                fail(f"your handler {self.conn.violations[0]}: the handler must not end the transaction; the "
                     "consumer commits ONCE after it returns, so rows and offsets become durable together")
            if self.conn.autocommit:
                fail("your handler switched the connection to autocommit: each statement would then commit on its "
                     "own, and a crash between the row insert and the offset upsert would lose or duplicate records")
            count = getattr(result, "inserted", result)
            if isinstance(count, bool) or not isinstance(count, int | np.integer):
                fail(f"return the number of rows inserted (an int), got {type(result).__name__}")
            if crash_at == number:
                self.conn.rollback()  # the process died before the commit
                return reported, True
            self.conn.commit()
            reported += int(count)
        return reported, False


def _sink_state(conn: Any, tables: Any) -> tuple[dict[str, int], int]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT event_id, count(*) FROM {tables.table} GROUP BY event_id")
        counts = dict(cur.fetchall())
        cur.execute(f"SELECT count(*) FROM {tables.table}")
        total = int(cur.fetchone()[0])
    conn.commit()
    return counts, total


@exercise(
    id="ingestion.idempotent_handler",
    lab=LAB,
    kind="function",
    title="An idempotent batch handler: keyed upsert + offsets in the same transaction",
    hint="decode each record's JSON for event_id; drop repeats within the batch; execute_values INSERT ... "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id (fetch=True) and count what came back; upsert "
    "(consumer, topic, partition) -> last offset + 1 per partition with ON CONFLICT ... DO UPDATE; never commit",
)
def _grade_idempotent_handler(answer: Any, context: dict[str, Any]) -> str:
    import psycopg2

    from platform_kit.ingestion.idempotent import SinkTables

    dsn = context_value(context, "dsn", str, exercise_id="ingestion.idempotent_handler")
    if not callable(answer):
        fail(f"pass your handler function itself, got {type(answer).__name__}")
    connection_class, cursor_class = _watched_classes()
    conn = psycopg2.connect(dsn, connect_timeout=5, connection_factory=connection_class)
    conn.violations, conn.guarded = [], False
    tag = uuid.uuid4().hex[:8]
    tables = SinkTables(f"grade_{tag}_events", f"grade_{tag}_offsets")
    try:
        with conn.cursor() as cur:
            tables.create(cur)
        conn.commit()
        records, ids = _records(seed=int(tag[:4], 16))
        ends = {p: max(r.offset for r in records if r.partition == p) + 1 for p in (0, 1, 2)}
        harness = _Harness(answer, conn, cursor_class, tables, "grader", records[0].topic)
        # 1. a crash (no commit) after the 3rd batch, then a restart from the stored offsets
        reported, crashed = harness.run(records, size=40, crash_at=3)
        if not crashed:
            fail("the grader's stream ended before its planned crash (report this as a bug)")
        more, _ = harness.run(records, size=150)
        reported += more
        counts, total = _sink_state(conn, tables)
        lost = ids - set(counts)
        if lost:
            fail(f"{len(lost)} of {len(ids)} events never reached the sink after a crash and restart "
                 f"(e.g. {sorted(lost)[0]}): offsets were stored for records whose rows were not committed "
                 "(offsets outside the transaction?) or your handler skips records")
        extra = set(counts) - ids
        if extra:
            fail(f"the sink holds ids that were never produced (e.g. {sorted(extra)[0]}): use the event_id field")
        if total != len(ids):
            fail(f"the sink has {total} rows for {len(ids)} distinct events: duplicates got in")
        stored = harness.stored()
        if stored != ends:
            off_by_one = all(stored.get(p) == e - 1 for p, e in ends.items())
            fail("the stored offsets are " + str(stored) + f", expected {ends}: "
                 + ("store the NEXT offset to read (last offset + 1), as Kafka does" if off_by_one else
                    "store, per partition, the last offset of the batch + 1"))
        if reported != len(ids):
            fail(f"your handler reported {reported} rows inserted over the committed batches, but {len(ids)} were: "
                 "count the ids RETURNING gives back (execute_values' rowcount covers only its last page)")
        # 2. a replay of the whole topic from offset 0: nothing changes
        replayed, _ = harness.run(records, size=100, start={})
        counts, total = _sink_state(conn, tables)
        if total != len(ids) or replayed != 0:
            fail(f"replaying the topic from offset 0 changed the sink ({total} rows, {replayed} reported inserted): "
                 "a replay must be a no-op")
        return (f"{len(records)} records ({len(records) - len(ids)} duplicates) with a crash before a commit and "
                f"a full replay: {len(ids)} rows, 0 lost, 0 duplicated, offsets {ends}")
    finally:
        conn.guarded = False
        if not conn.closed:
            conn.rollback()
            with conn.cursor() as cur:
                cur.execute(f"DROP TABLE IF EXISTS {tables.table}, {tables.offsets}")
            conn.commit()
            conn.close()


# --- ingestion.classify_failure ---------------------------------------------------------------


@dataclass(frozen=True)
class _Case:
    label: str
    key: bytes | None
    value: bytes | None
    stages: frozenset[str]  # empty: a good record


def _enc(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def classify_cases(now: datetime) -> list[_Case]:
    """The grader's corpus: the lab's bad kinds, kinds the lab does not show, and tricky good records."""
    from platform_kit.ingestion.corpus import BAD_KINDS

    base = {"order_id": 424242, "customer_id": 17, "order_ts": "2024-05-01T10:00:00.000000", "status": "shipped",
            "channel": "web", "region": "eu-west", "currency": "EUR", "total_amount": 129.5}
    key = b"424242"
    cases = []
    for kind in BAD_KINDS.values():
        if kind.stage == "sink" or kind.name == "conflicting_duplicate":
            continue  # only the sink can see these
        k, v = kind.make(dict(base), now)
        cases.append(_Case(f"{kind.name} ({kind.description})", k, v, frozenset({kind.stage})))
    decode, schema, rule = frozenset({"decode"}), frozenset({"schema"}), frozenset({"rule"})
    hidden = [
        ("a value of only whitespace", key, b"   \n", decode),
        ("a UTF-8 byte-order mark before the JSON", key, b"\xef\xbb\xbf" + _enc(base), decode),
        ("total_amount 1e400 (overflows to infinity)", key, _enc(base).replace(b"129.5", b"1e400"),
         decode | schema | rule),
        ("total_amount Infinity", key, _enc(base).replace(b"129.5", b"Infinity"), decode),
        ("a JSON string instead of an object", key, b'"424242"', decode),
        ("an empty object {}", key, b"{}", schema),
        ("order_id 424242.0 (a float)", key, _enc({**base, "order_id": 424242.0}), schema),
        ("total_amount true", key, _enc({**base, "total_amount": True}), schema),
        ("order_ts as a number", key, _enc({**base, "order_ts": 1714557600}), schema),
        ("customer_id 0", key, _enc({**base, "customer_id": 0}), rule),
        ("status 'SHIPPED' (wrong case)", key, _enc({**base, "status": "SHIPPED"}), rule),
        ("region of 200 characters", key, _enc({**base, "region": "r" * 200}), rule),
        ("order_ts 2 days ahead, with a +02:00 offset", key,
         _enc({**base, "order_ts": (now + timedelta(days=2)).astimezone(timezone(timedelta(hours=2))).isoformat()}),
         rule),
        ("channel null", key, _enc({**base, "channel": None}), schema),
        ("an empty key", b"", _enc(base), schema),
    ]
    cases += [_Case(label, k, v, stages) for label, k, v, stages in hidden]
    good = [
        ("a valid order", key, _enc(base)),
        ("a valid order with an extra field 'coupon' (producers may add fields)", key, _enc({**base, "coupon": "X1"})),
        ("a valid order with an integer total_amount 25", key, _enc({**base, "total_amount": 25})),
        ("a valid order with total_amount 0", key, _enc({**base, "total_amount": 0})),
        ("a valid order with fields in another order and spaces", key,
         json.dumps(dict(reversed(list(base.items()))), indent=1).encode()),
        ("a valid order stamped 60 s ahead (within the 300 s clock skew)", key,
         _enc({**base, "order_ts": (now + timedelta(seconds=60)).replace(tzinfo=None).isoformat()})),
        ("a valid order whose order_ts has a +00:00 offset", key,
         _enc({**base, "order_ts": "2024-05-01T10:00:00+00:00"})),
        ("a valid order with a non-ASCII region", key, _enc({**base, "region": "eu-wést"})),
    ]
    cases += [_Case(label, k, v, frozenset()) for label, k, v in good]
    return cases


@exercise(
    id="ingestion.classify_failure",
    lab=LAB,
    kind="function",
    title="A validator that routes every bad record to the DLQ with a reason and stage",
    hint="never raise: catch UnicodeDecodeError, ValueError and RecursionError while decoding; reject NaN/Infinity; "
    "check isinstance(x, bool) before int; compare timestamps as timezone-aware datetimes; walk ORDER_SPEC's "
    "fields for missing/null/type, then ranges, enums and the future-timestamp rule; ignore unknown fields",
)
def _grade_classify_failure(answer: Any) -> str:
    from platform_kit.ingestion import Record

    if not callable(answer):
        fail(f"pass your function itself, got {type(answer).__name__}")
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    now_ms = int(now.timestamp() * 1000)
    cases = classify_cases(now)
    for i, case in enumerate(cases):
        record = Record("grader.orders", 0, i, case.key, case.value, {}, now_ms)
        try:
            verdict = answer(record, now_ms)
        except NotImplementedError:
            raise  # a stub: "not attempted"
        except Exception as exc:
            fail(f"your validator raised {type(exc).__name__} on {case.label}: a validator must return a reason, "
                 "never raise (an exception would crash the consumer on one bad record)")
        if not case.stages:
            if verdict is not None:
                fail(f"your validator rejected a good record: {case.label} (it said {verdict!r})")
            continue
        if verdict is None:
            fail(f"your validator let a bad record through: {case.label}")
        if not (isinstance(verdict, tuple) and len(verdict) == 2 and isinstance(verdict[0], str) and verdict[0]):
            fail(f"return (reason, stage) with a non-empty reason string, got {verdict!r} for {case.label}")
        stage = str(getattr(verdict[1], "value", verdict[1]))
        if stage not in case.stages:
            fail(f"{case.label}: stage {stage!r}, expected {' or '.join(sorted(case.stages))} "
                 "(decode: bytes to a JSON object; schema: fields, nulls, types; rule: values)")
    bad = sum(1 for c in cases if c.stages)
    return f"{bad} bad records rejected at the right stage and {len(cases) - bad} good ones accepted"
