"""Pure decision logic of the format section: which (format, codec) a workload should use.

Everything here takes DataFrames and returns values: no files, no engines.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError

__all__ = ["WORKLOADS", "acceptable_formats", "attach_evolution", "choose_format", "evolution_matrix",
           "evolution_verdicts"]

#: Workload -> (the measured column it minimises, what it means).
WORKLOADS: dict[str, tuple[str, str]] = {
    "analytics_projection": ("projected_read_s", "dashboards read 2 of N columns: minimise the projected read time"),
    "archive": ("file_bytes", "cold storage kept for years: minimise the bytes stored"),
    "streaming_append_with_evolution": (
        "write_s",
        ("small appends whose schema keeps changing: among formats whose evolution matrix has no break "
         "for some reader, minimise the write time")),
}
_REQUIRED = ("format", "codec", "file_bytes", "write_s", "projected_read_s")


def evolution_verdicts(evolution: pd.DataFrame) -> dict[str, bool]:
    """Per format: does at least one reader survive every change without a break?

    Args:
        evolution: The table of :func:`~platform_kit.assessment.formats.evolve_schemas`.

    Raises:
        ConfigError: The table lacks ``format``/``reader``/``outcome`` columns.

    Introduced in: Lab 1 (assessment).
    """
    missing = {"format", "reader", "outcome"} - set(evolution.columns)
    if missing:
        raise ConfigError(f"the evolution table has no column(s) {sorted(missing)}",
                          fix="pass the DataFrame returned by evolve_schemas()")
    breaks = evolution["outcome"].astype(str).str.startswith("breaks")
    per_reader = breaks.groupby([evolution["format"], evolution["reader"]]).any()
    return {str(fmt): bool((~broken).any()) for fmt, broken in per_reader.groupby(level=0)}


def evolution_matrix(evolution: pd.DataFrame) -> pd.DataFrame:
    """The evolution table pivoted for reading: (format, reader) rows x change columns.

    Introduced in: Lab 1 (assessment).
    """
    from platform_kit.assessment._formats_evolution import EVOLUTION_CHANGES

    matrix = evolution.pivot(index=["format", "reader"], columns="change", values="outcome")
    return matrix[[c for c in EVOLUTION_CHANGES if c in matrix.columns]]


def attach_evolution(results: pd.DataFrame, evolution: pd.DataFrame) -> pd.DataFrame:
    """Add ``evolves_safely`` (bool) to the measured results, from the evolution matrix.

    Introduced in: Lab 1 (assessment).
    """
    verdicts = evolution_verdicts(evolution)
    out = results.copy()
    out["evolves_safely"] = out["format"].map(lambda f: verdicts.get(str(f), False)).astype(bool)
    return out


def _usable(results: Any, workload: str) -> tuple[pd.DataFrame, str]:
    if not isinstance(results, pd.DataFrame):
        raise ConfigError(f"results must be a pandas DataFrame, got {type(results).__name__}",
                          fix="pass the table measure_formats() returned")
    if workload not in WORKLOADS:
        raise ConfigError(f"unknown workload {workload!r}", fix=f"use one of: {', '.join(WORKLOADS)}")
    missing = [c for c in _REQUIRED if c not in results.columns]
    if workload == "streaming_append_with_evolution" and "evolves_safely" not in results.columns:
        missing.append("evolves_safely")
    if missing:
        raise ConfigError(f"the results table has no column(s) {missing}",
                          fix="pass measure_formats() output; add evolves_safely with attach_evolution()")
    metric = WORKLOADS[workload][0]
    table = results
    if "status" in table.columns:
        table = table[table["status"].astype(str) == "ok"]
    table = table[pd.to_numeric(table[metric], errors="coerce").notna()]
    if workload == "streaming_append_with_evolution":
        table = table[table["evolves_safely"].astype(bool)]
    if table.empty:
        raise ConfigError(f"no measured (format, codec) qualifies for workload {workload!r}",
                          fix="measure more formats/codecs (and check the evolution matrix)")
    return table, metric


def acceptable_formats(results: pd.DataFrame, workload: str) -> set[tuple[str, str]]:
    """Every (format, codec) that ties for the best value of the workload's metric.

    Raises:
        ConfigError: Malformed results, unknown workload, or no qualifying row.

    Introduced in: Lab 1 (assessment).
    """
    table, metric = _usable(results, workload)
    values = table[metric].astype(float)
    best = float(values.min())
    close = values.map(lambda v: math.isclose(v, best, rel_tol=1e-9, abs_tol=0.0))
    return {(str(f), str(c)) for f, c in table.loc[close, ["format", "codec"]].itertuples(index=False)}


def choose_format(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    """The (format, codec) the measured ``results`` recommend for ``workload``.

    ``analytics_projection`` minimises ``projected_read_s``; ``archive`` minimises
    ``file_bytes``; ``streaming_append_with_evolution`` keeps formats whose
    ``evolves_safely`` is true and minimises ``write_s``. Rows whose ``status`` is not
    ``ok`` are ignored; ties go to the first row in table order.

    Raises:
        ConfigError: Malformed results, unknown workload, or no qualifying row.

    Introduced in: Lab 1 (assessment).
    """
    table, metric = _usable(results, workload)
    best = table.loc[table[metric].astype(float).idxmin()]
    return str(best["format"]), str(best["codec"])
