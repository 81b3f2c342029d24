"""Long-term archive: owned distributed file system vs object storage tiers, cost over N years.

Formulas (years ``y = 1..N``; TB = 10^12 bytes, GB = 10^9, MB = 10^6):

* archive size held during year ``y``: ``stored(y) = initial_tb * (1 + growth/100) ** (y - 1)``;
  written in year ``y``: ``initial_tb`` for ``y = 1``, else ``stored(y) - stored(y - 1)``;
* object tier, per year: storage ``stored * 1000 * price * 12``; requests
  ``written * 10^6 / avg_object_mb / 1000 * put_price + gets_per_month * 12 / 1000 * get_price``;
  retrieval ``stored * 1000 * retrieved_pct / 100 * 12 * retrieval_price``; ops ``ops_fte * fte_usd``;
* DFS, per year: raw bytes ``stored * (data + parity) / data``; nodes
  ``max(data + parity, ceil(raw / (disks * disk_tb * fill_ratio)))``, bought at the start of
  the year they are first needed and bought again every ``refresh_years``; capex = nodes
  bought x ``node_usd``; power/colo ``nodes * usd_per_node_month * 12`` (in ``storage_usd``);
  ops ``(fte_base + fte_per_pb_raw * raw capacity in PB) * fte_usd``; requests are free;
* the break-even year of B against A is the first year ``y`` (1..N) where B's *cumulative*
  cost is strictly below A's; ``None`` when it never is within the horizon.

Default prices are illustrative 2025-01 list prices (:data:`PRICES_AS_OF`), not quotes.
The measurement side (:func:`compare_store_latency`) times LIST/GET on the S3 store and on
local files.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.assessment._archive_bench import (
    Backend,
    compare_store_latency,
    local_backend,
    measure_backend,
    s3_backend,
)
from platform_kit.assessment._archive_inputs import (
    DEFAULT_DFS,
    DEFAULT_TIERS,
    PRICES_AS_OF,
    ArchiveWorkload,
    DfsOption,
    ObjectTier,
)
from platform_kit.errors import ConfigError

__all__ = [
    "DEFAULT_DFS",
    "DEFAULT_TIERS",
    "PRICES_AS_OF",
    "ArchiveWorkload",
    "Backend",
    "DfsOption",
    "ObjectTier",
    "archive_tco",
    "breakeven_table",
    "breakeven_year",
    "compare_store_latency",
    "local_backend",
    "measure_backend",
    "option_summary",
    "plot_cumulative",
    "s3_backend",
]


def _sizes(workload: ArchiveWorkload) -> list[tuple[int, float, float]]:
    """(year, stored_tb, written_tb) for years 1..N."""
    g = 1 + workload.growth_pct_per_year / 100
    rows, previous = [], 0.0
    for year in range(1, workload.years + 1):
        stored = workload.initial_tb * g ** (year - 1)
        rows.append((year, stored, stored - previous))
        previous = stored
    return rows


def _object_rows(workload: ArchiveWorkload, tier: ObjectTier) -> list[dict[str, Any]]:
    rows = []
    for year, stored, written in _sizes(workload):
        puts = written * 1e6 / workload.avg_object_mb
        gets = workload.gets_per_month * 12
        rows.append(
            {
                "year": year,
                "option": tier.name,
                "kind": "object",
                "stored_tb": stored,
                "nodes": math.nan,
                "capex_usd": 0.0,
                "storage_usd": stored * 1000 * tier.storage_usd_per_gb_month * 12,
                "requests_usd": puts / 1000 * tier.put_usd_per_1k + gets / 1000 * tier.get_usd_per_1k,
                "retrieval_usd": stored
                * 1000
                * workload.retrieved_pct_per_month
                / 100
                * 12
                * tier.retrieval_usd_per_gb,
                "ops_usd": tier.ops_fte * tier.fte_usd_per_year,
            }
        )
    return rows


def _dfs_rows(workload: ArchiveWorkload, dfs: DfsOption) -> list[dict[str, Any]]:
    node_tb = dfs.disks_per_node * dfs.disk_tb
    cohorts: list[list[int]] = []  # [year bought, count]
    rows = []
    for year, stored, _ in _sizes(workload):
        bought = 0
        for cohort in cohorts:
            if year - cohort[0] >= dfs.refresh_years:
                bought += cohort[1]
                cohort[0] = year
        needed = max(dfs.min_nodes, math.ceil(stored * dfs.overhead / (node_tb * dfs.fill_ratio) - 1e-9))
        nodes = sum(c[1] for c in cohorts)
        if needed > nodes:
            cohorts.append([year, needed - nodes])
            bought += needed - nodes
            nodes = needed
        raw_pb = nodes * node_tb / 1000
        rows.append(
            {
                "year": year,
                "option": dfs.name,
                "kind": "dfs",
                "stored_tb": stored,
                "nodes": float(nodes),
                "capex_usd": bought * dfs.node_usd,
                "storage_usd": nodes * dfs.power_colo_usd_per_node_month * 12,
                "requests_usd": 0.0,
                "retrieval_usd": 0.0,
                "ops_usd": (dfs.fte_base + dfs.fte_per_pb_raw * raw_pb) * dfs.fte_usd_per_year,
            }
        )
    return rows


def archive_tco(
    workload: ArchiveWorkload,
    dfs_options: Sequence[DfsOption] = DEFAULT_DFS,
    tiers: Sequence[ObjectTier] = DEFAULT_TIERS,
) -> pd.DataFrame:
    """Yearly and cumulative cost of every option.

    Args:
        workload: Size, growth, horizon and access pattern.
        dfs_options: Owned distributed file system layouts.
        tiers: Object storage classes.

    Returns:
        Tidy rows ``year (1..N), option, kind, stored_tb, nodes, capex_usd, storage_usd,
        requests_usd, retrieval_usd, ops_usd, annual_usd, cumulative_usd``.

    Raises:
        ConfigError: No options, or two options with the same name.

    Introduced in: Lab 1 (assessment).
    """
    names = [d.name for d in dfs_options] + [t.name for t in tiers]
    if not names or len(set(names)) != len(names):
        raise ConfigError(
            f"options must be non-empty with unique names, got {names}",
            fix="give every DfsOption and ObjectTier its own name",
        )
    rows = [r for d in dfs_options for r in _dfs_rows(workload, d)]
    rows += [r for t in tiers for r in _object_rows(workload, t)]
    frame = pd.DataFrame(rows)
    frame["annual_usd"] = frame[["capex_usd", "storage_usd", "requests_usd", "retrieval_usd", "ops_usd"]].sum(
        axis=1
    )
    frame["cumulative_usd"] = frame.groupby("option", sort=False)["annual_usd"].cumsum()
    return frame


def breakeven_year(cumulative_costs: pd.DataFrame, option_a: str, option_b: str) -> int | None:
    """First year (1..N) where ``option_b``'s cumulative cost is strictly below ``option_a``'s.

    Args:
        cumulative_costs: Rows ``year, option, cumulative_usd`` (e.g. :func:`archive_tco`),
            in any order.
        option_a: The reference option.
        option_b: The option that may become cheaper.

    Returns:
        The year from the ``year`` column, or ``None`` if B never gets cheaper within the horizon.

    Raises:
        ConfigError: Missing columns or an option not in the table.

    Introduced in: Lab 1 (assessment).
    """
    missing = {"year", "option", "cumulative_usd"} - set(cumulative_costs.columns)
    if missing:
        raise ConfigError(
            f"cumulative_costs lacks columns {sorted(missing)}", fix="pass the output of archive_tco()"
        )
    wide = cumulative_costs.pivot(index="year", columns="option", values="cumulative_usd").sort_index()
    for option in (option_a, option_b):
        if option not in wide.columns:
            raise ConfigError(
                f"option {option!r} is not in the table", fix=f"use one of {list(wide.columns)}"
            )
    cheaper = wide.index[wide[option_b] < wide[option_a]]
    return None if len(cheaper) == 0 else int(cheaper[0])


def breakeven_table(tco: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Break-even year of every option against ``baseline``, with cumulative costs at the horizon.

    Returns:
        ``option, breakeven_year (nullable Int64), cumulative_usd (at year N), baseline``.

    Introduced in: Lab 1 (assessment).
    """
    last = tco[tco["year"] == tco["year"].max()].set_index("option")["cumulative_usd"]
    rows = [
        {
            "option": option,
            "breakeven_year": breakeven_year(tco, baseline, option),
            "cumulative_usd": float(last[option]),
            "baseline": baseline,
        }
        for option in tco["option"].unique()
        if option != baseline
    ]
    frame = pd.DataFrame(rows)
    frame["breakeven_year"] = frame["breakeven_year"].astype("Int64")
    return frame


