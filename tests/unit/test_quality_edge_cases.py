"""Synthetic edge cases: strategies and seeded batches, the "what breaks" table, the tz regression, exposes_bug."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir

from platform_kit.datasets import generate_table
from platform_kit.errors import InputError
from platform_kit.quality._edge_examples import BUGGY_TRANSFORMS
from platform_kit.quality._edge_strategies import DRIFT_KINDS
from platform_kit.quality.contract import load_contract
from platform_kit.quality.edge_cases import (
    BUGGY_TRANSFORMS as EXPORTED_BUGS,
)
from platform_kit.quality.edge_cases import (
    EDGE_KINDS,
    REPORT_COLUMNS,
    before_after,
    compare_transforms,
    contract_problems,
    edge_case_batches,
    exposes_bug,
    frames_for,
    plot_outcomes,
    run_pipeline_on,
    sample_frames,
)
from platform_kit.quality.pipeline import (
    STAGED_COLUMNS,
    build_customer_features,
    stage_orders,
    stage_orders_with_rejects,
)
from platform_kit.quality.validate import QualityContext

# deterministic and repo-clean: no example database, same examples on every run
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RAW = load_contract("orders_raw")


@pytest.fixture(scope="module", autouse=True)
def _hypothesis_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # database=None stops the example database, not hypothesis' caches: keep those out of the repo too
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_table("orders", "tiny", 42)


@pytest.fixture(scope="module")
def batches(orders: pd.DataFrame) -> dict[str, pd.DataFrame]:
    return edge_case_batches(orders, seed=42)


def test_edge_case_batches_named_and_deterministic(orders: pd.DataFrame, batches: dict[str, pd.DataFrame]) -> None:
    assert tuple(batches) == EDGE_KINDS
    again = edge_case_batches(orders, seed=42)
    for name, frame in batches.items():
        pd.testing.assert_frame_equal(frame, again[name])
    other = edge_case_batches(orders, seed=7)
    assert not other["clean"].equals(batches["clean"])
    # derived from real orders: every batch's keys come from the generated table
    keys = set(orders["order_id"])
    assert set(batches["duplicates"]["order_id"]) <= keys
    assert batches["duplicates"]["order_id"].duplicated().any()
    assert "coupon_code" in batches["drift_extra_column"]
    assert batches["drift_amount_as_text"]["total_amount"].str.contains(",").all()
    assert str(batches["tz_aware"]["order_ts"].dt.tz) == "Europe/Berlin"


@pytest.mark.parametrize("bad", [pd.DataFrame(), "orders", pd.DataFrame({"order_id": [1]})])
def test_edge_case_batches_rejects_bad_input(bad: object) -> None:
    with pytest.raises(InputError) as err:
        edge_case_batches(bad)  # type: ignore[arg-type]
    assert err.value.fix


def test_run_pipeline_on_reports_what_breaks(batches: dict[str, pd.DataFrame]) -> None:
    table = run_pipeline_on(batches).set_index("batch")
    assert list(table.reset_index().columns) == REPORT_COLUMNS
    assert table.loc["clean", "outcome"] == "ok"
    assert table.loc["clean", "rows_out"] == table.loc["clean", "rows_in"] == 40
    for name in ("drift_missing_column", "drift_renamed_column"):
        assert table.loc[name, "outcome"] == "crashed"
        assert table.loc[name, "error"].startswith("InputError: raw orders lacks column")
    # comma decimals are not a crash but a silent total loss
    assert table.loc["drift_amount_as_text", "rows_out"] == 0
    assert table.loc["nulls", "dropped"] > 0
    assert table.loc["duplicates", "rows_out"] == 40  # re-sent rows collapse to one per order
    assert table.loc["whitespace_case", "dropped"] == 0
    assert table["contract_failures"].isna().all()  # no QualityContext, no contract check


def test_run_pipeline_on_with_quality_flags_contract_failures(batches: dict[str, pd.DataFrame]) -> None:
    picked = {k: batches[k] for k in ("clean", "unicode", "extremes", "drift_missing_column")}
    table = run_pipeline_on(picked, quality=QualityContext()).set_index("batch")
    assert table.loc["clean", "outcome"] == "ok" and table.loc["clean", "contract_failures"] == 0
    # zero-width and full-width spellings survive str.strip() and fail allowed_values
    assert table.loc["unicode", "outcome"] == "contract_failed"
    assert "status" in table.loc["unicode", "failed_rules"]
    # inf and 1e300 amounts pass the "> 0" filter and break the max
    assert table.loc["extremes", "outcome"] == "contract_failed"
    assert "total_amount" in table.loc["extremes", "failed_rules"]
    assert table.loc["drift_missing_column", "outcome"] == "crashed"


def test_run_pipeline_on_rejects_non_mapping() -> None:
    with pytest.raises(InputError, match="map names"):
        run_pipeline_on([pd.DataFrame()])  # type: ignore[arg-type]


# --- regression: tz-aware timestamps used to crash stage_orders and build_customer_features -------------

def test_stage_orders_tz_aware_batch_matches_utc(batches: dict[str, pd.DataFrame]) -> None:
    clean = stage_orders(batches["clean"])
    aware = stage_orders(batches["tz_aware"])
    pd.testing.assert_frame_equal(aware, clean)  # Berlin wall time converted back to the same UTC instants
    mixed = stage_orders(batches["tz_mixed"])
    assert len(mixed) == len(clean) and str(mixed["order_ts"].dtype) == "datetime64[us]"
    # the Kolkata-localized rows moved 5.5 hours earlier in UTC
    shift = (clean["order_ts"] - mixed["order_ts"]).dt.total_seconds().unique()
    assert set(shift) <= {0.0, 5.5 * 3600}


def test_stage_orders_offsets_converted_to_naive_utc() -> None:
    raw = pd.DataFrame({"order_id": [1, 2], "customer_id": [3, 3], "order_ts": ["2024-05-01T12:00:00+02:00",
                        "2024-05-01T12:00:00-05:00"], "status": ["shipped"] * 2, "channel": ["web"] * 2,
                        "region": ["eu-west"] * 2, "currency": ["EUR"] * 2, "total_amount": [1.0, 2.0]})
    out = stage_orders(raw)
    assert list(out["order_ts"]) == [pd.Timestamp("2024-05-01 10:00"), pd.Timestamp("2024-05-01 17:00")]


@FAST
@given(frames_for(RAW, timestamp_modes=("aware", "mixed", "text")))
def test_stage_orders_never_crashes_on_edge_frames(raw: pd.DataFrame) -> None:
    out = stage_orders(raw)
    assert list(out.columns) == list(STAGED_COLUMNS)
    assert str(out["order_ts"].dtype) == "datetime64[us]"
    assert out["order_id"].is_unique and (out["total_amount"] > 0).all()


def test_build_customer_features_tz_aware_orders(batches: dict[str, pd.DataFrame]) -> None:
    customers = generate_table("customers", "tiny", 42)
    staged = stage_orders(batches["clean"])
    aware = staged.assign(order_ts=staged["order_ts"].dt.tz_localize("UTC"))
    pd.testing.assert_frame_equal(build_customer_features(aware, customers),
                                  build_customer_features(staged, customers))


# --- strategies ------------------------------------------------------------------------------------------

@FAST
@given(frames_for(RAW, edge=False))
def test_frames_for_clean_frames_stay_in_contract(raw: pd.DataFrame) -> None:
    assert list(raw.columns) == RAW.column_names and not raw.isna().any().any()
    assert raw["status"].isin(RAW.column("status").allowed_values).all()
    assert raw["order_ts"].between(dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1), inclusive="left").all()
    assert str(raw["order_id"].dtype) == "int64"
    assert len(stage_orders(raw)) <= len(raw)


@FAST
@given(frames_for(RAW, drift=True))
def test_frames_for_drift_changes_the_schema(raw: pd.DataFrame) -> None:
    kind = raw.attrs["drift"]
    assert kind in DRIFT_KINDS
    if kind == "type_changed":
        assert list(raw.columns) == RAW.column_names
    else:
        assert set(raw.columns) != set(RAW.column_names)


@pytest.mark.parametrize("kwargs", [{"min_rows": 5, "max_rows": 2}, {"timestamp_modes": ("local",)}])
def test_frames_for_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(InputError) as err:
        frames_for(RAW, **kwargs)  # type: ignore[arg-type]
    assert err.value.fix


# --- exercise: a generator that exposes a given bug ------------------------------------------------------

@pytest.mark.parametrize("bug", sorted(BUGGY_TRANSFORMS))
def test_exposes_bug_edge_generator_catches_each_bug(bug: str) -> None:
    assert exposes_bug(frames_for(RAW), BUGGY_TRANSFORMS[bug], stage_orders, max_examples=30)


@pytest.mark.parametrize("bug", sorted(BUGGY_TRANSFORMS))
def test_exposes_bug_clean_generator_misses_each_bug(bug: str, orders: pd.DataFrame) -> None:
    assert not exposes_bug(frames_for(RAW, edge=False), BUGGY_TRANSFORMS[bug], stage_orders, max_examples=15)
    assert not exposes_bug(orders, BUGGY_TRANSFORMS[bug])


def test_exposes_bug_deterministic_batches(batches: dict[str, pd.DataFrame]) -> None:
    naive_ts = BUGGY_TRANSFORMS["naive_timestamps"]
    assert exposes_bug({"tz": batches["tz_aware"]}, naive_ts)
    assert not exposes_bug({"clean": batches["clean"], "dups": batches["duplicates"]}, naive_ts)
    assert exposes_bug(batches["whitespace_case"], BUGGY_TRANSFORMS["case_sensitive"])
    why = compare_transforms(batches["tz_aware"], naive_ts, stage_orders)
    assert why is not None and why.startswith("buggy transform raised TypeError")


def test_exposes_bug_callable_generator(orders: pd.DataFrame) -> None:
    def shouting(seed: int) -> pd.DataFrame:
        sample = orders.sample(5, random_state=seed)
        return sample.assign(status=sample["status"].str.upper())

    assert exposes_bug(shouting, BUGGY_TRANSFORMS["case_sensitive"], max_examples=3)
    assert not exposes_bug(lambda seed: orders.sample(5, random_state=seed), BUGGY_TRANSFORMS["case_sensitive"],
                           max_examples=3)


def test_compare_transforms_ignores_frames_the_fixed_transform_rejects(orders: pd.DataFrame) -> None:
    broken = orders.drop(columns="currency")
    assert compare_transforms(broken, BUGGY_TRANSFORMS["case_sensitive"], stage_orders) is None


def test_exposes_bug_rejects_unknown_generator() -> None:
    with pytest.raises(InputError, match="cannot draw frames"):
        exposes_bug(42, BUGGY_TRANSFORMS["case_sensitive"])


# --- contract rules in pandas, before/after, hypothesis samples, the outcome plot ----------------------------

def test_contract_problems_agrees_with_the_gx_findings(batches: dict[str, pd.DataFrame], orders: pd.DataFrame) -> None:
    # the same batches GX flags in test_run_pipeline_on_with_quality_flags_contract_failures, in milliseconds
    assert contract_problems(orders, "orders_raw") == []
    assert contract_problems(stage_orders(batches["clean"]), "orders_staged") == []
    unicode = contract_problems(stage_orders(batches["unicode"]), load_contract("orders_staged"))
    assert [p.split(":")[0] for p in unicode] == ["status", "channel", "region"]
    assert all("not in allowed_values" in p for p in unicode)
    extremes = contract_problems(stage_orders(batches["extremes"]), "orders_staged")
    assert [p.split(":")[0] for p in extremes] == ["customer_id", "total_amount"] and "inf" in extremes[1]
    late = contract_problems(stage_orders(batches["late_out_of_order"]), "orders_staged")
    assert [p.split(":")[0] for p in late] == ["order_ts", "order_date"]


def test_contract_problems_rules() -> None:
    raw = generate_table("orders", "tiny", 42).head(4).copy()
    assert contract_problems(raw.drop(columns="currency"), "orders_raw") == ["missing column(s) ['currency']"]
    assert contract_problems(raw.assign(extra=1), "orders_raw") == ["unexpected column(s) ['extra']"]
    staged = stage_orders(raw)
    assert contract_problems(staged[list(reversed(staged.columns))], "orders_staged")[0].startswith("columns out of")
    assert contract_problems(raw.iloc[:0], "orders_raw") == ["row count 0 outside [1, 10000000]"]
    dup = pd.concat([raw, raw.iloc[:1]])
    assert contract_problems(dup, "orders_raw") == ["primary key ['order_id']: 1 duplicated row(s)"]
    bad = raw.astype(object)
    bad.loc[bad.index[0], "order_id"] = "seven"
    bad.loc[bad.index[1], "customer_id"] = 2.5
    bad.loc[bad.index[2], "currency"] = "usd"
    bad.loc[bad.index[3], "status"] = None
    problems = contract_problems(bad, "orders_raw")
    assert "order_id: 1 value(s) not of type integer, e.g. 'seven'" in problems
    assert "customer_id: 1 value(s) not of type integer, e.g. 2.5" in problems
    assert "currency: 1 value(s) not matching ^[A-Z]{3}$, e.g. 'usd'" in problems
    assert "status: 1 null(s)" in problems
    zones = raw.assign(order_ts=[pd.Timestamp("2024-03-01", tz="UTC"), "2024-03-01T00:00:00+02:00", None, "x"])
    assert any(p.startswith("order_ts: ") and "not of type timestamp" in p for p in contract_problems(zones, "orders_raw"))
    with pytest.raises(InputError, match="DataFrame"):
        contract_problems([1], "orders_raw")  # type: ignore[arg-type]


def test_run_pipeline_on_check_rules(batches: dict[str, pd.DataFrame]) -> None:
    table = run_pipeline_on(batches, check_rules=True).set_index("batch")
    assert table.loc["clean", "outcome"] == "ok" and table.loc["clean", "contract_failures"] == 0
    failed = set(table.index[table["outcome"] == "contract_failed"])
    assert failed == {"extremes", "unicode", "late_out_of_order", "far_future", "drift_amount_as_text"}
    assert table.loc["drift_amount_as_text", "failed_rules"] == "row count 0 outside [1, None]"
    assert table.loc["drift_missing_column", "outcome"] == "crashed"


def test_before_after_on_the_tz_regression(batches: dict[str, pd.DataFrame]) -> None:
    table = before_after(batches, EXPORTED_BUGS["naive_timestamps"])
    assert EXPORTED_BUGS is BUGGY_TRANSFORMS
    assert list(table.columns) == ["buggy", "fixed", "buggy_rows_out", "fixed_rows_out", "buggy_error",
                                   "fixed_failed_rules", "exposed"]
    assert table.loc["unicode", "fixed_failed_rules"].startswith("status: ")
    exposed = set(table.index[table["exposed"].notna()])
    assert exposed == {"tz_aware", "tz_mixed"}
    assert (table.loc[list(exposed), "buggy"] == "crashed").all() and (table.loc[list(exposed), "fixed"] == "ok").all()
    assert table.loc["tz_aware", "buggy_error"].startswith("TypeError")
    case = before_after(batches, EXPORTED_BUGS["case_sensitive"])
    assert case.loc["whitespace_case", "buggy_rows_out"] < case.loc["whitespace_case", "fixed_rows_out"] == 40


def test_sample_frames_is_seeded() -> None:
    first = sample_frames(frames_for(RAW, timestamp_modes=("aware",)), 6, seed=7)
    again = sample_frames(frames_for(RAW, timestamp_modes=("aware",)), 6, seed=7)
    assert 1 <= len(first) <= 6 and all(isinstance(f, pd.DataFrame) for f in first)
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    with pytest.raises(InputError, match="hypothesis strategy"):
        sample_frames(RAW, 3)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="positive integer"):
        sample_frames(frames_for(RAW), 0)


def test_plot_outcomes(batches: dict[str, pd.DataFrame]) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    picked = {k: batches[k] for k in ("clean", "tz_aware", "drift_missing_column")}
    tables = {"before": run_pipeline_on(picked, BUGGY_TRANSFORMS["naive_timestamps"]), "after": run_pipeline_on(picked)}
    axes = plot_outcomes(tables)
    assert [a.get_title() for a in axes] == ["before", "after"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == list(picked)
    assert sum(t.get_text() == "TypeError" for t in axes[0].texts) == 1
    assert len(plot_outcomes(tables["after"])) == 1
    matplotlib.pyplot.close("all")
    with pytest.raises(InputError, match="run_pipeline_on table"):
        plot_outcomes({"x": pd.DataFrame({"a": [1]})})


# --- rejects: nothing stage_orders leaves out is lost ------------------------------------------------------


def test_stage_orders_with_rejects_accounts_for_every_raw_row(batches: dict[str, pd.DataFrame]) -> None:
    for name, raw in batches.items():
        if name.startswith("drift_") and name != "drift_amount_as_text":
            continue  # a missing or renamed column fails loudly (tested above)
        staged, rejects = stage_orders_with_rejects(raw)
        assert len(staged) + len(rejects) == len(raw), name
        assert rejects["reason"].ne("").all(), name
        pd.testing.assert_frame_equal(staged, stage_orders(raw))


def test_stage_orders_with_rejects_names_each_reason() -> None:
    raw = generate_table("orders", "tiny", 42).head(6).copy()
    raw.index = [7, 7, 7, 8, 8, 9]  # repeated labels must not mix rows up
    raw["total_amount"] = raw["total_amount"].astype(object)
    raw.iloc[0, raw.columns.get_loc("total_amount")] = "12,50"
    raw.iloc[1, raw.columns.get_loc("total_amount")] = 0.0
    raw.iloc[2, raw.columns.get_loc("customer_id")] = None
    raw.iloc[4, raw.columns.get_loc("order_id")] = raw.iloc[3]["order_id"]  # a re-sent order
    staged, rejects = stage_orders_with_rejects(raw)
    assert list(rejects["reason"]) == ["total_amount missing or unparseable", "total_amount not positive",
                                       "customer_id missing or unparseable",
                                       "superseded by a later row of the same order_id"]
    assert list(rejects["raw_index"]) == [7, 7, 7, 8]
    assert rejects.loc[0, "total_amount"] == "12,50"  # kept as landed, for repair and replay
    assert len(staged) == 2


def test_stage_orders_with_rejects_clean_table_rejects_nothing() -> None:
    staged, rejects = stage_orders_with_rejects(generate_table("orders", "tiny", 42))
    assert rejects.empty and len(staged) == 1000
