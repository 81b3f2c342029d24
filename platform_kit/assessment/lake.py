"""On-premises vs hybrid vs cloud-native data lake: cost over a horizon and a sovereignty verdict.

The model compares four options (:data:`OPTIONS`) for one set of datasets:

* ``on-prem``: everything stays in the existing data centre;
* ``hybrid``: datasets with a residency rule or PII stay on-prem, the rest goes to the cloud,
  and data moved between the two sites pays egress;
* ``cloud-single``: everything in one cloud region;
* ``cloud-multi``: each dataset in the first region (primary, then extra) its rule allows.

Each option gets a cost breakdown (storage, compute, egress, hardware capex, ops staff; see
:mod:`platform_kit.assessment._lake_costs` for the formulas) and a verdict per dataset (does
its residency rule hold where the option stores it). The recommendation is the cheapest
option whose every dataset complies (and whose capex fits a budget, when one is given)::

    from platform_kit.assessment import lake
    costs, verdicts = lake.compare_lake_options(inputs)
    lake.recommend_option(costs, verdicts)                   # 'cloud-multi'

Default prices are illustrative list prices seen in 2025-01 (:data:`PRICES_AS_OF`), not quotes:
replace them with your own contract's numbers.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.assessment._lake_company import (
    PRODUCTION_GROWTH_PCT,
    PRODUCTION_ROWS,
    company_datasets,
    measure_bytes_per_row,
)
from platform_kit.assessment._lake_costs import COST_COLUMNS, OPTIONS, cost_options, place_datasets
from platform_kit.assessment._lake_inputs import (
    CLOUD_REGIONS,
    PRICES_AS_OF,
    RESIDENCY_ZONES,
    CloudPrices,
    ComputeProfile,
    Dataset,
    Egress,
    LakeInputs,
    OnPremSite,
    Staff,
    parse_residency,
    residency_allows,
)
from platform_kit.errors import ConfigError

__all__ = [
    "CLOUD_REGIONS",
    "COST_COLUMNS",
    "OPTIONS",
    "PRICES_AS_OF",
    "PRODUCTION_GROWTH_PCT",
    "PRODUCTION_ROWS",
    "RESIDENCY_ZONES",
    "CloudPrices",
    "ComputeProfile",
    "Dataset",
    "Egress",
    "LakeInputs",
    "OnPremSite",
    "Staff",
    "company_datasets",
    "company_lake_inputs",
    "compare_lake_options",
    "cost_options",
    "egress_sensitivity",
    "egress_widget",
    "measure_bytes_per_row",
    "parse_residency",
    "place_datasets",
    "plot_egress_sensitivity",
    "recommend_option",
    "recommendation_flips",
    "residency_allows",
    "summarise_sovereignty",
]


def company_lake_inputs(datasets: Sequence[Dataset], **overrides: Any) -> LakeInputs:
    """Lake inputs for Northwind Outfitters with illustrative defaults (2025-01 list prices).

    Defaults: 40 TB/month egress at $0.09/GB, 150k bursty vCPU-hours a month (peak 3x mean),
    a site in Germany with 400 TB usable and 256 vCPUs owned ($180k left to depreciate),
    primary region ``us-east`` and ``eu-central`` for the multi-region option.

    Args:
        datasets: From :func:`company_datasets`.
        **overrides: Any :class:`LakeInputs` field (``egress=Egress(...)``, ``years=5``...).

    Introduced in: Lab 1 (assessment).
    """
    fields: dict[str, Any] = {
        "datasets": tuple(datasets),
        "egress": Egress(tb_per_month=40.0, usd_per_gb=0.09),
        "compute": ComputeProfile(vcpu_hours_per_month=150_000, pattern="bursty", peak_to_mean=3.0),
        "site": OnPremSite(
            country="DE", usable_capacity_tb=400.0, owned_vcpus=256, remaining_depreciation_usd=180_000.0
        ),
    }
    fields.update(overrides)
    return LakeInputs(**fields)


def summarise_sovereignty(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Per option: compliant only when every dataset is, and which datasets violate.

    Args:
        verdicts: Output of :func:`place_datasets` (``option, dataset, compliant`` at least).

    Returns:
        ``option, compliant, violations`` (comma-separated dataset names, ``""`` when none).

    Introduced in: Lab 1 (assessment).
    """
    missing = {"option", "dataset", "compliant"} - set(verdicts.columns)
    if missing:
        raise ConfigError(
            f"verdicts lack columns {sorted(missing)}", fix="pass the output of place_datasets()"
        )
    grouped = verdicts.groupby("option", sort=False)
    return pd.DataFrame(
        {
            "compliant": grouped["compliant"].all(),
            "violations": grouped.apply(
                lambda g: ", ".join(g.loc[~g["compliant"], "dataset"]), include_groups=False
            ),
        }
    ).reset_index()


