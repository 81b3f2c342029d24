"""Exercise registry, check(), the welcome exercises, the progress store and the check log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from platform_kit.errors import GradingError
from platform_kit.grading import _registry, check, exercise, get_exercise, list_exercises, progress_table


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh state dir, a named learner, and no check log unless a test sets one."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("WORKBENCH_LEARNER", "ada")
    monkeypatch.delenv("WORKBENCH_CHECK_LOG", raising=False)
    return tmp_path


@pytest.fixture()
def scratch_exercises() -> Iterator[None]:
    """Forget exercises a test registers."""
    before = dict(_registry._REGISTRY)
    yield
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(before)


def revenue_by_status(orders: pd.DataFrame) -> pd.Series:
    return orders.groupby("status")["total_amount"].sum().sort_index()


def orders_frame() -> pd.DataFrame:
    # customer 7 has the largest single order; customer 3 has the largest total
    return pd.DataFrame(
        {
            "customer_id": [7, 3, 3, 3, 5, 5],
            "total_amount": [500.0, 200.0, 250.0, 100.0, 120.0, np.nan],
            "status": ["shipped"] * 6,
        }
    )


# --- welcome.order_revenue -----------------------------------------------------------------


def test_order_revenue_accepts_the_right_function() -> None:
    result = check("welcome.order_revenue", revenue_by_status, show=False)
    assert result.passed and result.attempted and result.exercise_id == "welcome.order_revenue"


@pytest.mark.parametrize(
    ("wrong", "expected_words"),
    [
        (lambda o: o.groupby("customer_id")["total_amount"].sum().sort_index(), "group by the status"),
        (lambda o: o.groupby("status", sort=False)["total_amount"].sum(), "sort_index"),
        (lambda o: o.groupby("status")[["total_amount"]].sum(), "DataFrame"),
        (lambda o: o.groupby("status")["total_amount"].mean().fillna(0).sort_index(), "sums differ"),
        (lambda o: o.groupby("status")["total_amount"].sum(min_count=1).sort_index(), "sums differ"),
        (lambda o: o[o.total_amount > 0].groupby("status")["total_amount"].sum().sort_index(), "status"),
        (lambda o: o.fillna({"total_amount": 0}, inplace=True) or revenue_by_status(o), "changed the orders"),
        (lambda o: {"shipped": 1.0}, "expected a pandas Series"),
    ],
    ids=["wrong-grouping", "unsorted", "dataframe", "mean", "min-count", "drops-refunds", "mutates", "dict"],
)
def test_order_revenue_rejects_wrong_functions(
    wrong: Callable[[pd.DataFrame], object],
    expected_words: str,
) -> None:
    result = check("welcome.order_revenue", wrong, show=False)
    assert not result.passed and result.attempted
    assert expected_words in result.message


def test_order_revenue_wants_the_function_not_its_result() -> None:
    result = check("welcome.order_revenue", revenue_by_status(orders_frame()), show=False)
    assert not result.passed and "expected a function" in result.message


# --- welcome.top_customer ------------------------------------------------------------------


def test_top_customer_is_checked_against_the_context_data() -> None:
    orders = orders_frame()
    assert check("welcome.top_customer", 3, context={"orders": orders}, show=False).passed
    assert check("welcome.top_customer", np.int64(3), context={"orders": orders}, show=False).passed
    # the same answer is wrong on other data: the decision is checked against the data
    other = orders.assign(total_amount=[500.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert not check("welcome.top_customer", 3, context={"orders": other}, show=False).passed


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (7, "another customer spent more"),
        (42, "no orders"),
        ("3", "as an int"),
        (True, "as an int"),
        (pd.Series([3]), "idxmax"),
    ],
    ids=["largest-single-order", "unknown-id", "string", "bool", "series"],
)
def test_top_customer_rejects_wrong_ids(answer: object, words: str) -> None:
    result = check("welcome.top_customer", answer, context={"orders": orders_frame()}, show=False)
    assert not result.passed and words in result.message


def test_top_customer_without_context_is_an_authoring_error() -> None:
    with pytest.raises(GradingError) as info:
        check("welcome.top_customer", 3, show=False)
    assert "context['orders']" in info.value.message and info.value.fix


def test_value_exercise_evaluates_a_zero_argument_callable() -> None:
    orders = orders_frame()

    def stub(frame: pd.DataFrame) -> int:
        raise NotImplementedError("sum per customer")

    assert check("welcome.top_customer", lambda: 3, context={"orders": orders}, show=False).passed
    pending = check("welcome.top_customer", lambda: stub(orders), context={"orders": orders}, show=False)
    assert not pending.passed and not pending.attempted


# --- check() behaviour -------------------------------------------------------------------


def test_not_implemented_counts_as_not_attempted_with_hint(capsys: pytest.CaptureFixture[str]) -> None:
    def stub(orders: pd.DataFrame) -> pd.Series:
        raise NotImplementedError("group by status")

    result = check("welcome.order_revenue", stub)
    assert not result.passed and not result.attempted
    out = capsys.readouterr().out
    assert "NOT ATTEMPTED welcome.order_revenue" in out and get_exercise("welcome.order_revenue").hint in out


def test_stub_reported_by_a_wrapping_grader_is_still_not_attempted() -> None:
    from platform_kit.grading._check import _evaluate
    from platform_kit.grading._context import fail
    from platform_kit.grading._registry import Exercise

    def grade(answer: object, context: object) -> str:
        try:
            answer()  # type: ignore[operator]
        except Exception as exc:  # the grader shows the learner's error...
            fail(f"your function raised {type(exc).__name__}: {exc}")
        return "ok"

    def stub() -> None:
        raise NotImplementedError("todo")

    def broken() -> None:
        raise KeyError("x")

    ex = Exercise(id="t.wrap", lab="t", kind="function", title="t", hint="h", grader=grade)
    assert _evaluate(ex, stub, None)[:2] == (False, False)  # ...but a stub is not an attempt
    assert _evaluate(ex, broken, None)[:2] == (False, True)


def test_learner_exception_is_a_failure_showing_it() -> None:
    result = check("welcome.order_revenue", lambda orders: orders["no_such_column"], show=False)
    assert not result.passed and result.attempted and "KeyError" in result.message


def test_unknown_id_suggests_close_matches() -> None:
    with pytest.raises(GradingError) as info:
        check("welcome.order_revenu", revenue_by_status)
    assert "welcome.order_revenue" in info.value.message and info.value.fix


def test_exercises_are_discovered_from_the_exercises_package() -> None:
    ids = [ex.id for ex in list_exercises("00_welcome")]
    assert ids == ["welcome.order_revenue", "welcome.top_customer"]
    assert get_exercise("welcome.top_customer").wants_context


def test_registry_rejects_bad_and_duplicate_ids(scratch_exercises: None) -> None:
    with pytest.raises(GradingError, match="malformed"):
        exercise(id="No Dots", lab="99_x", hint="h")

    @exercise(id="scratch.answer", lab="99_x", hint="h")
    def first(answer: object) -> None:
        if answer != 42:
            raise AssertionError("not 42")

    with pytest.raises(GradingError, match="registered twice"):

        @exercise(id="scratch.answer", lab="99_x", hint="h")
        def second(answer: object) -> None:
            pass

    assert check("scratch.answer", 42, show=False).passed
    wrong = check("scratch.answer", 41, show=False)
    assert not wrong.passed and wrong.message == "not 42"


# --- progress store and check log --------------------------------------------------------


def test_progress_store_records_attempts_best_per_exercise(isolated: Path) -> None:
    check("welcome.order_revenue", lambda o: o, show=False)
    check("welcome.order_revenue", revenue_by_status, show=False)
    check("welcome.order_revenue", lambda o: o, show=False)
    check("welcome.top_customer", 7, context={"orders": orders_frame()}, show=False)
    assert (isolated / "state" / "progress.sqlite").is_file()
    rows = {row.exercise_id: row for row in progress_table("ada")}
    assert rows["welcome.order_revenue"].passed and rows["welcome.order_revenue"].attempts == 3
    assert "matches" in rows["welcome.order_revenue"].message  # the passing attempt's message
    assert not rows["welcome.top_customer"].passed and rows["welcome.top_customer"].lab == "00_welcome"
    assert progress_table("someone-else") == []
    assert {row.learner for row in progress_table()} == {"ada"}


def test_check_log_gets_one_json_line_per_check(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = isolated / "run" / "checks" / "00_welcome.jsonl"
    monkeypatch.setenv("WORKBENCH_CHECK_LOG", str(log))
    check("welcome.order_revenue", revenue_by_status, show=False)
    check("welcome.top_customer", 7, context={"orders": orders_frame()}, show=False)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["exercise_id"], e["passed"]) for e in lines] == [
        ("welcome.order_revenue", True),
        ("welcome.top_customer", False),
    ]
    assert lines[0]["lab"] == "00_welcome" and lines[0]["learner"] == "ada" and lines[1]["message"]
