"""Grader of Lab 4 section 8 (``quality.edge_case_generator``): the notebook's solution passes for its bug (and a
tz generator for the other); generators that do not expose the bug, are not deterministic, ignore the seed, expose
it only through invalid input, expose the other bug, break the schema or return the wrong type fail with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from platform_kit import quality as kq
from platform_kit.datasets import generate_table
from platform_kit.errors import GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_edge_cases import EXERCISE_ID

ORDERS = generate_table("orders", "tiny", 42)


def solution(seed: int) -> pd.DataFrame:
    """The notebook's solution for ``case_sensitive``: valid codes, spelled another way on a few rows."""
    rng = np.random.default_rng(seed)
    batch = ORDERS.sample(30, random_state=seed).reset_index(drop=True)
    spellings = [str.upper, str.title, lambda v: f" {v} ", lambda v: f"{v}\t"]
    for i, row in enumerate(rng.choice(len(batch), 6, replace=False)):
        column = ("status", "channel", "region")[i % 3]
        batch.loc[row, column] = spellings[int(rng.integers(len(spellings)))](batch.loc[row, column])
    return batch


def in_kolkata(seed: int) -> pd.DataFrame:
    batch = ORDERS.sample(20, random_state=seed)
    return batch.assign(order_ts=batch["order_ts"].dt.tz_localize("UTC").dt.tz_convert("Asia/Kolkata"))


def with_row(seed: int, column: str, value: object) -> pd.DataFrame:
    batch = solution(seed)
    batch.loc[0, column] = value
    return batch


@pytest.mark.parametrize(("bug", "answer"), [
    ("case_sensitive", solution),
    ("case_sensitive", lambda seed: kq.edge_cases.edge_case_batches(ORDERS, seed)["whitespace_case"]),
    ("naive_timestamps", in_kolkata),
    ("naive_timestamps", lambda seed: ORDERS.sample(10, random_state=seed).assign(
        order_ts=lambda f: f["order_ts"].dt.strftime("%Y-%m-%dT%H:%M:%S+02:00"))),
], ids=["solution", "whitespace-batch", "tz-aware", "iso-offsets"])
def test_generators_that_expose_the_bug_pass(bug: str, answer: object) -> None:
    result = check(EXERCISE_ID, answer, context={"bug": bug}, show=False)
    assert result.passed, result.message
    assert "seeded and deterministic" in result.message and f"the {bug!r} transform misbehaves" in result.message


def test_success_message_reports_measured_effects() -> None:
    result = check(EXERCISE_ID, solution, context={"bug": "case_sensitive"}, show=False)
    expected = [len(kq.edge_cases.BUGGY_TRANSFORMS["case_sensitive"](solution(seed))) for seed in (3, 1009, 77777)]
    assert f"seed 3: returns {expected[0]} of the 30 rows" in result.message, result.message
    result = check(EXERCISE_ID, in_kolkata, context={"bug": "naive_timestamps"}, show=False)
    assert "seed 3: raises TypeError" in result.message


@pytest.mark.parametrize(("answer", "needle"), [
    (lambda seed: ORDERS.sample(20, random_state=seed), "returns the same as stage_orders, so the bug stays hidden: "
                                                        "it keeps only rows"),
    (in_kolkata, "stays hidden; it exposes naive_timestamps instead"),
    (lambda seed: solution(int(np.random.default_rng().integers(10**6))), "two calls with seed=3 returned different"),
    (lambda seed: solution(0), "returns the same frame for seeds [3, 1009, 77777]"),
    (lambda seed: with_row(seed, "status", "Unknown"), "still breaks the orders_staged contract (status: 1 value(s) "
                                                       "not in allowed_values, e.g. 'unknown')"),
    (lambda seed: with_row(seed, "order_ts", pd.Timestamp("1999-01-01")), "(order_ts: 1 value(s) outside"),
    (lambda seed: kq.edge_cases.edge_case_batches(ORDERS, seed)["unicode"], "still breaks the orders_staged contract"),
    (lambda seed: solution(seed).drop(columns="currency"), "lacks column(s) ['currency']"),
    (lambda seed: solution(seed).assign(total_amount=-1.0), "stage_orders drops every row"),
    (lambda seed: pd.concat([solution(seed), solution(seed)[["status"]].apply(lambda s: s.str.upper())], axis=1),
     "stage_orders itself rejects your batch"),  # two status columns
    (lambda seed: solution(seed).to_dict(), "returned a dict for seed=3"),
    (lambda seed: ORDERS.iloc[:0], "returned an empty frame"),
    (lambda seed: 1 / 0, "raised ZeroDivisionError: division by zero for seed=3"),
], ids=["clean-sample", "other-bug", "unseeded", "ignores-seed", "invalid-status", "invalid-year", "unicode-junk",
        "missing-column", "all-rows-dropped", "fixed-rejects", "dict", "empty", "raises"])
def test_wrong_generators_fail_with_a_reason(answer: object, needle: str) -> None:
    result = check(EXERCISE_ID, answer, context={"bug": "case_sensitive"}, show=False)
    assert not result.passed and result.attempted, result.message
    assert needle in result.message, result.message


def test_naive_timestamps_bug_needs_a_zone() -> None:
    result = check(EXERCISE_ID, solution, context={"bug": "naive_timestamps"}, show=False)
    assert not result.passed and "it exposes case_sensitive instead" in result.message
    assert "land order_ts with a zone" in result.message


def test_not_callable_stub_and_bad_context() -> None:
    assert not check(EXERCISE_ID, solution(1), context={"bug": "case_sensitive"}, show=False).passed

    def stub(seed: int) -> pd.DataFrame:
        raise NotImplementedError("write the generator")

    result = check(EXERCISE_ID, stub, context={"bug": "case_sensitive"}, show=False)
    assert not result.passed and not result.attempted
    with pytest.raises(GradingError, match="not a known bug"):
        check(EXERCISE_ID, solution, context={"bug": "off_by_one"}, show=False)
    with pytest.raises(GradingError, match="context"):
        check(EXERCISE_ID, solution, context={}, show=False)
