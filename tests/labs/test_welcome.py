"""Lab 00 (welcome): the solution runs end to end with real engines; the learner copy's
stubs raise NotImplementedError and its checks fail (testbook, the same check() as graders)."""

from __future__ import annotations

from pathlib import Path

import pytest

testbook = pytest.importorskip("testbook").testbook

pytestmark = pytest.mark.notebook
REPO = Path(__file__).resolve().parents[2]
SOLUTION = REPO / "solutions" / "00_welcome.ipynb"
LEARNER = REPO / "labs" / "00_welcome.ipynb"


@pytest.fixture(scope="module")
def solution():  # type: ignore[no-untyped-def]
    with testbook(SOLUTION, execute=True, timeout=300, kernel_name="python3") as tb:
        yield tb


def test_welcome_solution_engines_agree_on_revenue(solution) -> None:  # type: ignore[no-untyped-def]
    assert solution.ref("max_gap") <= 0.05
    columns = solution.value("list(comparison.columns)")
    assert columns == ["pandas", "spark", "clickhouse", "postgres"]
    assert solution.value("int(comparison.notna().all(axis=1).sum())") == solution.value("len(comparison)")


def test_welcome_solution_moves_every_event_through_the_broker(solution) -> None:  # type: ignore[no-untyped-def]
    assert solution.ref("received") == solution.value("len(events)") == 5000


def test_welcome_solution_verifies_dataset_checksums(solution) -> None:  # type: ignore[no-untyped-def]
    assert solution.value("len(verified)") == solution.value("len(company)")


def test_welcome_solution_checks_pass(solution) -> None:  # type: ignore[no-untyped-def]
    assert solution.value("check('welcome.order_revenue', revenue_by_status, show=False).passed") is True
    assert solution.value(
        "check('welcome.top_customer', lambda: top_customer(orders), context={'orders': orders}, show=False).passed"
    ) is True


def test_welcome_solution_check_rejects_a_wrong_answer(solution) -> None:  # type: ignore[no-untyped-def]
    wrong = "lambda o: o.groupby('status')['total_amount'].sum()[::-1]"  # unsorted
    assert solution.value(f"check('welcome.order_revenue', {wrong}, show=False).passed") is False
    assert solution.value(
        "check('welcome.top_customer', lambda: int(orders['customer_id'].min()) + 0 * 1, "
        "context={'orders': orders}, show=False).passed"
    ) is (solution.value("top_customer(orders)") == solution.value("int(orders['customer_id'].min())"))


def test_welcome_learner_stubs_raise_and_checks_fail() -> None:
    cells = ["parameters", "setup", "demo-datasets", "exercise-welcome.order_revenue", "check-welcome.order_revenue",
             "exercise-welcome.top_customer", "check-welcome.top_customer"]
    with testbook(LEARNER, execute=cells, timeout=300, kernel_name="python3") as tb:
        with pytest.raises(Exception, match="NotImplementedError"):
            tb.ref("revenue_by_status")(tb.ref("orders"))
        result = tb.value("check('welcome.order_revenue', revenue_by_status, show=False).attempted")
        assert result is False
        assert tb.value("check('welcome.top_customer', lambda: top_customer(orders), "
                        "context={'orders': orders}, show=False).passed") is False


def test_welcome_learner_copy_runs_to_the_end_with_checks_not_attempted(tmp_path: Path) -> None:
    from tests.labs._learner import run_learner_copy

    results = run_learner_copy(LEARNER, tmp_path / "learner.jsonl")
    final = {r["exercise_id"]: r for r in results}
    assert set(final) == {"welcome.order_revenue", "welcome.top_customer"}
    assert not any(r["passed"] or r["attempted"] for r in final.values())
