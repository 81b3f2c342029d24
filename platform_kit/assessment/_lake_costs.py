"""Pure cost and sovereignty model of the four lake options (no engine, no I/O).

Formulas (years ``y = 1..Y``, TB = 10^12 bytes, GB = 10^9 bytes, 730 hours a month):

* size of a dataset in year ``y``: ``size_tb * (1 + growth/100) ** (y - 1)``, held all year;
* cloud storage: ``sum_y cloud_tb(y) * 1000 * storage_usd_per_gb_month * 12``;
* on-prem storage (options that keep the site): power/colo on the provisioned capacity,
  ``sum_y max(usable_capacity_tb, onprem_tb(y)) * power_colo_usd_per_tb_month * 12``
  (the whole existing array stays powered), plus expansion capex
  ``max(0, max_y onprem_tb(y) - usable_capacity_tb) * expansion_usd_per_tb`` in ``hardware``;
* compute follows the data: the on-prem share ``f`` of compute is the on-prem share of
  year-1 data. Cloud: ``(1 - f) * vcpu_hours * 12 * Y * vcpu_usd_per_hour``. On-prem is sized for
  the peak, ``need = f * vcpu_hours / 730 * peak_factor`` vCPUs: capex
  ``max(0, need - owned_vcpus) * vcpu_capex_usd`` (in ``hardware``) and power
  ``max(need, owned_vcpus) * power_usd_per_vcpu_month * 12 * Y``;
* egress: consumers read data where it lives, so ``egress_tb * cloud_share * 1000 * price * 12 * Y``
  (on-prem transit is part of the colo fee); when data is split, ``cross_site_tb_per_month`` is
  also paid: at the egress price for hybrid, at the inter-region price for multi-region;
* ops: ``fte * fte_usd_per_year * Y``;
* the site's remaining depreciation is sunk: reported in ``sunk_usd``, never in ``total_usd``.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math

import pandas as pd

from platform_kit.assessment._lake_inputs import CLOUD_REGIONS, Dataset, LakeInputs, residency_allows

__all__ = ["COST_COLUMNS", "OPTIONS", "cost_options", "place_datasets"]

#: The options compared, in display order.
OPTIONS: dict[str, str] = {
    "on-prem": "everything in the existing data centre",
    "hybrid": "restricted (resident/PII) data on-prem, the rest in the primary cloud region",
    "cloud-single": "everything in the primary cloud region",
    "cloud-multi": "each dataset in the first allowed region among primary + extra regions",
}
#: Cost components, each in USD over the horizon; ``total_usd`` is their sum.
COST_COLUMNS = ("storage_usd", "compute_usd", "egress_usd", "hardware_usd", "ops_usd")
_HOURS_PER_MONTH = 730.0


def _location(inputs: LakeInputs, option: str, dataset: Dataset) -> tuple[str, str]:
    """(location label, country) where ``option`` stores ``dataset``."""
    site = ("on-prem", inputs.site.country)
    primary = (inputs.primary_region, CLOUD_REGIONS[inputs.primary_region])
    if option == "on-prem" or (option == "hybrid" and dataset.restricted):
        return site
    if option == "cloud-multi":
        for region in (inputs.primary_region, *inputs.extra_regions):
            if residency_allows(dataset.residency, CLOUD_REGIONS[region]):
                return region, CLOUD_REGIONS[region]
    return primary


def place_datasets(inputs: LakeInputs) -> pd.DataFrame:
    """Where each option stores each dataset, and whether its residency rule holds there.

    Args:
        inputs: The model inputs.

    Returns:
        One row per (option, dataset): ``option, dataset, residency, sensitivity, size_tb,
        location, country, compliant``.

    Introduced in: Lab 1 (assessment).
    """
    rows = []
    for option in OPTIONS:
        for dataset in inputs.datasets:
            location, country = _location(inputs, option, dataset)
            rows.append(
                {
                    "option": option,
                    "dataset": dataset.name,
                    "residency": dataset.residency,
                    "sensitivity": dataset.sensitivity,
                    "size_tb": dataset.size_tb,
                    "location": location,
                    "country": country,
                    "compliant": residency_allows(dataset.residency, country),
                }
            )
    return pd.DataFrame(rows)


def _sizes_by_year(inputs: LakeInputs) -> pd.DataFrame:
    """TB per dataset (rows) and year 1..Y (columns)."""
    return pd.DataFrame(
        {
            y: [d.size_tb * (1 + d.growth_pct_per_year / 100) ** (y - 1) for d in inputs.datasets]
            for y in range(1, inputs.years + 1)
        },
        index=[d.name for d in inputs.datasets],
    )


def _option_costs(
    inputs: LakeInputs, option: str, placement: pd.DataFrame, sizes: pd.DataFrame
) -> dict[str, float]:
    years = inputs.years
    on_site = placement.set_index("dataset")["location"].eq("on-prem").reindex(sizes.index)
    onprem_tb = sizes[on_site].sum(axis=0)  # per year
    cloud_tb = sizes[~on_site].sum(axis=0)
    total_y1 = float(sizes[1].sum())
    onprem_share = float(onprem_tb[1]) / total_y1 if total_y1 > 0 else (1.0 if option == "on-prem" else 0.0)
    keeps_site = option in ("on-prem", "hybrid")
    site, cloud, compute = inputs.site, inputs.cloud, inputs.compute

    storage = float(cloud_tb.sum()) * 1000 * cloud.storage_usd_per_gb_month * 12
    hardware = 0.0
    compute_usd = (1 - onprem_share) * compute.vcpu_hours_per_month * 12 * years * cloud.vcpu_usd_per_hour
    if keeps_site:
        provisioned = onprem_tb.clip(lower=site.usable_capacity_tb)
        storage += float(provisioned.sum()) * site.power_colo_usd_per_tb_month * 12
        hardware += max(0.0, float(onprem_tb.max()) - site.usable_capacity_tb) * site.expansion_usd_per_tb
        need = math.ceil(onprem_share * compute.vcpu_hours_per_month / _HOURS_PER_MONTH * compute.peak_factor)
        hardware += max(0, need - site.owned_vcpus) * site.vcpu_capex_usd
        compute_usd += max(need, site.owned_vcpus) * site.power_usd_per_vcpu_month * 12 * years

    months = 12 * years
    egress_gb = inputs.egress.tb_per_month * (1 - onprem_share) * 1000 * months  # billed at the egress price
    egress = 0.0
    split = placement["location"].nunique() > 1
    if split and option == "hybrid":
        egress_gb += inputs.cross_site_tb_per_month * 1000 * months
    elif split and option == "cloud-multi":
        egress += inputs.cross_site_tb_per_month * 1000 * cloud.inter_region_usd_per_gb * months
    egress += egress_gb * inputs.egress.usd_per_gb

    fte = {
        "on-prem": inputs.staff.onprem_fte,
        "hybrid": inputs.staff.hybrid_fte,
        "cloud-single": inputs.staff.cloud_fte,
        "cloud-multi": inputs.staff.cloud_multi_region_fte,
    }[option]
    ops = fte * inputs.staff.fte_usd_per_year * years
    return {
        "storage_usd": storage,
        "compute_usd": compute_usd,
        "egress_usd": egress,
        "hardware_usd": hardware,
        "ops_usd": ops,
        "egress_gb": egress_gb,
        "onprem_tb_final": float(onprem_tb.iloc[-1]),
        "cloud_tb_final": float(cloud_tb.iloc[-1]),
    }


def cost_options(inputs: LakeInputs, placements: pd.DataFrame | None = None) -> pd.DataFrame:
    """Cost of every option over ``inputs.years``, broken down by component.

    Args:
        inputs: The model inputs.
        placements: Output of :func:`place_datasets` (computed when omitted).

    Returns:
        One row per option: ``option, description, storage_usd, compute_usd, egress_usd,
        hardware_usd, ops_usd, total_usd, egress_gb`` (GB billed at the egress price over the
        horizon), ``sunk_usd, onprem_tb_final, cloud_tb_final, years``.

    Introduced in: Lab 1 (assessment).
    """
    placements = place_datasets(inputs) if placements is None else placements
    sizes = _sizes_by_year(inputs)
    rows = []
    for option, description in OPTIONS.items():
        parts = _option_costs(inputs, option, placements[placements["option"] == option], sizes)
        total = sum(parts[c] for c in COST_COLUMNS)
        rows.append(
            {
                "option": option,
                "description": description,
                **{c: parts[c] for c in COST_COLUMNS},
                "total_usd": total,
                "egress_gb": parts["egress_gb"],
                "sunk_usd": inputs.site.remaining_depreciation_usd,
                "onprem_tb_final": parts["onprem_tb_final"],
                "cloud_tb_final": parts["cloud_tb_final"],
                "years": inputs.years,
            }
        )
    return pd.DataFrame(rows)
