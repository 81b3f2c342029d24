"""Running one job under an executor layout and reading what the cluster gave it.

:func:`run_layout` starts an application with the layout (a new application: executor settings are
fixed at start), runs the job several times and keeps every run: the first one pays for cold
executor JVMs (class loading, JIT), the later ones are the steady job time. From the status REST
API's ``allexecutors`` list (add and remove times, cores) it computes the **core-seconds** the
application held while each run ran, which is what a shared cluster pays for a job, and the
**utilisation**: task time / core-seconds held (1.0 = every granted core ran a task all the time).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._layouts_model import ClusterShape, ExecutorLayout
from platform_kit.spark.monitor import JobMetrics, SparkRest, measure

_log = logging.getLogger(__name__)

__all__ = ["ExecutorSpan", "LayoutResult", "LayoutRun", "core_seconds", "executor_spans", "measure_layout",
           "quiet_active_session", "run_layout", "utilisation"]

Job = Callable[[Any], Any]


@dataclass(frozen=True)
class ExecutorSpan:
    """One executor's life: when it was added and removed (epoch seconds) and its cores."""

    executor_id: str
    cores: int
    max_memory: int
    added: float
    removed: float | None = None
    reason: str | None = None

    def overlap(self, start: float, end: float) -> float:
        """Seconds of ``[start, end]`` this executor was alive."""
        stop = self.removed if self.removed is not None else end
        return max(0.0, min(end, stop) - max(start, self.added))


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    parsed = datetime.strptime(str(value).replace("GMT", ""), "%Y-%m-%dT%H:%M:%S.%f")
    return parsed.replace(tzinfo=timezone.utc).timestamp()


def executor_spans(executors: list[dict[str, Any]]) -> tuple[ExecutorSpan, ...]:
    """Spans from the REST API's ``allexecutors`` (or ``executors``) documents.

    The driver is left out unless it is the only entry (``local[*]``: the driver runs the tasks).
    """
    docs = [d for d in executors if d.get("id") != "driver"] or [d for d in executors if d.get("id") == "driver"]
    spans = []
    for doc in docs:
        added = _epoch(doc.get("addTime"))
        if added is None:
            continue
        spans.append(ExecutorSpan(str(doc.get("id")), int(doc.get("totalCores", 0)), int(doc.get("maxMemory", 0)),
                                  added, _epoch(doc.get("removeTime")), doc.get("removeReason")))
    return tuple(sorted(spans, key=lambda s: (s.added, s.executor_id)))


def core_seconds(spans: tuple[ExecutorSpan, ...], start: float, end: float) -> float:
    """Core-seconds the application held during ``[start, end]`` (epoch seconds)."""
    if end < start:
        raise InputError(f"window ends before it starts ({start} > {end})", fix="pass (start, end) in order")
    return sum(span.cores * span.overlap(start, end) for span in spans)


def concurrent(spans: tuple[ExecutorSpan, ...], start: float, end: float) -> tuple[int, int]:
    """The most executors, and cores, alive at one moment within ``[start, end]``."""
    moments = [start, *(s.added for s in spans if start <= s.added <= end)]
    best = (0, 0)
    for moment in moments:
        alive = [s for s in spans if s.added <= moment and (s.removed is None or s.removed > moment)]
        best = max(best, (len(alive), sum(s.cores for s in alive)))
    return best


def utilisation(task_seconds: float, held_core_seconds: float) -> float:
    """Task time over core-seconds held (0..1, higher means fewer granted cores sat idle).

    It can exceed 1 slightly when the REST API's task times include scheduler delay that the
    wall-clock window did not; 0 when nothing was held.
    """
    if task_seconds < 0 or held_core_seconds < 0:
        raise InputError("task time and core-seconds must not be negative", fix="pass measured values")
    return task_seconds / held_core_seconds if held_core_seconds > 0 else 0.0


@dataclass(frozen=True)
class LayoutRun:
    """One run of the job: its metrics, when it began (epoch s), and what the app held meanwhile."""

    metrics: JobMetrics
    began: float
    core_s: float
    executors: int
    cores: int

    @property
    def wall_s(self) -> float:
        """Wall-clock seconds of the run."""
        return self.metrics.wall_s


