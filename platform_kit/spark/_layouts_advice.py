"""Judging layouts from their measurements: a recommendation, a pass/fail verdict, the lab's hand-off.

The criterion is **core-seconds per steady job** (cores held x wall time): what the job costs a
shared cluster, and the number that "maximise utilisation, minimise duration" trades on. A layout
beats another when it holds at least :data:`MIN_SAVING` fewer core-seconds *and* its job is not
slower beyond :data:`MAX_SLOWDOWN` (relative) plus :data:`SLACK_S` (absolute). Wall time alone is
not used to declare a winner: on two shared cores it varies by 20-30 % between identical runs (and
by 50 % when other work loads the machine: fewer task slots then get a smaller share of the CPUs),
while halving the cores held halves core-seconds whatever the noise. The verdict is deliberately
lenient on time because it rests on one application's runs; :func:`recommend_layout` compares
several layouts with the tighter :data:`NOISE` / :data:`NOISE_S`.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._layouts_model import ClusterShape, ExecutorLayout
from platform_kit.spark._layouts_run import Job, LayoutResult, quiet_active_session, run_layout

_log = logging.getLogger(__name__)

__all__ = ["MAX_SLOWDOWN", "MIN_SAVING", "NOISE", "NOISE_S", "SLACK_S", "LayoutTrial", "Recommendation", "Verdict", "judge_layout",
           "recommend_layout"]

#: A winner holds at least 25 % fewer core-seconds per steady job...
MIN_SAVING = 0.25
#: ...and its job is at most 50 % slower...
MAX_SLOWDOWN = 0.5
#: ...plus this many seconds (timer and scheduling noise on a loaded machine).
SLACK_S = 0.5
#: recommend_layout: layouts within 25 % + 0.25 s of the fastest count as "as fast".
NOISE = 0.25
NOISE_S = 0.25
#: GC above this share of task time is worth a note.
GC_SHARE_NOTE = 0.10


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate layout beats a baseline, and why (numbers included)."""

    passed: bool
    reason: str
    core_s_ratio: float
    wall_ratio: float


def _within_noise(wall: float, reference: float, slowdown: float, slack_s: float) -> bool:
    return wall <= reference * (1 + slowdown) + slack_s


def judge_layout(baseline: LayoutResult, candidate: LayoutResult, *, min_saving: float = MIN_SAVING,
                 slowdown: float = MAX_SLOWDOWN, slack_s: float = SLACK_S) -> Verdict:
    """Does ``candidate`` beat ``baseline`` on core-seconds per steady job without slowing it down?"""
    if baseline.steady_core_s <= 0 or baseline.steady_s <= 0:
        raise InputError(f"the baseline {baseline.name!r} held no cores or took no time",
                         fix="measure the baseline on a cluster session (ks.cluster_session)")
    if candidate.mode != "cluster":
        return Verdict(False, f"{candidate.name} ran in {candidate.mode} mode, where executor layouts do not apply",
                       1.0, 1.0)
    core_ratio = candidate.steady_core_s / baseline.steady_core_s
    wall_ratio = candidate.steady_s / baseline.steady_s
    numbers = (f"{candidate.name}: {candidate.steady_s:.2f} s x {candidate.steady.cores} cores = "
               f"{candidate.steady_core_s:.1f} core-s per steady job against {baseline.name}'s "
               f"{baseline.steady_s:.2f} s x {baseline.steady.cores} cores = {baseline.steady_core_s:.1f} core-s")
    if not _within_noise(candidate.steady_s, baseline.steady_s, slowdown, slack_s):
        return Verdict(False, f"{numbers}: the job got {wall_ratio:.2f}x slower, beyond the allowed "
                       f"{1 + slowdown:.2f}x + {slack_s:.2f} s; too few cores (or too little memory) for its "
                       "stages", core_ratio, wall_ratio)
    if core_ratio > 1 - min_saving:
        return Verdict(False, f"{numbers}: {core_ratio:.2f}x the core-seconds, needs <= {1 - min_saving:.2f}x; "
                       "hold fewer cores for the same time (or make the job faster)", core_ratio, wall_ratio)
    return Verdict(True, f"{numbers}: {1 - core_ratio:.0%} fewer core-seconds at {wall_ratio:.2f}x the job time",
                   core_ratio, wall_ratio)


