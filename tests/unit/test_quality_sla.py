"""Quality SLAs: ownership document, SLA measurements, compliance table and the accountability check."""

from __future__ import annotations

import copy
import math
from typing import Any

import matplotlib
import pandas as pd
import pytest
import yaml

from platform_kit.errors import ConfigError, InputError
from platform_kit.quality.contract import DataContract, bundled_contracts, load_contract
from platform_kit.quality.history import synthetic_table_history
from platform_kit.quality.sla import (
    COMPLIANCE_COLUMNS,
    SlaMeasurement,
    measure_sla,
    plot_compliance,
    render_ownership_doc,
    sla_compliance,
    validate_contract_for_sla,
)
from platform_kit.quality.validate import ExpectationOutcome, ValidationReport

matplotlib.use("Agg")

_FULL = """\
name: payments_raw
version: "1"
owner: {team: payments, email: payments@company.example}
description: One row per card payment as the gateway lands it.
stage: raw
primary_key: [id]
columns:
  - {name: id, type: integer, nullable: false, min: 1}
  - {name: amount, type: float, nullable: false, min: 0}
  - {name: note, type: string}
sla: {freshness_hours: 4, completeness: 0.98, validity: 0.99}
escalation:
  - {contact: payments@company.example, channel: email}
  - {contact: payments-oncall, channel: pager, after_hours: 2}
"""
_T0 = pd.Timestamp("2024-10-01")
_WINDOW = (_T0, _T0 + pd.Timedelta(hours=48))


def _full() -> dict[str, Any]:
    return yaml.safe_load(_FULL)


def _contract(**sla: float) -> DataContract:
    data = _full()
    data["sla"].update(sla)
    return load_contract(yaml.safe_dump(data))


def _metrics(gap: range = range(11, 20), hours: int = 49) -> pd.DataFrame:
    """Hourly loads of 100 rows, none in the ``gap`` hours; 2% null amounts, 50% null notes."""
    kept = [h for h in range(hours) if h not in gap]
    return pd.DataFrame({"table": "payments", "load_time": [_T0 + pd.Timedelta(hours=h) for h in kept],
                         "rows": 100, "null_rate_id": 0.0, "null_rate_amount": 0.02, "null_rate_note": 0.5})


def _report(failed: int = 0, evaluated: int = 10, rows: int = 100, **extra: Any) -> dict[str, Any]:
    return {"evaluated": evaluated, "failed": failed, "rows": rows, **extra}


def _validation_report(outcomes: tuple[ExpectationOutcome, ...], rows: int = 100,
                       run_at: str = "2024-10-01T12:00:00+00:00", contract: str = "payments_raw") -> ValidationReport:
    failed = sum(not o.success for o in outcomes)
    return ValidationReport(contract=contract, version="1", stage="raw", engine="pandas", success=failed == 0,
                            evaluated=len(outcomes), failed=failed, rows=rows, seconds=0.1, run_at=run_at,
                            outcomes=outcomes)


def _outcome(success: bool, unexpected: int | None = None) -> ExpectationOutcome:
    return ExpectationOutcome("expect_column_values_to_not_be_null", "id", "nullable", success, unexpected)


# ---------------------------------------------------------------- ownership document

def test_render_ownership_doc_bundled_has_owner_sla_and_escalation_lines() -> None:
    contracts = [load_contract(n) for n in bundled_contracts()]
    doc = render_ownership_doc(contracts)
    assert doc.startswith("# Data ownership and SLAs\n")
    # pipeline order: raw before staged before feature
    assert doc.index("## orders_raw") < doc.index("## orders_staged") < doc.index("## customer_features")
    assert "- **Owner:** commerce-ingest <commerce-ingest@company.example>" in doc
    assert "new data lands at least every 24 hours" in doc
    assert "at least 99.00% of required values present" in doc
    assert "1. immediately: commerce-ingest@company.example via email" in doc
    assert "2. after 4 h: #commerce-oncall via slack" in doc
    assert "2. after 12 h: ml-oncall via pager" in doc
    # customer_features sets no validity target and the document says so
    features = doc[doc.index("## customer_features"):]
    assert "**Validity:** no target set." in features
    assert "Informed: commerce-data, ml-features" in doc  # consumers of the raw orders
    assert "| total_amount | float | yes | ≥ 0; ≤ 1000000 |" in doc
    assert "| order_id | integer | yes | primary key; ≥ 1 |" in doc


