"""The grader of ``quality.operating_point`` (Lab 4, section 6): the threshold for an on-call budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from platform_kit.errors import GradingError, InputError
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_tuning import hidden_cases, reference_operating_point
from platform_kit.quality.alerts import default_rules
from platform_kit.quality.history import synthetic_table_history
from platform_kit.quality.tuning import choose_operating_point, sweep_thresholds

ID = "quality.operating_point"
BUDGET = 0.5


@pytest.fixture(scope="module")
def sweep():
    """The notebook's sweep: the volume rule's max_z from 2 to 14 in steps of 0.5 on the seed-42 history."""
    hist = synthetic_table_history("orders", days=90, seed=42)
    return sweep_thresholds(hist, hist.incidents, default_rules()["orders_volume"], "max_z", np.arange(2.0, 14.5, 0.5))


def solution(sweep, budget):
    """The solution notebook's answer."""
    within = sweep[sweep["alerts_per_week"] <= budget]
    if within.empty:
        return None
    ranked = within.assign(_recall=within["recall"].fillna(0.0), _precision=within["precision"].fillna(0.0))
    ranked = ranked.sort_values(["_recall", "alerts_per_week", "_precision"], ascending=[False, True, False],
                                kind="stable")
    return ranked["threshold"].iloc[0]


def _check(answer, sweep, budget=BUDGET):
    return check(ID, answer, context={"sweep": sweep, "budget": budget}, show=False)


def test_solution_passes_and_reports_the_notebook_choice(sweep):
    result = _check(solution, sweep)
    assert result.passed, result.message
    assert "threshold 9 (0.47 alerts/week, recall 75%" in result.message


def test_the_package_wrapped_to_return_none_passes(sweep):
    def wrapped(sweep, budget):
        try:
            return choose_operating_point(sweep, budget)["threshold"]
        except InputError:
            return None

    assert _check(wrapped, sweep).passed


def test_hidden_cases_have_the_designed_answers():
    answers = [reference_operating_point(frame, budget) for _, frame, budget in hidden_cases()]
    assert answers == [6.0, 2.5, 0.7, 3.0, 3.0, None]


def _first_within(sweep, budget):
    within = sweep[sweep["alerts_per_week"] <= budget]
    return None if within.empty else within.loc[within["recall"].idxmax(), "threshold"]


def _no_precision_tiebreak(sweep, budget):
    within = sweep[sweep["alerts_per_week"] <= budget]
    if within.empty:
        return None
    return within.sort_values(["recall", "alerts_per_week"], ascending=[False, True], kind="stable")["threshold"].iloc[0]


def _quietest_when_infeasible(sweep, budget):
    best = solution(sweep, budget)
    return sweep.loc[sweep["alerts_per_week"].idxmin(), "threshold"] if best is None else best


@pytest.mark.parametrize(("answer", "needles"), [
    pytest.param(lambda s, b: s.loc[s["recall"].idxmax(), "threshold"], ["threshold 2 sends 4.82", "over the budget"],
                 id="max-recall-ignoring-budget"),
    pytest.param(lambda s, b: s.loc[s["alerts_per_week"].idxmin(), "threshold"],
                 ["threshold 13 meets the budget", "catches only 25%", "9 also meets it", "not the quietest"],
                 id="quietest-ignoring-recall"),
    pytest.param(lambda s, b: 9.0, ["returned 9.0 for every sweep and budget"], id="fixed-value"),
    pytest.param(lambda s, b: None, ["returned None for every sweep and budget"], id="always-none"),
    pytest.param(lambda s, b: solution(s, b - 1e-9), ["exactly the budget"], id="strictly-below-budget"),
    pytest.param(_first_within, ["fewer alerts", "6.5"], id="ties-ignore-alerts"),
    pytest.param(_no_precision_tiebreak, ["higher precision", "6.5"], id="ties-ignore-precision"),
    pytest.param(_quietest_when_infeasible, ["no threshold meets", "return None"], id="quietest-when-infeasible"),
    pytest.param(lambda s, b: choose_operating_point(s, b)["threshold"], ["raised InputError", "return None instead"],
                 id="raises-when-infeasible"),
    pytest.param(lambda s, b: choose_operating_point(s, b), ["returned a Series", "row['threshold']"],
                 id="returns-the-row"),
    pytest.param(lambda s, b: str(solution(s, b)), ["(str)"], id="returns-a-string"),
    pytest.param(lambda s, b: solution(s, b) is not None, ["(bool)"], id="returns-a-bool"),
    pytest.param(lambda s, b: s["recall"].sum() + 100, ["not one of the sweep's thresholds"], id="not-a-threshold"),
    pytest.param(lambda s, b: s.iloc[0]["nope"], ["raised KeyError", "this notebook's sweep at its budget"],
                 id="raises-on-the-lab-sweep"),
])
def test_wrong_choices_fail_with_a_message(sweep, answer, needles):
    result = _check(answer, sweep)
    assert not result.passed and result.attempted
    for needle in needles:
        assert needle in result.message, (needle, result.message)


def test_returning_a_row_position_is_explained():
    frame = pd.DataFrame({"threshold": [3.0, 4.0, 5.0], "alerts_per_week": [2.0, 0.4, 0.1],
                          "precision": [0.2, 0.8, 1.0], "recall": [1.0, 1.0, 0.5]})

    def position(sweep, budget):
        best = solution(sweep, budget)
        return None if best is None else int(np.flatnonzero(sweep["threshold"] == best)[0])

    result = _check(position, frame, budget=1.0)
    assert not result.passed and "looks like a row position" in result.message, result.message


def test_a_budget_no_threshold_meets_in_the_notebook_is_graded_too():
    frame = pd.DataFrame({"threshold": [1.0, 2.0], "alerts_per_week": [3.0, 2.0], "precision": [0.5, 0.6],
                          "recall": [1.0, 0.5]})
    assert _check(solution, frame, budget=1.0).passed
    assert "no threshold (None)" in _check(solution, frame, budget=1.0).message


def test_stub_is_not_attempted(sweep):
    def stub(sweep, budget):
        raise NotImplementedError("write your choice")

    result = _check(stub, sweep)
    assert not result.passed and not result.attempted


def test_the_answer_must_be_a_function(sweep):
    result = _check(9.0, sweep)
    assert not result.passed and "expected a function" in result.message


def test_missing_context_is_an_authoring_error(sweep):
    with pytest.raises(GradingError, match="context\\['sweep'\\]"):
        check(ID, solution, context={"budget": BUDGET}, show=False)
    with pytest.raises(GradingError, match="context\\['budget'\\]"):
        check(ID, solution, context={"sweep": sweep, "budget": "half"}, show=False)
