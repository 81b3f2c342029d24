"""CDC: change events from pgoutput, the connector's delivery contract, the replica, the grader."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from platform_kit.errors import ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import Record
from platform_kit.ingestion._cdc_events import UNCHANGED_TOAST, ChangeStream, convert_text, event_identity
from platform_kit.ingestion._pgoutput import UNCHANGED, PgOutputError
from platform_kit.ingestion.cdc import (
    CdcConnector,
    LsnStore,
    apply_changes,
    capture_vs_truth,
    compare_with_truth,
    dedupe_events,
    events_from_records,
    reconcile,
)
from platform_kit.ingestion._cdc_load import WorkloadResult
from tests.unit.test_ingestion_pgoutput import begin, commit, delete, insert, relation, truncate, update

ORDERS = 16_400
CUSTOMERS = 16_401
PK = {"shop.orders": ["id"], "shop.customers": ["id"]}


def rel(oid: int = ORDERS, name: str = "orders", identity: bytes = b"d") -> bytes:
    """A Relation message as the server sends it: under FULL identity every column is flagged as key."""
    flag = 1 if identity == b"f" else 0
    return relation(oid, "shop", name, identity, ((1, "id", 20), (flag, "status", 25), (flag, "amount", 1700)))


def feed(stream: ChangeStream, *frames: bytes, lsn: int = 100) -> list[Any]:
    events = []
    for i, frame in enumerate(frames):
        events += stream.feed(frame, lsn + i).events
    return events


# --- ChangeStream: pure ------------------------------------------------------------------------


def test_insert_becomes_a_create_event_with_typed_values_and_source() -> None:
    stream = ChangeStream(PK)
    [event] = feed(stream, begin(0x500, 9), rel(), insert(ORDERS, 1, "placed", "10.50"))
    assert (event.op, event.before, event.after, event.key) == ("c", None, {"id": 1, "status": "placed",
                                                                            "amount": 10.5}, {"id": 1})
    assert (event.schema, event.table, event.lsn, event.commit_lsn, event.txid, event.seq) == (
        "shop", "orders", 102, 0x500, 9, 1)
    value = event.value()
    assert value["source"]["lsn_text"] == "0/66" and value["source"]["commit_ts"].startswith("2024-01-02T03:04:05")
    assert json.loads(event.kafka_value())["after"]["amount"] == 10.5
    assert event.kafka_key() == b'{"id":1}'


def test_updates_full_default_and_key_change() -> None:
    stream = ChangeStream(PK)
    events = feed(stream, begin(), rel(identity=b"f"),
                  update(ORDERS, b"O", (1, "placed", "10.50"), (1, "paid", "10.50")),
                  update(ORDERS, None, None, (1, "shipped", "10.50")),
                  update(ORDERS, b"O", (1, "shipped", "10.50"), (7, "shipped", "10.50")))
    full, plain, gone, born = events
    assert full.op == "u" and full.before == {"id": 1, "status": "placed", "amount": 10.5} and full.key == {"id": 1}
    assert plain.op == "u" and plain.before is None
    assert (gone.op, gone.key, gone.after, gone.key_change) == ("d", {"id": 1}, None, True)
    assert (born.op, born.key, born.before, born.key_change) == ("c", {"id": 7}, None, True)
    assert [e.seq for e in events] == [1, 2, 3, 4] and gone.lsn == born.lsn


def test_key_change_without_splitting_is_one_update_flagged() -> None:
    stream = ChangeStream(PK, split_key_changes=False)
    [event] = feed(stream, begin(), rel(), update(ORDERS, b"K", (1, None, None), (2, "paid", "1")))
    assert event.op == "u" and event.before == {"id": 1} and event.key == {"id": 2} and event.key_change
    assert event.value()["source"]["key_change"] is True


def test_deletes_key_only_under_default_and_full_row_under_full() -> None:
    stream = ChangeStream(PK)
    [keyed] = feed(stream, begin(), rel(), delete(ORDERS, b"K", (1, None, None)))
    assert keyed.before == {"id": 1} and keyed.after is None and keyed.op == "d"
    [whole] = feed(stream, rel(identity=b"f"), delete(ORDERS, b"O", (2, "paid", "3.00")))
    assert whole.before == {"id": 2, "status": "paid", "amount": 3.0} and whole.key == {"id": 2}


def test_full_identity_without_known_primary_key_keys_by_every_column() -> None:
    [event] = feed(ChangeStream(), begin(), rel(identity=b"f"), insert(ORDERS, 1, "a", "1"))
    assert event.key == {"id": 1, "status": "a", "amount": 1.0}
    [event] = feed(ChangeStream(), begin(), rel(), insert(ORDERS, 1, "a", "1"))
    assert event.key == {"id": 1}


def test_truncate_emits_one_keyless_event_per_table() -> None:
    stream = ChangeStream(PK)
    events = feed(stream, begin(), rel(), rel(CUSTOMERS, "customers"), truncate(ORDERS, CUSTOMERS))
    assert [(e.op, e.table, e.key, e.kafka_key()) for e in events] == [("t", "orders", None, None),
                                                                      ("t", "customers", None, None)]


def test_unchanged_toast_is_filled_from_before_or_marked() -> None:
    stream = ChangeStream(PK)
    [filled] = feed(stream, begin(), rel(identity=b"f"),
                    update(ORDERS, b"O", (1, "placed", "5"), (1, UNCHANGED, "6")))
    assert filled.after == {"id": 1, "status": "placed", "amount": 6.0}
    [marked] = feed(stream, update(ORDERS, None, None, (1, UNCHANGED, "7")))
    assert marked.after["status"] == UNCHANGED_TOAST


def test_binary_values_become_hex() -> None:
    [event] = feed(ChangeStream(PK), begin(), rel(), insert(ORDERS, 1, b"\x01\xff", "1"))
    assert event.after["status"] == "01ff"


@pytest.mark.parametrize(("oid", "text", "value"), [
    (16, "t", True), (16, "false", False), (20, "-5", -5), (21, "7", 7), (23, "8", 8), (700, "1.5", 1.5),
    (701, "NaN", "nan"), (1700, "12.30", 12.3), (1114, "2024-01-01 00:00:00", "2024-01-01 00:00:00"),
    (25, "x", "x"), (23, None, None),
])
def test_convert_text_by_type_oid(oid: int, text: str | None, value: Any) -> None:
    got = convert_text(oid, text)
    assert (str(got) if value == "nan" else got) == value


@pytest.mark.parametrize(("oid", "text"), [(20, "abc"), (16, "yes"), (1700, "1,5")])
def test_convert_text_rejects_invalid_values(oid: int, text: str) -> None:
    with pytest.raises(PgOutputError, match="is not valid for type oid") as info:
        convert_text(oid, text)
    assert info.value.reason == "unconvertible"


@pytest.mark.parametrize(("frames", "reason", "match"), [
    ((begin(), insert(ORDERS, 1, "a", "1")), "unknown-relation", "before its Relation message"),
    ((rel(), insert(ORDERS, 1, "a", "1")), "no-transaction", "outside a transaction"),
    ((commit(),), "no-transaction", "Commit message outside"),
    ((begin(), rel(), insert(ORDERS, 1, "a")), "malformed", "tuple has 2 column"),
    ((begin(), rel(), insert(ORDERS, "one", "a", "1")), "unconvertible", "not valid for type oid 20"),
    ((begin(), rel(), truncate(999)), "unknown-relation", "oid 999"),
])
def test_stream_errors_carry_a_reason(frames: tuple[bytes, ...], reason: str, match: str) -> None:
    stream = ChangeStream(PK)
    with pytest.raises(PgOutputError, match=match) as info:
        feed(stream, *frames)
    assert info.value.reason == reason


def test_event_identity_is_stable_across_copies() -> None:
    [event] = feed(ChangeStream(PK), begin(), rel(), insert(ORDERS, 1, "a", "1"))
    value = json.loads(event.kafka_value())
    assert event_identity(value) == event_identity(json.loads(json.dumps(value))) == (102, "shop.orders",
                                                                                     (("id", 1),), "c")


# --- the connector, with a fake slot and a fake producer -----------------------------------------


class FakeSource:
    def __init__(self, frames: list[tuple[bytes, int]], position: int = 0) -> None:
        self.frames, self.confirmed, self.closed, self._position = list(frames), [], False, position

    def read(self, timeout: float) -> tuple[bytes, int] | None:
        return self.frames.pop(0) if self.frames else None

    def confirm(self, lsn: int) -> None:
        self.confirmed.append(lsn)

    def position(self) -> int:
        return self._position

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """Queues produced records; poll/flush deliver them unless held (or fail them)."""

    def __init__(self, partitions: int = 3) -> None:
        self.queued: list[tuple[Any, dict[str, Any]]] = []
        self.delivered: list[dict[str, Any]] = []
        self.hold, self.error = False, None
        self.offsets: dict[tuple[str, int], int] = {}
        self.meta = SimpleNamespace(topics={})
        self.partitions = partitions

    def produce(self, topic: str, value: bytes | None = None, key: bytes | None = None, headers: Any = None,
                on_delivery: Any = None, partition: int | None = None) -> None:
        self.queued.append((on_delivery, {"topic": topic, "value": value, "key": key, "headers": headers,
                                          "partition": partition}))

    def poll(self, timeout: float = 0) -> int:
        if self.hold:
            return 0
        served, self.queued = self.queued, []
        for callback, record in served:
            message = None
            if self.error is None:
                self.delivered.append(record)
                where = (record["topic"], record["partition"] or 0)
                self.offsets[where] = self.offsets.get(where, -1) + 1
                message = SimpleNamespace(topic=lambda w=where: w[0], partition=lambda w=where: w[1],
                                          offset=lambda o=self.offsets[where]: o)
            if callback is not None:
                callback(self.error, message)
        return len(served)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.queued)

    def list_topics(self, topic: str, timeout: float = 0) -> Any:
        return SimpleNamespace(topics={topic: SimpleNamespace(partitions=dict.fromkeys(range(self.partitions)))})


def tx(first: int, end: int, *changes: bytes) -> list[tuple[bytes, int]]:
    frames = [(begin(end - 8, first), first)]
    frames += [(c, first + 1 + i) for i, c in enumerate(changes)]
    return frames + [(commit(end - 8, end), end)]


def make(tmp_path: Path, frames: list[tuple[bytes, int]], producer: FakeProducer | None = None,
         **kwargs: Any) -> tuple[CdcConnector, FakeSource, FakeProducer, LsnStore]:
    source, producer = FakeSource(frames, kwargs.pop("position", 0)), producer or FakeProducer()
    store = LsnStore(tmp_path / "slot.json")
    connector = CdcConnector(source, producer, store, topic_prefix="cdc.t", dlq_topic="cdc.t.dlq", slot="s",
                             primary_keys=PK, **kwargs)
    return connector, source, producer, store


def handle_all(connector: CdcConnector, source: FakeSource) -> None:
    while (frame := source.read(0)) is not None:
        connector.handle(*frame)


def test_checkpoint_waits_for_delivery_then_stores_and_confirms(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"), insert(ORDERS, 2, "b", "2"))
    connector, source, producer, store = make(tmp_path, frames)
    producer.hold = True
    handle_all(connector, source)
    assert connector.checkpoint() == 0 and store.load() is None and source.confirmed == []
    producer.hold = False
    assert connector.checkpoint() == 100
    assert store.lsn == 100 and source.confirmed == [100]
    assert [json.loads(r["value"])["after"]["id"] for r in producer.delivered] == [1, 2]
    assert {r["topic"] for r in producer.delivered} == {"cdc.t.shop.orders"}
    assert producer.delivered[0]["key"] == b'{"id":1}'
    assert dict(producer.delivered[0]["headers"])["cdc.op"] == b"c"


def test_checkpoint_never_passes_an_undelivered_transaction(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1")) + tx(110, 200, insert(ORDERS, 2, "b", "2"))
    connector, source, producer, store = make(tmp_path, frames)
    for frame in frames[:4]:  # relation + first transaction
        connector.handle(*frame)
    producer.poll()
    producer.hold = True
    for frame in frames[4:]:
        connector.handle(*frame)
    assert connector.checkpoint() == 100
    producer.hold = False
    assert connector.checkpoint() == 200 and source.confirmed == [100, 200]


def test_failed_delivery_stops_checkpointing_with_a_clear_error(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"))
    connector, source, producer, store = make(tmp_path, frames)
    producer.error = "KafkaError{code=MSG_TIMED_OUT}"
    handle_all(connector, source)
    with pytest.raises(ServiceError, match="1 change event.* not delivered: KafkaError") as info:
        connector.checkpoint()
    assert "resumes from the last checkpoint 0/0" in str(info.value)
    assert store.load() is None and source.confirmed == []


def test_undecodable_frame_goes_to_the_dlq_and_is_flushed_before_the_checkpoint(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"), b"I\x00\x00", insert(ORDERS, 2, "b", "2"))
    connector, source, producer, store = make(tmp_path, frames)
    handle_all(connector, source)
    assert connector.checkpoint() == 100
    letters = [r for r in producer.delivered if r["topic"] == "cdc.t.dlq"]
    assert len(letters) == 1 and letters[0]["value"] == b"I\x00\x00"
    headers = dict(letters[0]["headers"])
    assert headers["dlq.reason"] == b"truncated" and headers["dlq.stage"] == b"decode"
    assert headers["dlq.original.topic"] == b"pgoutput.s" and headers["dlq.original.offset"] == b"12"
    assert b"I message truncated" in headers["dlq.error"]
    assert connector.stats["dead_letters"] == 1 and connector.stats["produced"] == 2


def test_truncate_is_broadcast_to_every_partition(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, truncate(ORDERS))
    connector, source, producer, _ = make(tmp_path, frames, producer=FakeProducer(partitions=4))
    handle_all(connector, source)
    assert connector.checkpoint() == 100
    assert sorted(r["partition"] for r in producer.delivered) == [0, 1, 2, 3]
    assert {r["key"] for r in producer.delivered} == {None}


def test_restart_resumes_from_the_stored_lsn_and_keeps_counters_and_end_offsets(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"), insert(ORDERS, 2, "b", "2"), b"\x00")
    connector, source, producer, store = make(tmp_path, frames)
    stats = connector.run(idle_exit_s=0.0, max_seconds=5)
    assert source.closed and store.lsn == 100 and stats["produced"] == 2 and stats["starts"] == 1
    assert store.load()["offsets"] == {"cdc.t.shop.orders": {"0": 1}, "cdc.t.dlq": {"0": 0}}
    again, source, _, _ = make(tmp_path, [(rel(), 105)] + tx(110, 200, insert(ORDERS, 3, "c", "3")))
    assert again.stored_lsn == 100 and again.stats["starts"] == 2 and again.stats["produced"] == 2
    assert again.run(idle_exit_s=0.0, max_seconds=5)["produced"] == 3
    assert store.load()["offsets"]["cdc.t.shop.orders"] == {"0": 1}  # a new fake starts at 0: the max is kept


def test_run_stops_at_until_lsn_and_when_asked(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1")) + tx(110, 200, insert(ORDERS, 2, "b", "2"))
    connector, source, _, store = make(tmp_path, frames, checkpoint_interval_s=0.0)
    stats = connector.run(until_lsn=100, max_seconds=5)
    assert store.lsn == 100 and stats["frames"] == 4 and len(source.frames) == 3  # the second tx is left
    stopped, _, _, _ = make(tmp_path / "other", frames)
    assert stopped.run(should_stop=lambda: True).get("frames", 0) == 0


def test_idle_connector_confirms_the_servers_sent_position(tmp_path: Path) -> None:
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"))
    connector, source, producer, store = make(tmp_path, frames, position=500)
    producer.hold = True
    handle_all(connector, source)
    assert connector.checkpoint() == 0  # a transaction is in flight: the position is not safe
    producer.hold = False
    assert connector.checkpoint() == 500 and source.confirmed == [500]


def test_a_lost_commit_is_closed_by_the_next_begin(tmp_path: Path) -> None:
    frames = [(rel(), 1), (begin(92, 10), 10), (insert(ORDERS, 1, "a", "1"), 11), (b"C\x00", 100)]
    frames += tx(110, 200, insert(ORDERS, 2, "b", "2"))
    connector, source, _, _ = make(tmp_path, frames)
    handle_all(connector, source)
    assert connector.checkpoint() == 200 and connector.stats["dead_letters"] == 1


def test_fault_injection_kills_after_delivering(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platform_kit.ingestion._cdc_connector as module

    kills: list[int] = []
    monkeypatch.setattr(module.os, "kill", lambda pid, sig: kills.append(sig))
    frames = [(rel(), 1)] + tx(10, 100, insert(ORDERS, 1, "a", "1"), insert(ORDERS, 2, "b", "2"))
    connector, source, producer, store = make(tmp_path, frames, crash_after_events=1)
    producer.hold = True
    handle_all(connector, source)
    assert kills and store.load() is None


# --- LsnStore ------------------------------------------------------------------------------------


def test_lsn_store_round_trip_and_errors(tmp_path: Path) -> None:
    store = LsnStore(tmp_path / "deep" / "s.json")
    assert store.load() is None and store.lsn == 0
    store.save(0x1_0000_0010, stats={"a": 1})
    state = store.load()
    assert state["lsn"] == 0x1_0000_0010 and state["lsn_text"] == "1/10" and state["stats"] == {"a": 1}
    assert [p.name for p in store.path.parent.iterdir()] == ["s.json"]  # no temp file left behind
    store.path.write_text("{not json")
    with pytest.raises(ServiceError, match="unreadable"):
        store.load()
    store.path.write_text('{"lsn": "0/10"}')
    with pytest.raises(ServiceError, match="no integer 'lsn'"):
        store.load()


# --- consumer side -------------------------------------------------------------------------------


def ev(op: str, before: Any, after: Any, lsn: int, seq: int = 1, table: str = "orders") -> dict[str, Any]:
    key = after or before
    return {"op": op, "before": before, "after": after, "key": None if op == "t" else {"id": key["id"]},
            "source": {"lsn": lsn, "commit_lsn": lsn, "seq": seq, "schema": "shop", "table": table}}


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["id", "s"], dtype=object).set_index("id")


def test_apply_changes_reference_semantics() -> None:
    replica = frame({"id": 1, "s": "a"}, {"id": 2, "s": "b"})
    events = [ev("u", {"id": 1, "s": "a"}, {"id": 1, "s": "A"}, 1), ev("d", {"id": 2}, None, 2),
              ev("c", None, {"id": 3, "s": "c"}, 3), ev("u", {"id": 3, "s": "c"}, {"id": 4, "s": "c"}, 4)]
    out = apply_changes(replica, events, "id")
    assert out.to_dict(orient="index") == {1: {"s": "A"}, 4: {"s": "c"}} and out.index.name == "id"
    assert replica.to_dict(orient="index") == {1: {"s": "a"}, 2: {"s": "b"}}  # untouched
    assert apply_changes(replica, [ev("t", None, None, 5)], "id").empty
    wider = apply_changes(replica, [ev("c", None, {"id": 5, "s": "e", "new": 1}, 6)], "id")
    assert list(wider.columns) == ["s", "new"]


@pytest.mark.parametrize(("event", "match"), [
    ({"op": "x"}, "unknown op 'x'"),
    ({"op": "c", "after": None}, "needs an 'after' image"),
    ({"op": "d", "before": None, "key": None}, "needs a 'before' image or a 'key'"),
])
def test_apply_changes_rejects_broken_events(event: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        apply_changes(frame(), [event], "id")


def test_dedupe_drops_redelivered_copies_and_restores_commit_order() -> None:
    a, b = ev("c", None, {"id": 1}, 10), ev("u", {"id": 1}, {"id": 1}, 20)
    split_d, split_c = ev("d", {"id": 2}, None, 30, seq=1), ev("c", None, {"id": 3}, 30, seq=2)
    events, duplicates = dedupe_events([b, a, split_c, split_d, b, a, split_c])
    assert duplicates == 3 and events == [a, b, split_d, split_c]


def test_events_from_records_dead_letters_what_is_not_an_event() -> None:
    good = ev("c", None, {"id": 1}, 1)
    records = [Record("t", 0, i, None, v) for i, v in enumerate(
        [json.dumps(good).encode(), b"\xff", b"[1]", json.dumps({"op": "c"}).encode(), None])]
    events, letters = events_from_records(records)
    assert events == [good] and [d.offset for d in letters] == [1, 2, 3, 4]
    assert {d.reason for d in letters} == {"not-a-change-event"} and letters[0].stage.value == "decode"


def test_reconcile_reports_missing_extra_and_different() -> None:
    source = frame({"id": 1, "s": "a"}, {"id": 2, "s": None}, {"id": 3, "s": "c"})
    replica = frame({"id": 1, "s": "a"}, {"id": 2, "s": float("nan")}, {"id": 3, "s": "X"}, {"id": 4, "s": "d"})
    report = reconcile(replica, source)
    assert (report["missing"], report["extra"], report["different"], report["matching"]) == (0, 1, 1, 2)
    assert not report["in_sync"] and report["examples"]["different"] == [(3, ["s"])]
    assert reconcile(source, source)["in_sync"]
    assert reconcile(frame({"id": 1, "s": 1.0}), frame({"id": 1, "s": 1.0 + 1e-12}))["in_sync"]


def test_compare_with_truth_catches_loss_extras_and_order() -> None:
    truth = [("orders", (1,), "c"), ("orders", (1,), "u"), ("orders", (2,), "d")]
    events = [ev("c", None, {"id": 1}, 1), ev("u", {"id": 1}, {"id": 1}, 2), ev("d", {"id": 2}, None, 3)]
    assert compare_with_truth(events, truth)["keys_matching"] == 2
    lost = compare_with_truth(events[:2], truth)
    assert (lost["lost"], lost["mismatched_keys"]) == (1, [("orders", (2,))])
    assert compare_with_truth(events + events[:1], truth)["unexpected"] == 1
    swapped = compare_with_truth([events[1], events[0], events[2]], truth)
    assert swapped["mismatched_keys"] == [("orders", (1,))] and swapped["lost"] == 0


def test_capture_vs_truth_counts_what_each_mode_saw() -> None:
    changes = [("orders", (9,), "c"), ("orders", (9,), "u"), ("orders", (1,), "u"), ("orders", (1,), "u"),
               ("orders", (2,), "d")]
    phase = WorkloadResult(pd.Series([1.0] * 5).to_numpy(), changes, 1.0, 100, 200)
    events = [ev("c", None, {"id": 9}, 110), ev("u", {"id": 9}, {"id": 9}, 120), ev("u", None, {"id": 1}, 130),
              ev("u", None, {"id": 1}, 140), ev("d", {"id": 2}, None, 150), ev("c", None, {"id": 5}, 250)]
    polled = [("s.orders", 9, "t1"), ("s.orders", 1, "t2"), ("s.orders", 9, "t3")]
    table = capture_vs_truth(phase, events, polled)
    assert table.to_dict() == {"changes made": {"inserts": 1, "updates": 3, "deletes": 1},
                               "log-based CDC": {"inserts": 1, "updates": 3, "deletes": 1},
                               "polling": {"inserts": 1, "updates": 2, "deletes": 0}}


# --- grader --------------------------------------------------------------------------------------

EX = "ingestion.cdc_apply_changes"


def test_grader_accepts_the_reference() -> None:
    result = check(EX, apply_changes, show=False)
    assert result.passed, result.message


def _ignoring(op: str) -> Any:
    return lambda replica, events, key: apply_changes(replica, [e for e in events if e["op"] != op], key)


@pytest.mark.parametrize(("answer", "match"), [
    (_ignoring("d"), "rows deleted at the source are still in your replica"),
    (_ignoring("t"), "after a truncate"),
    (lambda r, e, k: apply_changes(r, [{**x, "after": x["before"]} if x["op"] == "u" and x["before"] and
                                       len(x["before"]) > 1 else x for x in e], k), "before image"),
    (lambda r, e, k: apply_changes(r, [{**x, "before": None} if x["op"] == "u" else x for x in e], k),
     "left the old key behind"),
    (lambda r, e, k: apply_changes(r, e, k).reset_index(drop=True), "neither indexed by"),
    (lambda r, e, k: "done", "expected a pandas DataFrame"),
    (lambda r, e, k: apply_changes(r, e[:-1], k), "on "),
])
def test_grader_rejects_wrong_answers(answer: Any, match: str) -> None:
    result = check(EX, answer, show=False)
    assert not result.passed and result.attempted
    assert match in result.message, result.message


def test_grader_rejects_mutating_the_replica_and_counts_a_stub_as_not_attempted() -> None:
    def mutating(replica: pd.DataFrame, events: Any, key: str) -> pd.DataFrame:
        replica.loc[999] = ["x", 1.0]
        return apply_changes(replica, events, key)

    assert "modified the replica" in check(EX, mutating, show=False).message

    def stub(replica: pd.DataFrame, events: Any, key: str) -> pd.DataFrame:
        raise NotImplementedError

    result = check(EX, stub, show=False)
    assert not result.passed and not result.attempted


def test_grader_reconciles_with_the_notebooks_source() -> None:
    snapshot = frame({"id": 1, "s": "a"})
    events = [ev("u", None, {"id": 1, "s": "b"}, 1), ev("c", None, {"id": 2, "s": "c"}, 2)]
    context = {"snapshot": snapshot, "events": events, "key": "id", "source": frame({"id": 1, "s": "b"},
                                                                                    {"id": 2, "s": "c"})}
    assert check(EX, apply_changes, context=context, show=False).passed
    stale = {**context, "source": frame({"id": 1, "s": "b"})}
    result = check(EX, apply_changes, context=stale, show=False)
    assert not result.passed and "does not reconcile" in result.message


# --- engine tier: a real slot decoded by the pure decoder ---------------------------------------


@pytest.fixture(scope="module")
def pg() -> Any:
    """PostgreSQL of the process's shared embedded workbench (left running for other modules)."""
    import platform_kit

    return platform_kit.connect("embedded").pg


