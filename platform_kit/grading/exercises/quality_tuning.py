"""Exercise of lab ``04_quality``, section 6: the operating point for an on-call budget
(``quality.operating_point``).

The answer is a function ``choose(sweep, budget)`` that takes a threshold sweep (the frame of
``kq.tuning.sweep_thresholds``: ``threshold``, ``alerts_per_week``, ``precision``, ``recall``, ...)
and a budget in alerts per week, and returns the threshold that **meets the budget**
(``alerts_per_week <= budget``) with the **best recall**; ties go to the fewer alerts per week, then
to the higher precision (NaN precision counts as 0), and rows that tie on all three are equally
right. When no threshold meets the budget it must return ``None``: paging over budget is not an
operating point, and the caller has to change the rule or the budget. The reference is the
package's ``choose_operating_point``. The function is run on the notebook's sweep at its budget and
at other budgets (everything within budget, nothing within budget), and on hidden sweeps: ties on
recall, a budget met exactly, thresholds in descending order (a ratio floor, where a higher value
pages more), alerts that do not fall monotonically, NaN precision.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
EXERCISE_ID = "quality.operating_point"


def reference_operating_point(sweep: pd.DataFrame, budget: float) -> float | None:
    """The package's choice (``choose_operating_point``), or None when no threshold meets the budget."""
    from platform_kit.errors import InputError
    from platform_kit.quality.tuning import choose_operating_point

    try:
        return float(choose_operating_point(sweep, float(budget))["threshold"])
    except InputError as exc:
        if "no threshold meets" in exc.message:
            return None
        raise


def _acceptable(sweep: pd.DataFrame, best: float) -> set[float]:
    """The reference row and the rows that tie with it on recall, alerts per week and precision."""
    key = sweep[["recall", "alerts_per_week", "precision"]].fillna(0.0).to_numpy()
    row = key[np.isclose(sweep["threshold"].to_numpy(dtype=float), best)][0]
    same = np.isclose(key, row).all(axis=1)
    return {float(t) for t in sweep["threshold"][same]}


def _frame(thresholds: list[float], per_week: list[float], recall: list[float], precision: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"threshold": thresholds, "alerts": [round(a * 13) for a in per_week],
                         "alerts_per_week": per_week, "precision": precision, "recall": recall})


def hidden_cases() -> list[tuple[str, pd.DataFrame, float]]:
    """Hand-made sweeps whose right answer differs from the usual shortcuts."""
    nan = float("nan")
    return [
        ("a hidden sweep with three thresholds tied on recall within budget",
         _frame([3, 4, 5, 6, 7], [2.0, 0.9, 0.6, 0.6, 0.2], [1.0, 0.8, 0.8, 0.8, 0.4], [0.3, 0.6, 0.7, 0.9, 1.0]), 1.0),
        ("a hidden sweep whose budget one threshold meets exactly",
         _frame([1.5, 2.0, 2.5, 3.0], [1.4, 0.75, 0.5, 0.25], [1.0, 1.0, 0.9, 0.5], [0.4, 0.6, 0.9, 1.0]), 0.5),
        ("a hidden sweep of a ratio floor (a higher threshold pages more, listed from high to low)",
         _frame([0.9, 0.8, 0.7, 0.6, 0.5], [5.0, 2.2, 1.1, 0.45, 0.2], [1.0, 1.0, 1.0, 0.75, 0.5],
                [0.1, 0.3, 0.6, 0.9, 1.0]), 1.5),
        ("a hidden sweep whose alerts do not fall monotonically (an anomaly flapping around the threshold)",
         _frame([2, 3, 4, 5, 6, 8], [3.0, 0.8, 1.2, 0.7, 0.3, 0.0], [1.0, 1.0, 1.0, 0.75, 0.5, 0.0],
                [0.2, 0.7, 0.5, 0.8, 1.0, nan]), 1.0),
        ("a hidden sweep where only a silent threshold (no alerts, precision NaN) and one other meet the budget",
         _frame([1, 2, 3, 4], [4.0, 2.5, 0.3, 0.0], [1.0, 1.0, 0.5, 0.0], [0.2, 0.3, 1.0, nan]), 0.3),
        ("a hidden sweep where no threshold meets the budget",
         _frame([2, 4, 6, 8], [6.0, 3.1, 1.9, 1.2], [1.0, 1.0, 0.8, 0.6], [0.1, 0.3, 0.5, 0.7]), 1.0),
    ]


def _notebook_cases(sweep: pd.DataFrame, budget: float) -> list[tuple[str, pd.DataFrame, float]]:
    cases = [(f"this notebook's sweep at its budget of {budget:g} alerts/week", sweep, budget)]
    per_week = sweep["alerts_per_week"].astype(float)
    cases.append((f"this notebook's sweep with a budget every threshold meets ({per_week.max() + 1:.3g}/week)", sweep,
                  float(per_week.max() + 1)))
    if per_week.min() > 0:
        cases.append((f"this notebook's sweep with a budget no threshold meets ({per_week.min() / 2:.3g}/week)", sweep,
                      float(per_week.min() / 2)))
    return cases


def _as_number(result: Any, label: str) -> float | None:
    if result is None:
        return None
    if isinstance(result, pd.Series | pd.DataFrame | dict):
        fail(f"on {label} you returned a {type(result).__name__}: return the threshold itself (a value of "
             "sweep['threshold']), e.g. row['threshold']")
    if isinstance(result, bool | np.bool_) or not isinstance(result, numbers.Real):
        fail(f"on {label} you returned {result!r} ({type(result).__name__}): return a threshold from "
             "sweep['threshold'] (a number), or None when no threshold meets the budget")
    return float(result)


