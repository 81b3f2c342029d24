"""Lab 3 section 3: plan parsing, Parquet footprints, measured scans and the pushdown-rewrite exercise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.errors import GradingError, InputError
from platform_kit.grading import check
from platform_kit.spark import pushdown
from platform_kit.spark._pushdown_plan import ScanInfo, split_top_level
from platform_kit.spark.pushdown import ScanReport, compare_scans, day_bounds, footprint, parse_file_scans, row_groups

EXERCISE = "spark.pushdown_rewrite"

PLAN = """AdaptiveSparkPlan isFinalPlan=false
+- HashAggregate(keys=[event_type#3], functions=[count(1)])
   +- Exchange hashpartitioning(event_type#3, 4), ENSURE_REQUIREMENTS, [plan_id=41]
      +- *(1) Project [customer_id#2L, event_type#3]
         +- *(1) Filter ((isnotnull(event_ts#6) AND (event_ts#6 >= 2024-12-01 00:00:00)) AND (event_ts#6 < 2024-12-02 00:00:00))
            +- *(1) ColumnarToRow
               +- FileScan parquet [customer_id#2L,event_type#3,event_ts#6] Batched: true, DataFilters: [isnotnull(event_ts#6), (event_ts#6 >= 2024-12-01 00:00:00), (event_ts#6 < 2024-12-02 00:00:00)], Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/data/clickstream], PartitionFilters: [], PushedFilters: [IsNotNull(event_ts), GreaterThanOrEqual(event_ts,2024-12-01 00:00:00.0), LessThan(event_ts,2024-12-02 00:00:00.0)], ReadSchema: struct<customer_id:bigint,event_type:string,event_ts:timestamp>
"""
BLOCKED = ("+- FileScan parquet [customer_id#2L,event_type#3,event_ts#6] Batched: true, DataFilters: [isnotnull(event_ts#6), "
           "(date_format(event_ts#6, yyyy-MM-dd, Some(UTC)) = 2024-12-01)], Format: Parquet, Location: "
           "InMemoryFileIndex(1 paths)[file:/data/clickstream], PartitionFilters: [], PushedFilters: [IsNotNull(event_ts)], "
           "ReadSchema: struct<customer_id:bigint,event_type:string,event_ts:timestamp>")
TRUNCATED = ("FileScan parquet [a#1,b#2] Batched: true, DataFilters: [isnotnull(a#1), (a#1 >= 2024-12-01 00:00..., "
             "Format: Parquet, Location: InMemoryFileIndex(1 paths)[file:/x], PartitionFilters: [], "
             "PushedFilters: [IsNotNull(a), GreaterThanOrEqual(a,2024-..., ReadSchema: struct<a:timestamp,b:map<string,int>>")


# --- pure logic: plan text --------------------------------------------------------------------------


def test_a_pushed_range_is_parsed_with_its_columns_and_filters() -> None:
    (scan,) = parse_file_scans(PLAN)
    assert scan.format == "parquet" and "clickstream" in scan.location
    assert scan.columns == ("customer_id", "event_type", "event_ts")
    assert scan.pushes == ("GreaterThanOrEqual(event_ts,2024-12-01 00:00:00.0)", "LessThan(event_ts,2024-12-02 00:00:00.0)")
    assert scan.pushes_on("event_ts") and not scan.pushes_on("customer_id") and not scan.pushes_on("event")
    assert scan.blocked == () and scan.partition_filters == () and not scan.truncated


def test_a_function_of_the_column_is_a_data_filter_that_did_not_push() -> None:
    (scan,) = parse_file_scans("== Physical Plan ==\n" + BLOCKED)
    assert scan.pushed_filters == ("IsNotNull(event_ts)",) and scan.pushes == ()
    assert not scan.pushes_on("event_ts")
    assert scan.blocked == ("(date_format(event_ts#6, yyyy-MM-dd, Some(UTC)) = 2024-12-01)",)


def test_abbreviated_values_are_flagged_and_nested_types_do_not_split_columns() -> None:
    (scan,) = parse_file_scans(TRUNCATED)
    assert scan.truncated
    assert scan.columns == ("a", "b")
    assert scan.pushed_filters[0] == "IsNotNull(a)"


def test_split_top_level_respects_brackets() -> None:
    assert split_top_level("a(1,2), b<c,d>, [e, f], g") == ["a(1,2)", "b<c,d>", "[e, f]", "g"]
    assert split_top_level("") == []


def test_plans_without_file_scans_give_nothing_and_garbage_is_ignored() -> None:
    assert parse_file_scans("LocalTableScan [id#0L]") == []
    assert parse_file_scans("FileScan \n+- FileScan parquet\n") == []
    assert parse_file_scans("'; DROP TABLE x; -- FileScan parquet [a] Batched: true") == []


def test_parse_rejects_non_text() -> None:
    with pytest.raises(InputError, match="text of a physical plan"):
        parse_file_scans(None)  # type: ignore[arg-type]


# --- pure logic: footers ------------------------------------------------------------------------------


def _clicks(rows: int = 6000, days: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2024-11-25", tz="UTC")
    ts = start + pd.to_timedelta(np.sort(rng.uniform(0, days * 86400, rows)), unit="s")
    return pd.DataFrame({
        "event_id": [f"ev_{i:08x}{rng.integers(1 << 30):x}" for i in range(rows)],
        "customer_id": rng.integers(1, 80, rows).astype("int64"),
        "event_type": rng.choice(["page_view", "add_to_cart", "purchase"], rows),
        "product_id": pd.array([None if i % 3 else int(i % 40) for i in range(rows)], dtype="Int64"),
        "event_ts": ts.astype("datetime64[us, UTC]"),
    })


def _write(frame: pd.DataFrame, folder: Path, files: int = 3, group_rows: int = 500) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(np.array_split(np.arange(len(frame)), files)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False),
                       folder / f"part-{index}.parquet", row_group_size=group_rows)
    return folder


@pytest.fixture(scope="module")
def clicks_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write(_clicks(), tmp_path_factory.mktemp("clicks") / "clickstream")


def test_row_groups_list_sizes_and_statistics(clicks_path: Path) -> None:
    groups = row_groups(clicks_path, "event_ts")
    assert len(groups) == 12 and groups["rows"].sum() == 6000 and groups["file"].nunique() == 3
    assert (groups["min"] <= groups["max"]).all()
    assert groups["bytes.event_id"].sum() > 5 * groups["bytes.event_type"].sum()
    assert (groups["footer_bytes"] > 0).sum() == 3


def test_footprint_skips_row_groups_outside_the_range_and_prunes_columns(clicks_path: Path) -> None:
    groups = row_groups(clicks_path, "event_ts")
    everything = footprint(groups)
    assert everything.row_groups == everything.row_groups_total == 12 and everything.bytes == everything.bytes_total
    one_day = footprint(groups, ["customer_id", "event_ts"], low="2024-11-28", high="2024-11-29")
    inside = groups[(groups["max"] >= pd.Timestamp("2024-11-28", tz="UTC")) & (groups["min"] < pd.Timestamp("2024-11-29", tz="UTC"))]
    assert one_day.row_groups == len(inside) < 12 and one_day.skipped_row_groups == 12 - len(inside)
    assert one_day.rows == inside["rows"].sum() and one_day.bytes < everything.bytes / 5
    assert footprint(groups, low=pd.Timestamp("2030-01-01")).row_groups == 0  # naive bounds are read as UTC
    assert footprint(groups, ["event_type"]).as_dict()["rows"] == 6000


def test_footprint_and_row_groups_reject_bad_input(clicks_path: Path, tmp_path: Path) -> None:
    groups = row_groups(clicks_path, "event_ts")
    with pytest.raises(InputError, match="unknown column"):
        footprint(groups, ["nope"])
    with pytest.raises(InputError, match="min/max"):
        footprint(row_groups(clicks_path), low="2024-11-28")
    with pytest.raises(InputError, match="no Parquet files"):
        row_groups(tmp_path)
    with pytest.raises(InputError, match="no column 'missing'"):
        row_groups(clicks_path, "missing")


def test_day_bounds() -> None:
    assert day_bounds("2024-12-31") == ("2024-12-31 00:00:00", "2025-01-01 00:00:00")
    for bad in ("2024-13-01", "yesterday", "2024-12-01'; DROP TABLE x"):
        with pytest.raises(InputError, match="ISO date"):
            day_bounds(bad)


# --- pure logic: reports -------------------------------------------------------------------------------


def _report(label: str, input_bytes: int, rows: int, wall: float = 1.0) -> ScanReport:
    scan = ScanInfo("parquet", "x", ("a",), ("GreaterThan(a,1)",), ("(a#1 > 1)",), metrics={"rows_scanned": rows,
                    "files_read": 8, "file_bytes": 1000})
    return ScanReport(label, wall, input_bytes, rows, 10, (scan,))


def test_compare_scans_gives_ratios_against_the_baseline() -> None:
    table = compare_scans([_report("slow", 1000, 800, 2.0), _report("fast", 250, 100, 0.5)])
    fast = table.set_index("label").loc["fast"]
    assert fast["bytes_vs_base"] == 0.25 and fast["rows_vs_base"] == 0.125 and fast["time_vs_base"] == 0.25
    assert fast["pushed"] == "GreaterThan(a,1)" and fast["files_read"] == 8
    again = compare_scans([_report("slow", 1000, 800), _report("fast", 250, 100)], baseline="fast")
    assert again.set_index("label").loc["slow", "bytes_vs_base"] == 4.0


def test_compare_scans_rejects_nothing_and_unknown_baselines() -> None:
    with pytest.raises(InputError, match="no scan reports"):
        compare_scans([])
    with pytest.raises(InputError, match="baseline"):
        compare_scans([_report("a", 1, 1)], baseline="b")


# --- engine tier: local Spark ------------------------------------------------------------------------------


def test_day_variants_cover_pushing_and_blocking_shapes(spark: Any) -> None:  # F.col needs a session
    variants = pushdown.day_variants("2024-12-01")
    assert len({v.label for v in variants}) == len(variants) >= 6
    assert {v.pushes for v in variants} == {True, False}
    assert any("select *" in v.label for v in variants)


def test_measured_scans_show_row_groups_skipped_only_when_the_predicate_pushes(spark: Any, clicks_path: Path) -> None:
    path = str(clicks_path)
    fast = pushdown.measure_scan(spark, pushdown.fast_day_summary(spark, path, "2024-11-28"), "fast")
    slow = pushdown.measure_scan(spark, pushdown.slow_day_summary(spark, path, "2024-11-28"), "slow")
    assert fast.pushes_on("event_ts") and not slow.pushes_on("event_ts")
    assert slow.rows_scanned == 6000 and 0 < fast.rows_scanned <= 2000
    assert fast.files_read == slow.files_read == 3 and fast.file_bytes == slow.file_bytes > 0
    assert fast.scans[0].columns == ("event_type", "product_id", "event_ts")
    assert fast.result_rows == slow.result_rows == 3
    expected = footprint(row_groups(path, "event_ts"), low="2024-11-28", high="2024-11-29")
    assert fast.rows_scanned == expected.rows  # Spark skipped exactly what the footers allow
    assert spark.conf.get("parquet.hadoop.vectored.io.enabled", None) is None  # restored


def test_select_star_reads_every_column_and_plan_names_show_python(spark: Any, clicks_path: Path) -> None:
    from pyspark.sql import functions as F

    events = spark.read.parquet(str(clicks_path))
    star = pushdown.measure_scan(spark, events.where(F.col("event_ts") >= F.lit("2024-11-30").cast("timestamp")),
                                 "star", action="toPandas")
    assert star.scans[0].columns == tuple(events.columns) and star.result_rows > 0
    from platform_kit.spark.apis import use_this_python

    use_this_python(spark)
    udf = next(v for v in pushdown.day_variants("2024-11-28") if "UDF" in v.label).build(events)
    report = pushdown.measure_scan(spark, udf, "udf")
    assert report.rows_scanned == 6000 and not report.pushes_on("event_ts")
    assert any("Python" in name for name in pushdown.plan_node_names(udf))


def test_exact_input_bytes_restores_a_previous_value(spark: Any) -> None:
    key = next(iter(pushdown.EXACT_BYTES_CONF))
    spark.conf.set(key, "true")
    try:
        with pushdown.exact_input_bytes(spark):
            assert spark.conf.get(key) == "false"
        assert spark.conf.get(key) == "true"
    finally:
        spark.conf.unset(key)


def test_measure_scan_rejects_bad_actions_and_non_dataframes(spark: Any) -> None:
    with pytest.raises(InputError, match="action"):
        pushdown.measure_scan(spark, spark.range(3), action="count")
    with pytest.raises(InputError, match="DataFrame"):
        pushdown.measure_scan(spark, [1, 2, 3])
    with pytest.raises(InputError, match="DataFrame"):
        pushdown.scan_nodes("SELECT 1")


# --- the exercise ----------------------------------------------------------------------------------------


def _context(spark: Any, path: Path) -> dict[str, Any]:
    return {"spark": spark, "path": str(path), "day": "2024-11-28", "max_bytes": 10e9}


def test_the_reference_rewrite_passes(spark: Any, clicks_path: Path) -> None:
    result = check(EXERCISE, pushdown.fast_day_summary, context=_context(spark, clicks_path), show=False)
    assert result.passed, result.message


def test_the_slow_job_and_wrong_rewrites_are_rejected(spark: Any, clicks_path: Path) -> None:
    from pyspark.sql import functions as F

    ctx = _context(spark, clicks_path)
    slow = check(EXERCISE, pushdown.slow_day_summary, context=ctx, show=False)
    assert not slow.passed and slow.attempted and "PushedFilters" in slow.message

    def drops_a_row(spark: Any, path: str, day: str) -> Any:
        return pushdown.fast_day_summary(spark, path, day).where(F.col("event_type") != "purchase")

    assert "differ" in check(EXERCISE, drops_a_row, context=ctx, show=False).message

    def precomputed(spark: Any, path: str, day: str) -> Any:
        return spark.createDataFrame(pushdown.slow_day_summary(spark, path, day).collect())

    assert "does not scan" in check(EXERCISE, precomputed, context=ctx, show=False).message

    def rows_not_frame(spark: Any, path: str, day: str) -> Any:
        return pushdown.fast_day_summary(spark, path, day).collect()

    assert "DataFrame" in check(EXERCISE, rows_not_frame, context=ctx, show=False).message


def test_the_byte_threshold_is_enforced_when_bytes_are_measured(monkeypatch: pytest.MonkeyPatch, spark: Any,
                                                                clicks_path: Path) -> None:
    real = pushdown.measure_scan

    def pretend_measured(*args: Any, **kwargs: Any) -> ScanReport:
        report = real(*args, **kwargs)
        return ScanReport(report.label, report.wall_s, 5000, report.input_records, report.result_rows, report.scans)

    monkeypatch.setattr(pushdown, "measure_scan", pretend_measured)
    ctx = {**_context(spark, clicks_path), "max_bytes": 4000.0}
    result = check(EXERCISE, pushdown.fast_day_summary, context=ctx, show=False)
    assert not result.passed and "threshold" in result.message


def test_the_stub_is_not_attempted_and_context_is_required(spark: Any, clicks_path: Path) -> None:
    def stub(spark: Any, path: str, day: str) -> Any:
        raise NotImplementedError

    result = check(EXERCISE, stub, context=_context(spark, clicks_path), show=False)
    assert not result.passed and not result.attempted
    with pytest.raises(GradingError, match="max_bytes"):
        check(EXERCISE, stub, context={**_context(spark, clicks_path), "max_bytes": "a lot"}, show=False)