def test_render_ownership_doc_without_escalation_says_nobody_is_told() -> None:
    data = _full()
    del data["escalation"], data["sla"]
    doc = render_ownership_doc(load_contract(yaml.safe_dump(data)))
    assert "_No escalation chain" in doc
    assert "**Freshness:** no target set." in doc
    assert "| note | string | no | — | — |" in doc


@pytest.mark.parametrize("bad", [[], [42], "no_such_contract_name"])
def test_render_ownership_doc_bad_input_errors(bad: Any) -> None:
    with pytest.raises((InputError, ConfigError), match="contract") as info:  # ConfigError: unloadable name
        render_ownership_doc(bad)
    assert getattr(info.value, "fix", None)


# ---------------------------------------------------------------- measurements

def test_measure_sla_freshness_gap_counts_time_over_target() -> None:
    m = measure_sla(_metrics(), [], _contract(), window=_WINDOW)
    # last load before the gap at 10:00, next at 20:00: lag reaches 10 h, over 4 h for 6 of 48 hours
    assert m.worst_lag_hours == pytest.approx(10.0)
    assert m.stale_hours == pytest.approx(6.0)
    assert m.freshness == pytest.approx(1 - 6 / 48)
    assert m.loads == 49 - 9


def test_measure_sla_freshness_counts_trailing_stall_to_window_end() -> None:
    m = measure_sla(_metrics(gap=range(0), hours=30), [], _contract(), window=_WINDOW)
    assert m.worst_lag_hours == pytest.approx(48 - 29)
    assert m.stale_hours == pytest.approx(48 - 29 - 4)


def test_measure_sla_duration_window_ends_at_last_load() -> None:
    m = measure_sla(_metrics(), [], _contract(), window="24h")
    assert m.window_end == _T0 + pd.Timedelta(hours=48)
    assert m.window_start == _T0 + pd.Timedelta(hours=24)
    assert m.worst_lag_hours == pytest.approx(1.0)
    assert m.freshness == 1.0


def test_measure_sla_completeness_uses_required_columns_only() -> None:
    m = measure_sla(_metrics(), [], _contract(), window=_WINDOW)
    # id 0% and amount 2% null are required; the nullable note column (50% null) is ignored
    assert m.value_completeness == pytest.approx(0.99)
    assert m.row_completeness is None
    assert m.completeness == pytest.approx(0.99)
    rows = measure_sla(_metrics(), [], _contract(), window=_WINDOW, expected_rows=8000)
    assert rows.row_completeness == pytest.approx(4000 / 8000)
    assert rows.completeness == pytest.approx(0.5)  # the worse of the two


def test_measure_sla_validity_by_expectations_and_rows() -> None:
    reports = [_report(failed=1, bad_rows=5), _report()]
    by_exp = measure_sla(_metrics(), reports, _contract(), window=_WINDOW)
    assert by_exp.validity == pytest.approx(19 / 20)
    assert by_exp.reports == 2
    by_rows = measure_sla(_metrics(), reports, _contract(), window=_WINDOW, validity_basis="rows")
    assert by_rows.validity == pytest.approx(195 / 200)


def test_measure_sla_validity_rows_from_validation_report_outcomes() -> None:
    column_failures = _validation_report((_outcome(True), _outcome(False, 3), _outcome(False, 4)))
    table_failure = _validation_report((_outcome(True), _outcome(False, None)))
    m = measure_sla(_metrics(), [column_failures], _contract(), window=_WINDOW, validity_basis="rows")
    assert m.validity == pytest.approx(0.93)
    whole = measure_sla(_metrics(), [table_failure], _contract(), window=_WINDOW, validity_basis="rows")
    assert whole.validity == 0.0  # a failed table-level rule invalidates the batch


