"""The exercise registry: ``@exercise(...)`` graders, discovered from ``grading/exercises/``."""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from platform_kit.errors import GradingError

log = logging.getLogger(__name__)

Kind = Literal["value", "function"]
Grader = Callable[..., Any]

_ID = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
_REGISTRY: dict[str, Exercise] = {}
_EXERCISES_PACKAGE = "platform_kit.grading.exercises"
_loaded = False


@dataclass(frozen=True)
class Exercise:
    """A registered exercise.

    Attributes:
        id: Dotted id, ``<lab topic>.<name>`` (``welcome.order_revenue``).
        lab: The lab it belongs to (``00_welcome``).
        title: One line shown next to the result.
        hint: Shown when the answer is wrong or missing.
        kind: ``function`` when the answer is the learner's function (the grader calls it),
            ``value`` when it is a value; a value exercise also accepts a zero-argument
            callable (``lambda: pick(orders)``), evaluated by ``check`` so that a stub's
            ``NotImplementedError`` counts as "not attempted".
        grader: ``grader(answer)`` or ``grader(answer, context)``; raises ``AssertionError``
            with a learner-facing message on a wrong answer; may return a success message.
    """

    id: str
    lab: str
    title: str
    hint: str
    kind: Kind
    grader: Grader

    @property
    def wants_context(self) -> bool:
        """True when the grader takes a ``context`` argument."""
        params = inspect.signature(self.grader).parameters
        return "context" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())

    def grade(self, answer: Any, context: dict[str, Any] | None) -> str | None:
        """Run the grader; returns its success message (if any), raises on a wrong answer."""
        if self.wants_context:
            return self.grader(answer, context=dict(context or {}))
        return self.grader(answer)


def exercise(
    *, id: str, lab: str, hint: str, title: str = "", kind: Kind = "value"
) -> Callable[[Grader], Grader]:
    """Register the decorated function as the grader of exercise ``id``.

    Args:
        id: Dotted, lower-case id, unique across the curriculum.
        lab: Lab name, ``NN_<slug>``.
        hint: What to try when the answer is wrong.
        title: Short description; defaults to the id.
        kind: ``value`` or ``function`` (see :class:`Exercise`).

    Raises:
        GradingError: The id is malformed or already used by another grader.
    """
    if not _ID.match(id):
        raise GradingError(
            f"exercise id {id!r} is malformed", fix="use lower-case dotted ids like 'welcome.order_revenue'"
        )

    def register(grader: Grader) -> Grader:
        existing = _REGISTRY.get(id)
        same = existing is not None and (existing.grader.__module__, existing.grader.__qualname__) == (
            grader.__module__,
            grader.__qualname__,
        )
        if existing is not None and not same:
            raise GradingError(
                f"exercise id {id!r} is registered twice "
                f"({existing.grader.__module__} and {grader.__module__})",
                fix="give one of the exercises another id",
            )
        _REGISTRY[id] = Exercise(id=id, lab=lab, title=title or id, hint=hint, kind=kind, grader=grader)
        return grader

    return register


def load_exercises() -> None:
    """Import every module of ``platform_kit.grading.exercises`` (once) so they register.

    Raises:
        GradingError: An exercise module fails to import.
    """
    global _loaded
    if _loaded:
        return
    package = importlib.import_module(_EXERCISES_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__, prefix=f"{_EXERCISES_PACKAGE}."):
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            raise GradingError(
                f"exercise module {info.name} failed to import: {type(exc).__name__}: {exc}",
                fix=f"fix the module (run `python -c 'import {info.name}'` to see the traceback)",
            ) from exc
    _loaded = True


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise registered as ``exercise_id``.

    Raises:
        GradingError: No such exercise (the message suggests close ids).
    """
    load_exercises()
    try:
        return _REGISTRY[exercise_id]
    except KeyError:
        close = difflib.get_close_matches(exercise_id, list(_REGISTRY), n=3, cutoff=0.5)
        suggestion = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise GradingError(
            f"unknown exercise id {exercise_id!r}{suggestion}",
            fix="copy the id from the lab's check cell, or list them with `workbench labs`",
        ) from None


def list_exercises(lab: str | None = None) -> list[Exercise]:
    """All exercises (of ``lab`` when given), by lab, in the order they were defined."""
    load_exercises()
    found = [ex for ex in _REGISTRY.values() if lab is None or ex.lab == lab]
    return sorted(found, key=lambda ex: ex.lab)
