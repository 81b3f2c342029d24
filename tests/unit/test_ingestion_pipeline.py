"""The validating DLQ pipeline (Lab 2, section 6): validation, corpus, retries, sink, replay, the grader."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from platform_kit.errors import ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import DeadLetter, Record, Stage, read_dead_letters
from platform_kit.ingestion import corpus as C
from platform_kit.ingestion import pipeline as P
from platform_kit.ingestion._pipeline_consume import consume_batches, lag_of, to_records
from platform_kit.ingestion._pipeline_replay import replay_headers
from platform_kit.ingestion._pipeline_sink import ResilientSink, is_transient

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
GOOD = {"order_id": 7, "customer_id": 3, "order_ts": "2025-05-30T10:00:00.123456", "status": "shipped",
        "channel": "web", "region": "eu-west", "currency": "EUR", "total_amount": 19.99}


def record(value: bytes | None, key: bytes | None = b"7", offset: int = 0, headers: dict[str, bytes] | None = None,
           partition: int = 0) -> Record:
    return Record("orders", partition, offset, key, value, headers or {}, None)


# --- validation ---------------------------------------------------------------------------------


def test_a_good_record_decodes_to_its_event() -> None:
    assert P.validate_record(record(json.dumps(GOOD).encode()), now_ms=NOW_MS) == GOOD
    assert P.classify_failure(record(json.dumps(GOOD).encode()), now_ms=NOW_MS) is None


@pytest.mark.parametrize("kind", sorted(k for k, v in C.BAD_KINDS.items()
                                        if v.stage != "sink" and k != "conflicting_duplicate"))
def test_every_stateless_bad_kind_gets_its_reason_and_stage(kind: str) -> None:
    bad = C.BAD_KINDS[kind]
    key, value = bad.make(dict(GOOD), NOW)
    assert P.classify_failure(record(value, key), now_ms=NOW_MS) == (bad.reason, bad.stage)


def test_sink_level_kinds_pass_validation() -> None:
    for kind in ("nul_in_string", "conflicting_duplicate"):
        key, value = C.BAD_KINDS[kind].make(dict(GOOD), NOW)
        assert P.classify_failure(record(value, key), now_ms=NOW_MS) is None


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda e: {**e, "total_amount": 25}, None),
    (lambda e: {**e, "coupon": "X"}, None),
    (lambda e: {**e, "order_ts": "2025-06-01T12:04:00"}, None),  # within the 300 s skew
    (lambda e: {**e, "order_ts": "2025-06-01T14:03:00+02:00"}, None),
    (lambda e: {**e, "order_ts": "2025-06-01T13:00:00Z"}, ("future_timestamp", "rule")),
    (lambda e: {**e, "order_id": 7.0}, ("wrong_type", "schema")),
    (lambda e: {**e, "total_amount": False}, ("wrong_type", "schema")),
    (lambda e: {**e, "customer_id": 0}, ("out_of_range", "rule")),
    (lambda e: {**e, "region": "r" * 33}, ("out_of_range", "rule")),
    (lambda e: {**e, "status": "SHIPPED"}, ("unknown_enum", "rule")),
])
def test_edge_cases(mutate: Any, expected: Any) -> None:
    assert P.classify_failure(record(json.dumps(mutate(GOOD)).encode()), now_ms=NOW_MS) == expected


@pytest.mark.parametrize(("raw", "reason"), [
    (b"   ", "empty_value"), (b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "malformed_json"),
    (json.dumps(GOOD).encode().replace(b"19.99", b"1e400"), "malformed_json"),
    (json.dumps(GOOD).encode().replace(b"19.99", b"-Infinity"), "malformed_json"), (b'"7"', "not_an_object"),
    (b"{}", "missing_field"), (b"[" * 50_000, "oversize"),
])
def test_hostile_values_never_raise(raw: bytes, reason: str) -> None:
    assert P.classify_failure(record(raw), now_ms=NOW_MS)[0] == reason


def test_decode_strict_and_spec_helpers() -> None:
    with pytest.raises(ValueError):
        P.decode_strict(b'{"a": NaN}')
    assert P.decode_strict(b'{"a": 1.5}') == {"a": 1.5}
    widened = P.ORDER_SPEC.with_enum("currency", "NOK")
    assert "NOK" in widened.field_named("currency").enum and "NOK" not in P.ORDER_SPEC.field_named("currency").enum
    with pytest.raises(KeyError):
        P.ORDER_SPEC.field_named("nope")
    assert [r["field"] for r in P.spec_summary(P.ORDER_SPEC)][0] == "order_id"


# --- corpus ---------------------------------------------------------------------------------------


def _events(n: int = 60) -> list[dict[str, Any]]:
    return [{**GOOD, "order_id": i + 1} for i in range(n)]


def test_corpus_has_every_kind_and_puts_duplicates_after_their_original() -> None:
    corpus = C.build_corpus(_events(), per_kind=2, exact_duplicates=4, seed=5, now=NOW)
    kinds = {r.kind for r in corpus}
    assert set(C.BAD_KINDS) <= kinds and len(C.BAD_KINDS) >= 10
    first_good = {}
    for r in corpus:
        if r.kind == "good":
            first_good[r.order_id] = r.index
        if r.kind in ("conflicting_duplicate", "exact_duplicate"):
            assert r.order_id in first_good, "a duplicate must come after its original"
    assert [r.index for r in corpus] == list(range(len(corpus)))
    assert C.corpus_frame(corpus).set_index("kind").loc["good", "records"] == 60
    with pytest.raises(KeyError):
        C.build_corpus(_events(), kinds=["nope"])
    with pytest.raises(ValueError):
        C.build_corpus(_events(1))


def test_order_events_are_plain_json() -> None:
    from platform_kit.datasets import generate_company

    events = C.order_events(generate_company("tiny", 1)["orders"], limit=5)
    assert len(events) == 5 and json.loads(json.dumps(events)) == events


def test_reconcile_corpus_flags_lost_and_double_placed_records() -> None:
    corpus = C.build_corpus(_events(4), kinds=["tombstone"], per_kind=1, exact_duplicates=0, seed=1, now=NOW)
    placed = {r.index: (0, r.index) for r in corpus}
    bad = next(r for r in corpus if not r.good)
    letters = [DeadLetter(None, None, "empty_value", Stage.DECODE, "orders", 0, bad.index)]
    sink = [(str(r.order_id), 0, r.index, r.value.decode()) for r in corpus if r.good]
    ok = C.reconcile_corpus(corpus, placed, letters, sink, topic="orders")
    assert ok["ok"].all()
    lost = C.reconcile_corpus(corpus, placed, [], sink)
    assert lost.loc[lost["kind"] == "tombstone", "outcome"].item() == "LOST" and not lost["ok"].all()
    both = C.reconcile_corpus(corpus, placed, letters + [DeadLetter(None, None, "x", Stage.SINK, "orders", 0, 0)],
                              sink)
    assert not both["ok"].all()


# --- retries and faults ---------------------------------------------------------------------------


def test_retry_policy_backs_off_exponentially_with_jitter() -> None:
    policy = P.RetryPolicy(max_attempts=5, base_s=0.1, cap_s=0.5)
    assert [policy.bound(n) for n in (1, 2, 3, 4, 5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    rng = np.random.default_rng(0)
    delays = [policy.delay(3, rng) for _ in range(200)]
    assert 0 <= min(delays) and max(delays) <= 0.4 and len(set(delays)) > 150
    assert P.RetryPolicy(jitter="none", base_s=0.1).delay(2, rng) == 0.2
    assert 0.1 <= P.RetryPolicy(jitter="equal", base_s=0.1).delay(2, rng) <= 0.2
    for bad in ({"max_attempts": 0}, {"base_s": -1}, {"jitter": "some"}, {"multiplier": 0.5}):
        with pytest.raises(ValueError):
            P.RetryPolicy(**bad)


def test_transient_classification() -> None:
    assert is_transient(P.TransientSinkError("x"))
    err = type("E", (Exception,), {"pgcode": "40001"})()
    assert is_transient(err) and not is_transient(type("E", (Exception,), {"pgcode": "22021"})())
    assert not is_transient(ValueError("x"))


def test_fault_injector() -> None:
    slept: list[float] = []
    faults = P.FaultInjector(poison_ids=["9"], delay_s=0.01, sleep=slept.append)
    from platform_kit.ingestion.idempotent import SinkRow

    faults.before_write([SinkRow("1", "t", 0, 0, "{}")], 1)
    with pytest.raises(P.TransientSinkError, match="9"):
        faults.before_write([SinkRow("9", "t", 0, 1, "{}")], 1)
    assert slept == [0.01, 0.01] and faults.calls == 2 and faults.injected == 1


# --- producer path and consumer loop (fakes) -------------------------------------------------------


class _Msg:
    def __init__(self, partition: int, offset: int, error: Any = None) -> None:
        self._p, self._o, self._e = partition, offset, error

    def partition(self) -> int: return self._p
    def offset(self) -> int: return self._o
    def error(self) -> Any: return self._e
    def topic(self) -> str: return "t"
    def key(self) -> bytes: return b"k"
    def value(self) -> bytes: return b"{}"
    def headers(self) -> Any: return [("h", None)]
    def timestamp(self) -> tuple[int, int]: return (1, 123)


class _Producer:
    def __init__(self, full_every: int = 0, fail: bool = False) -> None:
        self.full_every, self.fail, self.n, self.pending, self.produced = full_every, fail, 0, [], 0

    def produce(self, topic: str, value: Any, key: Any, headers: Any = None, on_delivery: Any = None) -> None:
        self.n += 1
        if self.full_every and self.n % self.full_every == 0:
            raise BufferError("queue full")
        self.pending.append((on_delivery, self.produced))
        self.produced += 1

    def poll(self, _t: float = 0) -> int:
        for callback, offset in self.pending:
            if callback:
                callback("broker down" if self.fail else None, _Msg(offset % 2, offset // 2))
        self.pending = []
        return 0

    def flush(self, _t: float = 0) -> int:
        self.poll()
        return 0


def test_produce_records_survives_a_full_queue_and_tracks_exact_ends() -> None:
    tracker = P.DeliveryTracker(keep=True)
    producer = _Producer(full_every=7)
    count = P.produce_records(producer, "t", [(b"k", b"v", None, i) for i in range(20)], tracker=tracker,
                              poll_every=5)
    assert count == 20 and tracker.delivered == 20 and tracker.end_offsets() == {0: 10, 1: 10}
    assert tracker.placed[3] == (1, 1)
    other = P.DeliveryTracker()
    other.callback(None, _Msg(1, 30))
    tracker.merge(other)
    assert tracker.end_offsets() == {0: 10, 1: 31}


def test_produce_records_raises_when_the_broker_refuses() -> None:
    with pytest.raises(ServiceError, match="refused"):
        P.produce_records(_Producer(fail=True), "t", [(b"k", b"v")], tracker=P.DeliveryTracker())


class _Consumer:
    def __init__(self, batches: list[list[Any]]) -> None:
        self.batches = batches

    def consume(self, n: int, timeout: float) -> list[Any]:
        return self.batches.pop(0) if self.batches else []


def test_consume_batches_skips_errors_and_stops() -> None:
    error = type("Err", (), {"fatal": lambda self: False, "__str__": lambda self: "transient"})()
    consumer = _Consumer([[_Msg(0, 0), _Msg(0, 1, error)], [], [_Msg(1, 5)]])
    seen = list(consume_batches(consumer, stop=lambda: False, idle_s=0.05, timeout_s=5))
    assert [[(r.partition, r.offset) for r in b] for b in seen] == [[(0, 0)], [(1, 5)]]
    assert seen[0][0].headers == {"h": b""} and seen[0][0].timestamp_ms == 123
    fatal = type("Err", (), {"fatal": lambda self: True, "__str__": lambda self: "fenced"})()
    with pytest.raises(ServiceError, match="fenced"):
        to_records([_Msg(0, 0, fatal)])
    with pytest.raises(ServiceError, match="did not finish"):
        list(consume_batches(_Consumer([]), idle_s=None, timeout_s=0.05, poll_timeout_s=0.01))
    assert lag_of({0: 10, 1: 5}, {0: 4, 1: 9}) == 6


def test_fast_records_equal_constructed_ones_and_stay_frozen() -> None:
    from dataclasses import FrozenInstanceError

    from platform_kit.ingestion._pipeline_consume import _make_record

    made = _make_record("t", 1, 2, b"k", b"v", {"h": b"x"}, 5)
    assert made == Record("t", 1, 2, b"k", b"v", {"h": b"x"}, 5) and hash(made.offset) == hash(2)
    with pytest.raises(FrozenInstanceError):
        made.offset = 3  # type: ignore[misc]


def test_replay_headers_count_replays_and_keep_history() -> None:
    source = Record("orders.dlq", 0, 41, b"k", b"v", {}, None)
    letter = DeadLetter(b"k", b"v", "unknown_enum", Stage.RULE, "orders", 2, 9, original_headers={"trace": b"1"})
    headers = dict(replay_headers(letter, source))
    assert headers == {"trace": b"1", "replay.of": b"orders.dlq/0/41", "replay.reason": b"unknown_enum",
                       "replay.count": b"1"}
    again = DeadLetter(b"k", b"v", "unknown_enum", Stage.RULE, "orders", 2, 99, original_headers=headers)
    assert dict(replay_headers(again, source))["replay.count"] == b"2"


def test_dlq_summary_counts_by_reason() -> None:
    letters = [DeadLetter(None, b"x", r, s, "orders", 0, i, attempts=a)
               for i, (r, s, a) in enumerate([("oversize", Stage.DECODE, 1), ("oversize", Stage.DECODE, 1),
                                              ("sink_unavailable", Stage.SINK, 4)])]
    frame = P.dlq_summary(letters)
    assert frame.iloc[0][["reason", "count"]].tolist() == ["oversize", 2]
    assert frame.set_index("reason").loc["sink_unavailable", "max_attempts"] == 4
    assert P.dlq_summary([]).empty


# --- engine tier ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pk() -> Any:
    import platform_kit

    return platform_kit.connect("embedded")


def _sink(pk: Any) -> P.SinkTables:
    tag = uuid.uuid4().hex[:8]
    return P.SinkTables(f"t_pipe_{tag}", "t_pipe_offsets")


def test_resilient_sink_retries_bisects_and_finds_conflicts(pk: Any) -> None:
    from platform_kit.ingestion.idempotent import SinkRow

    tables = _sink(pk)
    rows = [SinkRow(str(i), "t", 0, i, json.dumps({"id": i})) for i in range(40)]
    rows[13] = SinkRow("13", "t", 0, 13, '{"bad": "nul \\u0000"}')
    rows.append(SinkRow("5", "t", 0, 40, json.dumps({"id": 5})))          # exact duplicate in the batch
    rows.append(SinkRow("6", "t", 0, 41, json.dumps({"id": "other"})))    # conflicting duplicate
    slept: list[float] = []
    sink = ResilientSink(tables, retry=P.RetryPolicy(max_attempts=3, base_s=0.001),
                         faults=P.FaultInjector(poison_ids=["21"], transient_rate=0.2, seed=1, sleep=slept.append),
                         sleep=slept.append)
    conn = pk.pg.connect()
    try:
        with conn.cursor() as cur:
            tables.create(cur)
            out = sink.write(cur, rows)
            assert sorted(int(i) for i in out.inserted) == [i for i in range(40) if i not in (13, 21)]
            assert [r.event_id for r in out.duplicates] == ["5"] and [r.event_id for r in out.conflicts] == ["6"]
            failed = {row.event_id: (reason, attempts) for row, reason, attempts, _ in out.failed}
            assert failed["13"][0] == "sink_rejected" and failed["21"][0] == "sink_unavailable"
            assert failed["21"][1] >= 3 and out.isolated and out.retries >= 2 and slept
            again = ResilientSink(tables).write(cur, [SinkRow("0", "t", 0, 50, json.dumps({"id": 0})),
                                                      SinkRow("1", "t", 0, 51, json.dumps({"id": -1}))])
            assert [r.event_id for r in again.duplicates] == ["0"] and [r.event_id for r in again.conflicts] == ["1"]
        conn.rollback()
    finally:
        conn.close()


def test_pipeline_routes_a_corpus_and_replays_after_a_fix(pk: Any) -> None:
    topic = f"t.pipe.{uuid.uuid4().hex[:6]}"
    pk.broker.create_topic(topic, partitions=2)
    pk.broker.create_topic(f"{topic}.dlq", partitions=1)
    corpus = C.build_corpus(_events(80), per_kind=1, exact_duplicates=3, seed=4)
    tracker = P.DeliveryTracker(keep=True)
    P.produce_records(pk.broker.producer(linger_ms=5), topic, [(r.key, r.value, None, r.index) for r in corpus],
                      tracker=tracker)
    tables = _sink(pk)
    seen: list[Any] = []
    shared = {r.order_id for r in corpus if r.kind in ("exact_duplicate", "conflicting_duplicate")}
    untokenisable = min(r.order_id for r in corpus if r.kind == "good" and r.order_id not in shared)

    def transform(frame: Any) -> Any:
        if (frame["order_id"] == untokenisable).any():
            raise ValueError("cannot tokenise this order")
        return frame.assign(region=frame["region"].str.upper())

    pipeline = P.IngestionPipeline(pk.broker, pk.pg, topic, tables=tables, consumer_id="t", transform=transform,
                                   batch_size=40, retry=P.RetryPolicy(base_s=0.001),
                                   faults=P.FaultInjector(transient_rate=0.2, seed=3))
    report = pipeline.run(until=tracker, on_batch=seen.append)
    letters = read_dead_letters(pk.broker, f"{topic}.dlq", expected=report.dead_lettered)
    sink = pk.pg.query(f"SELECT event_id, source_partition, source_offset, payload::text FROM {tables.table}")
    recon = C.reconcile_corpus(corpus, tracker.placed, letters, sink, topic=topic,
                               tolerated=("sink_unavailable", "transform_error"))
    assert (recon["in_sink"] ^ recon["in_dlq"]).all(), recon[~(recon["in_sink"] ^ recon["in_dlq"])]
    assert recon[recon["kind"] != "good"]["ok"].all()
    assert report.dead_letters["transform_error"] == 1
    assert report.records == len(corpus) and len(seen) == report.batches and seen[-1]["lag"] == 0
    assert all(json.loads(p)["region"].isupper() for *_, p in sink)
    assert {x.stage for x in letters} >= {Stage.DECODE, Stage.SCHEMA, Stage.RULE, Stage.SINK}
    # fix the currency rule, replay only those letters, resume from the sink's offsets
    replay = P.replay_dead_letters(pk.broker, f"{topic}.dlq", reasons=["unknown_enum"], records=None,
                                   expected=report.dead_lettered)
    assert replay.replayed == 2 and replay.skipped == report.dead_lettered - 2
    fixed = P.IngestionPipeline(pk.broker, pk.pg, topic, tables=tables, consumer_id="t",
                                spec=P.ORDER_SPEC.with_enum("currency", "NOK"), batch_size=40)
    rerun = fixed.run(until=replay.trackers[topic])
    assert rerun.records == 2 and rerun.inserted == 1 and rerun.dead_letters == {"unknown_enum": 1}


def test_pipeline_rejects_a_drill_without_faults(pk: Any) -> None:
    pipeline = P.IngestionPipeline(pk.broker, pk.pg, "t.none", tables=_sink(pk), consumer_id="t")
    with pytest.raises(ValueError, match="FaultInjector"):
        P.stream_with_phases(pipeline, object(), [GOOD], [P.Phase("x", 0.1)])


# --- the grader ----------------------------------------------------------------------------------------


def test_grader_accepts_the_package_validator() -> None:
    assert check("ingestion.classify_failure", lambda r, now: P.classify_failure(r, now_ms=now), show=False).passed


def _naive(record: Record, now_ms: int) -> Any:
    event = json.loads(record.value)
    return None if isinstance(event, dict) else ("not_an_object", "decode")


def _bool_blind(record: Record, now_ms: int) -> Any:
    verdict = P.classify_failure(record, now_ms=now_ms)
    if verdict == ("wrong_type", "schema") and b"true" in (record.value or b""):
        return None
    return verdict


def _strict_extra(record: Record, now_ms: int) -> Any:
    verdict = P.classify_failure(record, now_ms=now_ms)
    if verdict is None and b"coupon" in (record.value or b""):
        return ("unknown_field", "schema")
    return verdict


def _wrong_stage(record: Record, now_ms: int) -> Any:
    verdict = P.classify_failure(record, now_ms=now_ms)
    return (verdict[0], "rule") if verdict else None


@pytest.mark.parametrize(("answer", "message"), [
    (_naive, "raised"), (_bool_blind, "let a bad record through"), (_strict_extra, "rejected a good record"),
    (_wrong_stage, "stage"), (lambda r, now: "bad", "return (reason, stage)"),
])
def test_grader_rejects_wrong_validators(answer: Any, message: str) -> None:
    result = check("ingestion.classify_failure", answer, show=False)
    assert not result.passed and message in result.message


def test_grader_treats_a_stub_as_not_attempted() -> None:
    def stub(record: Record, now_ms: int) -> Any:
        raise NotImplementedError

    result = check("ingestion.classify_failure", stub, show=False)
    assert not result.passed and not result.attempted


def test_grader_cases_include_kinds_the_lab_does_not_show() -> None:
    from platform_kit.grading.exercises.ingestion_sinks import classify_cases

    labels = " ".join(c.label for c in classify_cases(NOW))
    assert "byte-order mark" in labels and "1e400" in labels and "extra field" in labels
