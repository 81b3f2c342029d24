"""Lab 2 section 4: triggers, the consume loop on fakes, summaries, the sink, and the SLA-interval exercise."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.datasets import generate_company
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import Record
from platform_kit.ingestion.streaming import (
    CONTROL_HEADER,
    PRODUCED_HEADER,
    SUMMARY_COLUMNS,
    Batcher,
    PostgresSink,
    RunResult,
    Trigger,
    choose_interval,
    consume_with_trigger,
    decode_event,
    latency_stats,
    produce_paced,
    stream_payloads,
    summary_table,
)

# --- triggers and the batcher --------------------------------------------------------------------


def test_trigger_labels_params_and_validation() -> None:
    assert [(t.label, t.param) for t in (Trigger.record(), Trigger.size(100), Trigger.interval(200),
                                         Trigger.spark(500))] == [
        ("per record", 1.0), ("size 100", 100.0), ("every 200 ms", 200.0), ("spark 500 ms", 500.0)]
    for bad in (lambda: Trigger.size(0), lambda: Trigger.interval(0), lambda: Trigger.interval(float("inf")),
                lambda: Trigger("size", batch_size=5), lambda: Trigger("hourly"), lambda: Trigger.spark(-1)):
        with pytest.raises(ConfigError):
            bad()
    with pytest.raises(ConfigError, match="run by Spark"):
        Batcher(Trigger.spark(100), 0.0)


def test_record_trigger_flushes_each_record() -> None:
    batcher = Batcher(Trigger.record(), 0.0)
    assert not batcher.due(0.0) and batcher.want() == 1
    batcher.add("a", 0.01)
    assert batcher.due(0.01) and batcher.take(0.01) == ["a"] and not batcher.due(0.02)


def test_size_trigger_flushes_full_batches_then_the_tail_after_max_wait() -> None:
    batcher = Batcher(Trigger.size(3, max_wait_ms=500), 0.0)
    for i, at in enumerate([0.0, 0.1, 0.2, 0.3]):
        batcher.add(i, at)
    assert batcher.due(0.3) and batcher.take(0.3) == [0, 1, 2] and len(batcher) == 1
    assert batcher.want() == 2
    assert not batcher.due(0.79)  # the tail arrived at 0.3: it may wait until 0.8
    assert batcher.wait_s(0.75) == pytest.approx(0.05)
    assert batcher.due(0.8) and batcher.take(0.8) == [3]
    assert batcher.wait_s(0.9) == pytest.approx(0.1)  # idle: poll for the idle period


def test_interval_trigger_ticks_and_skips_missed_ticks() -> None:
    batcher = Batcher(Trigger.interval(200), 10.0)
    batcher.add("a", 10.05)
    assert not batcher.due(10.19) and batcher.wait_s(10.15) == pytest.approx(0.05)
    assert batcher.due(10.2) and batcher.take(10.2) == ["a"]
    assert batcher.due(10.4) and batcher.take(10.4) == []  # a tick with nothing to flush
    batcher.add("b", 10.5)
    assert batcher.take(11.05) == ["b"]  # the sink was slow: ticks at 10.6-11.0 are skipped
    assert not batcher.due(11.19) and batcher.due(11.2)


# --- decoding and statistics ---------------------------------------------------------------------


def _record(value: Any, *, offset: int = 0, produced_ns: int | None = 1_000, headers: dict | None = None) -> Record:
    raw = value if isinstance(value, bytes | None) else json.dumps(value).encode()
    hdrs = dict(headers or {})
    if produced_ns is not None:
        hdrs[PRODUCED_HEADER] = str(produced_ns).encode()
    return Record("t", 0, offset, None, raw, hdrs, None)


EVENT = {"event_id": "ev_1", "customer_id": 7, "event_type": "page_view", "event_ts": "2024-01-01T00:00:00"}


def test_decode_event_and_its_failures() -> None:
    row, stamp = decode_event(_record(EVENT, produced_ns=5), "run-a")
    assert row == ("run-a", "ev_1", 7, "page_view", "2024-01-01T00:00:00", 5) and stamp == 5
    assert decode_event(_record({**EVENT, "customer_id": None}), "r")[0][2] is None
    for bad, message in [(_record(EVENT, produced_ns=None), "no s4-produced-ns"), (_record(None), "tombstone"),
                         (_record(b"{not json"), "Expecting"), (_record([1, 2]), "JSON object"),
                         (_record({"event_id": "x"}), "missing field")]:
        with pytest.raises(ValueError, match=message):
            decode_event(bad, "r")
    with pytest.raises(ValueError):
        decode_event(_record(b"\xff\xfe garbage"), "r")


def test_latency_stats_match_numpy_and_reject_bad_samples() -> None:
    samples = np.random.default_rng(1).lognormal(3, 1, 500)
    got = latency_stats(samples)
    assert got["p99_ms"] == pytest.approx(np.percentile(samples, 99)) and got["max_ms"] == samples.max()
    with pytest.raises(ConfigError, match="nothing reached"):
        latency_stats([])
    with pytest.raises(ConfigError, match="NaN"):
        latency_stats([1.0, float("nan")])


# --- the consume loop on fakes -------------------------------------------------------------------


@dataclass
class FakeClock:
    now: float = 0.0

    def ns(self) -> int:
        return int(self.now * 1e9)


@dataclass
class FakeMessage:
    record: Record
    fail: Any = None

    def error(self) -> Any:
        return self.fail

    def topic(self) -> str:
        return self.record.topic

    def partition(self) -> int:
        return self.record.partition

    def offset(self) -> int:
        return self.record.offset

    def key(self) -> bytes | None:
        return self.record.key

    def value(self) -> bytes | None:
        return self.record.value

    def headers(self) -> list[tuple[str, bytes]]:
        return list(self.record.headers.items())

    def timestamp(self) -> tuple[int, int]:
        return (0, 0)


@dataclass
class FakeConsumer:
    """Messages become available at scheduled fake times; consume() advances the clock while waiting."""

    clock: FakeClock
    schedule: list[tuple[float, FakeMessage]]
    polls: int = 0

    def consume(self, n: int, timeout: float) -> list[FakeMessage]:
        self.polls += 1
        ready = [m for at, m in self.schedule if at <= self.clock.now]
        if not ready:
            upcoming = [at for at, _ in self.schedule]
            self.clock.now = min([self.clock.now + timeout, *upcoming]) if upcoming else self.clock.now + timeout
            ready = [m for at, m in self.schedule if at <= self.clock.now]
        out = ready[:n]
        self.schedule = [(at, m) for at, m in self.schedule if m not in out]
        return out


@dataclass
class FakeSink:
    clock: FakeClock
    fixed_s: float = 0.002
    per_row_s: float = 0.00001
    calls: list[int] = field(default_factory=list)

    def write(self, rows: list[tuple]) -> int:
        self.clock.now += self.fixed_s + self.per_row_s * len(rows)
        self.calls.append(len(rows))
        return self.clock.ns()


def _stream(clock: FakeClock, n: int, rate: float, *, bad: dict[int, Any] | None = None) -> FakeConsumer:
    schedule = [(0.0, FakeMessage(_record(None, produced_ns=None, headers={CONTROL_HEADER: b"start"})))]
    for i in range(n):
        at = 0.01 + i / rate
        value = (bad or {}).get(i, {**EVENT, "event_id": f"ev_{i}"})
        schedule.append((at + 0.005, FakeMessage(_record(value, offset=i + 1, produced_ns=int(at * 1e9)))))
    end = FakeMessage(_record(None, offset=n + 1, produced_ns=None, headers={CONTROL_HEADER: b"end"}))
    schedule.append((0.01 + n / rate + 0.006, end))
    return FakeConsumer(clock, schedule)


def _run(trigger: Trigger, n: int = 100, rate: float = 1000.0, fixed_s: float = 0.0005,
         **kwargs: Any) -> tuple[RunResult, FakeSink]:
    clock = FakeClock()
    sink = FakeSink(clock, fixed_s=fixed_s)
    result = consume_with_trigger(_stream(clock, n, rate, bad=kwargs.pop("bad", None)), sink, trigger, run="r",
                                  expected=n, clock=lambda: clock.now, now_ns=clock.ns, **kwargs)
    return result, sink


def test_per_record_calls_the_sink_once_per_record_and_batching_amortises_it() -> None:
    record, record_sink = _run(Trigger.record())
    sized, sized_sink = _run(Trigger.size(25, max_wait_ms=1000))
    ticked, ticked_sink = _run(Trigger.interval(50))
    assert record.records == sized.records == ticked.records == 100
    assert len(record_sink.calls) == 100 and sized_sink.calls == [25, 25, 25, 25]
    assert sum(ticked_sink.calls) == 100 and 2 <= len(ticked_sink.calls) <= 4
    assert record.latencies_ms.max() < 10  # 0.5 ms per call keeps up with 1 record per ms
    assert ticked.latencies_ms.max() <= 50 + 10 and ticked.latencies_ms.min() >= 0
    assert record.sink_calls == 100 and record.transport_ms is not None and np.allclose(record.transport_ms, 5, atol=3)


def test_a_slow_per_record_sink_falls_behind_and_latency_grows() -> None:
    clock = FakeClock()
    sink = FakeSink(clock, fixed_s=0.004)  # 250 calls/s against 1000 records/s
    result = consume_with_trigger(_stream(clock, 200, 1000.0), sink, Trigger.record(), run="r", expected=200,
                                  clock=lambda: clock.now, now_ns=clock.ns)
    lat = result.latencies_ms
    assert lat[-1] > 10 * lat[0] and lat[-1] > 500


def test_size_trigger_tail_waits_for_max_wait() -> None:
    result, sink = _run(Trigger.size(40, max_wait_ms=300))
    assert sink.calls == [40, 40, 20]
    assert result.latencies_ms[-20:].min() >= 250  # the last 20 waited for the timer


def test_undecodable_records_become_dead_letters_and_never_reach_the_sink() -> None:
    seen: list[Any] = []
    result, sink = _run(Trigger.interval(20), bad={3: b"\xff garbage", 50: [1, 2], 77: {"event_id": "x"}},
                        on_dead_letter=seen.append)
    assert result.records == 97 and sum(sink.calls) == 97
    assert [d.offset for d in result.dead_letters] == [4, 51, 78] == [d.offset for d in seen]
    assert {d.reason for d in seen} == {"undecodable"} and seen[0].stage.value == "decode"


def test_consume_loop_gives_up_and_surfaces_fatal_errors() -> None:
    clock = FakeClock()
    never_ends = FakeConsumer(clock, [])
    with pytest.raises(ServiceError, match="end marker did not arrive"):
        consume_with_trigger(never_ends, FakeSink(clock), Trigger.record(), run="r", expected=1, timeout_s=2,
                             clock=lambda: clock.now, now_ns=clock.ns)

    class Fatal:
        def fatal(self) -> bool:
            return True

        def __str__(self) -> str:
            return "broker gone"

    broken = FakeConsumer(clock, [(0.0, FakeMessage(_record(EVENT), fail=Fatal()))])
    with pytest.raises(ServiceError, match="broker gone"):
        consume_with_trigger(broken, FakeSink(clock), Trigger.record(), run="r", expected=1,
                             clock=lambda: clock.now, now_ns=clock.ns)


def test_summary_table_has_every_column_and_sane_numbers() -> None:
    runs = [_run(t)[0] for t in (Trigger.record(), Trigger.size(25), Trigger.interval(50))]
    table = summary_table(runs)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert table["records"].tolist() == [100, 100, 100] and table["sink_calls"].tolist()[:2] == [100, 4]
    assert (table["p50_ms"] <= table["p99_ms"]).all() and (table["dead_letters"] == 0).all()
    assert table.loc[0, "sink_ms_per_call"] == pytest.approx(0.51, abs=0.01)
    assert np.isnan(table["sink_server_cpu_us_per_record"]).all()


# --- the producer on a fake ----------------------------------------------------------------------


class FakeProducer:
    def __init__(self, full_every: int = 0, fail: bool = False) -> None:
        self.sent: list[tuple[Any, list]] = []
        self.full_every, self.fail, self.calls = full_every, fail, 0
        self._pending: list[Any] = []

    def produce(self, topic: str, *, value: Any, key: Any = None, headers: list, on_delivery: Any) -> None:
        self.calls += 1
        if self.full_every and self.calls % self.full_every == 0:
            raise BufferError("queue full")
        self.sent.append((value, headers))
        self._pending.append(on_delivery)

    def poll(self, _timeout: float) -> int:
        return 0

    def flush(self, _timeout: float) -> int:
        for callback in self._pending:
            callback("delivery failed" if self.fail else None, None)
        self._pending.clear()
        return 0


def test_produce_paced_stamps_paces_retries_and_ends_with_a_marker() -> None:
    producer = FakeProducer(full_every=7)
    took = produce_paced(producer, "t", [b"a"] * 50, rate_per_s=1000)
    assert took >= 0.045 and len(producer.sent) == 51
    stamps = [int(dict(h)[PRODUCED_HEADER]) for _v, h in producer.sent[:-1]]
    assert stamps == sorted(stamps) and dict(producer.sent[-1][1]) == {CONTROL_HEADER: b"end"}
    with pytest.raises(ServiceError, match="failed"):
        produce_paced(FakeProducer(fail=True), "t", [b"a"], rate_per_s=1000)


def test_stream_payloads_are_json_events_from_the_clickstream() -> None:
    clicks = generate_company("tiny", 42)["clickstream"]
    payloads = stream_payloads(clicks, 20)
    first = json.loads(payloads[0])
    assert len(payloads) == 20 and first["event_id"] == clicks["event_id"].iat[0]
    assert set(first) == {"event_id", "customer_id", "event_type", "page", "event_ts"}
    with pytest.raises(ConfigError):
        stream_payloads(clicks, 0)


# --- the reference answer and the exercise ----------------------------------------------------------


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "mode": ["per record", "size 100", "every 50 ms", "every 200 ms", "every 1000 ms", "spark 500 ms"],
        "trigger": ["record", "size", "interval", "interval", "interval", "spark"],
        "param": [1.0, 100.0, 50.0, 200.0, 1000.0, 500.0],
        "p99_ms": [600.0, 300.0, 320.0, 480.0, 1100.0, 1500.0],
        "cpu_us_per_record": [250.0, 30.0, 45.0, 33.0, 24.0, 900.0],
    })


def test_choose_interval_reference() -> None:
    assert choose_interval(_table(), 500) == 200.0
    assert choose_interval(_table(), 480) == 200.0  # equal meets the SLA
    assert choose_interval(_table(), 2000) == 1000.0
    with pytest.raises(ValueError, match="no batch interval"):
        choose_interval(_table(), 100)
    with pytest.raises(ConfigError, match="lacks"):
        choose_interval(_table().drop(columns="cpu_us_per_record"), 500)


def test_suggested_sla_is_feasible_but_not_for_every_interval_and_plots_draw() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from platform_kit.ingestion.streaming import plot_interval_sweep, plot_tradeoff, suggest_sla

    table = _table().assign(p50_ms=lambda t: t["p99_ms"] / 2, capacity_rps=[900, 9e3, 6e3, 1.4e4, 9e3, 200])
    sla = suggest_sla(table)
    assert sla == 580.0 and choose_interval(table, sla) == 200.0  # 1.2 x the second-lowest p99 (480), up to 10 ms
    assert table.loc[table["trigger"] == "interval", "p99_ms"].max() > sla  # not every interval qualifies
    one = table[(table["trigger"] != "interval") | (table["param"] == 1000)]
    assert suggest_sla(one) == 1320.0  # a single interval: 1.2 x its own p99
    with pytest.raises(ConfigError, match="no interval"):
        suggest_sla(table[table["trigger"] != "interval"])
    fig, (left, right) = plt.subplots(1, 2)
    plot_tradeoff(table, sla_p99_ms=sla, ax=left)
    plot_interval_sweep(table, sla_p99_ms=sla, ax=right)
    assert len(left.collections) == 2 * len(table) and right.get_xscale() == "log"
    plt.close(fig)


def reference(table: pd.DataFrame, sla_p99_ms: float) -> float:
    return choose_interval(table, sla_p99_ms)


def largest_feasible(table: pd.DataFrame, sla_p99_ms: float) -> float:
    rows = table[(table["trigger"] == "interval") & (table["p99_ms"] <= sla_p99_ms)]
    if rows.empty:
        raise ValueError("none")
    return float(rows["param"].max())


def ignores_trigger(table: pd.DataFrame, sla_p99_ms: float) -> float:
    rows = table[table["p99_ms"] <= sla_p99_ms]
    if rows.empty:
        raise ValueError("none")
    return float(rows.sort_values("cpu_us_per_record")["param"].iloc[0])


def strict_less(table: pd.DataFrame, sla_p99_ms: float) -> float:
    rows = table[(table["trigger"] == "interval") & (table["p99_ms"] < sla_p99_ms)]
    if rows.empty:
        raise ValueError("none")
    return float(rows.sort_values("cpu_us_per_record")["param"].iloc[0])


def ignores_sla(table: pd.DataFrame, sla_p99_ms: float) -> float:
    rows = table[table["trigger"] == "interval"]
    return float(rows.sort_values("cpu_us_per_record")["param"].iloc[0])


def no_error(table: pd.DataFrame, sla_p99_ms: float) -> float | None:
    try:
        return reference(table, sla_p99_ms)
    except ValueError:
        return None


def mutates(table: pd.DataFrame, sla_p99_ms: float) -> float:
    table.sort_values("cpu_us_per_record", inplace=True)
    return reference(table, sla_p99_ms)


def test_exercise_accepts_the_reference_on_hand_made_and_measured_tables() -> None:
    result = check("ingestion.sla_interval", reference, context={"table": _table(), "sla_p99_ms": 500.0}, show=False)
    assert result.passed and "200 ms" in result.message
    assert check("ingestion.sla_interval", reference, show=False).passed


@pytest.mark.parametrize(("answer", "message"), [
    (largest_feasible, "compare the cpu_us_per_record column"),
    (ignores_trigger, "the question is which *interval*"),
    (strict_less, "equal"),
    (ignores_sla, "breaks the SLA"),
    (no_error, "raise ValueError"),
    (mutates, "changed the table"),
    (lambda table, sla: "200", "as a number"),
    (lambda table, sla: 123.0, "not one of the measured settings"),
])
def test_exercise_rejects_wrong_answers(answer: Any, message: str) -> None:
    result = check("ingestion.sla_interval", answer, context={"table": _table(), "sla_p99_ms": 500.0}, show=False)
    assert not result.passed and message in result.message, result.message


def test_exercise_rejects_a_choice_that_is_wrong_only_on_the_measured_table() -> None:
    def right_on_hand_made_only(table: pd.DataFrame, sla: float) -> float:
        return 200.0 if len(table) == 6 else reference(table, sla)  # the measured table has 6 rows

    result = check("ingestion.sla_interval", right_on_hand_made_only,
                   context={"table": _table(), "sla_p99_ms": 2000.0}, show=False)
    assert not result.passed and "this notebook's measurements" in result.message


def test_exercise_stub_is_not_attempted() -> None:
    def stub(table: pd.DataFrame, sla: float) -> float:
        raise NotImplementedError

    result = check("ingestion.sla_interval", stub, show=False)
    assert not result.passed and not result.attempted


# --- the sink on the live embedded PostgreSQL ------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Any:
    import platform_kit

    return platform_kit.connect("embedded").pg  # shared with the other engine tests of this session


def test_postgres_sink_writes_counts_and_reports_its_cost(pg: Any) -> None:
    table = f"t_s4_{uuid.uuid4().hex[:6]}"
    sink = PostgresSink(pg, table).open()
    try:
        committed = sink.write([("r1", "e1", 1, "page_view", "ts", 5), ("r1", "e2", None, "click", "ts", 6)])
        sink.write([("r2", "e3", 3, "page_view", "ts", 7)])
        assert committed > 0 and sink.calls == 2 and sink.rows == 3 and sink.busy_s > 0
        assert sink.count() == 3 and sink.count("r1") == 2
        cpu = sink.server_cpu_s()
        assert cpu is None or cpu >= 0
        with pytest.raises(ServiceError, match="failed"):
            sink.write([("r", "e", "not a number", "page_view", "ts", 1)])
        sink.write([("r3", "e4", 4, "page_view", "ts", 8)])  # the failed call was rolled back
        assert sink.count() == 4
    finally:
        sink.close()
    with pytest.raises(ConfigError, match="identifier"):
        PostgresSink(pg, "Robert'); DROP TABLE students;--")