@pytest.mark.contract
def test_real_pgoutput_stream_decodes_into_the_expected_events(pg: Any) -> None:
    import uuid

    from platform_kit.ingestion.cdc import drop_slot, primary_keys

    schema = f"u_{uuid.uuid4().hex[:6]}"
    slot = f"{schema}_slot"
    pg.query(f"CREATE SCHEMA {schema}")
    pg.query(f"CREATE TABLE {schema}.t (id bigint PRIMARY KEY, v text, n numeric(8,2), ok boolean)")
    pg.query(f"ALTER TABLE {schema}.t REPLICA IDENTITY FULL")
    pg.query(f"CREATE PUBLICATION {schema}_pub FOR TABLE {schema}.t")
    pg.query("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        for sql in ("INSERT INTO {s}.t VALUES (1, 'a', 1.50, true), (2, 'b', NULL, false)",
                    "UPDATE {s}.t SET v = 'z' WHERE id = 1", "UPDATE {s}.t SET id = 3 WHERE id = 2",
                    "DELETE FROM {s}.t WHERE id = 1", "TRUNCATE {s}.t"):
            pg.query(sql.format(s=schema))
        rows = pg.query("SELECT lsn - '0/0'::pg_lsn, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
                        "'proto_version', '1', 'publication_names', %s)", (slot, f"{schema}_pub"))
        stream = ChangeStream(primary_keys(pg, [f"{schema}.t"]))
        events = [e for lsn, data in rows for e in stream.feed(bytes(data), int(lsn)).events]
        assert [(e.op, e.key) for e in events] == [
            ("c", {"id": 1}), ("c", {"id": 2}), ("u", {"id": 1}), ("d", {"id": 2}), ("c", {"id": 3}),
            ("d", {"id": 1}), ("t", None)]
        assert events[0].after == {"id": 1, "v": "a", "n": 1.5, "ok": True}
        assert events[2].before == {"id": 1, "v": "a", "n": 1.5, "ok": True} and events[2].after["v"] == "z"
        assert events[1].after["n"] is None and events[1].after["ok"] is False
        assert len({e.txid for e in events}) == 5 and all(e.commit_lsn >= e.lsn for e in events)
    finally:
        drop_slot(pg, slot)
        pg.query(f"DROP PUBLICATION {schema}_pub")
        pg.query(f"DROP SCHEMA {schema} CASCADE")


