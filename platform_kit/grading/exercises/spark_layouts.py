"""Exercise of lab ``03_spark``, section 1: an executor layout that beats the default on the measured job."""

from __future__ import annotations

from typing import Any

from platform_kit.errors import InputError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise
from platform_kit.spark._layouts_advice import MAX_SLOWDOWN, MIN_SAVING, SLACK_S, LayoutTrial
from platform_kit.spark._layouts_model import ExecutorLayout

LAB = "03_spark"
EXERCISE_ID = "spark.beat_default_layout"


def _proposal(answer: Any, trial: LayoutTrial) -> ExecutorLayout:
    proposal = answer(trial.shape)
    if proposal is None:
        fail("your function returned None; return an ExecutorLayout (or a dict of spark.* layout settings)")
    try:
        layout = ExecutorLayout.coerce(proposal, name="yours")
    except InputError as exc:
        fail(f"that layout is not valid: {exc.message} (fix: {exc.fix})")
    if layout.name in ("custom", trial.baseline.name):
        layout = layout.with_name("yours")
    try:
        layout.check_fits(trial.shape)
    except InputError as exc:
        fail(f"that layout cannot run on this cluster: {exc.message} (fix: {exc.fix})")
    return layout


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="an executor layout that beats the default on the measured job",
    hint="the default holds every core of the cluster while its stages leave many idle (see its utilisation); "
    "hold fewer cores (executor_cores, cores_max) for the same job time, with enough memory per core; "
    f"the check wants >= {MIN_SAVING:.0%} fewer core-seconds per steady job and at most "
    f"{1 + MAX_SLOWDOWN:.2f}x + {SLACK_S:.2f} s of the default's job time",
)
def _grade_beat_default_layout(answer: Any, context: dict[str, Any]) -> str:
    trial = context_value(context, "trial", LayoutTrial, exercise_id=EXERCISE_ID)
    layout = _proposal(answer, trial)
    if layout.to_conf() == trial.baseline.layout.to_conf():
        fail("that is the default layout itself (same settings): change cores, memory or cores_max")
    if trial.baseline.mode != "cluster":
        fail("this session runs in local mode, so executor layouts cannot be compared: start the Spark cluster "
             "(`workbench up spark_cluster`) and rerun the section")
    try:
        verdict = trial.run(layout)
    except InputError as exc:
        fail(f"that layout cannot run on this cluster: {exc.message} (fix: {exc.fix})")
    if not verdict.passed:
        fail(verdict.reason)
    return verdict.reason