def test_measure_sla_skips_reports_outside_window_or_for_other_contracts() -> None:
    reports = [_validation_report((_outcome(False, 1),), run_at="2024-09-01T00:00:00+00:00"),
               _validation_report((_outcome(False, 1),), contract="orders_raw"),
               _validation_report((_outcome(True),))]
    m = measure_sla(_metrics(), reports, _contract(), window=_WINDOW)
    assert m.reports == 1
    assert m.validity == 1.0
    assert measure_sla(_metrics(), None, _contract(), window=_WINDOW).validity is None


def test_measure_sla_synthetic_history_late_load_breaches_freshness() -> None:
    contract = load_contract("orders_raw").model_copy(
        update={"sla": _contract(freshness_hours=4).sla})
    late = synthetic_table_history("orders", days=21, seed=3,
                                   incidents=[{"kind": "late_load", "start": "2024-10-10 06:00", "hours": 6}])
    clean = synthetic_table_history("orders", days=21, seed=3, incidents=[])
    window = ("2024-10-02", "2024-10-21")
    m_late = measure_sla(late, [], contract, window=window)
    m_clean = measure_sla(clean, [], contract, window=window)
    assert m_clean.worst_lag_hours < 2 and m_clean.freshness == 1.0
    assert m_late.worst_lag_hours > 6
    assert m_late.stale_hours == pytest.approx(m_late.worst_lag_hours - 4)
    table = sla_compliance([contract], [m_late])
    assert table.set_index("metric").loc["freshness", "status"] == "breached"


