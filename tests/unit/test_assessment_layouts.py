"""Lab 1, section 5: partitioning and bucketing layouts, their Spark scans, and the layout_choice exercise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from platform_kit.assessment._layouts_plan import ScanMetrics, bucket_id_of, plan_metrics, scan_bytes
from platform_kit.assessment._layouts_write import list_data_files, local_path
from platform_kit.assessment.layouts import (
    DEFAULT_LAYOUTS,
    QUERIES,
    LayoutSpec,
    QueryParams,
    acceptable_layouts,
    choose_layout,
    measure_layouts,
    pick_query_params,
    prepare_layout_frame,
    validate_mix,
    weighted_bytes,
    write_layouts,
)
from platform_kit.errors import ConfigError, GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.assessment_storage import LAYOUT_ID, grading_mixes, handmade_scan_table


def _company(events: int = 1200) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    customers = pd.DataFrame({"customer_id": np.arange(1, 41, dtype="int64"),
                              "region": rng.choice(["eu-west", "us-east", "ap-south"], 40),
                              "segment": rng.choice(["consumer", "pro"], 40)})
    ids = pd.array(rng.integers(1, 41, events), dtype="Int64")
    ids[rng.random(events) < 0.3] = pd.NA
    ts = pd.Timestamp("2024-11-25") + pd.to_timedelta(rng.uniform(0, 3 * 86400, events), unit="s")
    clicks = pd.DataFrame({"event_id": [f"ev_{i}" for i in range(events)], "customer_id": ids,
                           "event_type": rng.choice(["page_view", "purchase"], events),
                           "event_ts": ts.astype("datetime64[us]")})
    return clicks, customers


# --- pure ---------------------------------------------------------------------------------------
def test_prepare_layout_frame_adds_region_date_and_hour() -> None:
    clicks, customers = _company()
    frame = prepare_layout_frame(clicks, customers)
    assert len(frame) == len(clicks) and not frame["region"].isna().any()
    assert (frame.loc[frame["customer_id"].isna(), "region"] == "anonymous").all()
    known = frame.dropna(subset=["customer_id"]).iloc[0]
    assert known["region"] == customers.set_index("customer_id").loc[known["customer_id"], "region"]
    assert isinstance(frame["event_date"].iloc[0], dt.date) and frame["event_hour"].between(0, 23).all()
    with pytest.raises(ConfigError, match="lacks column"):
        prepare_layout_frame(clicks.drop(columns="event_ts"), customers)


def test_pick_query_params_is_deterministic_and_data_driven() -> None:
    frame = prepare_layout_frame(*_company())
    params = pick_query_params(frame)
    counts = frame["customer_id"].value_counts()
    assert counts[params.customer_id] == counts.max()
    assert frame["event_date"].value_counts()[params.day] == frame["event_date"].value_counts().max()
    assert params.region != "anonymous" and pick_query_params(frame) == params
    with pytest.raises(ConfigError, match="customer_id"):
        pick_query_params(frame.assign(customer_id=pd.array([pd.NA] * len(frame), dtype="Int64")))


@pytest.mark.parametrize("kwargs", [
    {"name": "Bad Name"}, {"name": "x", "bucket_by": "customer_id"}, {"name": "x", "buckets": 4},
    {"name": "x", "partition_by": ("a", "a")}, {"name": "x", "partition_by": ("a",), "bucket_by": "a", "buckets": 2},
    {"name": "x", "colour": "red"},
])
def test_layout_spec_rejects_inconsistent_definitions(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        LayoutSpec(**kwargs)  # type: ignore[arg-type]


def test_query_params_refuse_sql_injection() -> None:
    with pytest.raises(ValidationError):
        QueryParams(customer_id=1, day=dt.date(2024, 1, 1), region="x' OR '1'='1")
    with pytest.raises(ValidationError):
        QueryParams(customer_id=-1, day=dt.date(2024, 1, 1), region="eu")


def test_weighted_bytes_and_choose_layout() -> None:
    table = handmade_scan_table()
    assert choose_layout(table, {"point_lookup": 0.9, "one_day": 0.1}) == "bucketed"
    assert choose_layout(table, {"one_day": 3, "full_aggregation": 1}) == "dated"
    assert choose_layout(table, {"full_aggregation": 1}) == "flat"
    totals = weighted_bytes(table, {"point_lookup": 0.5, "one_day": 0.5})
    assert totals["dated"] == pytest.approx(0.5 * 900 + 0.5 * 50)
    assert acceptable_layouts(table, {"point_lookup": 0, "one_day": 1, "full_aggregation": 0}) == {"dated"}


@pytest.mark.parametrize("table, mix, words", [
    ("scans", {"one_day": 1}, "must be a pandas DataFrame"),
    (pd.DataFrame({"layout": ["a"]}), {"one_day": 1}, "no column"),
    (handmade_scan_table(), {}, "non-empty dict"),
    (handmade_scan_table(), [("one_day", 1)], "non-empty dict"),
    (handmade_scan_table(), {"join": 1.0}, "not measured"),
    (handmade_scan_table(), {"one_day": -1}, ">= 0"),
    (handmade_scan_table(), {"one_day": float("nan")}, ">= 0"),
    (handmade_scan_table(), {"one_day": True}, ">= 0"),
    (handmade_scan_table(), {"one_day": 0.0}, "no positive weight"),
    (handmade_scan_table().iloc[1:], {"point_lookup": 1.0}, "lack measurements"),
])
def test_validate_mix_rejects_hostile_input(table: object, mix: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        validate_mix(table, mix)


def test_grading_mixes_disagree_and_defeat_unweighted_sums() -> None:
    table = handmade_scan_table()
    mixes = grading_mixes(table)
    answers = [acceptable_layouts(table, m) for m in mixes]
    assert len(mixes) >= 2 and not answers[0] & answers[1]
    unweighted = choose_layout(table, {q: 1.0 for q in table["query"].unique()})
    assert any(unweighted not in a for a in answers)


def test_bucket_files_and_pruned_bytes(tmp_path: Path) -> None:
    sizes = {0: 10, 1: 20, 2: 40}
    files = []
    for bucket, size in sizes.items():
        path = tmp_path / f"part-00000-abc_{bucket:05d}.c000.snappy.parquet"
        path.write_bytes(b"x" * size)
        files.append(path)
    (tmp_path / "_SUCCESS").write_text("")
    (tmp_path / ".part.crc").write_text("")
    assert list_data_files(tmp_path) == sorted(files)
    assert [bucket_id_of(f) for f in files] == [0, 1, 2] and bucket_id_of(Path("plain.parquet")) is None
    scan = ScanMetrics(root="file:" + str(tmp_path), files=3, bytes=70, rows=5, partitions_read=None,
                       partition_filters="", bucket_ids=(2,), num_buckets=3, metadata_ms=0)
    assert scan_bytes(scan, files) == 40
    assert scan_bytes(ScanMetrics(**{**scan.__dict__, "bucket_ids": None}), files) == 70
    assert local_path("file:/tmp/x") == Path("/tmp/x") == local_path("file:///tmp/x")
    assert list_data_files(tmp_path / "missing") == []


def test_plan_metrics_needs_a_classic_spark_dataframe() -> None:
    with pytest.raises(ConfigError, match="Spark Connect"):
        plan_metrics(object())


# --- engine tier (Spark) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def layouts(spark: object, tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    clicks, customers = _company()
    frame = prepare_layout_frame(clicks, customers)
    root = tmp_path_factory.mktemp("layouts")
    specs = [*DEFAULT_LAYOUTS[:4], LayoutSpec(name="over_partitioned", partition_by=("event_date", "event_hour"))]
    dimension = customers[["customer_id", "segment"]]
    write_layouts(spark, frame, root, specs, dimension=dimension, writer="arrow", table_prefix="test_layout")
    written = write_layouts(spark, frame, root, specs, dimension=dimension, writer="arrow",
                            table_prefix="test_layout")  # re-runs overwrite cleanly, tables included
    return written, measure_layouts(spark, written, pick_query_params(frame))


def test_written_layouts_have_the_expected_files(layouts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    written = layouts[0].set_index("layout")
    assert written.loc["none", "files"] == 1
    assert written.loc["by_date", "files"] == written.loc["by_date", "partitions"] == 3
    assert written.loc["bucketed_customer", "files"] == 8 and written.loc["bucketed_customer", "writer"] == "spark"
    assert written.loc["over_partitioned", "files"] > 40
    assert written.loc["over_partitioned", "avg_file_bytes"] < written.loc["none", "avg_file_bytes"] / 5
    assert written.loc["over_partitioned", "bytes"] > 2 * written.loc["none", "bytes"]  # per-file overhead


def test_scans_show_partition_and_bucket_pruning_and_the_spared_shuffle(
        layouts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    written, scans = layouts
    scan = scans.set_index(["layout", "query"])
    assert set(scans["query"]) == set(QUERIES) and set(scans["layout"]) == set(written["layout"])
    total = written.set_index("layout")["bytes"]
    assert scan.loc[("by_date", "one_day"), "partitions_read"] == 1
    assert "event_date" in scan.loc[("by_date", "one_day"), "partition_filters"]
    assert scan.loc[("by_date", "one_day"), "bytes_scanned"] < total["by_date"] / 2
    assert scan.loc[("by_date_region", "day_region"), "files_read"] == 1
    assert scan.loc[("bucketed_customer", "point_lookup"), "buckets_read"] == 1
    assert scan.loc[("bucketed_customer", "point_lookup"), "bytes_scanned"] < total["bucketed_customer"] / 3
    assert scan.loc[("bucketed_customer", "join_customers"), "join_shuffles"] == 0
    assert scan.loc[("none", "join_customers"), "join_shuffles"] == 2
    assert scan.loc[("none", "full_aggregation"), "bytes_scanned"] == total["none"]
    assert (scan.xs("point_lookup", level="query")["rows_out"].nunique()) == 1  # same answer everywhere


def test_layout_choice_exercise_grades_against_the_measured_table(
        layouts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    scans = layouts[1]
    mixes = grading_mixes(scans)
    assert len({frozenset(acceptable_layouts(scans, m)) for m in mixes}) >= 2  # two mixes, two answers

    def reference(table: pd.DataFrame, mix: dict[str, float]) -> str:
        return choose_layout(table, mix)

    def unweighted(table: pd.DataFrame, mix: dict[str, float]) -> str:
        return str(table[table["query"].isin(list(mix))].groupby("layout")["bytes_scanned"].sum().idxmin())

    def largest(table: pd.DataFrame, mix: dict[str, float]) -> str:
        return str(weighted_bytes(table, mix).index[-1])

    def fixed(table: pd.DataFrame, mix: dict[str, float]) -> str:
        return "bucketed_customer"

    def as_list(table: pd.DataFrame, mix: dict[str, float]) -> list[str]:
        return [choose_layout(table, mix)]

    assert check(LAYOUT_ID, reference, context={"scan_table": scans}, show=False).passed
    for wrong in (unweighted, largest, fixed, as_list):
        result = check(LAYOUT_ID, wrong, context={"scan_table": scans}, show=False)
        assert not result.passed and result.attempted, wrong.__name__
    with pytest.raises(GradingError, match="scan_table"):
        check(LAYOUT_ID, reference, context={"scans": scans}, show=False)
    with pytest.raises(GradingError, match="bytes_scanned"):
        check(LAYOUT_ID, reference, context={"scan_table": scans.drop(columns="bytes_scanned")}, show=False)


def test_write_layouts_rejects_bad_requests(spark: object, tmp_path: Path) -> None:
    frame = prepare_layout_frame(*_company(50))
    with pytest.raises(ConfigError, match="does not have"):
        write_layouts(spark, frame, tmp_path, [LayoutSpec(name="x", partition_by=("nope",))])
    with pytest.raises(ConfigError, match="repeat"):
        write_layouts(spark, frame, tmp_path, [LayoutSpec(name="x"), LayoutSpec(name="x")])
    with pytest.raises(ConfigError, match="writer"):
        write_layouts(spark, frame, tmp_path, [LayoutSpec(name="x")], writer="dask")
    with pytest.raises(ConfigError, match="identifier"):
        write_layouts(spark, frame, tmp_path, [LayoutSpec(name="x")], table_prefix="x; DROP")
    with pytest.raises(ConfigError, match="non-empty"):
        write_layouts(spark, frame.iloc[:0], tmp_path, [LayoutSpec(name="x")])


def test_spark_writer_gives_one_file_per_partition(spark: object, tmp_path: Path) -> None:
    frame = prepare_layout_frame(*_company(300))
    written = write_layouts(spark, frame, tmp_path, [LayoutSpec(name="none"), DEFAULT_LAYOUTS[1]],
                            writer="spark").set_index("layout")
    assert written.loc["none", "files"] == 1 and written.loc["none", "writer"] == "spark"
    assert written.loc["by_date", "files"] == frame["event_date"].nunique()
    with pytest.raises(ConfigError, match="joins a dimension"):
        measure_layouts(spark, written.reset_index(), pick_query_params(frame))
