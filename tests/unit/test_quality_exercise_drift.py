"""Grader of Lab 4 section 2 (``quality.drift_detector``): the notebook's solution passes; detectors that always
fire, never fire, run KS alone, skip pair checks, name the wrong column, crash on an all-null column, overfit the
lab's target columns or use loose cuts fail with a message that says what to change."""

from __future__ import annotations

import pandas as pd
import pytest

from platform_kit import quality as kq
from platform_kit.datasets import generate_table
from platform_kit.errors import GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_drift import EXERCISE_ID, hidden_suite

COLS = list(kq.corruption.ORDERS_COLUMNS)


@pytest.fixture(scope="module")
def context() -> dict[str, object]:
    # as the notebook builds it (seed 42), so the lab's batches are the ones the learner sees
    reference, pool = kq.corruption.split_reference(generate_table("orders", "tiny", 42), 0.5, seed=42)
    batches = {b.kind: b for b in kq.corruption.corruption_suite(pool, seed=42, n_clean=1, n_per_corruption=1)}
    return {"reference": reference, "batches": batches}


def solution(reference: pd.DataFrame, batch: pd.DataFrame, guard_empty: bool = True) -> dict[str, list[str]]:
    """The notebook's solution: the package's primitives, composed by hand."""
    fired: dict[str, list[str]] = {}
    for column in kq.corruption.ORDERS_COLUMNS:
        ref, new = reference[column], batch[column]
        if abs(new.isna().mean() - ref.isna().mean()) > 0.05:
            fired.setdefault(column, []).append("null_rate")
        if guard_empty and new.notna().sum() == 0:
            continue
        if pd.api.types.is_numeric_dtype(ref):
            ks = kq.drift.ks_test(ref, new)
            if (ks.p_value < 0.001 and ks.statistic > 0.1) or kq.drift.psi(ref, new) > 0.25:
                fired.setdefault(column, []).append("ks/psi")
            ref_cents = (ref.dropna().round(2) % 1 != 0).mean()
            new_cents = (new.dropna().round(2) % 1 != 0).mean()
            if abs(new_cents - ref_cents) > 0.2:
                fired.setdefault(column, []).append("decimals")
        else:
            chi = kq.drift.chi_square_test(ref, new)
            if chi.p_value < 0.001 and chi.effect_size > 0.1:
                fired.setdefault(column, []).append("chi_square")
    shifts = kq.drift.association_shift(reference, batch, kq.drift.find_related_pairs(reference, COLS))
    for row in shifts[shifts["shift"].abs() > 0.2].itertuples():
        fired.setdefault(row.x, []).append(f"association~{row.y}")
        fired.setdefault(row.y, []).append(f"association~{row.x}")
    return fired


_REPORTS: dict[tuple[int, int, str], kq.drift.DriftReport] = {}


def _key(frame: pd.DataFrame) -> int:
    return hash(pd.util.hash_pandas_object(frame).to_numpy().tobytes())


def package(reference: pd.DataFrame, batch: pd.DataFrame, **kwargs: object) -> kq.drift.DriftReport:
    """The package's detector, memoised on content: the grader passes copies, the wrong answers reuse it."""
    key = (_key(reference), _key(batch), repr(sorted(kwargs.items())))
    if key not in _REPORTS:
        _REPORTS[key] = kq.drift.compare_batches(reference, batch, COLS, pairs=kwargs.pop("pairs", "auto"), **kwargs)
    return _REPORTS[key]


def test_hidden_suite_is_another_table_and_other_targets(context: dict[str, object]) -> None:
    reference, suite = hidden_suite()
    assert not reference.equals(context["reference"])
    kinds = pd.Series([b.kind for b in suite]).value_counts()
    assert kinds["clean"] == 20 and kinds["null_spike"] == 4 and len(suite) == 36
    assert {b.column for b in suite if b.kind in ("shuffle_column", "collapse_categories")} == {"currency", "region"}
    assert any(b.corrupted and b.frame[b.column].isna().all() for b in suite)  # a column arrived entirely null


@pytest.mark.parametrize("answer", [solution, package, lambda r, b: package(r, b).fired,
                                    lambda r, b: [(c, t) for c, tests in package(r, b).fired.items() for t in tests]],
                         ids=["solution", "DriftReport", "fired-dict", "column-test-pairs"])
