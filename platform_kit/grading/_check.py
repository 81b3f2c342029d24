"""``check()``: grade an answer in the notebook, show the result, record it."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_kit.errors import GradingError
from platform_kit.grading._progress import current_learner, record_attempt
from platform_kit.grading._registry import Exercise, get_exercise

log = logging.getLogger(__name__)

#: when set, every check appends one JSON line to this file (the lab runner sets it)
CHECK_LOG_ENV = "WORKBENCH_CHECK_LOG"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one ``check()``.

    Attributes:
        exercise_id: The exercise.
        lab: Its lab.
        title: Its title.
        passed: Whether the answer is right.
        attempted: False when the learner's code still raises ``NotImplementedError``.
        message: Learner-facing explanation.
        hint: The exercise's hint (shown on failure).
        ts: UTC ISO time of the check.
    """

    exercise_id: str
    lab: str
    title: str
    passed: bool
    attempted: bool
    message: str
    hint: str
    ts: str

    def __str__(self) -> str:
        if self.passed:
            return f"PASSED {self.exercise_id}: {self.message}"
        label = "NOT ATTEMPTED" if not self.attempted else "NOT PASSED"
        return f"{label} {self.exercise_id}: {self.message}\n  hint: {self.hint}"

    def __repr__(self) -> str:
        state = "passed" if self.passed else "not attempted" if not self.attempted else "failed"
        return f"<CheckResult {self.exercise_id}: {state}>"

    def to_markdown(self) -> str:
        """The result as a short Markdown block for notebooks."""
        if self.passed:
            return f"✅ **{self.exercise_id}** passed: {self.message}"
        icon, label = ("⏳", "not attempted yet") if not self.attempted else ("❌", "not passed yet")
        return f"{icon} **{self.exercise_id}** {label}: {self.message}\n\n💡 *Hint:* {self.hint}"


_NOT_ATTEMPTED = "replace `raise NotImplementedError(...)` with your code, then run this cell again"


def _raised_by_stub(exc: BaseException) -> bool:
    """True when ``exc`` was raised while handling (or from) a ``NotImplementedError``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, NotImplementedError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _evaluate(ex: Exercise, answer: Any, context: dict[str, Any] | None) -> tuple[bool, bool, str]:
    """Grade; returns ``(passed, attempted, message)``. Only GradingError escapes."""
    try:
        if ex.kind == "function" and not callable(answer):
            raise AssertionError(
                f"expected a function, got {type(answer).__name__}; pass the function itself, "
                "without calling it (no parentheses)"
            )
        if ex.kind == "value" and callable(answer):
            answer = answer()
        success = ex.grade(answer, context)
    except GradingError:
        raise
    except NotImplementedError:
        return False, False, _NOT_ATTEMPTED
    except AssertionError as exc:
        if _raised_by_stub(exc):  # a grader that reports the learner's exceptions still saw a stub
            return False, False, _NOT_ATTEMPTED
        return False, True, str(exc) or "the answer is not right"
    except Exception as exc:  # noqa: BLE001 - the learner's code failed: show it, keep the notebook going
        return False, True, f"your code raised {type(exc).__name__}: {exc}"
    return True, True, success if isinstance(success, str) and success else ex.title


def _show(result: CheckResult) -> None:
    """Display in a Jupyter kernel (Markdown), else print one plain line to stdout."""
    try:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        display({"text/markdown": result.to_markdown(), "text/plain": str(result)}, raw=True)
    else:
        print(result)


def _append_check_log(result: CheckResult, learner: str) -> None:
    target = os.environ.get(CHECK_LOG_ENV)
    if not target:
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({**asdict(result), "learner": learner}, ensure_ascii=False) + "\n")
    except OSError as exc:
        log.warning("cannot append to the check log %s: %s", path, exc)


def check(
    exercise_id: str, answer: Any, *, context: dict[str, Any] | None = None, show: bool = True
) -> CheckResult:
    """Grade ``answer`` for ``exercise_id``, show the result, and record it.

    A wrong answer never raises: the result says what is wrong (with the hint) and the
    notebook carries on. A ``NotImplementedError`` from a learner stub counts as "not
    attempted"; any other exception from the learner's code is a failure showing it.

    Args:
        exercise_id: The exercise, e.g. ``"welcome.order_revenue"``.
        answer: The learner's value, or function for ``function`` exercises. A ``value``
            exercise also accepts a zero-argument callable evaluated here.
        context: Data computed by the notebook that the grader needs (e.g. ``{"orders": df}``).
        show: Display the result (Markdown in Jupyter, one line on stdout elsewhere).

    Returns:
        The result (``passed``, ``message``, ``exercise_id``...). It is also appended to the
        progress store and, when ``$WORKBENCH_CHECK_LOG`` is set, to that JSON-lines file.

    Raises:
        GradingError: The exercise id is unknown, or the notebook did not give the grader
            the context it needs (an authoring error, not a wrong answer).
    """
    ex = get_exercise(exercise_id)
    passed, attempted, message = _evaluate(ex, answer, context)
    result = CheckResult(
        exercise_id=ex.id,
        lab=ex.lab,
        title=ex.title,
        passed=passed,
        attempted=attempted,
        message=message,
        hint=ex.hint,
        ts=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    learner = current_learner()
    try:
        record_attempt(ex.id, ex.lab, passed, message, result.ts, learner=learner)
    except GradingError as exc:
        log.warning("progress not recorded: %s", exc.message)
    _append_check_log(result, learner)
    if show:
        _show(result)
    return result
