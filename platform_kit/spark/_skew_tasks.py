"""Skew seen from the executors: per-task time and shuffle records of a measured join.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark.monitor import JobMetrics, SparkRest, StageMetrics

__all__ = ["TASK_COLUMNS", "TaskSkew", "compare_runs", "join_stage", "makespan", "stage_tasks", "task_skew",
           "tasks_frame"]

#: Columns of :func:`stage_tasks` / :func:`tasks_frame`.
TASK_COLUMNS = ("task", "executor", "status", "run_ms", "cpu_ms", "gc_ms", "records", "shuffle_bytes", "peak_memory")


def join_stage(metrics: JobMetrics) -> StageMetrics:
    """The stage of a measured job that read the most shuffle data: a sort-merge join's stage.

    Raises:
        InputError: The job read no shuffle data (a broadcast join or a plain scan).
    """
    readers = [s for s in metrics.stages if s.shuffle_read_bytes > 0]
    if not readers:
        raise InputError(f"{metrics.label or 'the job'} read no shuffle data, so it has no shuffled join stage",
                         fix="measure a job with a sort-merge join (broadcast disabled), not a broadcast join")
    return max(readers, key=lambda s: (s.shuffle_read_bytes, s.task_ms_max))


def tasks_frame(tasks: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Tasks of the status API's ``taskList`` as a table (one row per task; see :data:`TASK_COLUMNS`)."""
    rows = []
    for task in tasks:
        metrics = task.get("taskMetrics") or {}
        read = metrics.get("shuffleReadMetrics") or {}
        rows.append({
            "task": int(task.get("index", task.get("taskId", 0))), "executor": str(task.get("executorId", "")),
            "status": str(task.get("status", "")), "run_ms": float(metrics.get("executorRunTime", 0)),
            "cpu_ms": float(metrics.get("executorCpuTime", 0)) / 1e6, "gc_ms": float(metrics.get("jvmGcTime", 0)),
            "records": int(read.get("recordsRead", 0)),
            "shuffle_bytes": int(read.get("localBytesRead", 0)) + int(read.get("remoteBytesRead", 0)),
            "peak_memory": int(metrics.get("peakExecutionMemory", 0)),
        })
    return pd.DataFrame(rows, columns=list(TASK_COLUMNS))


def stage_tasks(spark: Any, stage: StageMetrics, *, limit: int = 10_000) -> pd.DataFrame:
    """Successful tasks of a stage attempt from ``/stages/<id>/<attempt>/taskList``."""
    docs = SparkRest(spark).get(f"stages/{stage.stage_id}/{stage.attempt}/taskList?length={int(limit)}")
    frame = tasks_frame(docs)
    return frame[frame["status"] == "SUCCESS"].sort_values("task").reset_index(drop=True)


@dataclass(frozen=True)
class TaskSkew:
    """How evenly a stage's tasks shared the work.

    Attributes:
        tasks: Tasks in the stage.
        max_ms: Longest task run time; no number of cores makes the stage shorter than this.
        median_ms: Median task run time.
        max_records: Most shuffle records read by one task.
        median_records: Median shuffle records per task.
        total_records: Shuffle records read by all tasks.
    """

    tasks: int
    max_ms: float
    median_ms: float
    max_records: int
    median_records: float
    total_records: int

    @property
    def time_ratio(self) -> float:
        """Longest over median task time (1 = even)."""
        return self.max_ms / self.median_ms if self.median_ms > 0 else 1.0

    @property
    def records_ratio(self) -> float:
        """Most over median records per task: the same signal, free of timing noise."""
        return self.max_records / self.median_records if self.median_records > 0 else float(self.max_records > 0)

    @property
    def max_share(self) -> float:
        """Share of the stage's records that the busiest task read."""
        return self.max_records / self.total_records if self.total_records else 0.0


def task_skew(tasks: pd.DataFrame) -> TaskSkew:
    """:class:`TaskSkew` of a task table (:func:`stage_tasks`).

    Raises:
        InputError: Not a task table, or no tasks.
    """
    if not isinstance(tasks, pd.DataFrame) or not {"run_ms", "records"} <= set(tasks.columns):
        raise InputError("expected a task table with run_ms and records columns",
                         fix="pass ks.skew.stage_tasks(spark, stage)")
    if tasks.empty:
        raise InputError("the task table is empty", fix="measure a job that ran a shuffled stage")
    run, records = tasks["run_ms"].to_numpy(float), tasks["records"].to_numpy(float)
    return TaskSkew(len(tasks), float(run.max()), float(np.median(run)), int(records.max()),
                    float(np.median(records)), int(records.sum()))


def compare_runs(spark: Any, runs: Mapping[str, JobMetrics]) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """One row per measured variant of a shuffled join, and each variant's join-stage tasks.

    Columns: ``wall_s``, ``join_tasks``, ``max_task_ms``, ``median_task_ms``, ``time_ratio``,
    ``max_task_records``, ``median_task_records``, ``records_ratio``, ``max_task_share``,
    ``shuffle_mb`` (written by the whole job), indexed by the variant's name.

    Raises:
        InputError: No runs, or a run without a shuffled stage.
    """
    if not runs:
        raise InputError("no measured runs to compare", fix="pass {name: ks.measure(...)}")
    rows, frames = [], {}
    for name, metrics in runs.items():
        tasks = stage_tasks(spark, join_stage(metrics))
        skew = task_skew(tasks)
        frames[name] = tasks
        rows.append({"variant": name, "wall_s": round(metrics.wall_s, 3), "join_tasks": skew.tasks,
                     "max_task_ms": skew.max_ms, "median_task_ms": skew.median_ms,
                     "time_ratio": round(skew.time_ratio, 2), "max_task_records": skew.max_records,
                     "median_task_records": skew.median_records, "records_ratio": round(skew.records_ratio, 2),
                     "max_task_share": round(skew.max_share, 3), "shuffle_mb": round(metrics.shuffle_bytes / 1e6, 3)})
    return pd.DataFrame(rows).set_index("variant"), frames


def makespan(durations: Sequence[float], slots: int) -> float:
    """Time ``slots`` parallel task slots need for tasks of these durations (longest first, greedy).

    The longest-processing-time-first schedule Spark's scheduler approximates when tasks
    are ready together; never below the longest task, never below ``sum / slots``. Used
    to project a measured stage onto more cores than this machine has.

    Raises:
        InputError: ``slots`` < 1 or a negative/NaN duration.
    """
    if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
        raise InputError(f"slots must be an integer >= 1, got {slots!r}", fix="pass the number of task slots (cores)")
    values = np.asarray(list(durations), dtype=float)
    if values.size == 0:
        return 0.0
    if np.isnan(values).any() or (values < 0).any():
        raise InputError("task durations must be >= 0", fix="pass measured task times (ms)")
    loads = np.zeros(min(slots, values.size))
    for value in np.sort(values)[::-1]:
        loads[loads.argmin()] += value
    return float(loads.max())