@dataclass(frozen=True)
class Recommendation:
    """The layout to use and the measured reasons."""

    name: str
    layout: ExecutorLayout
    reasons: tuple[str, ...]
    table: Any = field(compare=False, repr=False, default=None)

    def __str__(self) -> str:
        return f"Recommended: {self.name}\n" + "\n".join(f"  - {reason}" for reason in self.reasons)


def recommend_layout(results: Sequence[LayoutResult], *, slowdown: float = NOISE,
                     slack_s: float = NOISE_S) -> Recommendation:
    """Pick the layout with the fewest core-seconds per steady job among those as fast as the fastest.

    "As fast" means within ``slowdown`` (relative) + ``slack_s`` of the fastest steady job; ties go
    to the cheaper start (application start + first job). Notes on warm-up, dynamic allocation,
    spill, GC and idle cores are computed from the same measurements.

    Raises:
        InputError: No results, or none measured on a cluster.
    """
    import pandas as pd

    if not results:
        raise InputError("no layout results to compare", fix="measure at least the default layout")
    names = [r.name for r in results]
    if len(set(names)) != len(names):
        raise InputError(f"layout names must be unique, got {names}", fix="give each layout its own name")
    usable = [r for r in results if r.mode == "cluster"]
    if not usable:
        raise InputError("every result ran in local mode, where executor layouts do not apply",
                         fix="start the Spark cluster (`workbench up spark_cluster`) and measure again")
    fastest = min(usable, key=lambda r: r.steady_s)
    eligible = [r for r in usable if _within_noise(r.steady_s, fastest.steady_s, slowdown, slack_s)]
    pick = min(eligible, key=lambda r: (round(r.steady_core_s, 3), (r.app_start_s or 0) + r.first_s))
    reasons = [f"{pick.name} ran the steady job in {pick.steady_s:.2f} s holding {pick.steady.cores} cores: "
               f"{pick.steady_core_s:.1f} core-s, utilisation {pick.utilisation:.0%} (task time / core-seconds held)"]
    for other in usable:
        if other is pick:
            continue
        if other not in eligible:
            reasons.append(f"{other.name}: {other.steady_s:.2f} s, slower than the fastest ({fastest.name}, "
                           f"{fastest.steady_s:.2f} s) beyond noise")
        else:
            reasons.append(f"{other.name}: as fast within noise ({other.steady_s:.2f} s) but "
                           f"{other.steady_core_s:.1f} core-s ({other.steady_core_s / max(pick.steady_core_s, 1e-9):.1f}x), "
                           f"utilisation {other.utilisation:.0%}")
    reasons += _notes(usable)
    if len(usable) < len(results):
        reasons.append(f"ignored {len(results) - len(usable)} result(s) measured in local mode")
    table = pd.DataFrame([r.row() for r in results])
    table["recommended"] = table["layout"] == pick.name
    return Recommendation(pick.name, pick.layout, tuple(reasons), table)


def _notes(results: Sequence[LayoutResult]) -> list[str]:
    notes = []
    started = [r for r in results if r.app_start_s is not None]
    if started:
        start = sum(r.app_start_s or 0 for r in started) / len(started)
        warm = sum(r.warmup_s for r in results) / len(results)
        notes.append(f"start-up: a new application took {start:.1f} s on average and its first job "
                     f"{warm:.1f} s more than the steady one (cold executor JVMs): pay it once, reuse the application")
    for r in results:
        if r.layout.dynamic_allocation:
            released = f", released {r.released} while measured" if r.released is not None else ""
            notes.append(f"{r.name} (dynamic allocation): {r.executors_at_start} executor(s) at start, up to "
                         f"{r.max_executors} during the jobs{released}; its first job took {r.first_s:.1f} s vs "
                         f"{r.steady_s:.2f} s steady, as executors started on demand")
        spill = r.steady.metrics.spill_bytes
        if spill > 0:
            notes.append(f"{r.name} spilled {spill / 1e6:.1f} MB to disk: give each core more memory or the "
                         "shuffle more partitions")
        task_ms = r.steady.metrics.task_ms
        if task_ms > 0 and r.steady.metrics.total("gc_ms") / task_ms > GC_SHARE_NOTE:
            share = r.steady.metrics.total("gc_ms") / task_ms
            notes.append(f"{r.name} spent {share:.0%} of task time in GC: more heap per core")
    idle = [r for r in results if r.utilisation < 0.5]
    if idle:
        notes.append("granted cores sat idle more than half the time in " + ", ".join(
            f"{r.name} ({r.utilisation:.0%})" for r in idle) + ": the job's stages have too few tasks for them")
    return notes