@dataclass(frozen=True)
class LayoutResult:
    """What one layout cost on the measured job.

    Attributes:
        layout: The layout.
        mode: ``cluster`` or ``local`` (a fallback: layouts do not apply).
        app_start_s: Seconds to start the application and its executors (None: an existing session).
        runs: Every run, the first with cold executors.
        spans: The executors the application had (dynamic allocation adds and removes them).
        executors_at_start: Executors registered before the first run.
        released: Dynamic allocation: executors released as idle while the application ran (None: static).
        shape: The cluster it ran on.
    """

    layout: ExecutorLayout
    mode: str
    app_start_s: float | None
    runs: tuple[LayoutRun, ...]
    spans: tuple[ExecutorSpan, ...]
    executors_at_start: int
    released: int | None = None
    shape: ClusterShape | None = None
    session: Any = field(default=None, compare=False, repr=False)
    target: Any = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The layout's name."""
        return self.layout.name

    @property
    def first(self) -> LayoutRun:
        """The first run (cold executor JVMs)."""
        return self.runs[0]

    @property
    def steady(self) -> LayoutRun:
        """The fastest run after the first (the job once executors are warm)."""
        later = self.runs[1:] or self.runs
        return min(later, key=lambda run: run.wall_s)

    @property
    def first_s(self) -> float:
        """Wall seconds of the first run."""
        return self.first.wall_s

    @property
    def steady_s(self) -> float:
        """Wall seconds of the steady run."""
        return self.steady.wall_s

    @property
    def warmup_s(self) -> float:
        """What the first run cost beyond the steady one (cold executors, JIT, class loading)."""
        return max(0.0, self.first_s - self.steady_s)

    @property
    def steady_core_s(self) -> float:
        """Core-seconds held during the steady run."""
        return self.steady.core_s

    @property
    def task_s(self) -> float:
        """Executor run time summed over the steady run's tasks."""
        return self.steady.metrics.task_ms / 1000

    @property
    def utilisation(self) -> float:
        """Task time / core-seconds held, steady run."""
        return utilisation(self.task_s, self.steady_core_s)

    @property
    def cpu_utilisation(self) -> float:
        """Executor CPU time / core-seconds held, steady run (below :attr:`utilisation` when tasks wait)."""
        return utilisation(self.steady.metrics.total("executor_cpu_ms") / 1000, self.steady_core_s)

    @property
    def max_executors(self) -> int:
        """The most executors alive at once during the runs."""
        return max((run.executors for run in self.runs), default=0)

    def row(self) -> dict[str, Any]:
        """One flat row for a results table."""
        steady = self.steady.metrics
        return {"layout": self.name, "mode": self.mode,
                "app_start_s": None if self.app_start_s is None else round(self.app_start_s, 2),
                "first_s": round(self.first_s, 2), "steady_s": round(self.steady_s, 2),
                "warmup_s": round(self.warmup_s, 2), "executors": self.steady.executors,
                "cores": self.steady.cores, "max_executors": self.max_executors,
                "core_s": round(self.steady_core_s, 2), "task_s": round(self.task_s, 2),
                "cpu_s": round(steady.total("executor_cpu_ms") / 1000, 2), "gc_s": round(steady.total("gc_ms") / 1000, 3),
                "spill_mb": round(steady.spill_bytes / 1e6, 2), "shuffle_mb": round(steady.shuffle_bytes / 1e6, 3),
                "utilisation": round(self.utilisation, 3), "cpu_utilisation": round(self.cpu_utilisation, 3)}

    def timeline(self, step_s: float = 0.25) -> list[tuple[float, int, int]]:
        """(seconds since the first run began, executors alive, cores alive) every ``step_s``."""
        if not self.runs:
            return []
        start = self.runs[0].began
        end = max(run.began + run.wall_s for run in self.runs)
        end = max([end, *(s.removed for s in self.spans if s.removed is not None)])
        points, moment = [], start
        while moment <= end + step_s / 2:
            alive = [s for s in self.spans if s.added <= moment and (s.removed is None or s.removed > moment)]
            points.append((round(moment - start, 3), len(alive), sum(s.cores for s in alive)))
            moment += step_s
        return points


def quiet_active_session() -> None:
    """Silence the running application's log before it is stopped or loses executors.

    Executors removed by dynamic allocation, or by stopping the application, make the driver log
    ``ERROR TransportClient: Failed to send RPC`` for messages in flight: harmless, but noisy in a
    notebook. :func:`~platform_kit.spark.cluster_session` sets the new application's level again.
    """
    try:
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.sparkContext.setLogLevel("FATAL")
    except Exception:  # noqa: BLE001 - best effort: a stopped context has nothing to silence
        _log.debug("no active session to quiet")


