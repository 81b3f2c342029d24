"""Charts of the idempotent-consumer section: a crash drill's progress, and lost/duplicated per consumer.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

from typing import Any

__all__ = ["plot_crash_drill"]


def plot_crash_drill(runs: Any, compare: Any, distinct: int, *, axes: Any = None) -> Any:
    """Left: rows in the sink and messages committed after each run of a drill; right: lost/duplicated.

    Args:
        runs: :meth:`CrashDrillReport.frame` (``run, kind, rows_after, offsets_after``).
        compare: One row per consumer with ``lost`` and ``duplicated`` columns (index: the consumer).
        distinct: Distinct events produced (the line every consumer should end on).
        axes: Two matplotlib axes (default: a new figure).

    Returns:
        The two axes.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.1, 1]})
    left, right = axes
    left.plot(runs["run"], runs["rows_after"], "o-", label="rows in the sink (distinct events)")
    left.plot(runs["run"], runs["offsets_after"], "s--", label="messages committed (offsets)")
    left.axhline(distinct, color="grey", lw=0.8, ls=":", label="distinct events produced")
    for row in runs.itertuples():
        left.annotate({"random": "R", "planned": "P"}.get(row.kind, "F"), (row.run, row.rows_after),
                      textcoords="offset points", xytext=(0, -13), ha="center", fontsize=8)
    left.set_xticks(list(runs["run"]))
    left.set(xlabel="run (R: random SIGKILL, P: planned SIGKILL, F: final run)", ylabel="count",
             title="idempotent consumer: every kill resumes from the sink's offsets")
    left.legend(fontsize=7, loc="upper left")
    frame = compare[["lost", "duplicated"]].astype(int)
    frame.plot.barh(ax=right, color=["tab:red", "tab:orange"])
    for i, (_name, row) in enumerate(frame.iterrows()):
        right.annotate(f"{row['lost']:,} lost, {row['duplicated']:,} duplicated", (max(row.max(), 0), i),
                       textcoords="offset points", xytext=(4, -3), fontsize=8)
    right.set_xlim(0, max(1, int(frame.to_numpy().max())) * 1.6)
    right.set(xlabel="events", ylabel="", title="after the same planned crashes")
    right.legend(fontsize=8, loc="lower right")
    return axes
