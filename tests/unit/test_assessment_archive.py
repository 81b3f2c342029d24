"""Archive TCO model (Lab 1, section 6): DFS vs object tiers, break-even, the S3-vs-local timing, exercise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from platform_kit import Workbench
from platform_kit.assessment import archive
from platform_kit.assessment.archive import (
    ArchiveWorkload,
    DfsOption,
    ObjectTier,
    archive_tco,
    breakeven_year,
)
from platform_kit.errors import ConfigError
from platform_kit.grading import check

TIER = ObjectTier(
    name="obj",
    storage_usd_per_gb_month=0.01,
    put_usd_per_1k=0.005,
    get_usd_per_1k=0.0004,
    retrieval_usd_per_gb=0.02,
    ops_fte=0.1,
    fte_usd_per_year=100_000,
)
DFS = DfsOption(
    name="dfs",
    data_units=6,
    parity_units=3,
    node_usd=10_000,
    disks_per_node=10,
    disk_tb=10,
    fill_ratio=1.0,
    power_colo_usd_per_node_month=100,
    refresh_years=3,
    fte_base=1,
    fte_per_pb_raw=0.0,
    fte_usd_per_year=100_000,
)


def _table(annual: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for option, values in annual.items():
        total = 0.0
        for year, value in enumerate(values, start=1):
            total += value
            rows.append({"year": year, "option": option, "annual_usd": value, "cumulative_usd": total})
    return pd.DataFrame(rows)


# --- pure formulas ------------------------------------------------------------------------
def test_object_tier_year_by_hand() -> None:
    workload = ArchiveWorkload(
        initial_tb=100,
        growth_pct_per_year=0,
        years=2,
        avg_object_mb=100,
        gets_per_month=1000,
        retrieved_pct_per_month=1,
    )
    tco = archive_tco(workload, dfs_options=[], tiers=[TIER]).set_index("year")
    # storage 100 TB * 1000 GB * 0.01 * 12 = 12,000; PUTs: 100e6 MB / 100 MB = 1e6 -> 5.0; GETs 12k -> 0.0048
    # retrieval 100,000 GB * 1% * 12 * 0.02 = 240; ops 10,000
    assert tco.loc[1, "storage_usd"] == pytest.approx(12_000)
    assert tco.loc[1, "requests_usd"] == pytest.approx(5.0 + 12 * 0.0004)
    assert tco.loc[2, "requests_usd"] == pytest.approx(12 * 0.0004)  # nothing new written
    assert tco.loc[1, "retrieval_usd"] == pytest.approx(240)
    assert tco.loc[1, "annual_usd"] == pytest.approx(12_000 + 5.0048 + 240 + 10_000)
    assert tco.loc[2, "cumulative_usd"] == pytest.approx(tco.loc[1, "annual_usd"] + tco.loc[2, "annual_usd"])


def test_dfs_nodes_capex_and_refresh_by_hand() -> None:
    workload = ArchiveWorkload(initial_tb=800, growth_pct_per_year=50, years=4)
    tco = archive_tco(workload, dfs_options=[DFS], tiers=[]).set_index("year")
    # raw = stored * 1.5; 100 TB per node. y1: 800 -> 1200 raw -> 12 nodes; y2: 1200 -> 18; y3: 1800 -> 27
    assert list(tco["nodes"]) == [12, 18, 27, 41]  # y4: 2700 * 1.5 = 4050 -> 41
    # capex: y1 12 new; y2 6; y3 9; y4 14 new + the 12 from year 1 refreshed after 3 years
    assert list(tco["capex_usd"]) == [120_000, 60_000, 90_000, (14 + 12) * 10_000]
    assert tco.loc[1, "storage_usd"] == pytest.approx(12 * 100 * 12)
    assert tco.loc[1, "ops_usd"] == pytest.approx(100_000)
    assert (tco["requests_usd"] == 0).all()


def test_minimum_nodes_for_the_layout() -> None:
    tiny = ArchiveWorkload(initial_tb=1, growth_pct_per_year=0, years=1)
    assert archive_tco(tiny, dfs_options=[DFS], tiers=[])["nodes"].iloc[0] == 9  # RS-6-3 needs 9 nodes
    assert DfsOption(name="r3", data_units=1, parity_units=2).overhead == 3.0
    assert DFS.overhead == 1.5


def test_years_are_numbered_from_one_and_cumulative_never_decreases() -> None:
    tco = archive_tco(ArchiveWorkload(initial_tb=500, years=6))
    assert sorted(tco["year"].unique()) == [1, 2, 3, 4, 5, 6]
    for _, group in tco.groupby("option"):
        assert group["cumulative_usd"].diff().dropna().ge(0).all()


def test_more_retrieval_never_cheaper() -> None:
    low = archive_tco(ArchiveWorkload(initial_tb=500, retrieved_pct_per_month=1))
    high = archive_tco(ArchiveWorkload(initial_tb=500, retrieved_pct_per_month=20))
    assert (high["cumulative_usd"].to_numpy() >= low["cumulative_usd"].to_numpy() - 1e-9).all()


@pytest.mark.parametrize(
    ("annual", "expected"),
    [
        ({"a": [100, 100, 100, 100], "b": [250, 40, 40, 40]}, 4),
        ({"a": [100, 100, 100], "b": [400, 40, 40]}, None),
        ({"a": [100, 100], "b": [90, 95]}, 1),
        ({"a": [100, 100, 100, 100], "b": [200, 50, 50, 40]}, 4),  # equal in year 3 is not below
    ],
)
def test_breakeven_year_by_hand(annual: dict[str, list[float]], expected: int | None) -> None:
    table = _table(annual)
    assert breakeven_year(table, "a", "b") == expected
    assert breakeven_year(table.sample(frac=1.0, random_state=1), "a", "b") == expected  # order-independent


def test_breakeven_table_for_default_options() -> None:
    tco = archive_tco(ArchiveWorkload(initial_tb=1000, years=7))
    table = archive.breakeven_table(tco, "object-standard").set_index("option")
    assert table.loc["dfs-rs-6-3", "breakeven_year"] == 3
    assert pd.isna(table.loc["dfs-rep3", "breakeven_year"])
    assert set(archive.option_summary()["option"]) == set(tco["option"])


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factory", "needle"),
    [
        (lambda: ArchiveWorkload(initial_tb=-1), "initial_tb"),
        (lambda: ArchiveWorkload(initial_tb=10, years=0), "years"),
        (lambda: ArchiveWorkload(initial_tb=10, retrieved_pct_per_month=150), "retrieved_pct_per_month"),
        (lambda: ArchiveWorkload(initial_tb=10, avg_object_mb=0), "avg_object_mb"),
        (lambda: DfsOption(name="x", data_units=0, parity_units=3), "data_units"),
        (lambda: DfsOption(name="x", data_units=6, parity_units=3, fill_ratio=1.2), "fill_ratio"),
        (
            lambda: ObjectTier(name="x", storage_usd_per_gb_month=-0.01, put_usd_per_1k=0, get_usd_per_1k=0),
            "storage_usd_per_gb_month",
        ),
        (lambda: ArchiveWorkload(initial_tb=10, tier="gold"), "tier"),
    ],
)
def test_bad_inputs_are_clear_config_errors(factory: object, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        factory()  # type: ignore[operator]
    assert info.value.fix


def test_bad_breakeven_calls() -> None:
    table = _table({"a": [1, 2], "b": [2, 1]})
    with pytest.raises(ConfigError, match="not in the table"):
        breakeven_year(table, "a", "zzz")
    with pytest.raises(ConfigError, match="cumulative_usd"):
        breakeven_year(table.drop(columns="cumulative_usd"), "a", "b")
    with pytest.raises(ConfigError, match="unique"):
        archive_tco(
            ArchiveWorkload(initial_tb=1), dfs_options=[DFS], tiers=[TIER.model_copy(update={"name": "dfs"})]
        )


# --- measurement: S3 store vs local files -----------------------------------------------------
def test_measure_backend_on_local_files(tmp_path: Path) -> None:
    result = archive.measure_backend(archive.local_backend(tmp_path / "x"), n_small=5, n_large=1, large_mib=1)
    assert list(result["operation"]) == ["put_small", "list", "get_small", "get_large"]
    assert (result[["p50_ms", "p95_ms", "total_s"]] >= 0).all().all()
    with pytest.raises(ConfigError, match="n_small"):
        archive.measure_backend(archive.local_backend(tmp_path / "y"), n_small=0)


def test_measure_backend_detects_a_lossy_store(tmp_path: Path) -> None:
    from platform_kit.errors import ServiceError

    good = archive.local_backend(tmp_path / "z")
    lossy = archive.Backend("lossy", good.put, lambda key: b"", good.list_keys, good.cleanup)
    with pytest.raises(ServiceError, match="other bytes"):
        archive.measure_backend(lossy, n_small=2, n_large=1, large_mib=1)


@pytest.fixture(scope="module")
def moto_workbench() -> Iterator[Workbench]:
    workbench = Workbench("embedded")
    yield workbench
    workbench.close()


def test_s3_vs_local_timings_are_sane(moto_workbench: Workbench, tmp_path: Path) -> None:
    result = archive.compare_store_latency(
        moto_workbench.store, tmp_path, n_small=8, n_large=1, large_mib=1, list_repeats=2
    )
    assert set(result["backend"]) == {"S3 store", "local files"}
    assert len(result) == 8
    assert (result["p50_ms"] > 0).all() and (result["p95_ms"] >= result["p50_ms"]).all()
    large = result[result["operation"] == "get_large"]
    assert (large["mb_per_s"] > 0).all()
    client = moto_workbench.store.client()
    left = client.list_objects_v2(Bucket="lake", Prefix="assessment/archive-bench-").get("KeyCount", 0)
    assert left == 0  # cleaned up
    assert not any(tmp_path.iterdir())


# --- exercise --------------------------------------------------------------------------------
def _context() -> dict[str, object]:
    return {"tco": archive_tco(ArchiveWorkload(initial_tb=1000, years=7))}


def _by_position(table: pd.DataFrame, a: str, b: str) -> int | None:
    wide = table.pivot(index="year", columns="option", values="cumulative_usd").sort_index()
    hits = [i for i, (x, y) in enumerate(zip(wide[a], wide[b], strict=True)) if y < x]
    return hits[0] if hits else None


def _annual(table: pd.DataFrame, a: str, b: str) -> int | None:
    wide = table.pivot(index="year", columns="option", values="annual_usd").sort_index()
    years = wide.index[wide[b] < wide[a]]
    return int(years[0]) if len(years) else None


def _not_strict(table: pd.DataFrame, a: str, b: str) -> int | None:
    wide = table.pivot(index="year", columns="option", values="cumulative_usd").sort_index()
    years = wide.index[wide[b] <= wide[a]]
    return int(years[0]) if len(years) else None


def test_exercise_accepts_the_reference() -> None:
    assert check("assessment.archive_breakeven", breakeven_year, context=_context(), show=False).passed


@pytest.mark.parametrize("wrong", [_by_position, _annual, _not_strict])
def test_exercise_rejects_wrong_answers(wrong: object) -> None:
    result = check("assessment.archive_breakeven", wrong, context=_context(), show=False)
    assert not result.passed and result.attempted


def test_exercise_messages_name_the_mistake() -> None:
    assert (
        "1..N" in check("assessment.archive_breakeven", _by_position, context=_context(), show=False).message
    )
    assert (
        "cumulative" in check("assessment.archive_breakeven", _annual, context=_context(), show=False).message
    )
