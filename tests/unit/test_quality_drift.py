"""Drift detection (platform_kit.quality.drift) and corruption injection/scoring
(platform_kit.quality.corruption): hand-computed statistics, each corruption caught on the
right column, no false positives on clean batches, wrong detectors scoring worse, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from platform_kit.datasets import generate_table
from platform_kit.errors import InputError
from platform_kit.quality.corruption import (
    CORRUPTIONS,
    ORDERS_COLUMNS,
    ORDERS_TARGETS,
    LabelledBatch,
    collapse_categories,
    compare_detectors,
    corruption_suite,
    null_spike,
    sample_batches,
    score_detector,
    shuffle_column,
    split_reference,
    truncate_decimals,
    unit_change,
)
from platform_kit.quality.drift import (
    PSI_MODERATE,
    PSI_SIGNIFICANT,
    REPORT_COLUMNS,
    DriftReport,
    DriftThresholds,
    association_shift,
    chi_square_test,
    compare_batches,
    find_related_pairs,
    fired_table,
    js_distance,
    ks_test,
    make_detector,
    plot_drift_grid,
    psi,
)


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_table("orders", "tiny", 42)


@pytest.fixture(scope="module")
def split(orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    # disjoint reference and pool: clean batches drawn from the reference itself would hide FPs
    return split_reference(orders, 0.5, seed=42)


@pytest.fixture(scope="module")
def suite(split: tuple[pd.DataFrame, pd.DataFrame]) -> list[LabelledBatch]:
    return corruption_suite(split[1], seed=42, batch_size=250)


@pytest.fixture(scope="module")
def detector(split: tuple[pd.DataFrame, pd.DataFrame]):
    return make_detector(split[0], ORDERS_COLUMNS)


# --- statistics against hand-computed values ----------------------------------------------------------------


def test_psi_identical_is_zero() -> None:
    values = np.arange(100.0)
    assert psi(values, values) == 0.0
    assert psi(values, values[::-1].copy(), bins=5) == 0.0


def test_psi_known_small_example() -> None:
    # bins=2 cuts the reference 1..10 at its median 5.5: shares (0.5, 0.5) vs (0.75, 0.25)
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(list(range(1, 11)), [1, 1, 1, 10], bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.25 * math.log(3))


def test_psi_empty_bin_uses_epsilon() -> None:
    # every batch value in the lower bin: the empty upper bin counts as a share of 1e-4
    expected = (1 - 0.5) * math.log(1 / 0.5) + (1e-4 - 0.5) * math.log(1e-4 / 0.5)
    assert psi(range(1, 11), [1, 2], bins=2) == pytest.approx(expected)


def test_psi_values_outside_reference_range_fall_in_end_bins() -> None:
    assert psi(range(1, 11), [-100, 1000], bins=2) == pytest.approx(0.0)


def test_psi_conventional_thresholds() -> None:
    assert (PSI_MODERATE, PSI_SIGNIFICANT) == (0.1, 0.25)
    assert DriftThresholds().psi == PSI_SIGNIFICANT


def test_psi_ignores_nulls() -> None:
    assert psi([1.0, 2.0, np.nan, 3.0, 4.0], pd.Series([1.0, 2.0, 3.0, 4.0, None])) == 0.0


def test_ks_test_disjoint_samples() -> None:
    result = ks_test([1, 2, 3], [4, 5, 6])
    assert result.statistic == 1.0
    assert result.p_value == pytest.approx(2 / math.comb(6, 3))  # exact two-sided p-value
    assert result.effect_size == result.statistic


def test_ks_test_identical_samples() -> None:
    statistic, p_value, _ = ks_test(np.arange(50.0), np.arange(50.0))
    assert statistic == 0.0 and p_value == 1.0


def test_chi_square_test_hand_computed() -> None:
    # [[10, 10], [20, 0]] against expected [[15, 5], [15, 5]]
    result = chi_square_test(["a"] * 10 + ["b"] * 10, ["a"] * 20)
    assert result.statistic == pytest.approx(2 * (25 / 15 + 25 / 5))
    assert result.effect_size == pytest.approx(math.sqrt(result.statistic / 40))


def test_chi_square_test_categories_on_one_side() -> None:
    # union {a, b, c}: [[10, 10, 0], [10, 0, 10]], expected 5 in each b/c cell -> chi2 = 20, dof 2
    result = chi_square_test(["a"] * 10 + ["b"] * 10, ["a"] * 10 + ["c"] * 10)
    assert result.statistic == pytest.approx(20.0)
    assert result.p_value == pytest.approx(math.exp(-10))


def test_chi_square_test_pools_rare_categories() -> None:
    reference = ["a"] * 500 + ["b"] * 500 + ["r1"] * 5
    batch = ["a"] * 500 + ["b"] * 500 + ["r2"] * 5
    assert chi_square_test(reference, batch, min_expected=0).p_value < 0.05
    assert chi_square_test(reference, batch).p_value == pytest.approx(1.0)


def test_chi_square_test_single_category_is_no_evidence() -> None:
    assert chi_square_test(["x"] * 5, ["x"] * 7) == (0.0, 1.0, 0.0)


def test_js_distance_known_values() -> None:
    assert js_distance(["a", "b"], ["a", "b", "b", "a"]) == 0.0
    assert js_distance(["a"], ["b"]) == pytest.approx(1.0)
    m = np.array([0.75, 0.25])
    kl_p = 0.5 * math.log2(0.5 / 0.75) + 0.5 * math.log2(0.5 / 0.25)
    kl_q = math.log2(1 / 0.75)
    assert js_distance(["a", "b"], ["a"]) == pytest.approx(math.sqrt((kl_p + kl_q) / 2))
    assert m.sum() == 1.0


def test_find_related_pairs_on_orders(orders: pd.DataFrame) -> None:
    pairs = find_related_pairs(orders, ORDERS_COLUMNS)
    assert ("currency", "total_amount") in pairs and ("region", "currency") in pairs
    assert not any("status" in pair or "channel" in pair for pair in pairs)


def test_association_shift_measures_by_kind(orders: pd.DataFrame) -> None:
    frame = orders.assign(double=orders["total_amount"] * 2)
    shifted = association_shift(frame, shuffle_column(frame, "double", seed=1).frame,
                                [("total_amount", "double"), ("currency", "total_amount"), ("region", "currency")])
    assert list(shifted["measure"]) == ["spearman", "eta", "cramers_v"]
    assert shifted["reference"].iloc[0] == pytest.approx(1.0)
    assert shifted["shift"].iloc[0] < -0.8
    assert shifted["shift"].iloc[1:].abs().max() < 1e-12


# --- compare_batches ----------------------------------------------------------------------------------------


def test_compare_batches_clean_batch_fires_nothing(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, pool = split
    report = compare_batches(reference, pool, ORDERS_COLUMNS, pairs="auto")
    assert isinstance(report, DriftReport)
    assert tuple(report.table.columns) == REPORT_COLUMNS
    assert not report.drifted and report.fired == {}
    assert report.summary().startswith("no drift: 5 columns")
    tests = report.table.groupby("column")["test"].apply(set)
    assert tests["total_amount"] == {"null_rate", "psi", "ks", "decimals"}
    assert tests["currency"] == {"null_rate", "chi_square", "js_distance"}
    assert (report.table["kind"] == "relationship").sum() == 3


@pytest.mark.parametrize(("inject", "column", "expected_tests"), [
    (lambda f: unit_change(f, "total_amount", 100), "total_amount", {"psi", "ks", "decimals"}),
    (lambda f: truncate_decimals(f, "total_amount", 0), "total_amount", {"decimals"}),
    (lambda f: shuffle_column(f, "total_amount", seed=3), "total_amount",
     {"association_shift:currency~total_amount", "association_shift:region~total_amount"}),
    (lambda f: collapse_categories(f, "currency"), "currency", {"chi_square", "js_distance"}),
    (lambda f: null_spike(f, "channel", 0.2, seed=3), "channel", {"null_rate"}),
], ids=["unit_change", "truncate_decimals", "shuffle_column", "collapse_categories", "null_spike"])
def test_compare_batches_each_corruption_fires_on_its_column(split, inject, column, expected_tests) -> None:
    reference, pool = split
    batch = inject(pool)
    report = compare_batches(reference, batch.frame, ORDERS_COLUMNS, pairs="auto")
    assert batch.column == column
    assert set(report.fired[column]) == expected_tests
    # nothing else fires, except the partner columns of a broken pair
    partners = {"currency", "region"} if batch.kind == "shuffle_column" else set()
    assert set(report.fired) == {column} | partners
    assert column in report.summary()


def test_compare_batches_shuffle_invisible_without_pairs(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, pool = split
    batch = shuffle_column(pool, "total_amount", seed=3).frame
    assert not compare_batches(reference, batch, ORDERS_COLUMNS).drifted
    explicit = compare_batches(reference, batch, ORDERS_COLUMNS, pairs=[("currency", "total_amount")])
    assert explicit.fired == {"currency": ["association_shift:currency~total_amount"],
                              "total_amount": ["association_shift:currency~total_amount"]}


def test_compare_batches_large_sample_pitfall_needs_effect_size() -> None:
    # a 1-point shift in a category share: irrelevant, yet the p-value is ~0 with 200k rows
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"c": rng.choice(["a", "b"], 200_000, p=[0.50, 0.50])})
    batch = pd.DataFrame({"c": rng.choice(["a", "b"], 200_000, p=[0.51, 0.49])})
    assert chi_square_test(reference["c"], batch["c"]).p_value < 1e-6
    assert not compare_batches(reference, batch).drifted
    p_only = DriftThresholds(cramers_v=0.0, js_distance=0.0)
    assert compare_batches(reference, batch, thresholds=p_only).fired == {"c": ["chi_square", "js_distance"]}


def test_compare_batches_all_null_batch_column_fires_null_rate(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, pool = split
    report = compare_batches(reference, null_spike(pool, "total_amount", 1.0).frame, ["total_amount"])
    assert report.fired == {"total_amount": ["null_rate"]}
    assert report.table.query("test == 'ks'")["statistic"].isna().all()


def test_compare_batches_bool_and_datetime_columns(orders: pd.DataFrame) -> None:
    frame = orders.assign(flag=orders["status"] == "delivered")
    report = compare_batches(frame, frame.iloc[:500], ["flag", "order_ts"])
    kinds = report.table.groupby("column")["kind"].first()
    assert kinds["flag"] == "categorical" and kinds["order_ts"] == "numeric"
    # the first 500 orders are the first half of the year: a real shift in time
    assert "ks" in report.fired["order_ts"] and "flag" not in report.fired


# --- injectors ----------------------------------------------------------------------------------------------


def test_injectors_return_labelled_copies(orders: pd.DataFrame) -> None:
    before = orders.copy()
    for batch in (unit_change(orders, "total_amount"), truncate_decimals(orders, "total_amount"),
                  shuffle_column(orders, "total_amount"), collapse_categories(orders, "currency"),
                  null_spike(orders, "channel")):
        assert batch.corrupted and batch.kind in CORRUPTIONS and batch.detail
        assert batch.frame is not orders and len(batch.frame) == len(orders)
    pd.testing.assert_frame_equal(orders, before)


def test_injectors_do_what_they_say(orders: pd.DataFrame) -> None:
    amounts = orders["total_amount"]
    assert np.allclose(unit_change(orders, "total_amount", 100).frame["total_amount"], amounts * 100)
    assert (unit_change(orders, "total_amount", fraction=0.5).frame["total_amount"] != amounts).sum() == 500
    truncated = truncate_decimals(orders, "total_amount", 0).frame["total_amount"]
    assert (truncated == np.floor(amounts)).all()
    shuffled = shuffle_column(orders, "total_amount", seed=1).frame["total_amount"]
    assert sorted(shuffled) == sorted(amounts) and (shuffled != amounts).mean() > 0.9
    assert shuffle_column(orders, "total_amount", seed=1).frame.equals(shuffle_column(orders, "total_amount", seed=1).frame)
    collapsed = collapse_categories(orders, "currency").frame["currency"]
    assert collapsed.nunique() == orders["currency"].nunique() - 4
    assert set(collapse_categories(orders, "status", into="x", categories=["shipped"]).frame["status"]) == {
        "delivered", "returned", "cancelled", "x", "processing"}
    assert null_spike(orders, "channel", 0.2).frame["channel"].isna().mean() == pytest.approx(0.2)
    assert null_spike(orders, "customer_id", 0.1).frame["customer_id"].isna().sum() == 100


def test_sample_batches_seeded_and_sized(orders: pd.DataFrame) -> None:
    first = sample_batches(orders, 3, 100, seed=5)
    again = sample_batches(orders, 3, 100, seed=5)
    assert [len(b) for b in first] == [100, 100, 100]
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not first[0].equals(first[1])
    assert first[0].index.is_unique


def test_split_reference_disjoint(orders: pd.DataFrame) -> None:
    reference, pool = split_reference(orders, 0.5, seed=42)
    assert len(reference) == len(pool) == 500
    assert not set(reference["order_id"]) & set(pool["order_id"])


def test_corruption_suite_labels(suite: list[LabelledBatch]) -> None:
    kinds = pd.Series([b.kind for b in suite]).value_counts()
    assert kinds["clean"] == 20 and all(kinds[k] == 4 for k in CORRUPTIONS)
    assert all(b.column == ORDERS_TARGETS[b.kind] for b in suite if b.corrupted)
    assert all(b.column is None for b in suite if not b.corrupted)
    assert {len(b.frame) for b in suite} == {250}


# --- scoring: the default detector and wrong ones -----------------------------------------------------------


def test_score_detector_default_detector_is_perfect_on_suite(detector, suite: list[LabelledBatch]) -> None:
    # measured: precision 1.00, recall 1.00, column accuracy 1.00 (tp=20 fp=0 fn=0 tn=20)
    score = score_detector(detector, suite)
    assert (score.tp, score.fp, score.fn, score.tn) == (20, 0, 0, 20)
    assert score.precision == score.recall == score.column_accuracy == 1.0
    assert score.per_corruption_recall == {kind: 1.0 for kind in CORRUPTIONS}
    assert "precision 1.00, recall 1.00" in score.summary()


def test_score_detector_always_fire_scores_worse(suite: list[LabelledBatch]) -> None:
    score = score_detector(lambda batch: True, suite)
    assert (score.tp, score.fp) == (20, 20)
    assert score.precision == 0.5 and score.recall == 1.0
    assert score.column_accuracy == 0.0  # fired, but never said where


def test_score_detector_ks_pvalue_only_scores_worse(split, suite: list[LabelledBatch]) -> None:
    reference = split[0]

    def ks_only(batch: pd.DataFrame) -> list[str]:
        return ["total_amount"] if ks_test(reference["total_amount"], batch["total_amount"]).p_value < 0.05 else []

    score = score_detector(ks_only, suite)
    assert score.per_corruption_recall["unit_change"] == 1.0
    for blind_to in ("truncate_decimals", "shuffle_column", "collapse_categories", "null_spike"):
        assert score.per_corruption_recall[blind_to] == 0.0
    assert score.recall == pytest.approx(0.2)


def test_score_detector_without_pairs_misses_shuffles(split, suite: list[LabelledBatch]) -> None:
    score = score_detector(make_detector(split[0], ORDERS_COLUMNS, pairs=None), suite)
    assert score.per_corruption_recall["shuffle_column"] == 0.0
    assert score.fp == 0 and score.recall == pytest.approx(0.8)


def test_score_detector_pvalue_only_thresholds_fire_on_clean(split, suite: list[LabelledBatch]) -> None:
    loose = DriftThresholds(alpha=0.05, psi=0.1, ks_statistic=0, cramers_v=0, js_distance=0, null_rate=0,
                            decimals_js=0, association=0.05)
    score = score_detector(make_detector(split[0], ORDERS_COLUMNS, loose), suite)
    assert score.recall == 1.0 and score.fp > 0 and score.precision < 1.0


def test_score_detector_accepts_mappings_and_lists(suite: list[LabelledBatch]) -> None:
    by_map = score_detector(lambda b: {"currency": ["x"], "status": []}, suite)
    by_list = score_detector(lambda b: ["currency"], suite)
    assert by_map.per_corruption_recall == by_list.per_corruption_recall
    assert by_map.column_accuracy == pytest.approx(4 / 20)


# --- single-test detectors, tables and the grid plot -------------------------------------------------------


def test_chi_square_p_value_matches_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    reference, batch = rng.choice(list("abcd"), 400, p=[0.4, 0.3, 0.2, 0.1]), rng.choice(list("abcd"), 300)
    result = chi_square_test(reference, batch)
    table = np.array([[np.sum(reference == c) for c in "abcd"], [np.sum(batch == c) for c in "abcd"]])
    chi2, p_value, _, _ = scipy_stats.chi2_contingency(table, correction=False)
    assert result.statistic == pytest.approx(chi2) and result.p_value == pytest.approx(p_value, rel=1e-9)


def test_tests_option_runs_only_the_named_tests(split, suite: list[LabelledBatch]) -> None:
    reference, pool = split
    ks_only = compare_batches(reference, pool, ORDERS_COLUMNS, pairs="auto", tests=["ks"])
    assert set(ks_only.table["test"]) == {"ks"} and list(ks_only.table["column"]) == ["total_amount"]
    pairs_only = compare_batches(reference, shuffle_column(pool, "total_amount", seed=3).frame, ORDERS_COLUMNS,
                                 pairs="auto", tests=["association_shift"])
    assert set(pairs_only.table["kind"]) == {"relationship"} and pairs_only.drifted
    # a KS-only detector at p < 0.05: the common first attempt sees the unit change and nothing else
    score = score_detector(make_detector(reference, ORDERS_COLUMNS, DriftThresholds(alpha=0.05, ks_statistic=0),
                                         tests=["ks"]), suite)
    assert score.per_corruption_recall["unit_change"] == 1.0 and score.recall == pytest.approx(0.2)
    no_nulls = compare_batches(reference, null_spike(pool, "channel", 0.3).frame, ["channel"], tests=["chi_square"])
    assert not no_nulls.drifted  # the null rate was not asked for


@pytest.mark.parametrize("tests", ["ks", [], ["ks", "t_test"], [1]])
def test_tests_option_rejects_unknown(split, tests) -> None:
    with pytest.raises(InputError, match="test names") as info:
        compare_batches(split[0], split[1], ["total_amount"], tests=tests)
    assert info.value.fix
    with pytest.raises(InputError, match="test names"):
        make_detector(split[0], ["total_amount"], tests=tests)


def test_compare_detectors_matches_score_detector(split, suite: list[LabelledBatch], detector) -> None:
    table = compare_detectors({"default": detector, "always": lambda b: True}, suite)
    assert list(table.index) == ["default", "always"] and table.index.name == "detector"
    score = score_detector(detector, suite)
    row = table.loc["default"]
    assert (row.tp, row.fp, row.fn, row.tn, row.precision, row.recall) == (score.tp, score.fp, score.fn, score.tn,
                                                                          score.precision, score.recall)
    assert all(row[kind] == 1.0 for kind in CORRUPTIONS) and row.ms_per_batch > 0
    assert table.loc["always", "fp"] == 20 and table.loc["always", "column_accuracy"] == 0.0
    with pytest.raises(InputError, match="map names"):
        compare_detectors([detector], suite)


def test_fired_table_and_grid(split, suite: list[LabelledBatch]) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    reference = split[0]
    demo = {b.kind: b for b in suite if b.kind != "clean"} | {"clean": suite[0]}
    reports = {kind: compare_batches(reference, b.frame, ORDERS_COLUMNS, pairs="auto") for kind, b in demo.items()}
    injected = {kind: b.column for kind, b in demo.items()}
    table = fired_table(reports, injected)
    assert list(table.columns) == ["injected", "fired", "tests_fired", "hit"] and table["hit"].all()
    assert table.loc["truncate_decimals", "fired"] == "total_amount: decimals"
    assert table.loc["clean", "fired"] == "" and table.loc["clean", "tests_fired"] == 0
    assert not fired_table({"x": reports["unit_change"]}, {"x": "status"}).loc["x", "hit"]
    ax = plot_drift_grid(reports, injected)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(labels) == 19 and "total_amount: decimals" in labels and "region~total_amount: assoc" in labels
    assert [t.get_text() for t in ax.get_yticklabels()] == list(demo)
    # outlines: the corrupted column's cells and its pairs: currency 3 + 2, channel 3, total_amount (4 + 2) x 3
    assert len(ax.patches) == 5 + 3 + 3 * 6
    matplotlib.pyplot.close("all")
    for bad in ({}, {"x": 1}, [reports["clean"]]):
        with pytest.raises(InputError, match="DriftReport"):
            plot_drift_grid(bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="DriftReport"):
        fired_table({"x": "report"})  # type: ignore[dict-item]


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "match"), [
    (lambda r: compare_batches(r, r.iloc[:0]), "has no rows"),
    (lambda r: compare_batches(r, r.to_dict()), "must be a pandas DataFrame"),
    (lambda r: compare_batches([1, 2], r), "must be a pandas DataFrame"),
    (lambda r: compare_batches(r, r.drop(columns="currency"), ORDERS_COLUMNS), r"lacks column\(s\) \['currency'\]"),
    (lambda r: compare_batches(r.assign(x=None), r.assign(x=1.0), ["x"]), "entirely null in the reference"),
    (lambda r: compare_batches(r, r, "currency"), "list of names"),
    (lambda r: compare_batches(r, r, []), "columns is empty"),
    (lambda r: compare_batches(r, r.assign(total_amount="n/a"), ["total_amount"]), "numeric in the reference"),
    (lambda r: compare_batches(r, r, ["currency"], thresholds={"alpha": 0.1}), "must be a DriftThresholds"),
    (lambda r: compare_batches(r, r, ["currency"], pairs="currency"), "pairs must be"),
    (lambda r: DriftThresholds(alpha=2), "alpha must be in"),
    (lambda r: DriftThresholds(psi=-1), "psi must be a finite number"),
    (lambda r: psi([], [1.0]), "reference has no non-null values"),
    (lambda r: psi([1.0], [np.nan]), "batch has no non-null values"),
    (lambda r: psi(["a"], ["b"]), "not numeric"),
    (lambda r: psi([1.0], [np.inf]), "infinite"),
    (lambda r: psi([1.0, 2.0], [1.0], bins=1), "bins must be"),
    (lambda r: ks_test("abc", [1.0]), "1-D array-like"),
    (lambda r: js_distance(r, r), "is a DataFrame"),
    (lambda r: chi_square_test([None], ["a"]), "reference has no non-null values"),
    (lambda r: unit_change(r, "currency"), "not numeric"),
    (lambda r: unit_change(r, "total_amount", factor=1), "factor must be"),
    (lambda r: truncate_decimals(r, "customer_id"), "no decimals"),
    (lambda r: shuffle_column(r, "nope"), "not in"),
    (lambda r: null_spike(r, "channel", 1.5), "fraction must be"),
    (lambda r: collapse_categories(r.assign(one="x"), "one"), "nothing to collapse"),
    (lambda r: sample_batches(r, 2, 5000, seed=0), "exceeds"),
    (lambda r: split_reference(r, 1.0), "leaves one side empty"),
    (lambda r: corruption_suite(r, 0, targets={"typo": "x"}), "unknown corruption"),
    (lambda r: score_detector("not callable", []), "must be callable"),
    (lambda r: score_detector(lambda b: True, []), "no batches"),
    (lambda r: score_detector(lambda b: 3, [LabelledBatch(r)]), "cannot tell what fired"),
    (lambda r: score_detector(lambda b: True, [r]), "LabelledBatch"),
])
def test_bad_input_raises_input_error_with_fix(orders: pd.DataFrame, call, match) -> None:
    with pytest.raises(InputError, match=match) as info:
        call(orders)
    assert info.value.fix
