"""Grading: exercises, ``check()`` in notebooks, the progress store, and batch grading.

A lab's check cell (tagged ``check-<exercise_id>``) calls::

    from platform_kit.grading import check
    check("welcome.order_revenue", revenue_by_status)
    check("welcome.top_customer", lambda: top_customer(orders), context={"orders": orders})

Graders live in ``platform_kit/grading/exercises/<lab slug>.py`` and register with
:func:`exercise`; every module of that package is imported on first use. A grader raises
``AssertionError`` with a learner-facing message when the answer is wrong. ``check`` never
raises on a wrong answer; it returns a :class:`CheckResult`, shows it, records it in the
progress store (``<state dir>/progress.sqlite``) and, when ``$WORKBENCH_CHECK_LOG`` is set
(the lab runner sets it), appends it as one JSON line there. The batch grader
(:func:`grade_submissions`) reads that log, so a learner's check and the grade agree.
"""

from typing import TYPE_CHECKING

from platform_kit.grading._check import CHECK_LOG_ENV, CheckResult, check
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._progress import (
    LEARNER_ENV,
    ProgressRow,
    current_learner,
    progress_db_path,
    progress_table,
    record_attempt,
)
from platform_kit.grading._registry import Exercise, exercise, get_exercise, list_exercises, load_exercises

if TYPE_CHECKING:
    from platform_kit.grading._submissions import GradeRow, grade_submissions

__all__ = [
    "CHECK_LOG_ENV",
    "LEARNER_ENV",
    "CheckResult",
    "Exercise",
    "GradeRow",
    "ProgressRow",
    "check",
    "context_value",
    "current_learner",
    "exercise",
    "fail",
    "get_exercise",
    "grade_submissions",
    "list_exercises",
    "load_exercises",
    "progress_db_path",
    "progress_table",
    "record_attempt",
]


def __getattr__(name: str) -> object:
    # The batch grader pulls in the notebook runner (papermill, nbformat): import it only
    # when asked, so `check()` in a notebook stays quick to import.
    if name in ("grade_submissions", "GradeRow"):
        from platform_kit.grading import _submissions

        return getattr(_submissions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