def recommend_option(
    costs: pd.DataFrame, verdicts: pd.DataFrame, max_capex_usd: float | None = None
) -> str | None:
    """The cheapest option that is sovereignty-compliant and whose capex fits the budget.

    Args:
        costs: Output of :func:`cost_options` (``option, total_usd, hardware_usd``).
        verdicts: Output of :func:`place_datasets`.
        max_capex_usd: Capital budget: options with ``hardware_usd`` above it are out
            (``None``: no cap).

    Returns:
        The option name, or ``None`` when no option is both compliant and affordable.

    Introduced in: Lab 1 (assessment).
    """
    if max_capex_usd is not None and (
        isinstance(max_capex_usd, bool) or not math.isfinite(max_capex_usd) or max_capex_usd < 0
    ):
        raise ConfigError(
            f"max_capex_usd must be a non-negative number or None, got {max_capex_usd!r}",
            fix="pass the capital budget in USD, or None for no cap",
        )
    compliant = summarise_sovereignty(verdicts).set_index("option")["compliant"]
    table = costs.set_index("option")
    ok = table.index.isin(compliant[compliant].index)
    if max_capex_usd is not None:
        ok &= table["hardware_usd"].to_numpy() <= max_capex_usd
    candidates = table.loc[ok, "total_usd"]
    return None if candidates.empty else str(candidates.idxmin())


