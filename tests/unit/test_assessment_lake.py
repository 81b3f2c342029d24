"""Lake placement model (Lab 1, section 2): formulas, sovereignty, validation, the exercise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from platform_kit import Workbench
from platform_kit.assessment import lake
from platform_kit.assessment.lake import (
    ComputeProfile,
    Dataset,
    Egress,
    LakeInputs,
    OnPremSite,
    Staff,
    compare_lake_options,
    recommend_option,
)
from platform_kit.datasets import generate_company
from platform_kit.errors import ConfigError
from platform_kit.grading import check

STAFF = Staff(fte_usd_per_year=100.0, onprem_fte=3, hybrid_fte=4, cloud_fte=1, cloud_multi_region_fte=2)


def _inputs(datasets: tuple[Dataset, ...] | None = None, **overrides: object) -> LakeInputs:
    fields: dict[str, object] = {
        "datasets": datasets or (Dataset(name="events", size_tb=10),),
        "egress": Egress(tb_per_month=1, usd_per_gb=0.1),
        "compute": ComputeProfile(vcpu_hours_per_month=0),
        "site": OnPremSite(country="DE", usable_capacity_tb=5, owned_vcpus=0),
        "staff": STAFF,
        "years": 1,
        "cross_site_tb_per_month": 0,
    }
    fields.update(overrides)
    return LakeInputs(**fields)


def _row(costs: pd.DataFrame, option: str) -> pd.Series:
    return costs.set_index("option").loc[option]


# --- pure formulas ------------------------------------------------------------------------
def test_cloud_single_costs_by_hand() -> None:
    costs, _ = compare_lake_options(_inputs())
    row = _row(costs, "cloud-single")
    assert row["storage_usd"] == pytest.approx(10 * 1000 * 0.023 * 12)  # 2760
    assert row["egress_usd"] == pytest.approx(1 * 1000 * 0.1 * 12)  # 1200
    assert row["ops_usd"] == pytest.approx(100.0)
    assert row["hardware_usd"] == 0
    assert row["total_usd"] == pytest.approx(2760 + 1200 + 100)


def test_on_prem_costs_by_hand() -> None:
    costs, _ = compare_lake_options(_inputs())
    row = _row(costs, "on-prem")
    assert row["hardware_usd"] == pytest.approx((10 - 5) * 120)  # expansion capex
    assert row["storage_usd"] == pytest.approx(10 * 5.0 * 12)  # power/colo on provisioned TB
    assert row["egress_usd"] == 0
    assert row["ops_usd"] == pytest.approx(300.0)


def test_growth_compounds_per_year() -> None:
    inputs = _inputs((Dataset(name="events", size_tb=10, growth_pct_per_year=100),), years=2)
    row = _row(compare_lake_options(inputs)[0], "cloud-single")
    assert row["storage_usd"] == pytest.approx((10 + 20) * 1000 * 0.023 * 12)


def test_bursty_compute_sizes_owned_hardware_for_the_peak() -> None:
    compute = ComputeProfile(vcpu_hours_per_month=7300, pattern="bursty", peak_to_mean=2)  # 10 mean, 20 peak
    row = _row(compare_lake_options(_inputs(compute=compute))[0], "on-prem")
    assert row["hardware_usd"] == pytest.approx(5 * 120 + 20 * 230)
    assert row["compute_usd"] == pytest.approx(20 * 2.5 * 12)
    cloud = _row(compare_lake_options(_inputs(compute=compute))[0], "cloud-single")
    assert cloud["compute_usd"] == pytest.approx(7300 * 12 * 0.048)
    steady = ComputeProfile(vcpu_hours_per_month=7300, pattern="steady", peak_to_mean=2)
    assert _row(compare_lake_options(_inputs(compute=steady))[0], "on-prem")["hardware_usd"] == pytest.approx(
        5 * 120 + 10 * 230
    )


def test_sunk_depreciation_never_changes_totals() -> None:
    low = compare_lake_options(_inputs())[0]
    site = OnPremSite(country="DE", usable_capacity_tb=5, owned_vcpus=0, remaining_depreciation_usd=1e6)
    high = compare_lake_options(_inputs(site=site))[0]
    pd.testing.assert_series_equal(low["total_usd"], high["total_usd"])
    assert (high["sunk_usd"] == 1e6).all()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("any", ("any", "")),
        ("EU-only", ("zone", "EU")),
        ("eu-only", ("zone", "EU")),
        ("country:de", ("country", "DE")),
        (" country:US ", ("country", "US")),
        ("APAC-only", ("zone", "APAC")),
    ],
)
def test_parse_residency(rule: str, expected: tuple[str, str]) -> None:
    assert lake.parse_residency(rule) == expected


def test_residency_allows() -> None:
    assert lake.residency_allows("EU-only", "DE") and lake.residency_allows("EU-only", "IE")
    assert not lake.residency_allows("EU-only", "US") and not lake.residency_allows("EU-only", "GB")
    assert lake.residency_allows("country:DE", "de") and not lake.residency_allows("country:DE", "IE")
    assert lake.residency_allows("any", "SG")


def test_sovereignty_verdicts_and_placement() -> None:
    datasets = (
        Dataset(name="eu_pii", size_tb=1, residency="EU-only", sensitivity="pii"),
        Dataset(name="de_only", size_tb=1, residency="country:DE"),
        Dataset(name="events", size_tb=8),
    )
    costs, verdicts = compare_lake_options(_inputs(datasets))
    summary = lake.summarise_sovereignty(verdicts).set_index("option")
    assert summary.loc["on-prem", "compliant"] and summary.loc["hybrid", "compliant"]
    assert not summary.loc["cloud-single", "compliant"]
    assert summary.loc["cloud-single", "violations"] == "eu_pii, de_only"
    assert summary.loc["cloud-multi", "compliant"]  # both land in eu-central (Germany)
    placed = verdicts.set_index(["option", "dataset"])["location"]
    assert placed[("hybrid", "eu_pii")] == "on-prem" and placed[("hybrid", "events")] == "us-east"
    assert (
        placed[("cloud-multi", "eu_pii")] == "eu-central" and placed[("cloud-multi", "events")] == "us-east"
    )
    # a site outside the EU breaks on-prem
    us_site = OnPremSite(country="US", usable_capacity_tb=5, owned_vcpus=0)
    summary = lake.summarise_sovereignty(compare_lake_options(_inputs(datasets, site=us_site))[1]).set_index(
        "option"
    )
    assert not summary.loc["on-prem", "compliant"]
    assert set(costs["option"]) == set(lake.OPTIONS)


def test_recommendation_skips_non_compliant_and_over_budget() -> None:
    datasets = (
        Dataset(name="eu_pii", size_tb=1, residency="EU-only", sensitivity="pii"),
        Dataset(name="events", size_tb=8),
    )
    staff = Staff(
        fte_usd_per_year=10_000.0, onprem_fte=3, hybrid_fte=4, cloud_fte=1, cloud_multi_region_fte=2
    )
    costs, verdicts = compare_lake_options(_inputs(datasets, staff=staff))
    totals = costs.set_index("option")["total_usd"]
    assert totals.idxmin() == "cloud-single"  # cheapest, but violates residency
    assert recommend_option(costs, verdicts) == "cloud-multi"
    # on-prem becomes cheapest compliant when cloud staff costs more; a capex cap of 0 rules it out
    costly = costs.assign(total_usd=costs["total_usd"].where(costs["option"] != "on-prem", 1.0))
    assert recommend_option(costly, verdicts) == "on-prem"
    assert recommend_option(costly, verdicts, max_capex_usd=0.0) == "cloud-multi"
    all_bad = verdicts.assign(compliant=False)
    assert recommend_option(costs, all_bad) is None


def test_more_egress_is_never_cheaper() -> None:
    datasets = (Dataset(name="eu_pii", size_tb=1, residency="EU-only"), Dataset(name="events", size_tb=50))
    sensitivity = lake.egress_sensitivity(
        _inputs(datasets, cross_site_tb_per_month=2), np.linspace(0, 0.3, 13)
    )
    for _, group in sensitivity.groupby("option"):
        assert group.sort_values("usd_per_gb")["total_usd"].diff().dropna().ge(-1e-6).all()


def test_sensitivity_matches_a_full_recomputation() -> None:
    datasets = (Dataset(name="eu_pii", size_tb=1, residency="EU-only"), Dataset(name="events", size_tb=50))
    inputs = _inputs(datasets, cross_site_tb_per_month=2, staff=Staff(fte_usd_per_year=10_000.0))
    prices = [0.0, 0.05, 0.12, 0.3]
    sensitivity = lake.egress_sensitivity(inputs, prices, max_capex_usd=100.0)
    for price in prices:
        costs, verdicts = compare_lake_options(inputs.with_egress_price(price))
        rows = sensitivity[sensitivity["usd_per_gb"] == price].set_index("option")
        pd.testing.assert_series_equal(
            rows["total_usd"], costs.set_index("option")["total_usd"], check_names=False
        )
        best = recommend_option(costs, verdicts, max_capex_usd=100.0)
        assert list(rows.index[rows["recommended"]]) == ([best] if best else [])


def test_recommendation_flips_from_cloud_to_on_prem_as_egress_grows() -> None:
    staff = Staff(
        fte_usd_per_year=10_000.0, onprem_fte=3, hybrid_fte=4, cloud_fte=1, cloud_multi_region_fte=2
    )
    inputs = _inputs(
        (Dataset(name="events", size_tb=10),), egress=Egress(tb_per_month=10, usd_per_gb=0.0), staff=staff
    )
    sensitivity = lake.egress_sensitivity(inputs, np.linspace(0, 0.2, 41))
    flips = lake.recommendation_flips(sensitivity)
    assert len(flips) == 1 and flips.iloc[0]["to_option"] == "on-prem"
    # cloud 2760 + 10000 + 120000 p  vs  on-prem 600 + 600 + 30000: flips just above p = 0.154
    assert flips.iloc[0]["usd_per_gb"] == pytest.approx(0.155)


def test_company_datasets_split_pii_by_customer_region() -> None:
    company = generate_company("tiny", 42)
    bytes_per_row = {name: 100.0 for name in company}
    datasets = {d.name: d for d in lake.company_datasets(company, bytes_per_row)}
    customers = company["customers"]
    eu_share = customers["region"].str.startswith("eu").mean()
    total = lake.PRODUCTION_ROWS["customers"] * 100 / 1e12
    assert datasets["customers_eu"].size_tb == pytest.approx(total * eu_share)
    assert datasets["customers_eu"].residency == "EU-only" and datasets["customers_eu"].sensitivity == "pii"
    assert datasets["customers_other"].residency == "any"
    assert datasets["clickstream"].residency == "any"
    inputs = lake.company_lake_inputs(tuple(datasets.values()))
    costs, verdicts = compare_lake_options(inputs)
    assert recommend_option(costs, verdicts) != "cloud-single"


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"name": "x", "size_tb": -1}, "size_tb"),
        ({"name": "x", "size_tb": 1, "residency": "Europe"}, "residency"),
        ({"name": "x", "size_tb": 1, "residency": "country:Germany"}, "residency"),
        ({"name": "x", "size_tb": 1, "residency": "MARS-only"}, "unknown zone"),
        ({"name": "x", "size_tb": 1, "sensitivity": "secret"}, "sensitivity"),
        ({"name": "", "size_tb": 1}, "name"),
        ({"name": "x", "size_tb": 1, "colour": "red"}, "colour"),
        ({"name": "x", "size_tb": float("nan")}, "size_tb"),
    ],
)
def test_bad_dataset_is_a_clear_config_error(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        Dataset(**kwargs)
    assert info.value.fix


def test_bad_lake_inputs() -> None:
    with pytest.raises(ConfigError, match="unique"):
        _inputs((Dataset(name="a", size_tb=1), Dataset(name="a", size_tb=2)))
    with pytest.raises(ConfigError, match="unknown cloud region"):
        _inputs(primary_region="moon-1")
    with pytest.raises(ConfigError, match="usd_per_gb"):
        Egress(tb_per_month=1, usd_per_gb=-0.1)
    with pytest.raises(ConfigError, match="country"):
        OnPremSite(country="Germany", usable_capacity_tb=1, owned_vcpus=0)
    with pytest.raises(ConfigError, match="datasets"):
        LakeInputs(
            datasets=(),
            egress=Egress(tb_per_month=1),
            compute=ComputeProfile(vcpu_hours_per_month=0),
            site=OnPremSite(usable_capacity_tb=1, owned_vcpus=0),
        )
    with pytest.raises(ConfigError, match="unknown residency rule format"):
        lake.parse_residency("EU")
    with pytest.raises(ConfigError, match="max_capex_usd"):
        recommend_option(*compare_lake_options(_inputs()), max_capex_usd=-5)
    with pytest.raises(ConfigError, match="no egress prices"):
        lake.egress_sensitivity(_inputs(), [])


def test_inputs_are_frozen() -> None:
    inputs = _inputs()
    with pytest.raises(ValidationError, match="frozen"):
        inputs.years = 5  # type: ignore[misc]


# --- exercise --------------------------------------------------------------------------------
def _context() -> dict[str, object]:
    datasets = (
        Dataset(name="eu_pii", size_tb=1, residency="EU-only", sensitivity="pii"),
        Dataset(name="events", size_tb=40),
    )
    staff = Staff(
        fte_usd_per_year=10_000.0, onprem_fte=3, hybrid_fte=4, cloud_fte=1, cloud_multi_region_fte=2
    )
    inputs = _inputs(datasets, egress=Egress(tb_per_month=20, usd_per_gb=0.09), staff=staff)
    return {"inputs": inputs, "max_capex_usd": 1000.0}


def test_exercise_accepts_the_reference() -> None:
    assert check("assessment.lake_option", recommend_option, context=_context(), show=False).passed


def _cheapest(costs: pd.DataFrame, verdicts: pd.DataFrame, max_capex_usd: float | None) -> str:
    return str(costs.set_index("option")["total_usd"].idxmin())


def _any_compliant(costs: pd.DataFrame, verdicts: pd.DataFrame, max_capex_usd: float | None) -> str | None:
    ok = verdicts.groupby("option")["compliant"].any()
    table = costs[costs["option"].isin(ok[ok].index)]
    if max_capex_usd is not None:
        table = table[table["hardware_usd"] <= max_capex_usd]
    return None if table.empty else str(table.set_index("option")["total_usd"].idxmin())


def _ignores_budget(costs: pd.DataFrame, verdicts: pd.DataFrame, max_capex_usd: float | None) -> str | None:
    return recommend_option(costs, verdicts, None)


@pytest.mark.parametrize("wrong", [_cheapest, _any_compliant, _ignores_budget])
def test_exercise_rejects_shortcuts(wrong: object) -> None:
    result = check("assessment.lake_option", wrong, context=_context(), show=False)
    assert not result.passed and result.attempted


def test_exercise_message_names_the_violation() -> None:
    result = check("assessment.lake_option", _cheapest, context=_context(), show=False)
    assert "residency" in result.message


# --- engine: bytes per row measured through the object store -----------------------------------
def test_measure_bytes_per_row_on_a_store(tmp_path: Path) -> None:
    workbench = Workbench("embedded", overrides={"object_store": {"type": "local", "root": str(tmp_path)}})
    try:
        store = workbench.store
        company = generate_company("tiny", 42)
        tables = {name: company[name] for name in ("customers", "orders")}
        measured = lake.measure_bytes_per_row(store, tables, prefix="sizing")
        assert list(measured["table"]) == ["customers", "orders"]
        assert (measured["parquet_bytes"] > 0).all()
        assert (measured["bytes_per_row"] == measured["parquet_bytes"] / measured["rows"]).all()
        # the same bytes write_parquet stores
        uri = store.write_parquet(company["orders"], "lake", "sizing/orders_by_writer.parquet")
        assert store.filesystem().size(uri) == measured.set_index("table").loc["orders", "parquet_bytes"]
        assert store.read_parquet(measured["uri"].iloc[1]).equals(company["orders"].reset_index(drop=True))
        with pytest.raises(ConfigError, match="empty"):
            lake.measure_bytes_per_row(store, {"empty": company["orders"].head(0)})
    finally:
        workbench.close()