class LayoutTrial:
    """Runs a candidate layout against a measured baseline and hands a session on to the rest of the lab.

    Args:
        workbench: The connected workbench.
        job: The measured job (``job(spark)``).
        baseline: The default layout's result, measured on the lab's session.
        runs: Runs per layout (one cold, the rest steady).
        shape: The cluster shape (asked from the workbench when omitted).
    """

    def __init__(self, workbench: Any, job: Job, baseline: LayoutResult, *, runs: int = 3,
                 shape: ClusterShape | None = None) -> None:
        self.workbench = workbench
        self.job = job
        self.baseline = baseline
        self.runs = runs
        self._shape = shape
        self.result: LayoutResult | None = None
        self.verdict: Verdict | None = None
        self.kept = False
        self.handoff_reason = ""

    @property
    def shape(self) -> ClusterShape:
        """The cluster shape layouts must fit."""
        if self._shape is None:
            self._shape = self.baseline.shape or ClusterShape.from_workbench(self.workbench)
        return self._shape

    def _execute(self, layout: ExecutorLayout) -> LayoutResult:
        return run_layout(self.workbench, layout, self.job, runs=self.runs, shape=self.shape)

    def run(self, layout: Any) -> Verdict:
        """Check ``layout`` fits, start its application, measure the job and judge it against the baseline.

        Raises:
            InputError: The layout is malformed or does not fit (no application is started).
        """
        layout = ExecutorLayout.coerce(layout, name="yours").check_fits(self.shape)
        self.result = self._execute(layout)
        self.verdict = judge_layout(self.baseline, self.result)
        return self.verdict

    def handoff(self) -> tuple[Any, Any]:
        """The session for the rest of the lab: the candidate's application when it passed, else the default.

        A dynamic-allocation layout is not kept even when it passed: it releases idle executors
        between cells, so later sections would time executor start-up. ``spark.sql.shuffle.partitions``
        is set back to the workbench's configured value either way.
        """
        from platform_kit.spark._session import cluster_session

        result, verdict = self.result, self.verdict
        alive = result is not None and result.session is not None and _active(result.session)
        if result is not None and verdict is not None and verdict.passed and alive \
                and not result.layout.dynamic_allocation:
            spark, target = result.session, result.target
            self.kept, self.handoff_reason = True, f"continuing on your layout {result.name!r}"
        else:
            why = ("no layout was run" if result is None else
                   "it uses dynamic allocation" if result.layout.dynamic_allocation else
                   "it did not beat the default" if verdict is None or not verdict.passed else "its session stopped")
            quiet_active_session()
            spark, target = cluster_session(self.workbench)
            self.kept, self.handoff_reason = False, f"restarted the default layout ({why})"
        configured = self.workbench.service("spark").builder_conf().get("spark.sql.shuffle.partitions")
        if configured:
            spark.conf.set("spark.sql.shuffle.partitions", configured)
        _log.info("Section 1 hand-off: %s", self.handoff_reason)
        return spark, target


def _active(session: Any) -> bool:
    from platform_kit.services.spark import SparkBackend

    try:
        return SparkBackend._session is session and not session.sparkContext._jsc.sc().isStopped()
    except Exception:  # noqa: BLE001 - a stopped gateway or context counts as not active
        return False