def compare_lake_options(inputs: LakeInputs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Costs (one row per option) and verdicts (one row per option and dataset).

    Introduced in: Lab 1 (assessment).
    """
    verdicts = place_datasets(inputs)
    return cost_options(inputs, verdicts), verdicts


def egress_sensitivity(
    inputs: LakeInputs, prices: Sequence[float], max_capex_usd: float | None = None
) -> pd.DataFrame:
    """Total cost of each option as the egress price varies, and the recommendation at each price.

    Args:
        inputs: Base inputs (only the egress price changes).
        prices: Egress prices in USD/GB.
        max_capex_usd: Capital budget passed to :func:`recommend_option`.

    Returns:
        Tidy rows ``usd_per_gb, option, total_usd, compliant, recommended``.

    Introduced in: Lab 1 (assessment).
    """
    if len(prices) == 0:
        raise ConfigError("no egress prices given", fix="pass a range such as numpy.linspace(0, 0.2, 41)")
    verdicts = place_datasets(inputs)  # placement does not depend on price
    compliant = summarise_sovereignty(verdicts).set_index("option")["compliant"]
    base = cost_options(inputs, verdicts)
    recommend_option(base, verdicts, max_capex_usd)  # validates the budget
    # Cost is linear in the egress price: only egress_gb * price changes
    # (tested against a full recomputation).
    fixed = (base["total_usd"] - base["egress_gb"] * inputs.egress.usd_per_gb).to_numpy()
    feasible = base["option"].map(compliant).fillna(False).to_numpy(dtype=bool)
    if max_capex_usd is not None:
        feasible &= base["hardware_usd"].to_numpy() <= max_capex_usd
    frames = []
    for price in prices:
        inputs.with_egress_price(float(price))  # validates the price
        totals = fixed + base["egress_gb"].to_numpy() * float(price)
        recommended = np.zeros(len(base), dtype=bool)
        if feasible.any():
            recommended[np.flatnonzero(feasible)[np.argmin(totals[feasible])]] = True
        frames.append(
            pd.DataFrame(
                {
                    "usd_per_gb": float(price),
                    "option": base["option"].to_numpy(),
                    "total_usd": totals,
                    "compliant": base["option"].map(compliant).to_numpy(),
                    "recommended": recommended,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def recommendation_flips(sensitivity: pd.DataFrame) -> pd.DataFrame:
    """Prices where the recommended option changes (from :func:`egress_sensitivity`).

    Returns:
        ``usd_per_gb, from_option, to_option`` (empty when it never changes).

    Introduced in: Lab 1 (assessment).
    """
    best = sensitivity[sensitivity["recommended"]].sort_values("usd_per_gb").set_index("usd_per_gb")["option"]
    changes = best[best.ne(best.shift()) & best.shift().notna()]
    return pd.DataFrame(
        {
            "usd_per_gb": changes.index.to_numpy(dtype=float),
            "from_option": best.shift().loc[changes.index].to_numpy(),
            "to_option": changes.to_numpy(),
        }
    )


def plot_egress_sensitivity(
    sensitivity: pd.DataFrame, ax: Any = None, marker_price: float | None = None
) -> Any:
    """Line plot of total cost vs egress price; non-compliant options dashed, flips marked.

    Returns:
        The matplotlib Axes.

    Introduced in: Lab 1 (assessment).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for option, group in sensitivity.groupby("option", sort=False):
        compliant = bool(group["compliant"].iloc[0])
        ax.plot(
            group["usd_per_gb"],
            group["total_usd"] / 1e6,
            linestyle="-" if compliant else "--",
            label=option + ("" if compliant else " (violates residency)"),
        )
    for price in recommendation_flips(sensitivity)["usd_per_gb"]:
        ax.axvline(price, color="grey", linewidth=0.8, linestyle=":")
    if marker_price is not None:
        ax.axvline(marker_price, color="black", linewidth=1.0)
    ax.set_xlabel("egress price (USD/GB)")
    ax.set_ylabel("total cost over the horizon (M USD)")
    ax.set_title("Lake options vs egress price (dotted: the recommendation flips)")
    ax.legend(fontsize=8)
    return ax


def egress_widget(inputs: LakeInputs, prices: Sequence[float]) -> Any:
    """An ipywidgets slider over egress price showing each option's cost and the recommendation.

    Display only: nothing is computed until the slider moves (so a headless run keeps the
    defaults and pays nothing), and ``None`` comes back when headless or when ipywidgets is
    not installed (see :func:`platform_kit.notebooks.widgets_enabled`).

    Introduced in: Lab 1 (assessment).
    """
    from platform_kit.notebooks._widgets import widgets_enabled

    if not widgets_enabled():
        return None
    import ipywidgets as widgets

    slider = widgets.FloatSlider(
        value=inputs.egress.usd_per_gb,
        min=float(min(prices)),
        max=float(max(prices)),
        step=0.005,
        description="egress $/GB",
        readout_format=".3f",
        continuous_update=False,
    )
    label = widgets.HTML(value="move the slider to recompute the recommendation")

    def update(change: dict[str, Any]) -> None:
        price = float(change["new"])
        costs, verdicts = compare_lake_options(inputs.with_egress_price(price))
        best = recommend_option(costs, verdicts)
        totals = ", ".join(f"{row.option}: {row.total_usd / 1e6:.2f} M" for row in costs.itertuples())
        label.value = f"at ${price:.3f}/GB: <b>{best}</b> (totals {totals})"

    slider.observe(update, names="value")
    return widgets.VBox([slider, label])
