"""Idempotent consumers (Lab 2, section 2): the handler's logic, its SQL on PostgreSQL, the loops, the grader."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from platform_kit.grading import check
from platform_kit.ingestion import Record
from platform_kit.ingestion import idempotent as idem
from platform_kit.ingestion._idempotent_sql import _copy_text
from platform_kit.ingestion._idempotent_worker import format_offsets, parse_offsets


def rec(partition: int, offset: int, value: Any, topic: str = "t") -> Record:
    raw = value if isinstance(value, bytes | None) else json.dumps(value).encode()
    return Record(topic, partition, offset, None, raw, {}, None)


# --- pure logic ---------------------------------------------------------------------------------


def test_rows_keep_order_and_payload_text() -> None:
    rows = idem.rows_from_records([rec(0, 5, {"event_id": "a", "n": 1}), rec(1, 2, {"event_id": 7})])
    assert [(r.event_id, r.partition, r.offset) for r in rows] == [("a", 0, 5), ("7", 1, 2)]
    assert json.loads(rows[0].payload) == {"event_id": "a", "n": 1}


def test_dedupe_keeps_the_first_copy() -> None:
    rows = idem.rows_from_records([rec(0, 0, {"event_id": "a"}), rec(0, 1, {"event_id": "b"}),
                                   rec(0, 2, {"event_id": "a"})])
    assert [(r.event_id, r.offset) for r in idem.dedupe_rows(rows)] == [("a", 0), ("b", 1)]


def test_next_offsets_are_last_plus_one_per_topic_partition() -> None:
    records = [rec(0, 3, {}), rec(1, 9, {}), rec(0, 4, {}), rec(0, 7, {}, topic="u")]
    assert idem.next_offsets_of(records) == {("t", 0): 5, ("t", 1): 10, ("u", 0): 8}
    assert idem.next_offsets_of([]) == {}


def test_batch_result_counts_duplicates() -> None:
    assert idem.BatchResult(records=10, inserted=7).duplicates == 3


@pytest.mark.parametrize(("value", "match"), [
    (None, "tombstone"), (b"", "tombstone"), (b"\xff\xfe", "not UTF-8 JSON"), (b'{"event_id": ', "not UTF-8 JSON"),
    (b"[1, 2]", "not an object"), (b'{"n": 1}', "usable 'event_id'"), (b'{"event_id": true}', "usable"),
    (b'{"event_id": ""}', "usable"), (b'{"event_id": {"a": 1}}', "usable"), (b"[" * 5000 + b"]" * 5000, "UTF-8 JSON"),
])
def test_hostile_records_give_a_clear_error_naming_the_record(value: bytes | None, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        idem.event_id_of(Record("orders", 2, 41, None, value, {}, None))
    assert "orders[2]@41" in str(info.value)


@pytest.mark.parametrize("name", ["", "1abc", "a;drop table x", "a b", "x" * 70, "a.b.c", None])
def test_sink_tables_refuse_names_that_are_not_identifiers(name: Any) -> None:
    with pytest.raises(ValueError, match="identifier"):
        idem.SinkTables(name)


def test_sink_tables_ddl_keyed_and_not() -> None:
    keyed, naive = idem.SinkTables("s.events", "offs"), idem.SinkTables("events", keyed=False)
    assert "PRIMARY KEY" in keyed.ddl()[0] and "PRIMARY KEY" not in naive.ddl()[0]
    assert "CREATE TABLE IF NOT EXISTS offs" in keyed.ddl()[1]


def test_crash_validation() -> None:
    assert idem.Crash(2, "between").point is idem.CrashPoint.BETWEEN
    with pytest.raises(ValueError):
        idem.Crash(0)
    with pytest.raises(ValueError):
        idem.Crash(1, "sometime")


def test_worker_offsets_round_trip() -> None:
    assert parse_offsets(format_offsets({2: 10, 0: 5})) == {0: 5, 2: 10}
    assert parse_offsets("") == {}
    with pytest.raises(ValueError):
        parse_offsets("0:x")


def test_copy_text_escapes_what_copy_would_misread() -> None:
    row = idem.SinkRow("id\t1", "t", 0, 1, '{"a": "back\\\\slash\\n"}')
    line = _copy_text([row]).getvalue()
    assert line.count("\t") == 4 and line.endswith("\n") and "id\\t1" in line and "\\\\\\\\" in line


def test_produce_with_duplicates_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="event_id"):
        idem.produce_with_duplicates(object(), "t", [{"n": 1}])
    with pytest.raises(ValueError, match="within"):
        idem.produce_with_duplicates(object(), "t", [{"event_id": 1}], retry_rate=2)


class _FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes]] = []
        self._pending: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any = None, headers: Any = None) -> None:
        self.sent.append((key, value))
        self._pending.append((on_delivery, len(self.sent) - 1))

    def poll(self, _timeout: float = 0) -> int:
        for callback, offset in self._pending:
            if callback:
                callback(None, type("M", (), {"partition": lambda s: 0, "offset": lambda s, o=offset: o})())
        self._pending.clear()
        return 0

    def flush(self, _timeout: float = 0) -> int:
        self.poll()
        return 0


def test_produce_with_duplicates_sends_retries_and_a_replay() -> None:
    producer = _FakeProducer()
    stream = idem.produce_with_duplicates(producer, "t", [{"event_id": i} for i in range(200)], retry_rate=0.1,
                                          replay_fraction=0.2, seed=3)
    assert stream.distinct == 200 and stream.replayed == 40
    assert stream.messages == len(producer.sent) == 200 + stream.retries + 40
    assert stream.end_offsets == {0: stream.messages}
    assert {json.loads(v)["event_id"] for _, v in producer.sent} == set(range(200))


def test_plot_crash_drill_draws_both_panels() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    runs = pd.DataFrame({"run": [1, 2, 3], "kind": ["random", "planned", "final"], "rows_after": [0, 50, 90],
                         "offsets_after": [0, 60, 110]})
    compare = pd.DataFrame({"lost": [0, 12], "duplicated": [0, 30]}, index=["idempotent", "naive"])
    left, right = idem.plot_crash_drill(runs, compare, 90)
    assert len(left.lines) == 3 and len(right.patches) == 4
    plt.close("all")


# --- engine tier: PostgreSQL and the broker ------------------------------------------------------


@pytest.fixture(scope="module")
def pk() -> Any:
    import platform_kit

    return platform_kit.connect("embedded")


@pytest.fixture()
def tables(pk: Any) -> Iterator[idem.SinkTables]:
    tag = uuid.uuid4().hex[:8]
    sink = idem.SinkTables(f"t_idem_{tag}", f"t_idem_off_{tag}")
    yield sink
    pk.pg.query(f"DROP TABLE IF EXISTS {sink.table}, {sink.offsets}")


def test_apply_batch_is_idempotent_and_stores_next_offsets(pk: Any, tables: idem.SinkTables) -> None:
    conn = pk.pg.connect()
    records = [rec(0, i, {"event_id": f"e{i % 7}"}) for i in range(20)] + [rec(1, 3, {"event_id": "x"})]
    try:
        with conn.cursor() as cur:
            tables.create(cur)
            first = idem.apply_batch(cur, records, "c", tables)
        conn.commit()
        with conn.cursor() as cur:
            again = idem.apply_batch(cur, records, "c", tables, method="copy")
            stored = idem.read_offsets(cur, tables, "c", "t")
            report = idem.reconcile_sink(cur, tables, [f"e{i}" for i in range(7)] + ["x"])
        conn.commit()
    finally:
        conn.close()
    assert (first.inserted, first.duplicates, again.inserted) == (8, 13, 0)
    assert stored == {0: 20, 1: 4}
    assert report == {"expected": 8, "rows": 8, "distinct": 8, "lost": 0, "duplicated": 0, "unexpected": 0}


def test_copy_and_values_store_hostile_payloads_identically(pk: Any, tables: idem.SinkTables) -> None:
    hostile = {"event_id": "tab\there", "text": "line\nbreak \\ backslash \t tab ünïcödé \"quotes\" 😀"}
    records = [rec(0, 0, hostile)]
    conn = pk.pg.connect()
    try:
        with conn.cursor() as cur:
            tables.create(cur)
            assert idem.write_rows(cur, idem.rows_from_records(records), tables, method="copy") == ["tab\there"]
            cur.execute(f"SELECT payload FROM {tables.table}")
            assert cur.fetchone()[0] == hostile
            cur.execute(f"DELETE FROM {tables.table}")
            assert idem.write_rows(cur, idem.rows_from_records(records), tables, method="values") == ["tab\there"]
            cur.execute(f"SELECT payload FROM {tables.table}")
            assert cur.fetchone()[0] == hostile
            with pytest.raises(ValueError, match="method"):
                idem.write_rows(cur, idem.rows_from_records(records), tables, method="bulk")  # type: ignore[arg-type]
        conn.rollback()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def stream(pk: Any) -> idem.DuplicatedStream:
    topic = f"t.idem.{uuid.uuid4().hex[:6]}"
    pk.broker.create_topic(topic, partitions=2)
    return idem.produce_with_duplicates(pk.broker.producer(linger_ms=10), topic,
                                        [{"event_id": f"ev{i}"} for i in range(600)], retry_rate=0.1,
                                        replay_fraction=0.2, seed=1)


def test_idempotent_consumer_survives_planned_crashes(pk: Any, stream: idem.DuplicatedStream,
                                                      tables: idem.SinkTables) -> None:
    config = pk.broker.consumer_config(f"t-{uuid.uuid4().hex[:6]}")
    runs = 0
    for crash in (idem.Crash(1, "between"), idem.Crash(2, "before_write"), idem.Crash(1, "after_commit"), None):
        runs += 1
        try:
            report = idem.consume_idempotently(config, pk.pg, stream.topic, consumer_id="c", tables=tables,
                                               end_offsets=stream.end_offsets, batch_size=100, crash=crash,
                                               idle_s=None, timeout_s=30)
        except idem.SimulatedCrash:
            continue
    assert report.finished and report.next_offsets == stream.end_offsets
    conn = pk.pg.connect()
    with conn.cursor() as cur:
        result = idem.reconcile_sink(cur, tables, stream.ids)
    conn.close()
    assert (result["lost"], result["duplicated"], result["rows"]) == (0, 0, stream.distinct)
    replay = idem.consume_idempotently(config, pk.pg, stream.topic, consumer_id="c", tables=tables,
                                       end_offsets=stream.end_offsets, start_offsets={}, batch_size=300, idle_s=None)
    assert replay.inserted == 0 and replay.records == stream.messages


@pytest.mark.parametrize(("mode", "lost", "duplicated"), [("commit_first", True, False), ("write_first", False, True)])
def test_naive_consumers_lose_or_duplicate_after_a_crash_between(pk: Any, stream: idem.DuplicatedStream,
                                                                   mode: str, lost: bool, duplicated: bool) -> None:
    sink = idem.SinkTables(f"t_naive_{uuid.uuid4().hex[:8]}", keyed=False)
    config = pk.broker.consumer_config(f"t-naive-{uuid.uuid4().hex[:6]}")
    for crash in (idem.Crash(2, "between"), None):
        try:
            idem.consume_naively(config, pk.pg, stream.topic, tables=sink, mode=mode,  # type: ignore[arg-type]
                                 end_offsets=stream.end_offsets, batch_size=100, crash=crash, idle_s=None)
        except idem.SimulatedCrash:
            pass
    conn = pk.pg.connect()
    with conn.cursor() as cur:
        result = idem.reconcile_sink(cur, sink, stream.ids)
    conn.close()
    pk.pg.query(f"DROP TABLE {sink.table}")
    assert (result["lost"] > 0) is lost
    # the keyless table keeps the stream's own retries too; a re-read batch adds rows beyond the messages
    assert (result["rows"] > stream.messages) is duplicated


def test_naive_consumer_needs_a_group_and_a_mode(pk: Any) -> None:
    with pytest.raises(ValueError, match="mode"):
        idem.consume_naively({}, "postgresql://x", "t", tables=idem.SinkTables("x"), mode="yolo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="group.id"):
        idem.consume_naively({}, "postgresql://x", "t", tables=idem.SinkTables("x"), mode="write_first")


def test_crash_drill_with_processes(pk: Any, stream: idem.DuplicatedStream, tables: idem.SinkTables) -> None:
    drill = idem.run_crash_drill(pk.broker.consumer_config("drill"), pk.pg.dsn(), stream.topic, consumer_id="drill",
                                 tables=tables, end_offsets=stream.end_offsets, kills=1, kill_after_s=(0.05, 0.1),
                                 planned=[idem.Crash(1, "between")], batch_size=200, seed=2)
    assert drill.kills == 2 and drill.final["finished"] and len(drill.frame()) == 3
    conn = pk.pg.connect()
    with conn.cursor() as cur:
        result = idem.reconcile_sink(cur, tables, stream.ids)
    conn.close()
    assert (result["lost"], result["duplicated"]) == (0, 0)


# --- the grader ----------------------------------------------------------------------------------


def test_grader_accepts_the_package_handler(pk: Any) -> None:
    assert check("ingestion.idempotent_handler", idem.apply_batch, context={"dsn": pk.pg.dsn()}, show=False).passed


def _commits(cur: Any, records: Any, consumer_id: str, tables: Any) -> Any:
    result = idem.apply_batch(cur, records, consumer_id, tables)
    cur.connection.commit()
    return result


def _offsets_elsewhere_factory(dsn: str) -> Any:
    def handler(cur: Any, records: Any, consumer_id: str, tables: Any) -> int:
        import psycopg2

        inserted = idem.write_rows(cur, idem.dedupe_rows(idem.rows_from_records(records)), tables)
        other = psycopg2.connect(dsn)
        other.autocommit = True
        with other.cursor() as c:
            idem.store_offsets(c, tables, consumer_id, idem.next_offsets_of(records))
        other.close()
        return len(inserted)
    return handler


def _plain_insert(cur: Any, records: Any, consumer_id: str, tables: Any) -> int:
    from psycopg2.extras import execute_values

    rows = idem.rows_from_records(records)
    execute_values(cur, f"INSERT INTO {tables.table} (event_id, source_topic, source_partition, source_offset, "
                   "payload) VALUES %s", [tuple(r) for r in rows])
    idem.store_offsets(cur, tables, consumer_id, idem.next_offsets_of(records))
    return len(rows)


def _last_offset(cur: Any, records: Any, consumer_id: str, tables: Any) -> int:
    result = idem.apply_batch(cur, records, consumer_id, tables)
    idem.store_offsets(cur, tables, consumer_id, {k: v - 1 for k, v in result.next_offsets.items()})
    return result.inserted


@pytest.mark.parametrize(("name", "message"), [
    ("commits", "must not end the transaction"), ("elsewhere", "never reached the sink"),
    ("plain", "ON CONFLICT"), ("last", "NEXT offset"), ("none", "int"),
])
def test_grader_rejects_wrong_handlers(pk: Any, name: str, message: str) -> None:
    handlers = {"commits": _commits, "elsewhere": _offsets_elsewhere_factory(pk.pg.dsn()), "plain": _plain_insert,
                "last": _last_offset, "none": lambda cur, records, cid, tables: None}
    result = check("ingestion.idempotent_handler", handlers[name], context={"dsn": pk.pg.dsn()}, show=False)
    assert not result.passed
    assert message in str(result.message)


def test_grader_fails_cleanly_on_a_stub(pk: Any) -> None:
    def stub(cur: Any, records: Any, consumer_id: str, tables: Any) -> int:
        raise NotImplementedError

    result = check("ingestion.idempotent_handler", stub, context={"dsn": pk.pg.dsn()}, show=False)
    assert not result.passed and not result.attempted

