"""Statistical drift detection: compare each new batch with a reference, column by column.

A batch can pass every schema check and still be silently wrong: amounts in cents instead of
dollars, decimals truncated, a column shuffled against its neighbours, categories collapsed.
:func:`compare_batches` runs distribution tests chosen by dtype and returns a tidy table that
says which column and which test fired::

    report = compare_batches(reference, batch, columns=["status", "currency", "total_amount"],
                             pairs="auto")
    report.fired        # e.g. {'total_amount': ['psi', 'ks', 'decimals']} for cents sent as dollars
    print(report.summary())

Tests per column:

* numeric: ``psi`` (population stability index over the reference's quantile bins;
  conventional reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 significant shift),
  ``ks`` (two-sample Kolmogorov-Smirnov) and, for floats, ``decimals`` (the distribution of
  decimal places: catches truncation and unit changes that keep the shape);
* categorical/string/bool: ``chi_square`` (on the counts over the union of categories) and
  ``js_distance`` (Jensen-Shannon distance, base 2, in [0, 1]);
* every column: ``null_rate`` (share of nulls, two-proportion chi-square);
* optionally, column pairs: ``association_shift`` (Spearman's rho, rank correlation ratio or
  Cramér's V, reference vs batch). A shuffled column keeps its marginal distribution, so no
  single-column test can see it; only a broken relationship with another column can.

The large-sample pitfall: with thousands of rows, KS and chi-square p-values are tiny for
differences nobody cares about (a 0.5-point shift in a category share). A hypothesis test
therefore fires only when its p-value is below the cut *and* its effect size (KS statistic D,
Cramér's V, JS distance, |null-rate change|, JS distance of the decimal profile) is above a cut.
The effect-size-only tests (PSI, association shift) are noisy on small batches: keep batches
to a few hundred rows or more, or raise their thresholds.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality import _drift_stats as _st

_log = logging.getLogger(__name__)

__all__ = ["PSI_MODERATE", "PSI_SIGNIFICANT", "REPORT_COLUMNS", "TESTS", "DriftReport", "DriftThresholds",
           "TestResult", "association_shift", "chi_square_test", "compare_batches", "find_related_pairs",
           "fired_table", "js_distance", "ks_test", "make_detector", "plot_drift_grid", "psi"]

#: conventional PSI readings: below 0.1 stable, 0.1-0.25 moderate shift, above 0.25 significant
PSI_MODERATE = 0.1
PSI_SIGNIFICANT = 0.25
REPORT_COLUMNS = ("column", "kind", "test", "statistic", "p_value", "threshold", "fired")
#: every test :func:`compare_batches` can run (``tests=`` picks a subset)
TESTS = ("null_rate", "psi", "ks", "decimals", "chi_square", "js_distance", "association_shift")

Pairs = Sequence[tuple[str, str]] | Literal["auto"] | None


class TestResult(NamedTuple):
    """A two-sample test: its statistic, p-value and effect size (KS: D; chi-square: Cramér's V)."""

    statistic: float
    p_value: float
    effect_size: float


def psi(reference: Any, batch: Any, bins: int = 10) -> float:
    """Population stability index of ``batch`` against ``reference``.

    Bins are the reference's quantiles (so each holds ~1/bins of the reference; ties merge bins);
    values outside the reference's range fall in the end bins; empty bins count as a share of
    1e-4 so the log stays finite. Nulls are ignored. Readings: < 0.1 stable, 0.1-0.25 moderate
    shift (:data:`PSI_MODERATE`), > 0.25 significant shift (:data:`PSI_SIGNIFICANT`).

    Args:
        reference: Numeric values of the reference period.
        batch: Numeric values of the new batch.
        bins: Number of quantile bins (at least 2).

    Returns:
        PSI, >= 0 (0 when the binned shares are identical).
    """
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 2:
        raise InputError(f"bins must be an integer >= 2, got {bins!r}", fix="use the conventional bins=10")
    ref = _st.numeric_values(reference, "reference")
    new = _st.numeric_values(batch, "batch")
    edges = _st.quantile_edges(ref, bins)
    return _st.psi_from_proportions(_st.binned_proportions(ref, edges), _st.binned_proportions(new, edges))


def ks_test(reference: Any, batch: Any) -> TestResult:
    """Two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``) on non-null numeric values.

    Returns:
        statistic D (largest gap between the two empirical CDFs, also the effect size) and p-value.
    """
    ref = _st.numeric_values(reference, "reference")
    new = _st.numeric_values(batch, "batch")
    result = require("scipy.stats").ks_2samp(ref, new)
    return TestResult(float(result.statistic), float(result.pvalue), float(result.statistic))


def chi_square_test(reference: Any, batch: Any, min_expected: float = 5.0) -> TestResult:
    """Chi-square test of homogeneity on category counts (``scipy.stats.chi2_contingency``).

    Categories are aligned over the union of both sides; one present on only one side counts 0
    on the other. Categories expected fewer than ``min_expected`` times on either side are pooled
    into one bucket first: the chi-square approximation is poor for them and a handful of rare
    values would otherwise fire the test on clean batches. Nulls are ignored (see the
    ``null_rate`` test of :func:`compare_batches`).

    Args:
        reference: Category values of the reference.
        batch: Category values of the new batch.
        min_expected: Pool categories expected fewer times than this (0 disables pooling).

    Returns:
        chi-square statistic, p-value (1.0 when only one category is left) and Cramér's V.
    """
    ref, new = _st.aligned_counts(_st.category_values(reference, "reference"), _st.category_values(batch, "batch"))
    return _chi_square_counts(ref, new, min_expected)


def _chi_square_counts(ref: np.ndarray, new: np.ndarray, min_expected: float = 5.0) -> TestResult:
    table = _st.pool_rare(np.vstack([ref, new]), min_expected)
    if table.shape[1] < 2:
        return TestResult(0.0, 1.0, 0.0)
    # what scipy.stats.chi2_contingency(table, correction=False) returns, without its ~1 ms of overhead
    chi2 = _st.chi2_statistic(table)
    p_value = float(require("scipy.special").chdtrc((table.shape[0] - 1) * (table.shape[1] - 1), chi2))
    return TestResult(chi2, p_value, _st.cramers_v(table, chi2))


def js_distance(reference: Any, batch: Any) -> float:
    """Jensen-Shannon distance (base 2) between the category shares of both sides, in [0, 1].

    0 means identical shares, 1 means no category in common. Nulls are ignored.
    """
    ref, new = _st.aligned_counts(_st.category_values(reference, "reference"), _st.category_values(batch, "batch"))
    return _js_counts(ref, new)


def _js_counts(ref: np.ndarray, new: np.ndarray) -> float:
    distance = require("scipy.spatial.distance").jensenshannon(ref / ref.sum(), new / new.sum(), base=2)
    return float(np.clip(distance, 0.0, 1.0))


def association_shift(reference_df: pd.DataFrame, batch_df: pd.DataFrame, pairs: Sequence[tuple[str, str]]
                      ) -> pd.DataFrame:
    """How much the association of each column pair changed between reference and batch.

    Measures: numeric-numeric Spearman's rho, categorical-numeric rank correlation ratio eta,
    categorical-categorical Cramér's V. A shuffled column drives its associations towards 0.

    Returns:
        One row per pair: x, y, measure, reference, batch, shift (batch - reference).
    """
    pairs = _st.parse_pairs(pairs)
    _st.check_frames(reference_df, batch_df, sorted({c for pair in pairs for c in pair}))
    rows = []
    for x, y in pairs:
        measure, ref = _st.association(reference_df[x], reference_df[y])
        _, new = _st.association(batch_df[x], batch_df[y])
        rows.append({"x": x, "y": y, "measure": measure, "reference": ref, "batch": new, "shift": new - ref})
    return pd.DataFrame(rows, columns=["x", "y", "measure", "reference", "batch", "shift"])


def find_related_pairs(reference_df: pd.DataFrame, columns: Sequence[str] | None = None,
                       min_association: float = 0.3) -> list[tuple[str, str]]:
    """Column pairs whose association in the reference is at least ``min_association`` (absolute).

    These are the pairs worth watching for shuffles: unrelated columns stay unrelated.
    """
    cols = _select_columns(reference_df, None, columns)
    pairs = []
    for x, y in combinations(cols, 2):
        _, value = _st.association(reference_df[x], reference_df[y])
        if np.isfinite(value) and abs(value) >= min_association:
            pairs.append((x, y))
    return pairs


@dataclass(frozen=True)
class DriftThresholds:
    """Cuts that decide when a test fires (defaults calibrated on batches of 250-5,000 rows).

    Hypothesis tests fire when ``p_value < alpha`` *and* the effect size exceeds its cut, so that
    trivial differences on large samples do not fire. JS distance is gated by the chi-square
    p-value too (it is noisy on small batches with rare categories); PSI and association shift
    fire on their cut alone.

    Attributes:
        alpha: p-value cut shared by KS, chi-square, null-rate and decimals tests; 0.001 rather
            than 0.01 because a batch runs ~15 tests (and rare categories make chi-square anti-conservative).
        psi: PSI cut (0.25 = "significant shift"; 0.1 is the conventional "moderate" warning).
        psi_bins: Number of quantile bins for PSI.
        ks_statistic: Minimum KS D (largest CDF gap) for ``ks`` to fire.
        cramers_v: Minimum Cramér's V for ``chi_square`` to fire.
        js_distance: JS distance cut for categorical columns.
        null_rate: Minimum absolute change of the null share for ``null_rate`` to fire.
        decimals_js: Minimum JS distance between decimal-place profiles for ``decimals`` to fire.
        association: Minimum absolute change of a pair's association for ``association_shift``.
        min_association: Reference association a pair needs to be watched with ``pairs="auto"``.
    """

    alpha: float = 0.001
    psi: float = PSI_SIGNIFICANT
    psi_bins: int = 10
    ks_statistic: float = 0.1
    cramers_v: float = 0.1
    js_distance: float = 0.1
    null_rate: float = 0.05
    decimals_js: float = 0.2
    association: float = 0.2
    min_association: float = 0.3

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise InputError(f"DriftThresholds.{name} must be a finite number >= 0, got {value!r}",
                                 fix="leave it at its default or pass a non-negative number")
        if not 0 < self.alpha < 1:
            raise InputError(f"DriftThresholds.alpha must be in (0, 1), got {self.alpha}", fix="use alpha=0.001")


@dataclass(frozen=True)
class DriftReport:
    """Result of :func:`compare_batches`: one row per (column, test).

    Attributes:
        table: Columns ``column, kind, test, statistic, p_value, threshold, fired``; pair rows
            have kind ``relationship`` and column ``"x~y"``.
        thresholds: The cuts used.
        seconds: Wall time of the comparison.
    """

    table: pd.DataFrame
    thresholds: DriftThresholds = field(default_factory=DriftThresholds)
    seconds: float = 0.0

    @property
    def fired(self) -> dict[str, list[str]]:
        """Column -> tests that fired; a pair test is listed under both columns as ``association_shift:x~y``."""
        out: dict[str, list[str]] = {}
        hits = self.table.loc[self.table["fired"].to_numpy(dtype=bool), ["column", "kind", "test"]]
        for column, kind, test in zip(*(hits[c].tolist() for c in hits.columns), strict=True):
            if kind == "relationship":
                for part in str(column).split("~"):
                    out.setdefault(part, []).append(f"{test}:{column}")
            else:
                out.setdefault(str(column), []).append(str(test))
        return out

    @property
    def drifted(self) -> bool:
        """True when any test fired."""
        return bool(self.table["fired"].any())

    def summary(self) -> str:
        """A few lines: verdict, then one line per fired column with its tests and statistics."""
        checked = self.table.loc[self.table["kind"] != "relationship", "column"].nunique()
        if not self.drifted:
            return f"no drift: {checked} columns, {len(self.table)} tests, nothing fired"
        lines = [f"DRIFT in {len(self.fired)} of {checked} columns ({int(self.table['fired'].sum())} tests fired)"]
        for row in self.table[self.table["fired"]].itertuples(index=False):
            p = "" if pd.isna(row.p_value) else f", p={row.p_value:.2g}"
            lines.append(f"  {row.column}: {row.test} = {row.statistic:.4g} (threshold {row.threshold:g}{p})")
        return "\n".join(lines)


def compare_batches(reference_df: pd.DataFrame, batch_df: pd.DataFrame, columns: Sequence[str] | None = None,
                    thresholds: DriftThresholds | None = None, pairs: Pairs = None,
                    tests: Collection[str] | None = None) -> DriftReport:
    """Compare a batch with the reference, column by column, with tests chosen by dtype.

    Numeric columns get ``psi`` and ``ks`` (floats also ``decimals``); categorical, string and
    bool columns get ``chi_square`` and ``js_distance``; every column gets ``null_rate``.
    KS and chi-square p-values alone fire on trivial differences once samples are large, so each
    hypothesis test also needs its effect size (KS D, Cramér's V, ...) above a cut: see
    :class:`DriftThresholds`. A column that is entirely null in the batch is reported by
    ``null_rate``; its distribution tests are listed with NaN statistics and do not fire.

    Args:
        reference_df: The trusted data.
        batch_df: The new batch.
        columns: Columns to compare (default: every column of the reference).
        thresholds: Cuts; defaults to ``DriftThresholds()``.
        pairs: Column pairs to check for a changed association (catches shuffled columns):
            a list of ``(x, y)``, ``"auto"`` (pairs associated in the reference, see
            :func:`find_related_pairs`) or None (no pair check).
        tests: Run only these tests (names from :data:`TESTS`, e.g. ``["ks"]`` for a KS-only
            detector); None runs every test that applies. Pairs are checked only when
            ``association_shift`` is among them.

    Returns:
        A :class:`DriftReport`.
    """
    start = time.perf_counter()
    cuts = thresholds if thresholds is not None else DriftThresholds()
    if not isinstance(cuts, DriftThresholds):
        raise InputError(f"thresholds must be a DriftThresholds, got {type(cuts).__name__}",
                         fix="pass DriftThresholds(...) or None for the defaults")
    only = _check_tests(tests)
    cols = _select_columns(reference_df, batch_df, columns)
    rows: list[dict[str, Any]] = []
    for column in cols:
        rows.extend(_column_rows(column, reference_df[column], batch_df[column], cuts, only))
    if pairs is not None and "association_shift" in only:
        watched = find_related_pairs(reference_df, cols, cuts.min_association) if pairs == "auto" else _st.parse_pairs(pairs)
        for r in association_shift(reference_df, batch_df, watched).itertuples(index=False):
            shift = abs(r.shift) if np.isfinite(r.shift) else 0.0
            rows.append(_row(f"{r.x}~{r.y}", "relationship", "association_shift", r.shift, np.nan,
                             cuts.association, shift > cuts.association))
    table = pd.DataFrame({c: [r[c] for r in rows] for c in REPORT_COLUMNS})  # by column: 3x faster than by row
    table["fired"] = table["fired"].astype(bool)
    report = DriftReport(table, cuts, time.perf_counter() - start)
    _log.debug("compared %d columns in %.3fs: %s", len(cols), report.seconds, report.fired or "no drift")
    return report


def make_detector(reference_df: pd.DataFrame, columns: Sequence[str] | None = None,
                  thresholds: DriftThresholds | None = None, pairs: Pairs = "auto",
                  tests: Collection[str] | None = None) -> Callable[[pd.DataFrame], DriftReport]:
    """A one-argument detector ``batch -> DriftReport`` bound to a reference (pairs resolved once).

    This is the shape :func:`platform_kit.quality.corruption.score_detector` expects. Arguments
    as for :func:`compare_batches`; e.g. ``make_detector(ref, tests=["ks"], pairs=None)`` is a
    KS-only detector.
    """
    cuts = thresholds if thresholds is not None else DriftThresholds()
    only = _check_tests(tests)
    cols = _select_columns(reference_df, None, columns)
    watched = find_related_pairs(reference_df, cols, cuts.min_association) if pairs == "auto" else pairs
    if "association_shift" not in only:
        watched = None

    def detect(batch_df: pd.DataFrame) -> DriftReport:
        return compare_batches(reference_df, batch_df, cols, cuts, watched, only)

    return detect


# ---------------------------------------------------------------------------------------------


def _row(column: str, kind: str, test: str, statistic: float, p_value: float, threshold: float,
         fired: bool) -> dict[str, Any]:
    return {"column": column, "kind": kind, "test": test, "statistic": float(statistic), "p_value": float(p_value),
            "threshold": float(threshold), "fired": bool(fired)}


def _check_tests(tests: Collection[str] | None) -> frozenset[str]:
    if tests is None:
        return frozenset(TESTS)
    if isinstance(tests, str) or not all(isinstance(t, str) for t in tests):
        raise InputError(f"tests must be a list of test names, got {tests!r}", fix='e.g. tests=["ks"]')
    unknown = sorted(set(tests) - set(TESTS))
    if unknown or not tests:
        raise InputError(f"unknown or no test names {unknown or list(tests)}", fix=f"use some of {list(TESTS)}")
    return frozenset(tests)


def _column_rows(column: str, ref: pd.Series, new: pd.Series, cuts: DriftThresholds,
                 only: frozenset[str] = frozenset(TESTS)) -> list[dict[str, Any]]:
    kind = "numeric" if _st.is_numeric(ref) else "categorical"
    if kind == "numeric" and not _st.is_numeric(new):
        raise InputError(f"column {column!r} is numeric in the reference but {new.dtype} in the batch",
                         fix="cast the batch column to the reference's dtype before comparing (a type "
                             "change is a schema problem, not drift)")
    rows = _all_column_rows(column, kind, ref, new, cuts, only)
    return [row for row in rows if row["test"] in only]


def _all_column_rows(column: str, kind: str, ref: pd.Series, new: pd.Series, cuts: DriftThresholds,
                     only: frozenset[str]) -> list[dict[str, Any]]:
    nulls = _st.null_counts(ref, new)
    null_shift = nulls[1, 0] / nulls[1].sum() - nulls[0, 0] / nulls[0].sum()
    null_p = 1.0
    if nulls[:, 0].sum() > 0 and nulls[:, 1].sum() > 0:
        null_p = float(require("scipy.stats").chi2_contingency(nulls)[1])
    rows = [_row(column, kind, "null_rate", null_shift, null_p, cuts.null_rate,
                 null_p < cuts.alpha and abs(null_shift) > cuts.null_rate)]
    tests: tuple[str, ...] = ("psi", "ks") if kind == "numeric" else ("chi_square", "js_distance")
    if kind == "numeric" and pd.api.types.is_float_dtype(ref.dtype):
        tests = (*tests, "decimals")
    if new.notna().sum() == 0:  # nothing to compare; null_rate has already fired
        return rows + [_row(column, kind, t, np.nan, np.nan, np.nan, False) for t in tests]
    if kind == "numeric":
        if "psi" in only:
            value = psi(ref, new, cuts.psi_bins)
            rows.append(_row(column, kind, "psi", value, np.nan, cuts.psi, value > cuts.psi))
        if "ks" in only:
            ks = ks_test(ref, new)
            rows.append(_row(column, kind, "ks", ks.statistic, ks.p_value, cuts.ks_statistic,
                             ks.p_value < cuts.alpha and ks.statistic > cuts.ks_statistic))
        if "decimals" in tests and "decimals" in only:
            counts = _st.aligned_counts(_st.decimal_places(_st.numeric_values(ref, "reference")),
                                        _st.decimal_places(_st.numeric_values(new, "batch")))
            chi, dist = _chi_square_counts(*counts), _js_counts(*counts)
            rows.append(_row(column, kind, "decimals", dist, chi.p_value, cuts.decimals_js,
                             chi.p_value < cuts.alpha and dist > cuts.decimals_js))
        return rows
    if not {"chi_square", "js_distance"} & only:
        return rows
    counts = _st.aligned_counts(_st.category_values(ref, "reference"), _st.category_values(new, "batch"))
    chi, dist = _chi_square_counts(*counts), _js_counts(*counts)
    rows.append(_row(column, kind, "chi_square", chi.statistic, chi.p_value, cuts.cramers_v,
                     chi.p_value < cuts.alpha and chi.effect_size > cuts.cramers_v))
    # JS distance is noisy on small batches with rare categories: gate it by the chi-square p-value
    rows.append(_row(column, kind, "js_distance", dist, chi.p_value, cuts.js_distance,
                     chi.p_value < cuts.alpha and dist > cuts.js_distance))
    return rows


def _select_columns(reference_df: Any, batch_df: Any, columns: Sequence[str] | None) -> list[str]:
    if isinstance(columns, str):
        raise InputError(f"columns must be a list of names, got the string {columns!r}", fix=f"use columns=[{columns!r}]")
    cols = list(reference_df.columns) if columns is None and isinstance(reference_df, pd.DataFrame) else list(columns or [])
    if columns is not None and not cols:
        raise InputError("columns is empty", fix="pass at least one column name, or None for all columns")
    _st.check_frames(reference_df, reference_df if batch_df is None else batch_df, cols)
    for column in cols:
        if reference_df[column].notna().sum() == 0:
            raise InputError(f"column {column!r} is entirely null in the reference; there is nothing to compare to",
                             fix="drop it from columns= or build the reference from data where it is filled")
    return cols


# re-exported here, where the lab looks for them (imported last: they use DriftReport from this module)
from platform_kit.quality._drift_report import fired_table, plot_drift_grid  # noqa: E402