def _live_executors(spark: Any) -> int:
    from platform_kit.spark._session import executor_count

    return executor_count(spark)


def measure_layout(spark: Any, job: Job, layout: ExecutorLayout, *, runs: int = 3, target: Any = None,
                   app_start_s: float | None = None, release_wait_s: float = 0.0,
                   shape: ClusterShape | None = None) -> LayoutResult:
    """Run ``job(spark)`` ``runs`` times on the current application and read what it held.

    Args:
        spark: The session (its UI must be on: :func:`platform_kit.spark.cluster_session`).
        job: ``job(spark)`` runs the measured work (an action) and returns its result.
        layout: The layout this application was started with (for the record).
        runs: Runs in all; the first is the cold one, the fastest of the others the steady one.
        target: The :class:`~platform_kit.spark.SparkTarget` (mode and executors).
        app_start_s: How long starting the application took, when it was started for this.
        release_wait_s: Dynamic allocation: wait up to this long after the runs for idle
            executors to be released, so the timeline shows the release.
        shape: The cluster shape (for the record).
    """
    if runs < 1:
        raise InputError(f"runs must be >= 1, got {runs}", fix="use runs=3: one cold run and two steady ones")
    rest = SparkRest(spark)
    at_start = _live_executors(spark)
    records: list[tuple[JobMetrics, float]] = []
    for index in range(runs):
        began = time.time()
        metrics = measure(spark, lambda: job(spark), f"{layout.name}-{'first' if index == 0 else index}")
        records.append((metrics, began))
    released = None
    if layout.dynamic_allocation and release_wait_s > 0:
        # Shuffle tracking keeps an executor while a shuffle it wrote is referenced; the driver's
        # ContextCleaner drops finished jobs' shuffles only after a driver GC (every 30 min by
        # default), so ask for one now, as a long-running application would get eventually.
        spark.sparkContext._jvm.System.gc()
        deadline = time.monotonic() + release_wait_s
        while _live_executors(spark) > layout.min_executors and time.monotonic() < deadline:
            time.sleep(0.2)
    spans = executor_spans(rest.get("allexecutors"))
    if layout.dynamic_allocation:  # the application runs on, so every removal was a release of an idle executor
        released = sum(1 for s in spans if s.removed is not None)
    layout_runs = []
    for metrics, began in records:
        end = began + metrics.wall_s
        executors, cores = concurrent(spans, began, end)
        layout_runs.append(LayoutRun(metrics, began, core_seconds(spans, began, end), executors, cores))
    mode = getattr(target, "mode", None) or ("local" if spark.sparkContext._jsc.sc().isLocal() else "cluster")
    return LayoutResult(layout, mode, app_start_s, tuple(layout_runs), spans, at_start, released, shape,
                        session=spark, target=target)


def run_layout(workbench: Any, layout: ExecutorLayout, job: Job, *, runs: int = 3, release_wait_s: float = 0.0,
               shape: ClusterShape | None = None, app_name: str | None = None) -> LayoutResult:
    """Start a new application with ``layout`` on the workbench's cluster and measure ``job`` on it.

    The application stays running afterwards (it is ``pk.spark``), so its session can be reused.

    Raises:
        InputError: The layout cannot fit the cluster's workers (nothing is started).
        ServiceError: Spark refused to start the application (the previous one is already stopped).
    """
    from platform_kit.spark._session import cluster_session

    shape = shape or ClusterShape.from_workbench(workbench)
    layout.check_fits(shape)
    quiet_active_session()
    began = time.perf_counter()
    spark, target = cluster_session(workbench, layout.to_conf(), app_name=app_name or f"lab3-{layout.name}")
    started = time.perf_counter() - began
    if layout.dynamic_allocation:
        spark.sparkContext.setLogLevel("FATAL")  # released executors make in-flight RPCs log errors
    if not target.on_cluster:
        _log.warning("layout %s runs in local mode (%s): executor settings do not apply", layout.name, target.reason)
    _log.info("application for layout %s started in %.1f s with %d executors", layout.name, started, target.executors)
    return measure_layout(spark, job, layout, runs=runs, target=target, app_start_s=started,
                          release_wait_s=release_wait_s, shape=shape)