def test_measure_sla_synthetic_null_spike_lowers_completeness() -> None:
    contract = load_contract("orders_raw")
    spike = synthetic_table_history("orders", days=21, seed=3, incidents=[
        {"kind": "null_spike", "start": "2024-10-10 06:00", "hours": 8, "column": "customer_id",
         "magnitude": 0.3}])
    clean = synthetic_table_history("orders", days=21, seed=3, incidents=[])
    window = ("2024-10-02", "2024-10-21")
    assert (measure_sla(spike, [], contract, window=window).completeness
            < measure_sla(clean, [], contract, window=window).completeness - 0.002)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"window": (_T0, _T0)}, "empty or reversed"),
    ({"window": "not a duration"}, "window"),
    ({"window": _WINDOW, "validity_basis": "cells"}, "validity_basis"),
    ({"window": _WINDOW, "expected_rows": 0}, "expected_rows"),
])
def test_measure_sla_bad_arguments_error(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        measure_sla(_metrics(), [], _contract(), **kwargs)
    assert info.value.fix


@pytest.mark.parametrize(("metrics", "match"), [
    (pd.DataFrame({"rows": [1]}), "load_time"),
    (pd.concat([_metrics(), _metrics().assign(table="other")]), "several tables"),
])
def test_measure_sla_bad_metrics_error(metrics: pd.DataFrame, match: str) -> None:
    with pytest.raises(InputError, match=match):
        measure_sla(metrics, [], _contract(), window=_WINDOW)


@pytest.mark.parametrize(("report", "basis", "match"), [
    ({"evaluated": 3, "rows": 10}, "expectations", "lacks"),
    (_report(failed=11), "expectations", "impossible counts"),
    (_report(rows=-1), "expectations", "impossible counts"),
    ("PASS", "expectations", "is a str"),
    (_report(failed=1), "rows", "no outcomes or bad_rows"),
    (_report(failed=1, bad_rows=101), "rows", "bad_rows"),
])
def test_measure_sla_bad_reports_error(report: Any, basis: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        measure_sla(_metrics(), [report], _contract(), window=_WINDOW, validity_basis=basis)  # type: ignore[arg-type]


def test_measure_sla_rejects_non_contract() -> None:
    with pytest.raises(InputError, match="DataContract"):
        measure_sla(_metrics(), [], "payments_raw", window=_WINDOW)  # type: ignore[arg-type]


# ---------------------------------------------------------------- compliance table

def test_sla_compliance_met_and_breached_on_constructed_case() -> None:
    contract = _contract()  # freshness 4 h, completeness 0.98, validity 0.99
    m = measure_sla(_metrics(), [_report(failed=1), _report()], contract, window=_WINDOW)
    table = sla_compliance([contract], [m])
    assert list(table.columns) == COMPLIANCE_COLUMNS
    rows = table.set_index("metric")
    assert rows.loc["freshness", "met"] is False and rows.loc["freshness", "status"] == "breached"
    assert rows.loc["freshness", "measured"] == pytest.approx(10.0)
    assert rows.loc["freshness", "error_budget_left"] == pytest.approx(1 - 10 / 4)
    assert rows.loc["completeness", "met"] is True
    assert rows.loc["completeness", "error_budget_left"] == pytest.approx(0.5)  # 1% of a 2% budget spent
    assert rows.loc["validity", "met"] is False
    assert rows.loc["validity", "error_budget_left"] == pytest.approx(1 - 0.05 / 0.01)
    assert set(table["page"]) == {"payments@company.example (email)"}
    assert set(table["owner"]) == {"payments@company.example"}


def test_sla_compliance_full_target_has_no_budget() -> None:
    contract = _contract(completeness=1.0, validity=1.0)
    m = measure_sla(_metrics(), [_report()], contract, window=_WINDOW)
    rows = sla_compliance([contract], {contract.name: m}).set_index("metric")
    assert rows.loc["validity", "met"] is True and rows.loc["validity", "error_budget_left"] == 0.0
    assert rows.loc["completeness", "met"] is False
    assert rows.loc["completeness", "error_budget_left"] == -math.inf


def test_sla_compliance_no_target_and_not_measured() -> None:
    features = load_contract("customer_features")  # no validity target
    m = measure_sla(_metrics(), [], features, window=_WINDOW)
    rows = sla_compliance([features], [m]).set_index("metric")
    assert rows.loc["validity", "status"] == "no target" and rows.loc["validity", "met"] is None
    raw = load_contract("orders_raw")
    rows = sla_compliance([raw], [measure_sla(_metrics(), [], raw, window=_WINDOW)]).set_index("metric")
    assert rows.loc["validity", "status"] == "not measured"
    assert rows.loc["freshness", "status"] == "met"  # 10 h worst lag within 24 h
    assert rows.loc["freshness", "page"] == "commerce-ingest@company.example (email)"


def test_sla_compliance_mismatched_measurements_error() -> None:
    contract = _contract()
    m = measure_sla(_metrics(), [], contract, window=_WINDOW)
    with pytest.raises(InputError, match="missing") as info:
        sla_compliance([contract, load_contract("orders_raw")], [m])
    assert info.value.fix
    with pytest.raises(InputError, match="two measurements"):
        sla_compliance([contract], [m, m])
    with pytest.raises(InputError, match="SlaMeasurement"):
        sla_compliance([contract], [m.to_dict()])


def test_plot_compliance_one_bar_per_row() -> None:
    contract = _contract()
    m = measure_sla(_metrics(), [_report()], contract, window=_WINDOW)
    assert isinstance(m, SlaMeasurement)
    table = sla_compliance([contract], [m])
    ax = plot_compliance(table)
    assert len(ax.patches) == len(table) == 3
    assert ax.patches[0].get_facecolor()[:3] == matplotlib.colors.to_rgb("tab:red")  # freshness breached
    with pytest.raises(InputError, match="compliance table"):
        plot_compliance(pd.DataFrame({"x": [1]}))
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- the exercise check

def test_validate_contract_for_sla_complete_contract_passes() -> None:
    assert validate_contract_for_sla(_FULL) == []
    assert validate_contract_for_sla(_full()) == []
    assert validate_contract_for_sla(load_contract(_FULL)) == []
    assert validate_contract_for_sla("orders_raw") == []


def _without(path: str) -> dict[str, Any]:
    data = copy.deepcopy(_full())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    del node[int(last) if isinstance(node, list) else last]
    return data


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_full())
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = value
    return data


@pytest.mark.parametrize(("data", "key"), [
    (_without("owner"), "owner:"),
    (_without("owner.team"), "owner.team:"),
    (_without("owner.email"), "owner.email: missing"),
    (_with("owner.email", "payments team"), "owner.email: 'payments team' is not an e-mail"),
    (_with("owner.email", "a@b"), "owner.email:"),
    (_without("description"), "description:"),
    (_with("description", "   "), "description:"),
    (_with("stage", "gold"), "stage:"),
    (_without("sla"), "sla: missing"),
    (_without("sla.freshness_hours"), "sla.freshness_hours: missing"),
    (_with("sla.freshness_hours", 0), "sla.freshness_hours: 0 is not a positive"),
    (_with("sla.freshness_hours", "daily"), "sla.freshness_hours:"),
    (_without("sla.completeness"), "sla.completeness: missing"),
    (_with("sla.completeness", 99), "sla.completeness: 99 is not a share in (0, 1]"),
    (_with("sla.validity", 0), "sla.validity: 0 is not a share"),
    (_without("sla.validity"), "sla.validity: missing"),
    (_without("escalation"), "escalation: no escalation step"),
    (_with("escalation", []), "escalation: no escalation step"),
    (_without("escalation.0.channel"), "escalation[0].channel: missing"),
    (_with("escalation.0.channel", "carrier pigeon"), "escalation[0].channel:"),
    (_with("escalation.0.contact", ""), "escalation[0].contact: missing"),
    (_with("escalation.1.after_hours", -1), "escalation[1].after_hours:"),
    (_with("escalation.0.after_hours", 5), "escalation[1].after_hours: 2 h comes before"),
    (_without("columns.1.type"), "columns[1] (amount).type: missing"),
    (_with("columns.1.type", "money"), "columns[1] (amount).type: 'money'"),
    (_without("primary_key"), "primary_key: missing"),
    (_with("primary_key", ["payment_id"]), "primary_key: 'payment_id' is not among"),
    (_with("primary_key", ["note"]), "primary_key: key column 'note' may be null"),
])
def test_validate_contract_for_sla_reports_each_gap(data: dict[str, Any], key: str) -> None:
    problems = validate_contract_for_sla(data)
    assert len(problems) == 1, problems
    assert problems[0].startswith(key), problems
    assert "(fix: " in problems[0]


def test_validate_contract_for_sla_lists_every_gap_at_once() -> None:
    data = _without("sla")
    del data["escalation"], data["primary_key"]
    data["owner"]["email"] = "nobody"
    problems = validate_contract_for_sla(yaml.safe_dump(data))
    assert [p.split(":")[0] for p in problems] == ["owner.email", "sla", "escalation", "primary_key"]


def test_validate_contract_for_sla_no_columns_also_breaks_the_key() -> None:
    problems = validate_contract_for_sla(_with("columns", []))
    assert [p.split(":")[0] for p in problems] == ["columns", "primary_key"]
    assert "'id' is not among the columns" in problems[1]


def test_validate_contract_for_sla_loaded_contract_defaults_count_as_gaps() -> None:
    data = _full()
    del data["sla"], data["escalation"], data["description"], data["primary_key"]
    contract = load_contract(yaml.safe_dump(data))  # loads: these keys are optional in a contract
    problems = validate_contract_for_sla(contract)
    assert [p.split(":")[0] for p in problems] == ["description", "sla", "escalation", "primary_key"]


def test_validate_contract_for_sla_other_rules_from_loading() -> None:
    problems = validate_contract_for_sla(_with("columns.0", {"name": "id", "type": "integer", "nullable": False,
                                                             "min": 10, "max": 1}))
    assert len(problems) == 1 and problems[0].startswith("contract does not load")
    assert "greater than max" in problems[0]


@pytest.mark.parametrize("bad", [42, "owner: [unclosed", "- just\n- a list\n"])
def test_validate_contract_for_sla_bad_input_errors(bad: Any) -> None:
    with pytest.raises(InputError) as info:
        validate_contract_for_sla(bad)
    assert info.value.fix


# ---------------------------------------------------------------- derived load metrics and load profiles

def test_downstream_metrics_hourly_job_inherits_gaps_and_drops_null_rows() -> None:
    from platform_kit.quality.sla import downstream_metrics

    up = _metrics()  # hourly loads at :00, none at 11:00-19:00, 2% null amounts
    staged = downstream_metrics(up, table="payments_staged", every="1h", delay="20min", drop_null_rows=True)
    assert list(staged.columns) == ["table", "load_time", "rows", "expected_rows", "null_rate_id", "null_rate_amount",
                                    "null_rate_note"]
    assert len(staged) == len(up)
    assert (staged["load_time"] - up["load_time"]).eq(pd.Timedelta(minutes=20)).all()
    assert set(staged["expected_rows"]) == {100}
    assert set(staged["rows"]) == {48}  # 2% + 50% of rows had a null key column: dropped
    assert (staged.filter(like="null_rate_") == 0).all().all()
    m = measure_sla(staged, [], _contract(), window=_WINDOW)
    assert m.worst_lag_hours == pytest.approx(10.0)  # the upstream gap goes downstream
    assert m.value_completeness == 1.0 and m.row_completeness == pytest.approx(0.48)
    assert m.completeness == pytest.approx(0.48)
    # expected_rows= overrides the column: the 39 runs inside the window loaded 39 x 48 rows
    assert measure_sla(staged, [], _contract(), window=_WINDOW, expected_rows=4800).row_completeness == 0.39


def test_downstream_metrics_daily_job_batches_loads_and_passes_nulls() -> None:
    from platform_kit.quality.sla import downstream_metrics

    daily = downstream_metrics(_metrics(gap=range(0), hours=72), table="features", every="1D", delay="3h")
    assert list(daily["load_time"]) == [_T0 + pd.Timedelta(hours=h) for h in (3, 27, 51, 75)]
    assert list(daily["rows"]) == [400, 2400, 2400, 2000]
    assert (daily["rows"] == daily["expected_rows"]).all()
    assert daily["null_rate_amount"].to_numpy() == pytest.approx(0.02)


@pytest.mark.parametrize(("upstream", "kwargs", "match"), [
    (pd.DataFrame({"load_time": []}), {}, "load_time and rows"),
    (_metrics(), {"every": "0h"}, "must be positive"),
    (_metrics(), {"every": "soon"}, "cannot read"),
])
def test_downstream_metrics_bad_input(upstream: Any, kwargs: dict[str, Any], match: str) -> None:
    from platform_kit.quality.sla import downstream_metrics

    with pytest.raises(InputError, match=match) as info:
        downstream_metrics(upstream, table="t", **kwargs)
    assert info.value.fix


def test_describe_loads_cadence_lag_and_weighted_null_rates() -> None:
    from platform_kit.quality.sla import describe_loads

    profile = describe_loads(_metrics(), window=_WINDOW)
    assert profile["loads"] == 40 and profile["rows"] == 4000
    assert profile["cadence_hours"] == 1.0
    assert profile["worst_lag_hours"] == pytest.approx(10.0)
    assert profile["null_rate_amount"] == pytest.approx(0.02) and profile["null_rate_note"] == pytest.approx(0.5)
    hist = synthetic_table_history("payments", days=21, seed=1, incidents=[])
    clean = describe_loads(hist, window=("2024-10-01", "2024-10-15"))
    assert 0.9 < clean["cadence_hours"] < 1.1 and clean["worst_lag_hours"] < 1.3
    with pytest.raises(InputError, match="empty or reversed"):
        describe_loads(hist, window=("2024-10-15", "2024-10-01"))