def option_summary(
    dfs_options: Sequence[DfsOption] = DEFAULT_DFS, tiers: Sequence[ObjectTier] = DEFAULT_TIERS
) -> pd.DataFrame:
    """The options' key properties (overhead, prices, retrieval latency) for display.

    Introduced in: Lab 1 (assessment).
    """
    rows = [
        {
            "option": d.name,
            "kind": "dfs",
            "raw_overhead": d.overhead,
            "usd_per_gb_month": math.nan,
            "retrieval_usd_per_gb": 0.0,
            "first_byte_latency": "ms",
        }
        for d in dfs_options
    ]
    rows += [
        {
            "option": t.name,
            "kind": "object",
            "raw_overhead": math.nan,
            "usd_per_gb_month": t.storage_usd_per_gb_month,
            "retrieval_usd_per_gb": t.retrieval_usd_per_gb,
            "first_byte_latency": t.first_byte_latency,
        }
        for t in tiers
    ]
    return pd.DataFrame(rows)


def plot_cumulative(tco: pd.DataFrame, ax: Any = None) -> Any:
    """Cumulative cost per option by year (years 1..N).

    Returns:
        The matplotlib Axes.

    Introduced in: Lab 1 (assessment).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for option, group in tco.groupby("option", sort=False):
        style = "-" if group["kind"].iloc[0] == "object" else "--"
        ax.plot(group["year"], group["cumulative_usd"] / 1e6, style, marker="o", label=option)
    ax.set_xlabel("year")
    ax.set_ylabel("cumulative cost (M USD)")
    ax.set_xticks(sorted(tco["year"].unique()))
    ax.set_title("Archive TCO: owned DFS (dashed) vs object storage tiers")
    ax.legend(fontsize=8)
    return ax
