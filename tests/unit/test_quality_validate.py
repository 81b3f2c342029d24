"""Contract validation with GX checkpoints: clean data passes, each corruption fails by name; corrupted batches
on purpose and which breaks a suite catches; tables and plots of runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.datasets import generate_table
from platform_kit.errors import InputError
from platform_kit.quality import validate as kv
from platform_kit.quality._validate_breaks import suite_outcomes
from platform_kit.quality.contract import DataContract, load_contract
from platform_kit.quality.pipeline import build_customer_features, stage_orders
from platform_kit.quality.validate import QualityContext, ValidationReport, detect_engine, read_results


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return generate_table("orders", "tiny", 42)


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_table("customers", "tiny", 42)


@pytest.fixture(scope="module")
def staged(raw: pd.DataFrame) -> pd.DataFrame:
    return stage_orders(raw)


@pytest.fixture(scope="module")
def qc(tmp_path_factory: pytest.TempPathFactory) -> QualityContext:
    return QualityContext(results_path=tmp_path_factory.mktemp("quality") / "runs.jsonl")


def test_validate_clean_pipeline_passes_every_stage(qc: QualityContext, raw: pd.DataFrame,
                                                    staged: pd.DataFrame, customers: pd.DataFrame) -> None:
    features = build_customer_features(staged, customers)
    for df, name in ((raw, "orders_raw"), (staged, "orders_staged"), (features, "customer_features")):
        report = qc.validate(df, load_contract(name))
        assert report.success, report.frame(failed_only=True).to_string()
        assert report.failed == 0 and report.evaluated > 20
        assert report.rows == len(df) and report.engine == "pandas"
        assert report.stage == load_contract(name).stage


def _null_customer(df: pd.DataFrame) -> pd.DataFrame:
    df["customer_id"] = df["customer_id"].astype("Int64")
    df.loc[[3, 7], "customer_id"] = pd.NA
    return df


def _negative_amount(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[5, "total_amount"] = -12.5
    return df


def _amount_as_text(df: pd.DataFrame) -> pd.DataFrame:
    df["total_amount"] = df["total_amount"].map(lambda v: f"{v:.2f}")
    return df


def _duplicate_key(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[10, "order_id"] = df.loc[11, "order_id"]
    return df


def _unknown_status(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[[0, 1], "status"] = "lost_in_transit"
    return df


def _missing_column(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="channel")


def _future_order(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[2, "order_ts"] = pd.Timestamp("2031-05-01")
    return df


@pytest.mark.parametrize(("corrupt", "expected"), [
    (_null_customer, ("expect_column_values_to_not_be_null", "customer_id")),
    (_negative_amount, ("expect_column_values_to_be_between", "total_amount")),
    (_amount_as_text, ("expect_column_values_to_be_in_type_list", "total_amount")),
    (_duplicate_key, ("expect_column_values_to_be_unique", "order_id")),
    (_unknown_status, ("expect_column_values_to_be_in_set", "status")),
    (_missing_column, ("expect_column_to_exist", "channel")),
    (_future_order, ("expect_column_values_to_be_between", "order_ts")),
])
def test_validate_corrupted_raw_batch_fails_named_expectation(
        qc: QualityContext, raw: pd.DataFrame, corrupt: Callable[[pd.DataFrame], pd.DataFrame],
        expected: tuple[str, str]) -> None:
    report = qc.validate(corrupt(raw.copy()), load_contract("orders_raw"))
    assert not report.success
    assert expected in report.failed_expectations
    assert report.failed == len(report.failures) >= 1


def test_validate_corruption_reports_counts_and_bad_values(qc: QualityContext, raw: pd.DataFrame) -> None:
    report = qc.validate(_unknown_status(raw.copy()), load_contract("orders_raw"))
    assert report.failed_expectations == [("expect_column_values_to_be_in_set", "status")]
    row = report.frame(failed_only=True).iloc[0]
    assert row["unexpected_count"] == 2
    assert row["unexpected_percent"] == pytest.approx(0.2)
    assert row["sample"] == ("lost_in_transit", "lost_in_transit")
    assert row["rule"] == "columns.status.allowed_values"
    assert "FAIL 35/36" in report.summary() and "expect_column_values_to_be_in_set(status)" in report.summary()


def test_validate_missing_column_also_fails_column_set(qc: QualityContext, raw: pd.DataFrame) -> None:
    report = qc.validate(_missing_column(raw.copy()), load_contract("orders_raw"))
    assert ("expect_table_columns_to_match_set", None) in report.failed_expectations


def test_validate_staged_duplicates_removed_by_stage_orders(qc: QualityContext, raw: pd.DataFrame) -> None:
    dirty = pd.concat([raw, raw.head(5)], ignore_index=True)
    dirty.loc[0, "status"] = "  DELIVERED "
    assert not qc.validate(dirty, load_contract("orders_raw")).success
    staged = stage_orders(dirty)
    assert len(staged) == len(raw)
    assert qc.validate(staged, load_contract("orders_staged")).success


def test_validate_report_is_frozen_and_compact(qc: QualityContext, raw: pd.DataFrame) -> None:
    report = qc.validate(raw.head(50), load_contract("orders_raw"), stage="landing")
    assert isinstance(report, ValidationReport) and report.stage == "landing"
    with pytest.raises(AttributeError):
        report.success = False  # type: ignore[misc]
    frame = report.frame()
    assert list(frame.columns)[:6] == ["expectation", "column", "rule", "success", "unexpected_count",
                                       "unexpected_percent"]
    assert len(frame) == report.evaluated == 36
    assert report.summary().startswith("orders_raw v1.0.0 [landing/pandas] PASS 36/36 expectations, 50 rows")


def test_validate_appends_jsonl_history(qc: QualityContext, raw: pd.DataFrame) -> None:
    assert qc.results_path is not None
    before = len(qc.results_path.read_text().splitlines()) if qc.results_path.exists() else 0
    qc.validate(raw, load_contract("orders_raw"))
    qc.validate(_negative_amount(raw.copy()), load_contract("orders_raw"))
    lines = qc.results_path.read_text().splitlines()
    assert len(lines) == before + 2
    last = json.loads(lines[-1])
    assert last["contract"] == "orders_raw" and last["success"] is False
    assert any(o["expectation"] == "expect_column_values_to_be_between" and not o["success"]
               for o in last["outcomes"])
    history = read_results(qc.results_path)
    assert list(history["success"].tail(2)) == [True, False]
    assert "outcomes" not in history.columns


def test_read_results_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"a": 1}\nnot json\n')
    with pytest.raises(InputError, match=r"r\.jsonl:2"):
        read_results(path)
    with pytest.raises(InputError, match="cannot read"):
        read_results(tmp_path / "absent.jsonl")


def test_build_docs_writes_index(qc: QualityContext, raw: pd.DataFrame, tmp_path: Path) -> None:
    qc.validate(raw.head(20), load_contract("orders_raw"))
    index = qc.build_docs(tmp_path / "docs")
    assert index == (tmp_path / "docs" / "index.html").resolve()
    assert index.is_file() and "orders_raw" in index.read_text()
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))


def test_quality_context_file_mode_is_idempotent(tmp_path: Path, raw: pd.DataFrame) -> None:
    qc = QualityContext(tmp_path / "gxproject")
    contract = load_contract("orders_raw")
    first, second = qc.validate(raw.head(30), contract), qc.validate(raw.head(30), contract)
    assert first.success and second.success
    assert (tmp_path / "gxproject" / "gx" / "expectations" / "orders_raw-pandas.json").is_file()
    again = QualityContext(tmp_path / "gxproject")  # reopening an existing project works too
    assert again.validate(raw.head(30), contract).success


@pytest.mark.parametrize("bad", [[1, 2], {"a": [1]}, np.zeros(3), None])
def test_validate_rejects_non_dataframe(qc: QualityContext, bad: Any) -> None:
    with pytest.raises(InputError, match="pandas or Spark DataFrame"):
        qc.validate(bad, load_contract("orders_raw"))


def test_validate_rejects_non_contract(qc: QualityContext, raw: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="DataContract"):
        qc.validate(raw, "orders_raw")  # type: ignore[arg-type]


def test_stage_orders_rejects_missing_column(raw: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="total_amount"):
        stage_orders(raw.drop(columns="total_amount"))


def test_build_customer_features_values(staged: pd.DataFrame, customers: pd.DataFrame) -> None:
    features = build_customer_features(staged, customers)
    assert len(features) == len(customers) and features["customer_id"].is_unique
    assert features["order_count"].sum() == len(staged)
    kept = staged[~staged["status"].isin(["cancelled", "returned"])]
    one = int(kept["customer_id"].iloc[0])
    row = features.set_index("customer_id").loc[one]
    assert row["total_spend"] == pytest.approx(kept.loc[kept["customer_id"] == one, "total_amount"].sum(), abs=0.01)
    no_orders = features[~features["has_orders"]]
    assert (no_orders["order_count"] == 0).all() and no_orders["last_order_ts"].isna().all()


def test_detect_engine(spark: Any, raw: pd.DataFrame) -> None:
    assert detect_engine(raw) == "pandas"
    assert detect_engine(spark.range(1)) == "spark"


def test_validate_spark_staged_orders_passes(qc: QualityContext, spark: Any, staged: pd.DataFrame) -> None:
    sdf = spark.createDataFrame(staged).coalesce(1)  # one task per job: GX runs a job per metric batch
    report = qc.validate(sdf, load_contract("orders_staged"))
    assert report.engine == "spark"
    assert report.success, report.frame(failed_only=True).to_string()
    assert report.rows == len(staged) and report.evaluated == 39


# --- nullable dtypes, the checkpoint cache, tables and plots ---------------------------------------------------
def test_nullable_extension_dtypes_meet_their_logical_type(qc: QualityContext, raw: pd.DataFrame) -> None:
    # GX resolves type names with getattr(pd, name): "Int64" matched nothing, so a nullable integer
    # column failed its type check as well as the null check
    df = raw.astype({"order_id": "Int64", "customer_id": "Int64", "total_amount": "Float64"})
    assert qc.validate(df, load_contract("orders_raw")).success
    df.loc[4, "customer_id"] = pd.NA
    report = qc.validate(df, load_contract("orders_raw"))
    assert report.failed_expectations == [("expect_column_values_to_not_be_null", "customer_id")]


def test_gx_info_loggers_are_capped() -> None:
    import logging

    from platform_kit.quality._gx import import_gx

    import_gx()
    # GX sets this one to INFO itself; a CLI's root handler printed "Created temporary directory" per context
    assert logging.getLogger("great_expectations.data_context.types.base").getEffectiveLevel() >= logging.WARNING


def test_checkpoint_is_reused_until_the_contract_changes(qc: QualityContext, raw: pd.DataFrame) -> None:
    contract = load_contract("orders_raw")
    qc.validate(raw.head(40), contract)
    first = qc._checkpoints[("orders_raw", "pandas")][1]
    qc.validate(raw.head(40), load_contract("orders_raw"))  # an equal contract: same checkpoint
    assert qc._checkpoints[("orders_raw", "pandas")][1] is first
    data = contract.to_dict()
    next(c for c in data["columns"] if c["name"] == "total_amount")["max"] = 10.0
    stricter = DataContract.model_validate(data)
    report = qc.validate(raw.head(40), stricter)  # same name, new rule: the suite is refreshed
    assert ("expect_column_values_to_be_between", "total_amount") in report.failed_expectations
    assert qc.validate(raw.head(40), contract).success


def test_contracts_and_expectation_tables() -> None:
    contracts = {n: load_contract(n) for n in ("orders_raw", "orders_staged", "customer_features")}
    table = kv.contracts_table(contracts)
    assert table["expectations"].to_dict() == {"orders_raw": 36, "orders_staged": 39, "customer_features": 35}
    assert table.loc["customer_features", "owner"] == "ml-features"
    expectations = kv.expectation_table(contracts["orders_raw"])
    assert len(expectations) == 36 and list(expectations.columns) == ["expectation", "column", "rule", "arguments"]
    row = expectations[expectations["rule"] == "columns.status.allowed_values"].iloc[0]
    assert row["expectation"] == "expect_column_values_to_be_in_set" and "delivered" in row["arguments"]


def test_plot_reports_from_reports_and_history(qc: QualityContext, raw: pd.DataFrame) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reports = [qc.validate(raw.head(30), load_contract("orders_raw")),
               qc.validate(_unknown_status(raw.copy()), load_contract("orders_raw"), stage="bad")]
    frame = kv.runs_frame(reports, labels=["good", "bad"])
    assert list(frame["passed"]) == [36, 35] and list(frame["failed"]) == [0, 1]
    axes = kv.plot_reports(reports)
    assert len(axes) == 2 and len(axes[0].patches) == 4 and axes[1].get_xscale() == "log"
    assert qc.results_path is not None
    assert len(kv.runs_frame(read_results(qc.results_path))) >= 2
    _, ax = plt.subplots()
    assert kv.plot_reports(reports, ax=ax) is ax
    plt.close("all")
    with pytest.raises(InputError, match="one label per run"):
        kv.runs_frame(reports, labels=["one"])
    with pytest.raises(InputError, match="ValidationReport"):
        kv.runs_frame([1, 2])
    with pytest.raises(InputError, match="no runs"):
        kv.runs_frame(pd.DataFrame(columns=["contract", "stage", "engine", "evaluated", "failed", "rows", "seconds"]))


# --- corrupted batches on purpose -------------------------------------------------------------------------------
_BREAKS = [
    kv.Break("null customer", "null", "customer_id"),
    kv.Break("negative amount", "value", "total_amount", lambda v: -v),
    kv.Break("unknown status", "value", "status", "lost_in_transit"),
    kv.Break("repeated id", "duplicate", "order_id"),
    kv.Break("amount as text", "type", "total_amount", lambda s: s.map(lambda v: f"{v:.2f}")),
    kv.Break("no channel", "drop", "channel"),
]


def test_corrupt_applies_each_break_at_its_own_rows(raw: pd.DataFrame) -> None:
    bad = kv.corrupt(raw, _BREAKS[:4], seed=3)
    rows = [r for label in ("null customer", "negative amount", "unknown status", "repeated id")
            for r in bad.rows[label]]
    assert len(rows) == len(set(rows)) == 5
    (null_at,), (neg_at,) = bad.rows["null customer"], bad.rows["negative amount"]
    assert bad.frame["customer_id"].dtype == "Int64" and pd.isna(bad.frame.at[null_at, "customer_id"])
    assert bad.frame.at[neg_at, "total_amount"] == -raw.at[neg_at, "total_amount"]
    at, source = bad.rows["repeated id"]
    assert bad.frame.at[at, "order_id"] == raw.at[source, "order_id"]
    assert (bad.frame.drop(index=rows) == raw.drop(index=rows).astype({"customer_id": "Int64"})).all().all()
    assert kv.corrupt(raw, _BREAKS[:4], seed=3).rows == bad.rows  # seeded
    whole = kv.corrupt(raw, _BREAKS[4:]).frame
    assert "channel" not in whole.columns and whole["total_amount"].map(type).eq(str).all()
    pd.testing.assert_frame_equal(raw, generate_table("orders", "tiny", 42))  # the input is untouched


@pytest.mark.parametrize(("breaks", "message"), [
    ([kv.Break("x", "null", "nope")], "lacks"),
    ([kv.Break("x", "null", "status"), kv.Break("x", "null", "region")], "repeat"),
    ([kv.Break("x", "value", "order_id", "text")], "changes the dtype"),
    (["not a break"], "Break objects"),
])
def test_corrupt_rejects_bad_breaks(raw: pd.DataFrame, breaks: list[Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        kv.corrupt(raw, breaks)


def test_break_rejects_bad_fields(raw: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="unknown break kind"):
        kv.Break("x", "shuffle", "status")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="sets no value"):
        kv.Break("x", "value", "status")
    with pytest.raises(InputError, match="function"):
        kv.Break("x", "type", "status", "str")
    with pytest.raises(InputError, match="need 3 rows"):
        kv.corrupt(raw.head(2), [kv.Break("a", "null", "status"), kv.Break("b", "duplicate", "order_id")])
    with pytest.raises(InputError, match="pandas DataFrame"):
        kv.corrupt([1], [])  # type: ignore[arg-type]


def test_catch_breaks_attributes_each_break_and_sees_silent_ones_slip(raw: pd.DataFrame) -> None:
    silent = kv.Break("amount doubled", "value", "total_amount", lambda v: v * 2)  # still within 0..1,000,000
    report = kv.catch_breaks(load_contract("orders_raw"), raw, [*_BREAKS, silent])
    assert report.clean_passed and report.clean_failures == ()
    caught = {r.label: r.caught_by for r in report.results}
    assert caught["null customer"] == ("expect_column_values_to_not_be_null(customer_id)",)
    assert caught["negative amount"] == ("expect_column_values_to_be_between(total_amount)",)
    assert caught["unknown status"] == ("expect_column_values_to_be_in_set(status)",)
    assert caught["repeated id"] == ("expect_column_values_to_be_unique(order_id)",)
    assert "expect_column_values_to_be_in_type_list(total_amount)" in caught["amount as text"]
    assert "expect_column_to_exist(channel)" in caught["no channel"]
    assert [r.label for r in report.missed] == ["amount doubled"]
    assert report.summary().endswith("6/7 breaks caught; missed: amount doubled")
    assert list(report.frame()["caught"]) == [True] * 6 + [False]


def test_catch_breaks_reports_a_failing_clean_batch(raw: pd.DataFrame) -> None:
    data = load_contract("orders_raw").to_dict()
    next(c for c in data["columns"] if c["name"] == "channel")["allowed_values"] = ["web"]
    report = kv.catch_breaks(DataContract.model_validate(data), raw, _BREAKS[5:])
    assert not report.clean_passed and "CLEAN batch fails" in report.summary()
    assert [(o.expectation, o.column) for o in report.clean_failures] == [("expect_column_values_to_be_in_set",
                                                                           "channel")]
    assert suite_outcomes(load_contract("orders_raw"), raw.head(10))[0].success
