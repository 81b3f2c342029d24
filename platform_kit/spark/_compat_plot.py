"""A status grid of several environments' compatibility reports (environments x components).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from platform_kit.errors import InputError

__all__ = ["STATUS_COLORS", "plot_status"]

STATUS_COLORS = {"ok": "#2ca02c", "warn": "#ffbf00", "conflict": "#d62728", "unknown": "#9e9e9e",
                 "unparseable": "#7f3fbf"}
_WORST = ("conflict", "unparseable", "unknown", "warn", "ok")


def plot_status(reports: Mapping[str, pd.DataFrame], *, ax: Any = None, title: str = "Compatibility") -> Any:
    """One row per environment, one column per component, each cell coloured by its worst status.

    Args:
        reports: Environment name -> :func:`~platform_kit.spark.compat.check_environment` result.
        ax: A matplotlib Axes (a new figure otherwise).
        title: The plot title.

    Returns:
        The Axes.

    Raises:
        InputError: No report, or a report without component/status columns.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if not reports:
        raise InputError("no compatibility report to plot", fix="pass {name: check_environment(env)}")
    cells: dict[str, dict[str, str]] = {}
    for env, report in reports.items():
        if not {"component", "status"} <= set(report.columns):
            raise InputError(f"the report of {env!r} lacks component/status columns",
                             fix="pass check_environment(...) results")
        worst: dict[str, str] = {}
        for row in report.itertuples(index=False):
            current = worst.get(row.component, "ok")
            worst[row.component] = min(current, row.status, key=_WORST.index)
        cells[env] = worst
    components = list(dict.fromkeys(c for worst in cells.values() for c in worst))
    codes = [[_WORST.index(cells[env].get(c, "ok")) if c in cells[env] else len(_WORST) for c in components]
             for env in cells]
    colors = [STATUS_COLORS[s] for s in _WORST] + ["#ffffff"]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 0.75 * len(components) + 2), 0.55 * len(cells) + 1.6))
    ax.imshow(codes, cmap=ListedColormap(colors), vmin=-0.5, vmax=len(colors) - 0.5, aspect="auto")
    ax.set_xticks(range(len(components)), components, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(cells)), list(cells), fontsize=8)
    ax.set_title(title)
    shown = [s for s in _WORST if any(s in worst.values() for worst in cells.values())]
    ax.legend([Patch(color=STATUS_COLORS[s]) for s in shown], shown, fontsize=7, loc="upper left",
              bbox_to_anchor=(1.01, 1.0))
    return ax
