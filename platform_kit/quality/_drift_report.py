"""Drift reports side by side: what fired per batch (:func:`fired_table`) and the fired-test grid plot.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality.drift import DriftReport

__all__ = ["fired_table", "plot_drift_grid"]


def _check_reports(reports: Any, *, allow_empty: bool) -> None:
    if (not isinstance(reports, Mapping) or (not reports and not allow_empty)
            or not all(isinstance(r, DriftReport) for r in reports.values())):
        raise InputError("reports must map batch labels to DriftReport objects",
                         fix="e.g. {name: compare_batches(reference, batch) for name, batch in batches.items()}")


def fired_table(reports: Mapping[str, DriftReport], injected: Mapping[str, str | None] | None = None
                ) -> pd.DataFrame:
    """One row per batch: what was injected where, what fired, and whether the corrupted column was named.

    Args:
        reports: Batch label -> :class:`DriftReport`.
        injected: Batch label -> the corrupted column (None for a clean batch).

    Returns:
        Indexed by batch: ``injected`` (column or None), ``fired`` (``"column: test, test; ..."`` or
        ``""``), ``tests_fired`` and ``hit`` (the injected column fired; for a clean batch: nothing fired).
    """
    _check_reports(reports, allow_empty=True)
    rows = {}
    for label, report in reports.items():
        target = (injected or {}).get(label)
        fired = report.fired
        rows[label] = {"injected": target,
                       "fired": "; ".join(f"{column}: {', '.join(tests)}" for column, tests in fired.items()),
                       "tests_fired": int(report.table["fired"].sum()),
                       "hit": target in fired if target is not None else not fired}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["injected", "fired", "tests_fired", "hit"])
    table.index.name = "batch"
    return table


def plot_drift_grid(reports: Mapping[str, DriftReport], injected: Mapping[str, str | None] | None = None,
                    ax: Any = None) -> Any:
    """Which test fired on which column, one row per batch: a grid of (column, test) cells.

    Fired cells are red, quiet ones grey; each cell shows its statistic (chi-square cells the
    statistic, whose cut applies to Cramér's V). With ``injected`` (batch -> corrupted column),
    the cells of the corrupted column are outlined, so a hit reads as red inside the outline.

    Args:
        reports: Batch label -> :class:`DriftReport` (e.g. a clean batch and one per corruption).
        injected: Batch label -> the column that was corrupted (None for a clean batch).
        ax: Matplotlib axes (a new figure when None).

    Returns:
        The axes.
    """
    _check_reports(reports, allow_empty=False)
    plt = require("matplotlib.pyplot")
    cells: list[tuple[str, str]] = []
    for report in reports.values():
        for cell in zip(report.table["column"], report.table["test"], strict=True):
            if cell not in cells:
                cells.append(cell)
    labels = list(reports)
    fired = np.zeros((len(labels), len(cells)))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(cells) + 2), 0.5 * len(labels) + 2.2))
    for i, label in enumerate(labels):
        table = reports[label].table.set_index(["column", "test"])
        for j, cell in enumerate(cells):
            if cell not in table.index:
                fired[i, j] = np.nan
                continue
            row = table.loc[cell]
            fired[i, j] = float(bool(row["fired"]))
            if np.isfinite(row["statistic"]):
                ax.text(j, i, f"{row['statistic']:.2g}", ha="center", va="center", fontsize=6.5,
                        color="white" if row["fired"] else "0.25")
    ax.imshow(np.ma.masked_invalid(fired), cmap=plt.matplotlib.colors.ListedColormap(["0.88", "tab:red"]),
              vmin=0, vmax=1, aspect="auto")
    for i, label in enumerate(labels):
        target = (injected or {}).get(label)
        hit = [j for j, (column, _) in enumerate(cells) if target and target in column.split("~")]
        for j in hit:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=1.6, ec="black"))
    ax.set_xticks(range(len(cells)), [f"{c}: {t}".replace("association_shift", "assoc") for c, t in cells],
                  rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=9)
    ax.set_title("Which test fired on which column (red: fired; outlined: the corrupted column)")
    return ax