def test_reference_answers_pass(context: dict[str, object], answer: object) -> None:
    result = check(EXERCISE_ID, answer, context=context, show=False)
    assert result.passed, result.message
    assert "recall 1.00" in result.message and "0 false alarms on 20 clean batches" in result.message


LOOSE = kq.drift.DriftThresholds(alpha=0.05, psi=0.1, ks_statistic=0, cramers_v=0, js_distance=0, null_rate=0,
                                 decimals_js=0, association=0.05)


@pytest.mark.parametrize(("answer", "needle"), [
    (lambda r, b: {"status": ["x"]}, "on the lab's clean batch your detector fired on ['status']"),
    (lambda r, b: {}, "fired nothing; it must name 'currency'"),
    (lambda r, b: ["total_amount"] if kq.drift.ks_test(r["total_amount"], b["total_amount"]).p_value < 0.05 else [],
     "collapse_categories batch (currency"),
    (lambda r, b: package(r, b, pairs=None), "shuffle_column batch (total_amount permuted across rows) your detector "
                                             "fired nothing; it must name 'total_amount': a shuffled column keeps"),
    (lambda r, b: ["status"] if package(r, b).drifted else [], "your detector named ['status']; it must name"),
    (lambda r, b: solution(r, b, guard_empty=False), "raised InputError: batch has no non-null values on a hidden "
                                                     "null_spike batch (channel: 100% of rows set to null)"),
    (lambda r, b: package(r, b, thresholds=LOOSE), "on the lab's clean batch your detector fired"),
    (lambda r, b: package(r, b, thresholds=kq.drift.DriftThresholds(association=0.05)),
     "false alarms on 20 hidden clean batches (at most 2)"),
    (lambda r, b: {c: t for c, t in package(r, b).fired.items() if c in ("currency", "channel", "total_amount")},
     "hidden corrupted batches (recall 0.81, need 0.9). null_spike caught 25%"),
    (lambda r, b: {("currency" if c == "region" else c): t for c, t in package(r, b).fired.items()},
     "named the corrupted column on only 81% of them"),
    (lambda r, b: COLS if package(r, b).drifted else [], "names every watched column"),
    (lambda r, b: package(r, b).drifted, "returns only True/False"),
    (lambda r, b: None, "returned None"),
    (lambda r, b: "total_amount", "returned the string 'total_amount'"),
    (lambda r, b: ["amount"] if package(r, b).drifted else [], "named ['amount']"),
    (lambda r, b: [1] if package(r, b).drifted else [], "returned 1 inside its result"),
    (lambda r, b: 3, "returned a int"),
    (lambda r, b: 1 / 0, "raised ZeroDivisionError"),
], ids=["always-fires", "never-fires", "ks-only", "no-pairs", "wrong-column", "crashes-on-all-null",
        "p-values-only", "loose-association", "overfits-lab-targets", "renames-a-column", "names-everything",
        "bool", "none", "string", "unknown-column", "not-a-name", "int", "raises"])
def test_wrong_answers_fail_with_a_reason(context: dict[str, object], answer: object, needle: str) -> None:
    result = check(EXERCISE_ID, answer, context=context, show=False)
    assert not result.passed and result.attempted, result.message
    assert needle in result.message, result.message


def test_not_callable_and_stub(context: dict[str, object]) -> None:
    result = check(EXERCISE_ID, {"total_amount": ["ks"]}, context=context, show=False)
    assert not result.passed and result.attempted

    def stub(reference: pd.DataFrame, batch: pd.DataFrame) -> dict[str, list[str]]:
        raise NotImplementedError("write the detector")

    result = check(EXERCISE_ID, stub, context=context, show=False)
    assert not result.passed and not result.attempted


def test_missing_context_is_the_notebooks_error(context: dict[str, object]) -> None:
    with pytest.raises(GradingError, match="context"):
        check(EXERCISE_ID, package, context={"reference": context["reference"]}, show=False)
    with pytest.raises(GradingError, match="LabelledBatch"):
        check(EXERCISE_ID, package, context={**context, "batches": {"clean": context["reference"]}}, show=False)
