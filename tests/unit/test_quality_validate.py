"""Contract validation with GX checkpoints: clean data passes, each corruption fails by name."""

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
from platform_kit.quality.contract import load_contract
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
