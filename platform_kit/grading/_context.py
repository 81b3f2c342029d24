"""Helpers for graders: failing with a learner-facing message, reading the notebook's ``context``."""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from platform_kit.errors import GradingError

T = TypeVar("T")


def fail(message: str) -> NoReturn:
    """Reject the learner's answer: raise ``AssertionError(message)``.

    Graders call this (rather than ``assert``, which ``python -O`` strips) with a message
    that says what is wrong and what to look at, without giving the answer away.
    """
    raise AssertionError(message)


def context_value(context: dict[str, Any] | None, key: str, expected: type[T], *, exercise_id: str) -> T:
    """Return ``context[key]``, checking it is there with the right type.

    A missing or mistyped entry is the notebook author's mistake, not the learner's, so it
    raises instead of failing the check.

    Args:
        context: What the notebook passed as ``check(..., context=...)``.
        key: The entry the grader needs.
        expected: Its type.
        exercise_id: For the error message.

    Raises:
        GradingError: The entry is missing or has another type.
    """
    value = (context or {}).get(key)
    if not isinstance(value, expected):
        got = "nothing" if value is None else type(value).__name__
        raise GradingError(
            f"check({exercise_id!r}) needs context[{key!r}] as a {expected.__name__}, got {got}",
            fix=f"call check({exercise_id!r}, answer, context={{{key!r}: ...}}) as the lab's check cell does",
        )
    return value
