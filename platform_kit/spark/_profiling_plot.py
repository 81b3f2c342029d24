"""The stage timeline: a Gantt chart of stages, coloured by the bottleneck named for each.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from platform_kit.errors import InputError

__all__ = ["BOTTLENECK_COLORS", "plot_timeline"]

#: One colour per bottleneck (``none``: nothing named).
BOTTLENECK_COLORS = {"python_udf": "#d62728", "gc_pressure": "#ff7f0e", "wide_shuffle": "#1f77b4",
                     "spill": "#9467bd", "skew": "#8c564b", "tiny_tasks": "#e377c2", "none": "#b0b0b0"}


def plot_timeline(stages: pd.DataFrame, *, ax: Any = None, title: str = "Stage timeline") -> Any:
    """Draw each stage from submission to completion, coloured by its bottleneck.

    Args:
        stages: Stage rows with ``stage_id``, ``submitted_ms``, ``completed_ms``; optional
            ``job`` (a label grouping the rows) and ``bottleneck`` (computed per job when absent).
        ax: A matplotlib Axes to draw on (a new figure otherwise).
        title: The plot title.

    Returns:
        The Axes.

    Raises:
        InputError: The table lacks the time columns or has no completed stage.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from platform_kit.spark.profiling import stage_bottlenecks

    missing = [c for c in ("stage_id", "submitted_ms", "completed_ms") if c not in stages.columns]
    if missing:
        raise InputError(f"the stage table lacks {missing} for a timeline",
                         fix="use EventLog.stages or ks.stages_frame(measurement), which carry stage times")
    rows = stages[(stages["completed_ms"] > 0) & (stages["submitted_ms"] > 0)].copy()
    if rows.empty:
        raise InputError("no completed stage to draw", fix="read the log after the jobs ended")
    if "job" not in rows.columns:
        rows["job"] = ""
    if "bottleneck" not in rows.columns:
        named: dict[tuple[str, int], str] = {}
        for job, group in rows.groupby("job", sort=False):
            named |= {(job, sid): kind for sid, kind in stage_bottlenecks(group).items()}
        rows["bottleneck"] = [named[(j, int(s))] for j, s in zip(rows["job"], rows["stage_id"], strict=True)]
    rows = rows.sort_values("submitted_ms").reset_index(drop=True)
    start = rows["submitted_ms"].min()
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.35 * len(rows) + 1.4))
    for y, row in enumerate(rows.itertuples(index=False)):
        left, width = (row.submitted_ms - start) / 1000, max((row.completed_ms - row.submitted_ms) / 1000, 0.01)
        ax.barh(y, width, left=left, color=BOTTLENECK_COLORS.get(row.bottleneck, "#b0b0b0"), edgecolor="black",
                linewidth=0.4)
        if row.bottleneck != "none":
            ax.text(left + width, y, f" {row.bottleneck}", va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{row.job} · stage {row.stage_id}".strip(" ·") for row in
                                     rows.itertuples(index=False)], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the first stage was submitted")
    ax.set_title(title)
    shown = [k for k in BOTTLENECK_COLORS if k in set(rows["bottleneck"])]
    ax.legend([Patch(color=BOTTLENECK_COLORS[k]) for k in shown], shown, fontsize=7, loc="lower right")
    return ax
