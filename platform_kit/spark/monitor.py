"""Measure Spark jobs through the driver's status REST API (``/api/v1``).

:func:`measure` runs a piece of work under its own job group, then reads back, from
the same REST API the Spark UI is built on, every stage that work ran: task time, CPU,
GC, serialisation, input/shuffle/spill bytes and the task-time distribution (max vs
median, the skew signal). Every before/after number of Lab 3 comes from here, so the
lab's claims are Spark's own accounting, not wall-clock guesses alone.

The UI updates asynchronously (a listener bus), so reads poll until the group's jobs
are finished and their stages complete.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from platform_kit.errors import ServiceError

_log = logging.getLogger(__name__)

__all__ = ["JobMetrics", "SparkRest", "StageMetrics", "measure", "metrics_frame"]

_groups = itertools.count(1)


@dataclass(frozen=True)
class StageMetrics:
    """One completed stage attempt, as the status API reports it (times in ms, sizes in bytes)."""

    stage_id: int
    attempt: int
    name: str
    status: str
    num_tasks: int
    duration_ms: float
    executor_run_ms: float
    executor_cpu_ms: float
    gc_ms: float
    result_serialization_ms: float
    deserialize_ms: float
    input_bytes: int
    input_records: int
    output_bytes: int
    shuffle_read_bytes: int
    shuffle_remote_bytes: int
    shuffle_fetch_wait_ms: float
    shuffle_write_bytes: int
    memory_spilled_bytes: int
    disk_spilled_bytes: int
    peak_execution_memory: int
    task_ms_median: float
    task_ms_max: float
    submitted_ms: float = 0.0
    completed_ms: float = 0.0

    @property
    def skew_ratio(self) -> float:
        """Longest task over the median task (1 = even; >3 usually means skew)."""
        return self.task_ms_max / self.task_ms_median if self.task_ms_median > 0 else 1.0


@dataclass(frozen=True)
class JobMetrics:
    """What one measured piece of work cost: wall time plus the sum over its stages."""

    label: str
    wall_s: float
    stages: tuple[StageMetrics, ...] = field(default_factory=tuple)
    result: Any = field(default=None, compare=False, repr=False)
    group: str = ""  # the Spark job group the work ran under (``spark.jobGroup.id`` in the event log)

    def total(self, metric: str) -> float:
        """Sum of a :class:`StageMetrics` field over the stages."""
        return float(sum(getattr(stage, metric) for stage in self.stages))

    @property
    def task_ms(self) -> float:
        """Executor run time summed over tasks (the cluster time the work used)."""
        return self.total("executor_run_ms")

    @property
    def shuffle_bytes(self) -> int:
        """Bytes written to shuffle files (what a sort-merge join or repartition moves)."""
        return int(self.total("shuffle_write_bytes"))

    @property
    def spill_bytes(self) -> int:
        """Bytes spilled to disk."""
        return int(self.total("disk_spilled_bytes"))

    @property
    def max_skew_ratio(self) -> float:
        """The worst stage's max/median task time (over stages with at least 2 tasks)."""
        ratios = [s.skew_ratio for s in self.stages if s.num_tasks >= 2]
        return max(ratios, default=1.0)

    def summary(self) -> dict[str, Any]:
        """One flat row for a results table."""
        return {"label": self.label, "wall_s": round(self.wall_s, 3), "stages": len(self.stages),
                "tasks": int(self.total("num_tasks")), "task_s": round(self.task_ms / 1000, 3),
                "cpu_s": round(self.total("executor_cpu_ms") / 1000, 3), "gc_s": round(self.total("gc_ms") / 1000, 3),
                "input_mb": round(self.total("input_bytes") / 1e6, 3),
                "shuffle_mb": round(self.shuffle_bytes / 1e6, 3), "spill_mb": round(self.spill_bytes / 1e6, 3),
                "max_skew": round(self.max_skew_ratio, 2)}