def _as_threshold(value: float | None, sweep: pd.DataFrame, label: str) -> float | None:
    thresholds = sweep["threshold"].to_numpy(dtype=float)
    if value is None:
        return None
    if not np.isclose(thresholds, value).any():
        position = (f"; {value:g} looks like a row position or index label, return sweep.loc[i, 'threshold'] instead"
                    if value.is_integer() and int(value) in range(len(sweep)) else "")
        fail(f"on {label} you returned {value:g}, which is not one of the sweep's thresholds "
             f"{[float(t) for t in thresholds]}{position}")
    return float(thresholds[np.isclose(thresholds, value)][0])  # the sweep's own value, for exact comparisons


def _row(sweep: pd.DataFrame, threshold: float) -> pd.Series:
    return sweep[np.isclose(sweep["threshold"].to_numpy(dtype=float), threshold)].iloc[0]


def _explain(got: float | None, best: float | None, sweep: pd.DataFrame, budget: float, label: str) -> str:
    """Why ``got`` is not the operating point (``best``) on this case."""
    if best is None:
        quiet = _row(sweep, float(sweep.loc[sweep["alerts_per_week"].idxmin(), "threshold"]))
        return (f"on {label} no threshold meets the budget of {budget:.3g} (the quietest, {quiet['threshold']:g}, sends "
                f"{quiet['alerts_per_week']:.2f}/week), but you returned {got:g}: return None, so that the caller "
                "changes the rule (for_hours, cooldown) or negotiates the budget instead of paging over it")
    want = _row(sweep, best)
    if got is None:
        return (f"on {label} you returned None, but threshold {best:g} meets the budget of {budget:g} "
                f"({want['alerts_per_week']:.2f}/week, recall {want['recall']:.0%}): return None only when no "
                "threshold has alerts_per_week <= budget")
    mine = _row(sweep, got)
    if mine["alerts_per_week"] > budget:
        return (f"on {label} threshold {got:g} sends {mine['alerts_per_week']:.2f} alerts/week, over the budget of "
                f"{budget:g} (recall {mine['recall']:.0%}): keep only the thresholds with alerts_per_week <= budget "
                "before you maximise recall")
    if mine["recall"] < want["recall"]:
        exact = (f" ({best:g} sends exactly the budget, and alerts_per_week <= budget meets it)"
                 if want["alerts_per_week"] == budget else "")
        return (f"on {label} threshold {got:g} meets the budget ({mine['alerts_per_week']:.2f}/week) but catches only "
                f"{mine['recall']:.0%} of the incidents; {best:g} also meets it and catches {want['recall']:.0%}"
                f"{exact}: among the thresholds within budget, take the best recall, not the quietest")
    if mine["alerts_per_week"] > want["alerts_per_week"]:
        return (f"on {label} thresholds {got:g} and {best:g} both catch {want['recall']:.0%} within budget, but "
                f"{best:g} sends fewer alerts ({want['alerts_per_week']:.2f} vs {mine['alerts_per_week']:.2f}/week): "
                "on a tie in recall, take the fewer alerts per week (then the higher precision)")
    return (f"on {label} thresholds {got:g} and {best:g} tie on recall ({want['recall']:.0%}) and alerts per week "
            f"({want['alerts_per_week']:.2f}), and {best:g} has the higher precision ({want['precision']:.0%} vs "
            f"{0 if pd.isna(mine['precision']) else mine['precision']:.0%}; NaN counts as 0): break that tie on "
            "precision")


def _call(choose: Callable[..., Any], sweep: pd.DataFrame, budget: float, label: str, feasible: bool) -> Any:
    try:
        return choose(sweep.copy(), budget)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's code failed: say on which case
        fail(f"on {label} your function raised {type(exc).__name__}: {exc}"
             + ("" if feasible else "; when no threshold meets the budget, return None instead of raising"))


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="the threshold that meets the on-call budget with the best recall (None when none meets it)",
    hint="within = sweep[sweep['alerts_per_week'] <= budget]; if within is empty return None; sort within by "
    "recall (descending), then alerts_per_week (ascending), then precision with NaN as 0 (descending), and return "
    "the first row's 'threshold'",
)
def _grade_operating_point(answer: Callable[..., Any], context: dict[str, Any]) -> str:
    sweep = context_value(context, "sweep", pd.DataFrame, exercise_id=EXERCISE_ID)
    budget = float(context_value(context, "budget", numbers.Real, exercise_id=EXERCISE_ID))
    cases = _notebook_cases(sweep, budget) + hidden_cases()
    raw = []
    for label, frame, limit in cases:
        best = reference_operating_point(frame, limit)
        raw.append((label, frame, limit, best, _as_number(_call(answer, frame, limit, label, best is not None),
                                                          label)))
    if len({r[4] for r in raw}) == 1 and len({r[3] for r in raw}) > 1:
        fail(f"you returned {raw[0][4]!r} for every sweep and budget: the operating point depends on the sweep and "
             "the budget, so compute it from them")
    results = []
    for label, frame, limit, best, result in raw:
        got = _as_threshold(result, frame, label)
        if not (got is None and best is None) and (best is None or got is None or got not in _acceptable(frame, best)):
            fail(_explain(got, best, frame, limit, label))
        results.append(got)
    mine = results[0]
    row = _row(sweep, mine) if mine is not None else None
    at = (f"threshold {mine:g} ({row['alerts_per_week']:.2f} alerts/week, recall {row['recall']:.0%}, precision "
          f"{row['precision']:.0%})" if row is not None else "no threshold (None)")
    return (f"your choice matches the reference on {len(cases)} sweeps and budgets (ties, an exact budget, descending "
            f"thresholds, an infeasible budget); at the notebook's budget of {budget:g}/week: {at}")
