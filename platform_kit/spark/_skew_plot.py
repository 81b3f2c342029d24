"""Plots of skew: work per task of each variant's join stage, the stage projected onto more
cores from the measured task times, and the measured wall time.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._skew_tasks import makespan

__all__ = ["SLOTS", "plot_skew", "projected_stage_times"]

#: Task slots the projection is drawn for.
SLOTS = (1, 2, 4, 8, 16, 32, 64)


def projected_stage_times(tasks: Mapping[str, pd.DataFrame], slots: Sequence[int] = SLOTS,
                          column: str = "cpu_ms") -> pd.DataFrame:
    """Seconds each variant's join stage needs on ``slots`` task slots, from its measured task times.

    ``cpu_ms`` (the default) is the CPU each task used, which does not grow when tasks
    share the machine's few cores; the projection is :func:`makespan` of those durations.
    Rows: slots; columns: variants.

    Raises:
        InputError: A task table lacks ``column``.
    """
    out = {}
    for name, frame in tasks.items():
        if column not in frame.columns:
            raise InputError(f"task table {name!r} has no column {column!r}", fix="pass ks.skew.stage_tasks(...)")
        out[name] = [makespan(frame[column].tolist(), n) / 1000 for n in slots]
    return pd.DataFrame(out, index=pd.Index(list(slots), name="slots"))


def plot_skew(table: pd.DataFrame, tasks: Mapping[str, pd.DataFrame], *, title: str = "") -> Any:
    """Three panels: records per task of the join stage (busiest first) per variant; the join stage
    projected onto 1..64 slots from the tasks' measured CPU time; measured wall time and longest task.

    Args:
        table: :func:`~platform_kit.spark.skew.compare_runs`'s table.
        tasks: Its per-variant task tables.
        title: Figure title.

    Returns:
        The three matplotlib axes.

    Raises:
        InputError: The table and the task tables name different variants.
    """
    import matplotlib.pyplot as plt

    if set(table.index) != set(tasks):
        raise InputError(f"table variants {sorted(table.index)} differ from task tables {sorted(tasks)}",
                         fix="pass both results of compare_runs")
    fig, (bars, proj, wall) = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [3, 2, 2]})
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    offset, ticks, labels = 0, [], []
    for index, name in enumerate(table.index):
        records = tasks[name]["records"].sort_values(ascending=False).to_numpy() / 1000
        bars.bar(list(range(offset, offset + len(records))), records, width=0.85, color=colors[index % len(colors)])
        ticks.append(offset + (len(records) - 1) / 2)
        labels.append(f"{name}\n{len(records)} tasks")
        offset += len(records) + 3
    bars.set_xticks(ticks, labels, fontsize=8)
    bars.set_ylabel("shuffle records read per task (thousands)")
    bars.set_title("join stage: work per task, busiest first", fontsize=10)
    projection = projected_stage_times({name: tasks[name] for name in table.index})
    for index, name in enumerate(projection.columns):
        proj.plot(projection.index, projection[name], marker="o", color=colors[index % len(colors)], label=name)
    proj.set_xscale("log", base=2)
    proj.set_xticks(list(projection.index), [str(n) for n in projection.index])
    proj.set_xlabel("task slots (cores)")
    proj.set_ylabel("join stage CPU-bound time (s)")
    proj.set_title("projected from measured task CPU", fontsize=10)
    proj.legend(fontsize=8)
    positions = list(range(len(table)))
    wall.bar([p - 0.2 for p in positions], table["wall_s"], width=0.4, label="job wall time (s)")
    wall.bar([p + 0.2 for p in positions], table["max_task_ms"] / 1000, width=0.4, label="longest task (s)")
    wall.set_xticks(positions, list(table.index), rotation=20, fontsize=8, ha="right")
    wall.set_title("measured on this machine", fontsize=10)
    wall.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return bars, proj, wall
