"""The metrics timeline with fired alerts shaded (three panels: throughput, DLQ rate, lag).

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plot_alerts"]

_PANELS = (("throughput_drop", "records/s", "throughput"), ("dlq_rate", "DLQ rate", "dead letters / records"),
           ("consumer_lag", "lag (records)", "consumer lag"))


def plot_alerts(metrics: Any, evaluation: Any, *, axes: Any = None, title: str | None = None,
                phases: Any = None) -> Any:
    """Draw each rule's value and threshold over time, shading the intervals where it fired.

    Args:
        metrics: The pipeline's per-batch metrics (``t_s``, ``lag``, optionally ``hwm_lag``).
        evaluation: :func:`~platform_kit.ingestion.alerts.evaluate_alerts` of those metrics.
        axes: Three matplotlib axes (default: a new figure).
        title: Figure title.
        phases: Optional ``(name, start_s, end_s)`` tuples, drawn as labelled bands boundaries.

    Returns:
        The three axes.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    metrics = pd.DataFrame(metrics).sort_values("t_s")
    if axes is None:
        _, axes = plt.subplots(3, 1, figsize=(10.5, 6.5), sharex=True)
    colours = {"page": "tab:red", "ticket": "tab:orange"}
    for ax, (kind, ylabel, label) in zip(axes, _PANELS, strict=True):
        rows = evaluation[evaluation["kind"] == kind]
        for rule, group in rows.groupby("rule", sort=False):
            group = group.sort_values("t_s")
            ax.plot(group["t_s"], group["value"], marker=".", lw=1.2, label=f"{label} ({rule})")
            ax.plot(group["t_s"], group["threshold"], ls="--", lw=1, color="grey", label=f"threshold ({rule})")
            t = group["t_s"].to_numpy(float)
            firing = group["firing"].to_numpy(bool)
            colour = colours.get(group["severity"].iloc[0], "tab:red")
            for i in np.flatnonzero(firing):
                left = t[i - 1] if i > 0 else 0.0
                ax.axvspan(left, t[i], color=colour, alpha=0.18, lw=0)
        if kind == "consumer_lag" and "hwm_lag" in metrics.columns:
            ax.plot(metrics["t_s"], metrics["hwm_lag"], ls=":", color="black", lw=1.2,
                    label="lag from the high watermark (under-reports)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    for name, start, _end in phases or ():
        for ax in axes:
            ax.axvline(start, color="black", lw=0.6, alpha=0.5)
        axes[0].annotate(name, (start, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                         textcoords="offset points", fontsize=7, va="top")
    axes[-1].set_xlabel("seconds since the pipeline started (shaded: alert firing)")
    if title:
        axes[0].set_title(title)
    return axes