class SparkRest:
    """A small client of one application's status REST API.

    Args:
        spark: The SparkSession whose driver UI to read (``spark.ui.enabled`` must be true).
    """

    def __init__(self, spark: Any) -> None:
        sc = spark.sparkContext
        self.base = sc.uiWebUrl
        if not self.base:
            raise ServiceError("this Spark session has no web UI, so its REST API cannot be read",
                               fix="start it with spark.ui.enabled=true (platform_kit.spark.cluster_session does)")
        self.app_id = sc.applicationId

    def get(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``/api/v1/applications/<app>/<path>`` as JSON."""
        url = f"{self.base}/api/v1/applications/{self.app_id}/{path.lstrip('/')}"
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the driver's own UI
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ServiceError(f"Spark REST API {url} failed: {exc}",
                               fix="is the session still running? (`spark.sparkContext.uiWebUrl`)") from exc

    def jobs(self, group: str | None = None) -> list[dict[str, Any]]:
        """Jobs of the application, optionally only those of a job group."""
        jobs = self.get("jobs")
        return [j for j in jobs if group is None or j.get("jobGroup") == group]

    def executors(self) -> list[dict[str, Any]]:
        """Active executors (and the driver) with cores, memory, task and GC totals."""
        return self.get("executors")

    def stage(self, stage_id: int) -> list[dict[str, Any]]:
        """All attempts of one stage."""
        return self.get(f"stages/{stage_id}")

    def task_quantiles(self, stage_id: int, attempt: int) -> tuple[float, float]:
        """(median, max) task executor run time of a stage attempt, in ms."""
        summary = self.get(f"stages/{stage_id}/{attempt}/taskSummary?quantiles=0.5,1.0")
        run = summary.get("executorRunTime") or [0.0, 0.0]
        return float(run[0]), float(run[-1])


def _millis(value: Any) -> float:
    """Parse the API's GMT timestamps (``2026-11-26T06:01:02.123GMT``) into epoch ms."""
    if not value:
        return 0.0
    from datetime import datetime, timezone

    parsed = datetime.strptime(value.replace("GMT", ""), "%Y-%m-%dT%H:%M:%S.%f")
    return parsed.replace(tzinfo=timezone.utc).timestamp() * 1000


def stage_metrics(rest: SparkRest, doc: dict[str, Any]) -> StageMetrics:
    """Build :class:`StageMetrics` from one stage-attempt document."""
    median, longest = rest.task_quantiles(doc["stageId"], doc["attemptId"]) if doc.get("numCompleteTasks") else (0.0, 0.0)
    submitted, completed = _millis(doc.get("submissionTime")), _millis(doc.get("completionTime"))
    return StageMetrics(
        stage_id=int(doc["stageId"]), attempt=int(doc["attemptId"]), name=str(doc.get("name", "")),
        status=str(doc.get("status", "")), num_tasks=int(doc.get("numTasks", 0)),
        duration_ms=max(0.0, completed - submitted),
        executor_run_ms=float(doc.get("executorRunTime", 0)), executor_cpu_ms=float(doc.get("executorCpuTime", 0)) / 1e6,
        gc_ms=float(doc.get("jvmGcTime", 0)), result_serialization_ms=float(doc.get("resultSerializationTime", 0)),
        deserialize_ms=float(doc.get("executorDeserializeTime", 0)),
        input_bytes=int(doc.get("inputBytes", 0)), input_records=int(doc.get("inputRecords", 0)),
        output_bytes=int(doc.get("outputBytes", 0)), shuffle_read_bytes=int(doc.get("shuffleReadBytes", 0)),
        shuffle_remote_bytes=int(doc.get("shuffleRemoteBytesRead", 0)),
        shuffle_fetch_wait_ms=float(doc.get("shuffleFetchWaitTime", 0)),
        shuffle_write_bytes=int(doc.get("shuffleWriteBytes", 0)),
        memory_spilled_bytes=int(doc.get("memoryBytesSpilled", 0)), disk_spilled_bytes=int(doc.get("diskBytesSpilled", 0)),
        peak_execution_memory=int(doc.get("peakExecutionMemory", 0)),
        task_ms_median=median, task_ms_max=longest, submitted_ms=submitted, completed_ms=completed,
    )


def _collect_stages(rest: SparkRest, group: str, timeout: float) -> tuple[StageMetrics, ...]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _settled_stages(rest, group, deadline)
        except ServiceError:  # a busy driver can miss one request: retry until the deadline
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _settled_stages(rest: SparkRest, group: str, deadline: float) -> tuple[StageMetrics, ...]:
    while True:
        jobs = rest.jobs(group)
        stage_ids = sorted({sid for job in jobs for sid in job.get("stageIds", [])})
        docs = [doc for sid in stage_ids for doc in rest.stage(sid)]
        done = jobs and all(j.get("status") != "RUNNING" for j in jobs)
        # Stages a job skipped (their shuffle output was reused) stay PENDING/SKIPPED forever.
        ran = [d for d in docs if d.get("status") in ("COMPLETE", "FAILED")]
        settled = all(d.get("status") != "ACTIVE" for d in docs)
        if done and settled:
            return tuple(stage_metrics(rest, doc) for doc in ran)
        if time.monotonic() > deadline:
            _log.warning("job group %s not settled in the REST API in time", group)
            return tuple(stage_metrics(rest, doc) for doc in ran)
        time.sleep(0.05)


def measure(spark: Any, work: Callable[[], Any], label: str = "", *, settle_timeout: float = 30.0) -> JobMetrics:
    """Run ``work()`` in its own job group and return its wall time and stage metrics.

    Args:
        spark: The session the work runs on (its UI must be enabled).
        work: A zero-argument callable that triggers Spark actions (``df.collect``...).
        label: Name for tables and plots.
        settle_timeout: Seconds to wait for the UI to record the finished stages.

    Returns:
        The measurement; ``result`` holds what ``work`` returned.
    """
    sc = spark.sparkContext
    group = f"measure-{next(_groups)}-{label}"[:100]
    sc.setJobGroup(group, label or group, interruptOnCancel=False)
    began = time.perf_counter()
    try:
        result = work()
    finally:
        wall = time.perf_counter() - began
        sc.setLocalProperty("spark.jobGroup.id", None)
        sc.setLocalProperty("spark.job.description", None)
    try:
        stages = _collect_stages(SparkRest(spark), group, settle_timeout)
    except ServiceError as exc:  # measuring must not lose the work's result
        _log.warning("stage metrics unavailable for %s: %s", label, exc.message)
        stages = ()
    return JobMetrics(label, wall, stages, result, group)


def metrics_frame(measurements: list[JobMetrics]) -> Any:
    """A pandas DataFrame with one :meth:`JobMetrics.summary` row per measurement."""
    import pandas as pd

    return pd.DataFrame([m.summary() for m in measurements])


def stages_frame(measurement: JobMetrics) -> Any:
    """A pandas DataFrame with one row per stage of a measurement."""
    import pandas as pd

    return pd.DataFrame([asdict(s) | {"skew_ratio": s.skew_ratio} for s in measurement.stages])
