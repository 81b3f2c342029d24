"""Plot validation runs: expectations met and failed per stage and engine.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError

_NEEDED = ("contract", "stage", "engine", "evaluated", "failed", "rows", "seconds")


def runs_frame(runs: Iterable[Any] | pd.DataFrame, labels: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run (label, contract, stage, engine, passed, failed, rows, seconds) from reports or history.

    Args:
        runs: ValidationReport objects, or the frame :func:`read_results` returns.
        labels: Names for the runs (default ``stage/engine``).

    Raises:
        InputError: Neither reports nor a results frame, or as many labels as runs are not given.
    """
    if isinstance(runs, pd.DataFrame):
        frame = runs.copy()
    else:
        items = list(runs)
        if not all(hasattr(r, "to_dict") and hasattr(r, "evaluated") for r in items):
            raise InputError("expected ValidationReport objects or the frame read_results() returns",
                             fix="pass the reports qc.validate() returned, or read_results(path)")
        frame = pd.DataFrame([{k: getattr(r, k) for k in _NEEDED} for r in items])
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing or frame.empty:
        raise InputError(f"no validation runs to plot (missing columns {missing})" if missing else "no runs to plot",
                         fix="validate at least one batch first")
    if labels is not None and len(labels) != len(frame):
        raise InputError(f"{len(labels)} labels for {len(frame)} runs", fix="give one label per run")
    out = pd.DataFrame({
        "label": list(labels) if labels is not None else [f"{s}/{e}" for s, e in zip(frame["stage"], frame["engine"],
                                                                                      strict=True)],
        "contract": frame["contract"].to_numpy(), "stage": frame["stage"].to_numpy(),
        "engine": frame["engine"].to_numpy(),
        "passed": (frame["evaluated"] - frame["failed"]).astype(int).to_numpy(),
        "failed": frame["failed"].astype(int).to_numpy(), "rows": frame["rows"].astype(int).to_numpy(),
        "seconds": frame["seconds"].astype(float).to_numpy()})
    return out


def plot_reports(runs: Iterable[Any] | pd.DataFrame, labels: Sequence[str] | None = None, ax: Any = None,
                 title: str | None = None) -> Any:
    """Bars per run: expectations met (green) and failed (red), and beside them the run's seconds.

    Args:
        runs: ValidationReport objects, or the frame :func:`read_results` returns.
        labels: Names of the runs (default ``stage/engine``).
        ax: A matplotlib Axes for the expectations panel alone; by default a new figure with both
            panels (expectations, and seconds on a log scale).
        title: Title of the expectations panel.

    Returns:
        The Axes drawn on (a tuple of two without ``ax``).
    """
    import matplotlib.pyplot as plt

    table = runs_frame(runs, labels)
    time_ax = None
    if ax is None:
        _, (ax, time_ax) = plt.subplots(1, 2, sharey=True, figsize=(10, 0.55 * len(table) + 1.6),
                                        gridspec_kw={"width_ratios": [3, 1]})
    y = list(range(len(table)))[::-1]
    ax.barh(y, table["passed"], color="#4c9f70", label="expectations met")
    ax.barh(y, table["failed"], left=table["passed"], color="#d1495b", label="expectations failed")
    total = int((table["passed"] + table["failed"]).max())
    for yi, row in zip(y, table.itertuples(), strict=True):
        verdict = "PASS" if row.failed == 0 else f"FAIL ({row.failed})"
        ax.text(row.passed + row.failed + total * 0.01, yi, f"{verdict}  {row.rows:,} rows", va="center", fontsize=8)
    ax.set_yticks(y, [f"{lab}\n{c}" for lab, c in zip(table["label"], table["contract"], strict=True)], fontsize=8)
    ax.set_xlim(0, total * 1.35)
    ax.set_xlabel("expectations")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 if len(table) > 3 else -0.25), ncol=2, fontsize=8,
              frameon=False)
    ax.set_title(title or "Contract checkpoints per stage", fontsize=10)
    if time_ax is None:
        return ax
    colours = ["#e09f3e" if engine == "spark" else "#5c80bc" for engine in table["engine"]]
    time_ax.barh(y, table["seconds"], color=colours)
    for yi, seconds in zip(y, table["seconds"], strict=True):
        time_ax.text(seconds * 1.08, yi, f"{seconds:.2f} s", va="center", fontsize=8)
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    time_ax.set_xscale("log")
    low = 10 ** np.floor(np.log10(max(float(table["seconds"].min()), 1e-3)))
    time_ax.set_xlim(low, max(10 * low, float(table["seconds"].max()) * 8))
    time_ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    time_ax.xaxis.set_minor_formatter(NullFormatter())
    time_ax.set_xlabel("seconds (log; orange: Spark)")
    time_ax.set_title("validation time", fontsize=10)
    return ax, time_ax