@pytest.mark.contract
def test_replica_identity_full_costs_more_wal_per_delete(pg: Any) -> None:
    import uuid

    from platform_kit.datasets import generate_company
    from platform_kit.ingestion.cdc import create_lab_tables, read_table, replica_identity_cost

    schema = f"u_{uuid.uuid4().hex[:6]}"
    try:
        loaded = create_lab_tables(pg, generate_company("tiny", 42), schema, limits={"orders": 300, "customers": 20})
        assert loaded == {"customers": 20, "orders": 300}
        cost = replica_identity_cost(pg, schema, rows=100)
        assert cost.loc["full", "wal_bytes_per_delete"] > cost.loc["default", "wal_bytes_per_delete"]
        orders = read_table(pg, schema, "orders")
        assert len(orders) == 300 and orders.index.name == "order_id"
        assert isinstance(orders["total_amount"].iloc[0], float)
    finally:
        pg.query(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# --- hostile configuration -----------------------------------------------------------------------


def test_identifiers_are_checked_before_any_sql() -> None:
    from platform_kit.errors import ConfigError
    from platform_kit.ingestion.cdc import create_lab_tables, read_table

    with pytest.raises(ConfigError, match="simple lower-case SQL identifier"):
        create_lab_tables(None, {}, "orders; DROP TABLE x")
    with pytest.raises(ConfigError, match="simple lower-case SQL identifier"):
        read_table(SimpleNamespace(connect=lambda: pytest.fail("connected")), "Bad-Schema", "orders")


def test_connector_process_that_cannot_start_says_why(tmp_path: Path) -> None:
    from platform_kit.ingestion.cdc import ConnectorProcess

    process = ConnectorProcess({
        "dsn": "postgresql://nobody@127.0.0.1:1/none", "producer": {"bootstrap.servers": "127.0.0.1:1"},
        "slot": "s", "publication": "p", "topic_prefix": "t", "dlq_topic": "t.dlq",
        "state_path": str(tmp_path / "s.json"), "crash_after_events": 5,
    })
    with pytest.raises(ServiceError, match="did not start") as info:
        process.start(timeout=30)
    assert "cannot stream slot 's'" in str(info.value) and not process.alive
    assert "crash_after_events" not in process.config  # faults are one-shot: a restart is clean
    assert process.kill() is not None and process.stop() is not None and process.wait_exit(1) is not None
