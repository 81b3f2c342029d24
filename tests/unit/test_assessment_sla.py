"""Lab 1 section 1: latency percentiles, SLA specs and verdicts, the order pipeline and its exercise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.assessment._sla_consume import CONTROL_HEADER, RUN_HEADER, consume_run
from platform_kit.assessment._sla_engines import validate_args
from platform_kit.assessment._sla_events import (
    COLUMN_LINEAGE,
    OUTPUT_COLUMNS,
    RawRecord,
    customer_lookup,
    encode_event,
    order_payloads,
    parse_order_event,
    transform_records,
)
from platform_kit.assessment._sla_produce import ProduceStats, _encode_injected
from platform_kit.assessment._sla_timing import build_timings
from platform_kit.assessment.sla import (
    DEFAULT_SLA_SPEC,
    METRICS,
    SAMPLE_BAD_EVENTS,
    SampleError,
    evaluate_slas,
    headroom_pct,
    latency_percentiles,
    load_sla_spec,
    run_order_pipeline,
)
from platform_kit.datasets import FX_PER_USD, generate_company
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.grading import check

# --- latency_percentiles -------------------------------------------------------------------


def test_percentiles_match_numpy_linear_on_random_samples() -> None:
    samples = np.random.default_rng(3).lognormal(3, 1, 777)
    got = latency_percentiles(samples, (50, 90, 95, 99, 99.9))
    want = np.percentile(samples, [50, 90, 95, 99, 99.9])
    assert list(got) == ["p50", "p90", "p95", "p99", "p99.9"]
    assert np.allclose(list(got.values()), want)


def test_percentiles_hand_made_interpolation_single_sample_and_unsorted_input() -> None:
    assert latency_percentiles([10, 20, 30, 40, 1000], (50, 99)) == {"p50": 30.0, "p99": 961.6}
    assert latency_percentiles([7.5]) == {"p50": 7.5, "p95": 7.5, "p99": 7.5}
    samples = np.array([5.0, 1.0, 3.0])
    assert latency_percentiles(samples, (0, 100)) == {"p0": 1.0, "p100": 5.0}
    assert samples.tolist() == [5.0, 1.0, 3.0]  # not sorted in place
    assert latency_percentiles(pd.Series([1, 2]), (50,)) == {"p50": 1.5}


@pytest.mark.parametrize(
    ("samples", "percentiles", "words"),
    [
        ([], (50,), "empty"),
        ([1.0, float("nan")], (50,), "NaN"),
        ([1.0, float("inf")], (50,), "NaN/infinite"),
        ([1.0, -2.0], (50,), "negative"),
        (["fast", "slow"], (50,), "must be numbers"),
        ([1.0, 2.0], (101,), "outside [0, 100]"),
        ([1.0, 2.0], (), "no percentiles"),
    ],
)
def test_percentiles_reject_bad_samples(
    samples: list[Any], percentiles: tuple[float, ...], words: str
) -> None:
    with pytest.raises(SampleError, match=r".*") as info:
        latency_percentiles(samples, percentiles)
    assert words in str(info.value) and info.value.fix
    assert isinstance(info.value, ValueError)


# --- SLA spec ------------------------------------------------------------------------------


def test_default_spec_loads_with_the_three_use_cases() -> None:
    spec = load_sla_spec(DEFAULT_SLA_SPEC)
    assert set(spec.use_cases) == {"fraud_scoring", "recommendations_refresh", "nightly_training"}
    assert spec.use_cases["nightly_training"].targets["freshness_s"] == 86400
    assert all(metric in METRICS for sla in spec.use_cases.values() for metric in sla.targets)


def test_spec_loads_from_path_string_path_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "sla.yml"
    path.write_text(DEFAULT_SLA_SPEC)
    assert load_sla_spec(path) == load_sla_spec(str(path)) == load_sla_spec(DEFAULT_SLA_SPEC)
    mapping = {"use_cases": {"x": {"targets": {"serving_p99_ms": 5}}}}
    assert load_sla_spec(mapping).use_cases["x"].targets == {"serving_p99_ms": 5.0}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("use_cases:\n  fraud: {targets: {end_to_end_p99_ms: 100}\n", "not valid YAML at line"),
        ("use_cases:\n  fraud:\n    targets:\n      end_to_end_p99: 100\n", "did you mean end_to_end_p99_ms"),
        ("use_cases:\n  fraud:\n    targets:\n      latency_ms: 100\n", "unknown metric 'latency_ms'"),
        ("use_cases:\n  fraud:\n    targets:\n      end_to_end_p99_ms: -5\n", "positive number"),
        ("use_cases:\n  fraud:\n    targets:\n      end_to_end_rps: 0\n", "positive number"),
        ("use_cases:\n  fraud:\n    targets:\n      freshness_s: .nan\n", "positive number"),
        (
            "use_cases:\n  fraud:\n    targets:\n      freshness_s: soon\n",
            "use_cases.fraud.targets.freshness_s",
        ),
        ("use_cases:\n  fraud:\n    owner: bob\n    targets: {freshness_s: 1}\n", "unknown key"),
        ("usecases:\n  fraud:\n    targets: {freshness_s: 1}\n", "unknown key"),
        ("use_cases: {}\n", "use_cases"),
        ("use_cases:\n  fraud:\n    targets: {}\n", "targets"),
        ("use_cases:\n  Fraud Scoring:\n    targets: {freshness_s: 1}\n", "lower_snake_case"),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("missing.yml", "does not exist"),
    ],
)
def test_bad_specs_give_clear_config_errors(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_sla_spec(text)
    assert words in str(info.value), str(info.value)
    assert info.value.fix


# --- evaluate_slas -------------------------------------------------------------------------


def _measurements(**overrides: float) -> dict[str, float]:
    values = {name: 1.0 for name in METRICS}
    return values | overrides


def test_evaluate_slas_verdicts_headroom_and_bounds() -> None:
    spec = load_sla_spec(
        {
            "use_cases": {
                "fraud": {"targets": {"end_to_end_p99_ms": 200, "end_to_end_rps": 500, "serving_p99_ms": 10}},
                "nightly": {"targets": {"freshness_s": 86400}},
            }
        }
    )
    report = evaluate_slas(
        spec, _measurements(end_to_end_p99_ms=250, end_to_end_rps=600, serving_p99_ms=10, freshness_s=3600)
    )
    rows = report.set_index(["use_case", "metric"])
    assert list(report.columns) == [
        "use_case",
        "metric",
        "bound",
        "unit",
        "target",
        "measured",
        "verdict",
        "headroom_pct",
    ]
    assert rows.loc[("fraud", "end_to_end_p99_ms"), "verdict"] == "fail"
    assert rows.loc[("fraud", "end_to_end_p99_ms"), "headroom_pct"] == pytest.approx(-25.0)
    assert rows.loc[("fraud", "end_to_end_rps"), ["bound", "verdict"]].tolist() == [">=", "pass"]
    assert rows.loc[("fraud", "end_to_end_rps"), "headroom_pct"] == pytest.approx(20.0)
    assert rows.loc[("fraud", "serving_p99_ms"), ["verdict", "headroom_pct"]].tolist() == ["pass", 0.0]
    assert rows.loc[("nightly", "freshness_s"), "verdict"] == "pass"


def test_evaluate_slas_accepts_yaml_text_and_with_target_changes_the_verdict() -> None:
    spec = load_sla_spec(DEFAULT_SLA_SPEC)
    measured = _measurements(end_to_end_p99_ms=300.0)
    before = evaluate_slas(DEFAULT_SLA_SPEC, measured).set_index(["use_case", "metric"])
    after = evaluate_slas(spec.with_target("fraud_scoring", "end_to_end_p99_ms", 400), measured)
    after = after.set_index(["use_case", "metric"])
    assert before.loc[("fraud_scoring", "end_to_end_p99_ms"), "verdict"] == "fail"
    assert after.loc[("fraud_scoring", "end_to_end_p99_ms"), "verdict"] == "pass"
    with pytest.raises(ConfigError, match="no use case"):
        spec.with_target("chatbot", "freshness_s", 1)
    with pytest.raises(ConfigError, match="positive"):
        spec.with_target("fraud_scoring", "freshness_s", -1)


def test_evaluate_slas_rejects_missing_and_nan_measurements() -> None:
    with pytest.raises(ConfigError, match="measurements lack"):
        evaluate_slas(DEFAULT_SLA_SPEC, {"freshness_s": 1.0})
    with pytest.raises(ConfigError, match="NaN"):
        evaluate_slas(DEFAULT_SLA_SPEC, _measurements(freshness_s=float("nan")))


def test_headroom_pct_directions() -> None:
    assert headroom_pct(200, 150) == 25.0
    assert headroom_pct(200, 250, "min") == 25.0
    assert headroom_pct(200, 200) == 0.0
    with pytest.raises(ConfigError):
        headroom_pct(1, 1, "sideways")


# --- events and transform ------------------------------------------------------------------


@pytest.fixture(scope="module")
def company() -> dict[str, pd.DataFrame]:
    return generate_company("tiny", 42)


def _records(values: list[bytes | None]) -> list[RawRecord]:
    return [RawRecord(0, i, b"k", v, time.time_ns()) for i, v in enumerate(values)]


def test_transform_enriches_and_converts_currency(company: dict[str, pd.DataFrame]) -> None:
    orders = company["orders"].head(50)
    payloads = order_payloads(orders)
    result = transform_records(
        _records([encode_event(p, time.time_ns()) for p in payloads]),
        customer_lookup(company["customers"]),
        batch_id=3,
    )
    frame = result.frame
    assert not result.dead_letters and list(frame.columns) == list(OUTPUT_COLUMNS)
    assert frame["order_id"].tolist() == orders["order_id"].tolist()
    expected_usd = (orders["total_amount"] / orders["currency"].map(FX_PER_USD)).round(2)
    assert np.allclose(frame["amount_usd"], expected_usd)
    customers = company["customers"].set_index("customer_id")
    assert frame["segment"].tolist() == customers.loc[orders["customer_id"], "segment"].tolist()
    assert frame["region"].tolist() == customers.loc[orders["customer_id"], "region"].tolist()
    assert (frame["batch_id"] == 3).all() and str(frame["order_ts"].dtype) == "datetime64[us]"
    assert (frame["order_ts"].to_numpy() == orders["order_ts"].to_numpy()).all()
    assert set(COLUMN_LINEAGE["amount_usd"]) == {"orders.total_amount", "orders.currency"}
    assert set(COLUMN_LINEAGE) <= set(OUTPUT_COLUMNS)


def test_every_sample_bad_event_becomes_a_dead_letter_with_a_reason(company: dict[str, pd.DataFrame]) -> None:
    good = encode_event(order_payloads(company["orders"].head(1))[0], time.time_ns())
    values = [good, *(_encode_injected(item) for item in SAMPLE_BAD_EVENTS), good]
    result = transform_records(_records(values), customer_lookup(company["customers"]))
    assert len(result.frame) == 2 and len(result.dead_letters) == len(SAMPLE_BAD_EVENTS)
    reasons = [d.reason for d in result.dead_letters]
    for words in (
        "invalid JSON",
        "expected a JSON object",
        "missing field(s): currency",
        "order_id must be an integer",
        "unknown currency 'XTS'",
        "unknown customer_id 987654321",
        "empty value",
    ):
        assert any(words in reason for reason in reasons), (words, reasons)
    assert [d.offset for d in result.dead_letters] == list(range(1, len(SAMPLE_BAD_EVENTS) + 1))
    assert {d.stage for d in result.dead_letters} == {"parse", "enrich"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"total_amount": "12.5"}, "total_amount must be a finite number"),
        ({"total_amount": True}, "total_amount must be a finite number"),
        ({"customer_id": 2**64}, "int64 range"),
        ({"order_ts": "yesterday"}, "not an ISO-8601"),
        ({"status": 3}, "status must be a string"),
    ],
)
def test_parse_rejects_bad_fields(change: dict[str, Any], words: str) -> None:
    event = {
        "order_id": 1,
        "customer_id": 2,
        "order_ts": "2024-01-01T00:00:00",
        "status": "placed",
        "channel": "web",
        "currency": "USD",
        "total_amount": 1.0,
        "produced_at_ns": 1,
    } | change
    with pytest.raises(ValueError, match=".*") as info:
        parse_order_event(json.dumps(event).encode())
    assert words in str(info.value)


def test_parse_normalises_timezone_aware_timestamps() -> None:
    event = {
        "order_id": 1,
        "customer_id": 2,
        "order_ts": "2024-01-01T02:00:00+02:00",
        "status": "placed",
        "channel": "web",
        "currency": "USD",
        "total_amount": 1,
        "produced_at_ns": 1,
    }
    assert parse_order_event(json.dumps(event).encode())["order_ts"].isoformat() == "2024-01-01T00:00:00"


def test_transform_of_only_bad_records_gives_an_empty_typed_frame(company: dict[str, pd.DataFrame]) -> None:
    result = transform_records(_records([b"nope", None]), customer_lookup(company["customers"]))
    assert result.frame.empty and list(result.frame.columns) == list(OUTPUT_COLUMNS)
    assert len(result.dead_letters) == 2


def test_inputs_missing_columns_or_duplicate_customers_are_config_errors(
    company: dict[str, pd.DataFrame],
) -> None:
    with pytest.raises(ConfigError, match="currency"):
        order_payloads(company["orders"].drop(columns="currency"))
    with pytest.raises(ConfigError, match="duplicate"):
        customer_lookup(pd.concat([company["customers"].head(2)] * 2))
    with pytest.raises(ConfigError, match="segment"):
        customer_lookup(company["customers"].drop(columns="segment"))


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_wait_ms": 0}, "batch_wait_ms"),
        ({"rate_per_s": -1}, "rate_per_s"),
        ({"query_repeats": 0}, "query_repeats"),
        ({"timeout_s": 0}, "timeout_s"),
        ({"table": "x; DROP TABLE y"}, "letters, digits"),
    ],
)
def test_pipeline_arguments_are_validated(kwargs: dict[str, Any], words: str) -> None:
    args = {
        "batch_size": 10,
        "batch_wait_ms": 10.0,
        "rate_per_s": None,
        "query_repeats": 1,
        "timeout_s": 1.0,
        "partitions": 1,
        "table": "t",
    } | kwargs
    with pytest.raises(ConfigError, match=words):
        validate_args(**args)


# --- consumer loop (fake consumer) ---------------------------------------------------------


class _Msg:
    def __init__(
        self,
        offset: int,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        partition: int = 0,
        error: Any = None,
    ) -> None:
        self._offset, self._value, self._headers, self._partition, self._error = (
            offset,
            value,
            headers,
            partition,
            error,
        )

    def error(self) -> Any:
        return self._error

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers


class _FakeConsumer:
    def __init__(self, polls: list[list[_Msg]]) -> None:
        self.polls = polls

    def consume(self, n: int, timeout: float) -> list[_Msg]:
        return self.polls.pop(0) if self.polls else []


def test_consume_run_batches_skips_foreign_runs_and_stops_at_end_markers() -> None:
    own, other = [(RUN_HEADER, b"r1")], [(RUN_HEADER, b"r0")]
    consumer = _FakeConsumer(
        [
            [_Msg(0, b"a", own), _Msg(1, b"x", other), _Msg(2, b"b", [])],
            [],
            [_Msg(3, b"c", own), _Msg(4, None, [*own, (CONTROL_HEADER, b"end")]), _Msg(5, b"late", own)],
        ]
    )
    batches: list[list[RawRecord]] = []
    stats = consume_run(
        consumer,
        run_id="r1",
        partitions={0},
        batch_size=10,
        batch_wait_s=0.01,
        timeout_s=5,
        on_batch=batches.append,
    )
    assert [[r.value for r in b] for b in batches] == [[b"a", b"b"], [b"c"]]
    assert (stats.records, stats.foreign, stats.batches, stats.polls) == (3, 2, 2, 3)


def test_consume_run_times_out_with_a_service_error() -> None:
    ticks = iter([0.0, 0.0, 2.0, 4.0, 6.0])
    with pytest.raises(ServiceError, match=r"never the end marker of partition\(s\) \[0, 1\]") as info:
        consume_run(
            _FakeConsumer([]),
            run_id="r",
            partitions={0, 1},
            batch_size=5,
            batch_wait_s=0.01,
            timeout_s=5,
            on_batch=lambda batch: None,
            clock=lambda: next(ticks),
        )
    assert "timeout_s" in (info.value.fix or "")


def test_consume_run_raises_on_fatal_broker_errors_and_skips_others() -> None:
    class _Err:
        def __init__(self, fatal: bool) -> None:
            self._fatal = fatal

        def fatal(self) -> bool:
            return self._fatal

    benign = _FakeConsumer(
        [
            [
                _Msg(0, None, [], error=_Err(False)),
                _Msg(1, None, [(RUN_HEADER, b"r"), (CONTROL_HEADER, b"end")]),
            ]
        ]
    )
    assert (
        consume_run(
            benign,
            run_id="r",
            partitions={0},
            batch_size=5,
            batch_wait_s=0.01,
            timeout_s=5,
            on_batch=lambda b: None,
        ).records
        == 0
    )
    with pytest.raises(ServiceError, match="consumer failed"):
        consume_run(
            _FakeConsumer([[_Msg(0, None, [], error=_Err(True))]]),
            run_id="r",
            partitions={0},
            batch_size=5,
            batch_wait_s=0.01,
            timeout_s=5,
            on_batch=lambda b: None,
        )


# --- timings -------------------------------------------------------------------------------


def test_build_timings_computes_stage_latencies_throughput_and_metrics() -> None:
    base = 1_700_000_000_000_000_000
    produced = base + np.arange(4) * 1_000_000  # 1 ms apart
    frame = pd.DataFrame(
        {
            "order_id": [1, 2, 3, 4],
            "batch_id": [0, 0, 1, 1],
            "produced_at": pd.to_datetime(produced, unit="ns").astype("datetime64[us]"),
            "consumed_at": pd.to_datetime(produced + 10_000_000, unit="ns").astype("datetime64[us]"),
            "landed_ns": produced + 30_000_000,
        }
    )
    serving = pd.DataFrame(
        {"query": ["q"] * 4, "repeat": range(4), "latency_ms": [1.0, 2.0, 3.0, 4.0], "rows": 1}
    )
    stats = ProduceStats(records=5, first_ns=int(produced[0]), done_ns=int(produced[0]) + 500_000_000)
    timings, summary, metrics = build_timings([frame], serving, stats, records_in=5, dead_letters=1)
    assert np.allclose(timings["transport"]["latency_ms"], 10.0)
    assert np.allclose(timings["transform_load"]["latency_ms"], 20.0)
    assert np.allclose(timings["end_to_end"]["latency_ms"], 30.0)
    assert set(metrics) == set(METRICS)
    assert metrics["end_to_end_p99_ms"] == pytest.approx(30.0)
    assert metrics["freshness_s"] == pytest.approx(0.03)
    assert metrics["produce_rps"] == pytest.approx(10.0)
    assert metrics["end_to_end_rps"] == pytest.approx(4 / 0.033)
    assert metrics["serving_qps"] == pytest.approx(4 / 0.010)
    assert metrics["dead_letter_pct"] == pytest.approx(20.0)
    assert summary.loc["serving", "p50_ms"] == pytest.approx(2.5)


def test_build_timings_with_nothing_landed_reports_nan_not_a_crash() -> None:
    serving = pd.DataFrame({"query": ["q"], "repeat": [0], "latency_ms": [1.0], "rows": [0]})
    _, summary, metrics = build_timings(
        [], serving, ProduceStats(records=1, first_ns=1, done_ns=2), records_in=1, dead_letters=1
    )
    assert np.isnan(metrics["end_to_end_p99_ms"]) and metrics["dead_letter_pct"] == 100.0
    assert summary.loc["transport", "count"] == 0


# --- exercise: assessment.sla_verdict ------------------------------------------------------


def sla_verdicts(timings_ms: Any, target_p99_ms: float) -> dict[str, Any]:
    values = np.asarray(timings_ms, dtype=float)
    if np.isnan(values).any():
        raise ValueError("NaN timing")
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "verdict": "pass" if p99 <= target_p99_ms else "fail",
        "headroom_pct": (target_p99_ms - p99) / target_p99_ms * 100,
    }


def test_sla_verdict_accepts_the_right_function_with_and_without_context() -> None:
    assert check("assessment.sla_verdict", sla_verdicts, show=False).passed
    timings = np.random.default_rng(1).gamma(2, 30, 300)
    result = check(
        "assessment.sla_verdict",
        sla_verdicts,
        context={"timings_ms": timings, "target_p99_ms": 150.0},
        show=False,
    )
    assert result.passed and "your pipeline" in result.message


def _mean_based(t: Any, target: float) -> dict[str, Any]:
    out = sla_verdicts(t, target)
    mean = float(np.mean(t))
    return out | {
        "p99": mean,
        "verdict": "pass" if mean <= target else "fail",
        "headroom_pct": (target - mean) / target * 100,
    }


def _nearest_rank(t: Any, target: float) -> dict[str, Any]:
    values = np.asarray(t, dtype=float)
    if np.isnan(values).any():
        raise ValueError("NaN")
    p = {f"p{q}": float(np.percentile(values, q, method="inverted_cdf")) for q in (50, 95, 99)}
    return p | {
        "verdict": "pass" if p["p99"] <= target else "fail",
        "headroom_pct": (target - p["p99"]) / target * 100,
    }


def _strict(t: Any, target: float) -> dict[str, Any]:
    out = sla_verdicts(t, target)
    return out | {"verdict": "pass" if out["p99"] < target else "fail"}


def _backwards(t: Any, target: float) -> dict[str, Any]:
    out = sla_verdicts(t, target)
    return out | {"verdict": "fail" if out["p99"] <= target else "pass"}


def _fraction(t: Any, target: float) -> dict[str, Any]:
    out = sla_verdicts(t, target)
    return out | {"headroom_pct": out["headroom_pct"] / 100}


def _ignores_nan(t: Any, target: float) -> dict[str, Any]:
    values = np.asarray(t, dtype=float)
    return sla_verdicts(values[~np.isnan(values)], target)


def _sorts_in_place(t: Any, target: float) -> dict[str, Any]:
    t.sort()
    return sla_verdicts(t, target)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_mean_based, "mean"),
        (_nearest_rank, "nearest-rank"),
        (_strict, "equal passes"),
        (_backwards, "p99 <= target"),
        (_fraction, "fraction"),
        (_ignores_nan, "raise ValueError"),
        (_sorts_in_place, "changed the timings"),
    ],
)
def test_sla_verdict_rejects_wrong_functions(wrong: Any, words: str) -> None:
    result = check("assessment.sla_verdict", wrong, show=False)
    assert not result.passed and words in (result.message or ""), result.message


def test_sla_verdict_not_attempted_stub_fails() -> None:
    def stub(t: Any, target: float) -> dict[str, Any]:
        raise NotImplementedError

    assert not check("assessment.sla_verdict", stub, show=False).passed


# --- engine tier: the real pipeline ---------------------------------------------------------


@pytest.mark.contract
def test_pipeline_runs_lands_everything_and_routes_bad_events(company: dict[str, pd.DataFrame]) -> None:
    import platform_kit

    pk = platform_kit.connect("embedded")
    orders = company["orders"].head(120)
    topic, table = "test.sla.orders", "test_sla_orders"
    run = run_order_pipeline(
        pk,
        orders,
        company["customers"],
        topic=topic,
        table=table,
        batch_size=40,
        rate_per_s=None,
        query_repeats=2,
        inject=SAMPLE_BAD_EVENTS,
    )
    assert run.records_in == 120 + len(SAMPLE_BAD_EVENTS)
    assert run.records_out == 120 and len(run.dead_letters) == len(SAMPLE_BAD_EVENTS)
    assert run.records_in == run.records_out + len(run.dead_letters)
    assert pk.olap.query_value(f"SELECT count() FROM {table}") == 120
    assert pk.olap.query_value(f"SELECT count() FROM {run.dead_letter_table}") == len(SAMPLE_BAD_EVENTS)
    assert set(run.measurements()) == set(METRICS)
    assert (run.topic, run.table, run.job_name) == (topic, table, "lab01.enrich_orders")
    assert run.started_at < run.finished_at and run.column_lineage == COLUMN_LINEAGE
    assert set(run.timings) == {"transport", "transform_load", "end_to_end", "serving"}
    assert len(run.timings["end_to_end"]) == 120 and len(run.timings["serving"]) == 6
    assert (run.latencies("end_to_end") >= run.latencies("transport")).all()
    assert run.batches["records"].sum() == run.records_in
    report = evaluate_slas(DEFAULT_SLA_SPEC, run)
    assert report["verdict"].isin(["pass", "fail"]).all()

    again = run_order_pipeline(
        pk, orders.head(30), company["customers"], topic=topic, table=table, rate_per_s=None, query_repeats=1
    )
    assert again.records_in == 30 and again.records_foreign == 0 and again.group_id != run.group_id
    assert pk.olap.query_value(f"SELECT count() FROM {table}") == 30  # recreated, not appended
    assert pk.olap.query_value(f"SELECT count() FROM {again.dead_letter_table}") == 0


@pytest.mark.contract
def test_pipeline_timeout_is_a_service_error(company: dict[str, pd.DataFrame]) -> None:
    import platform_kit

    pk = platform_kit.connect("embedded")
    with pytest.raises(ServiceError, match="never the end marker"):
        run_order_pipeline(
            pk,
            company["orders"].head(200),
            company["customers"],
            topic="test.sla.timeout",
            table="test_sla_timeout",
            rate_per_s=100,
            timeout_s=0.3,
        )


# --- producer side (fake producer) ----------------------------------------------------------


class _Delivered:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset


class _FakeProducer:
    def __init__(self, *, fail_delivery: bool = False, left: int = 0, full_once: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.pending: list[Any] = []
        self.fail_delivery, self.left, self.full_once = fail_delivery, left, full_once

    def produce(self, topic: str, **kwargs: Any) -> None:
        if self.full_once:
            self.full_once = False
            raise BufferError("queue full")
        self.sent.append(kwargs)
        partition = kwargs.get("partition") or 0
        self.pending.append((kwargs["on_delivery"], _Delivered(partition, len(self.sent) - 1)))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        for callback, message in self.pending:
            callback("broker down" if self.fail_delivery else None, message)
        self.pending.clear()
        return self.left


def test_produce_run_spreads_injected_events_and_marks_every_partition() -> None:
    from platform_kit.assessment._sla_produce import produce_run

    producer = _FakeProducer(full_once=True)
    payloads = order_payloads(generate_company("tiny", 42)["orders"].head(9))
    stats = produce_run(
        producer,
        "t",
        run_id="r1",
        partitions=2,
        payloads=payloads,
        inject=[b"bad", None],
        rate_per_s=None,
        markers="end",
    )
    keys = [sent["key"] for sent in producer.sent]
    assert stats.records == 11 and keys.count(b"injected") == 2
    assert 0 < keys.index(b"injected") < 9  # mid-stream, not at the edges
    controls = [
        dict(sent["headers"]) for sent in producer.sent if sent["value"] is None and sent["key"] is None
    ]
    assert [c[CONTROL_HEADER] for c in controls] == [b"end", b"end"]
    assert all(dict(sent["headers"])[RUN_HEADER] == b"r1" for sent in producer.sent)
    assert set(stats.start_offsets) == {0, 1} and stats.done_ns >= stats.first_ns
    assert json.loads(producer.sent[0]["value"])["produced_at_ns"] > 0


def test_produce_run_only_injected_events_and_failures_raise_service_errors() -> None:
    from platform_kit.assessment._sla_produce import produce_run

    only = _FakeProducer()
    stats = produce_run(
        only,
        "t",
        run_id="r",
        partitions=1,
        payloads=[],
        inject=[b"a", b"b", b"c"],
        rate_per_s=None,
        markers="end",
    )
    assert stats.records == 3 and [s["value"] for s in only.sent[:3]] == [b"a", b"b", b"c"]
    with pytest.raises(ServiceError, match="delivery failure"):
        produce_run(
            _FakeProducer(fail_delivery=True),
            "t",
            run_id="r",
            partitions=1,
            payloads=[],
            inject=(),
            rate_per_s=None,
            markers="start",
        )
    with pytest.raises(ServiceError, match="still undelivered"):
        produce_run(
            _FakeProducer(left=3),
            "t",
            run_id="r",
            partitions=1,
            payloads=[],
            inject=(),
            rate_per_s=None,
            markers="start",
        )


def test_plot_stage_latencies_draws_each_stage_and_the_latency_targets() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from platform_kit.assessment.pipeline import PipelineRun
    from platform_kit.assessment.sla import plot_stage_latencies

    frame = pd.DataFrame({"order_id": [1, 2], "batch_id": [0, 0], "latency_ms": [5.0, 9.0]})
    serving = pd.DataFrame({"query": ["q"], "repeat": [0], "latency_ms": [1.0], "rows": [1]})
    run = PipelineRun(
        topic="t",
        table="x",
        job_name="j",
        run_id="r",
        group_id="g",
        started_at=pd.Timestamp.now(),
        finished_at=pd.Timestamp.now(),
        records_in=2,
        records_out=2,
        dead_letters=[],
        dead_letter_table="x_dl",
        records_foreign=0,
        batch_size=10,
        batch_wait_ms=5,
        rate_per_s=None,
        timings={"transport": frame, "transform_load": frame, "end_to_end": frame, "serving": serving},
        batches=pd.DataFrame(),
        summary=pd.DataFrame(),
        metrics={},
    )
    ax = plot_stage_latencies(run, load_sla_spec(DEFAULT_SLA_SPEC))
    assert len(ax.get_lines()) >= 4 + 3  # four ECDFs, plus the e2e/serving targets of the spec
    assert ax.get_xscale() == "log"
    with pytest.raises(ConfigError, match="no stage"):
        run.latencies("queueing")
