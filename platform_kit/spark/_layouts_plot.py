"""One figure comparing executor layouts: time per phase, core-seconds held, executors over time.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._layouts_run import LayoutResult

__all__ = ["plot_layouts"]


def plot_layouts(results: Sequence[LayoutResult], *, recommended: str | None = None) -> Any:
    """Three panels: start-up / first / steady job time, core-seconds per steady job, executors over time.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not results:
        raise InputError("nothing to plot", fix="pass at least one LayoutResult")
    fig, (ax_time, ax_cost, ax_exec) = plt.subplots(1, 3, figsize=(14, 3.8))
    names = [r.name + (" *" if r.name == recommended else "") for r in results]
    x = np.arange(len(results))
    width = 0.27
    start = [r.app_start_s or 0.0 for r in results]
    ax_time.bar(x - width, start, width, label="application start", color="#bbbbbb")
    ax_time.bar(x, [r.first_s for r in results], width, label="first job (cold)", color="#e39b4b")
    ax_time.bar(x + width, [r.steady_s for r in results], width, label="steady job", color="#4b7be3")
    ax_time.set_xticks(x, names)
    ax_time.set_ylabel("seconds")
    ax_time.set_title("start-up vs steady job time")
    ax_time.legend(fontsize=8)
    cost = [r.steady_core_s for r in results]
    bars = ax_cost.bar(x, cost, color=["#3a9d5d" if r.name == recommended else "#4b7be3" for r in results])
    for bar, r in zip(bars, results, strict=True):
        ax_cost.annotate(f"{r.steady.cores} cores\nutil {r.utilisation:.0%}", (bar.get_x() + bar.get_width() / 2,
                         bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax_cost.set_xticks(x, names)
    ax_cost.set_ylabel("core-seconds per steady job")
    ax_cost.set_title("what the job held of the cluster")
    ax_cost.margins(y=0.25)
    for r in results:
        points = r.timeline()
        if points:
            ax_exec.step([p[0] for p in points], [p[1] for p in points], where="post", label=r.name)
    ax_exec.set_xlabel("seconds since the first run began")
    ax_exec.set_ylabel("executors alive")
    ax_exec.set_title("executors over time")
    ax_exec.legend(fontsize=8)
    fig.tight_layout()
    return fig
