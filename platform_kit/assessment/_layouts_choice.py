"""Pure decision logic of the layout section: the layout that minimises weighted bytes scanned.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError

__all__ = ["acceptable_layouts", "choose_layout", "validate_mix", "weighted_bytes"]

_REQUIRED = ("layout", "query", "bytes_scanned")


def validate_mix(scan_table: Any, query_mix: Any) -> dict[str, float]:
    """Check a query mix against a scan table; return it as ``{query: weight}``.

    Raises:
        ConfigError: The table lacks columns, the mix is not a non-empty mapping of known
            queries to finite non-negative weights with a positive total, or a layout has
            no measurement for a weighted query.

    Introduced in: Lab 1 (assessment).
    """
    if not isinstance(scan_table, pd.DataFrame):
        raise ConfigError(f"scan_table must be a pandas DataFrame, got {type(scan_table).__name__}",
                          fix="pass the table measure_layouts() returned")
    missing = [c for c in _REQUIRED if c not in scan_table.columns]
    if missing:
        raise ConfigError(f"the scan table has no column(s) {missing}", fix="pass measure_layouts() output")
    if not isinstance(query_mix, Mapping) or not query_mix:
        raise ConfigError(f"query_mix must be a non-empty dict of query -> weight, got {query_mix!r}",
                          fix="e.g. {'point_lookup': 0.7, 'full_aggregation': 0.3}")
    known = set(scan_table["query"].astype(str))
    mix: dict[str, float] = {}
    for query, weight in query_mix.items():
        if query not in known:
            raise ConfigError(f"query {query!r} of the mix was not measured", fix=f"use: {', '.join(sorted(known))}")
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not math.isfinite(float(weight)) \
                or weight < 0:
            raise ConfigError(f"weight of {query!r} must be a finite number >= 0, got {weight!r}",
                              fix="weights are relative query frequencies")
        mix[str(query)] = float(weight)
    if sum(mix.values()) <= 0:
        raise ConfigError("the query mix has no positive weight", fix="give at least one query a weight > 0")
    weighted = scan_table[scan_table["query"].isin([q for q, w in mix.items() if w > 0])]
    layouts = list(dict.fromkeys(scan_table["layout"]))
    counts = weighted.groupby("layout")["query"].nunique().reindex(layouts, fill_value=0)
    needed = sum(1 for w in mix.values() if w > 0)
    incomplete = sorted(str(name) for name, n in counts.items() if n < needed)
    if incomplete:
        raise ConfigError(f"layouts {incomplete} lack measurements for some weighted queries",
                          fix="measure every query on every layout")
    return mix


def weighted_bytes(scan_table: pd.DataFrame, query_mix: Mapping[str, float]) -> pd.Series:
    """Bytes scanned per layout, weighted by the query mix (sorted ascending).

    Introduced in: Lab 1 (assessment).
    """
    mix = validate_mix(scan_table, query_mix)
    table = scan_table[scan_table["query"].isin(list(mix))]
    weights = table["query"].map(mix).astype(float)
    totals = (table["bytes_scanned"].astype(float) * weights).groupby(table["layout"]).sum()
    return totals.sort_values(kind="stable").rename("weighted_bytes")


def acceptable_layouts(scan_table: pd.DataFrame, query_mix: Mapping[str, float]) -> set[str]:
    """Every layout tying for the lowest weighted bytes.

    Introduced in: Lab 1 (assessment).
    """
    totals = weighted_bytes(scan_table, query_mix)
    best = float(totals.min())
    return {str(name) for name, value in totals.items() if math.isclose(float(value), best, rel_tol=1e-9)}


def choose_layout(scan_table: pd.DataFrame, query_mix: Mapping[str, float]) -> str:
    """The layout minimising ``sum(weight[q] * bytes_scanned[layout, q])`` over the mix.

    Args:
        scan_table: One row per (layout, query) with ``bytes_scanned`` (measure_layouts()).
        query_mix: Query -> relative frequency; queries left out weigh nothing.

    Raises:
        ConfigError: See :func:`validate_mix`.

    Introduced in: Lab 1 (assessment).
    """
    return str(weighted_bytes(scan_table, query_mix).index[0])
