"""Silent corruption on purpose: seeded injectors, labelled batch suites and detector scoring.

Each injector returns a corrupted *copy* plus a label of what was done, so a drift detector can
be scored like a classifier (precision/recall over clean and corrupted batches)::

    reference, pool = split_reference(generate_table("orders", "tiny", 42), 0.5, seed=42)
    batches = corruption_suite(pool, seed=42)              # 20 clean + 4 of each corruption
    score = score_detector(make_detector(reference, ORDERS_COLUMNS), batches)
    print(score.summary())

Corruptions: :func:`unit_change` (cents vs dollars), :func:`truncate_decimals`,
:func:`shuffle_column` (marginal distribution unchanged: only a relationship check such as
``compare_batches(..., pairs="auto")`` can see it), :func:`collapse_categories` and
:func:`null_spike`.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.quality._drift_stats import is_numeric
from platform_kit.quality.drift import DriftReport

_log = logging.getLogger(__name__)

__all__ = ["CORRUPTIONS", "ORDERS_COLUMNS", "ORDERS_TARGETS", "DetectorScore", "LabelledBatch",
           "collapse_categories", "compare_detectors", "corruption_suite", "null_spike", "sample_batches",
           "score_detector", "shuffle_column", "split_reference", "truncate_decimals", "unit_change"]

#: columns of the ``orders`` table worth watching (ids and timestamps drift by design)
ORDERS_COLUMNS = ("status", "channel", "region", "currency", "total_amount")
#: corruption kind -> the ``orders`` column :func:`corruption_suite` applies it to
ORDERS_TARGETS: Mapping[str, str] = {
    "unit_change": "total_amount",
    "truncate_decimals": "total_amount",
    "shuffle_column": "total_amount",
    "collapse_categories": "currency",
    "null_spike": "channel",
}
CORRUPTIONS = tuple(ORDERS_TARGETS)


@dataclass(frozen=True)
class LabelledBatch:
    """A batch and what was done to it.

    Attributes:
        frame: The rows.
        kind: ``"clean"`` or the corruption's name (an injector's function name).
        column: The corrupted column (None when clean).
        detail: What was done, in words.
    """

    frame: pd.DataFrame
    kind: str = "clean"
    column: str | None = None
    detail: str = ""

    @property
    def corrupted(self) -> bool:
        """True unless the batch is clean."""
        return self.kind != "clean"


def unit_change(df: pd.DataFrame, column: str, factor: float = 100, *, fraction: float = 1.0,
                seed: int = 0) -> LabelledBatch:
    """Multiply a numeric column by ``factor`` (dollars sent as cents) on ``fraction`` of the rows."""
    _check_column(df, column, numeric=True)
    _check_fraction(fraction)
    if not np.isfinite(factor) or factor in (0, 1):
        raise InputError(f"factor must be a finite number other than 0 and 1, got {factor!r}",
                         fix="use factor=100 (cents) or factor=0.01")
    out = df.copy()
    out[column] = out[column].astype("float64")
    rows, col = _pick_rows(out, fraction, seed), out.columns.get_loc(column)
    out.iloc[rows, col] = out.iloc[rows, col] * factor
    return LabelledBatch(out, "unit_change", column, f"{column} x{factor:g} on {fraction:.0%} of rows")


def truncate_decimals(df: pd.DataFrame, column: str, digits: int = 0) -> LabelledBatch:
    """Cut (not round) a float column to ``digits`` decimals, like a lossy cast to a narrower type."""
    _check_column(df, column, numeric=True)
    if not pd.api.types.is_float_dtype(df[column].dtype):
        raise InputError(f"column {column!r} is {df[column].dtype}; it has no decimals to truncate",
                         fix="pick a float column, e.g. an amount or a price")
    if not isinstance(digits, int) or isinstance(digits, bool) or digits < 0:
        raise InputError(f"digits must be an integer >= 0, got {digits!r}", fix="use digits=0")
    out = df.copy()
    scale = 10.0**digits
    out[column] = np.trunc(out[column] * scale) / scale
    return LabelledBatch(out, "truncate_decimals", column, f"{column} truncated to {digits} decimals")


def shuffle_column(df: pd.DataFrame, column: str, seed: int = 0) -> LabelledBatch:
    """Permute a column's values across rows (a misaligned join or sort).

    The column's marginal distribution is unchanged, so no single-column test can see this;
    only its relationships with other columns break.
    """
    _check_column(df, column)
    out = df.copy()
    out[column] = np.random.default_rng(seed).permutation(out[column].to_numpy())
    return LabelledBatch(out, "shuffle_column", column, f"{column} permuted across rows")


def collapse_categories(df: pd.DataFrame, column: str, into: Any = None,
                        categories: Sequence[Any] | None = None) -> LabelledBatch:
    """Merge several categories into one (a mapping table that lost entries, a default fill).

    Args:
        df: The batch.
        column: A categorical column.
        into: The surviving category (default: the most frequent one).
        categories: The categories merged into ``into`` (default: the less frequent half).
    """
    _check_column(df, column)
    counts = df[column].value_counts()
    if len(counts) < 2:
        raise InputError(f"column {column!r} has {len(counts)} category; nothing to collapse",
                         fix="pick a column with several categories")
    target = counts.index[0] if into is None else into
    merged = list(counts.index[-(len(counts) // 2):]) if categories is None else list(categories)
    merged = [c for c in merged if c != target]
    if not merged:
        raise InputError(f"no category of {column!r} to merge into {target!r}",
                         fix="pass categories= other than into=")
    out = df.copy()
    out[column] = out[column].where(~out[column].isin(merged), target)
    return LabelledBatch(out, "collapse_categories", column, f"{column}: {merged} -> {target!r}")


def null_spike(df: pd.DataFrame, column: str, fraction: float = 0.2, seed: int = 0) -> LabelledBatch:
    """Blank ``fraction`` of a column's rows (a dropped field upstream)."""
    _check_column(df, column)
    _check_fraction(fraction)
    out = df.copy()
    if pd.api.types.is_integer_dtype(out[column].dtype) or pd.api.types.is_bool_dtype(out[column].dtype):
        out[column] = out[column].astype("float64" if is_numeric(out[column]) else "object")
    out.iloc[_pick_rows(out, fraction, seed), out.columns.get_loc(column)] = None
    return LabelledBatch(out, "null_spike", column, f"{column}: {fraction:.0%} of rows set to null")


def split_reference(df: pd.DataFrame, fraction: float = 0.5, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows at random into a reference and a disjoint pool to draw batches from.

    Drawing clean batches from the reference itself makes them look more alike than new data
    would, and hides false positives.
    """
    _check_frame(df)
    _check_fraction(fraction)
    n_ref = round(len(df) * fraction)
    if not 0 < n_ref < len(df):
        raise InputError(f"fraction={fraction} of {len(df)} rows leaves one side empty",
                         fix="use a fraction such as 0.5 on a table of at least 2 rows")
    order = np.random.default_rng(seed).permutation(len(df))
    return df.iloc[np.sort(order[:n_ref])], df.iloc[np.sort(order[n_ref:])]


def sample_batches(df: pd.DataFrame, n_batches: int, batch_size: int, seed: int) -> list[pd.DataFrame]:
    """Clean batches: ``n_batches`` random samples of ``batch_size`` rows (without replacement)."""
    _check_frame(df)
    for name, value in (("n_batches", n_batches), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}", fix=f"pass {name}=20 or so")
    if batch_size > len(df):
        raise InputError(f"batch_size={batch_size} exceeds the {len(df)} rows available",
                         fix="use a smaller batch_size or a larger table size (e.g. 'small')")
    rng = np.random.default_rng(seed)
    return [df.iloc[np.sort(rng.choice(len(df), batch_size, replace=False))] for _ in range(n_batches)]


def corruption_suite(df: pd.DataFrame, seed: int, *, n_clean: int = 20, n_per_corruption: int = 4,
                     batch_size: int | None = None, targets: Mapping[str, str] | None = None
                     ) -> list[LabelledBatch]:
    """Clean and corrupted batches with labels, to score a detector with :func:`score_detector`.

    Args:
        df: Pool to draw from (keep it disjoint from the detector's reference: see
            :func:`split_reference`).
        seed: Seeds the sampling and every injector.
        n_clean: Number of clean batches.
        n_per_corruption: Batches per corruption kind, each a fresh sample.
        batch_size: Rows per batch (default: half the pool, at most 5,000).
        targets: Corruption kind -> column (default :data:`ORDERS_TARGETS`); kinds are
            :data:`CORRUPTIONS`.
    """
    _check_frame(df)
    chosen = dict(ORDERS_TARGETS if targets is None else targets)
    unknown = sorted(set(chosen) - set(CORRUPTIONS))
    if unknown:
        raise InputError(f"unknown corruption kind(s) {unknown}", fix=f"use some of {list(CORRUPTIONS)}")
    size = batch_size if batch_size is not None else max(1, min(len(df) // 2, 5000))
    samples = sample_batches(df, n_clean + n_per_corruption * len(chosen), size, seed)
    suite = [LabelledBatch(frame) for frame in samples[:n_clean]]
    injectors: dict[str, Callable[[pd.DataFrame, str, int], LabelledBatch]] = {
        "unit_change": lambda f, c, s: unit_change(f, c, 100),
        "truncate_decimals": lambda f, c, s: truncate_decimals(f, c, 0),
        "shuffle_column": lambda f, c, s: shuffle_column(f, c, s),
        "collapse_categories": lambda f, c, s: collapse_categories(f, c),
        "null_spike": lambda f, c, s: null_spike(f, c, 0.2, s),
    }
    rest = iter(samples[n_clean:])
    for i, (kind, column) in enumerate(sorted(chosen.items())):
        for j in range(n_per_corruption):
            suite.append(injectors[kind](next(rest), column, seed + 1000 * i + j))
    return suite


@dataclass(frozen=True)
class DetectorScore:
    """How a detector did on labelled batches (batch level: fired anywhere or not).

    Attributes:
        tp: Corrupted batches it fired on. fp: Clean batches it fired on.
        fn: Corrupted batches it missed. tn: Clean batches it stayed quiet on.
        precision: tp / (tp + fp), 0.0 when it never fired.
        recall: tp / (tp + fn), 0.0 without corrupted batches.
        per_corruption_recall: Corruption kind -> recall on batches of that kind.
        column_accuracy: Share of corrupted batches where it fired *on the corrupted column*.
        results: One row per batch: kind, column, fired, fired_columns, hit_column.
    """

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    per_corruption_recall: dict[str, float]
    column_accuracy: float
    results: pd.DataFrame = field(repr=False)

    def summary(self) -> str:
        """One line of totals, then recall per corruption."""
        head = (f"precision {self.precision:.2f}, recall {self.recall:.2f}, column accuracy "
                f"{self.column_accuracy:.2f} (tp={self.tp} fp={self.fp} fn={self.fn} tn={self.tn})")
        return "\n".join([head, *(f"  {k}: recall {v:.2f}" for k, v in sorted(self.per_corruption_recall.items()))])


def score_detector(detector: Callable[[pd.DataFrame], Any], batches: Iterable[LabelledBatch]) -> DetectorScore:
    """Run ``detector`` on every batch and score it against the labels.

    Args:
        detector: ``batch -> result`` where result is a :class:`DriftReport`, a mapping
            column -> tests (fired when non-empty), an iterable of fired column names, or a
            bool (fired or not, without columns).
        batches: Labelled batches, e.g. from :func:`corruption_suite`.
    """
    if not callable(detector):
        raise InputError(f"detector must be callable batch -> result, got {type(detector).__name__}",
                         fix="pass e.g. make_detector(reference) or lambda b: compare_batches(reference, b)")
    rows = []
    for batch in batches:
        if not isinstance(batch, LabelledBatch):
            raise InputError(f"batches must hold LabelledBatch items, got {type(batch).__name__}",
                             fix="build them with corruption_suite() or the injectors")
        fired, columns = _fired_columns(detector(batch.frame))
        rows.append({"kind": batch.kind, "column": batch.column, "fired": fired, "fired_columns": sorted(columns),
                     "hit_column": batch.corrupted and batch.column in columns})
    results = pd.DataFrame(rows, columns=["kind", "column", "fired", "fired_columns", "hit_column"])
    if results.empty:
        raise InputError("no batches to score", fix="pass the output of corruption_suite()")
    bad = results["kind"] != "clean"
    tp, fn = int((bad & results["fired"]).sum()), int((bad & ~results["fired"]).sum())
    fp, tn = int((~bad & results["fired"]).sum()), int((~bad & ~results["fired"]).sum())
    per_kind = results[bad].groupby("kind")["fired"].mean()
    return DetectorScore(
        tp=tp, fp=fp, fn=fn, tn=tn,
        precision=tp / (tp + fp) if tp + fp else 0.0,
        recall=tp / (tp + fn) if tp + fn else 0.0,
        per_corruption_recall={str(k): float(v) for k, v in per_kind.items()},
        column_accuracy=float(results.loc[bad, "hit_column"].mean()) if bad.any() else 0.0,
        results=results,
    )


def compare_detectors(detectors: Mapping[str, Callable[[pd.DataFrame], Any]], batches: Iterable[LabelledBatch]
                      ) -> pd.DataFrame:
    """Score several detectors on the same labelled batches, one row per detector.

    Args:
        detectors: Name -> detector (as for :func:`score_detector`).
        batches: Labelled batches, e.g. from :func:`corruption_suite`.

    Returns:
        Indexed by detector name: ``precision, recall, column_accuracy, tp, fp, fn, tn``, the
        recall per corruption kind (one column per kind, named after it) and ``ms_per_batch``.
    """
    if not isinstance(detectors, Mapping) or not detectors:
        raise InputError("detectors must map names to detectors", fix="e.g. {'default': make_detector(reference)}")
    suite = list(batches)
    rows = {}
    for name, detector in detectors.items():
        start = time.perf_counter()
        score = score_detector(detector, suite)
        per_batch_ms = 1000 * (time.perf_counter() - start) / len(suite)
        rows[str(name)] = {"precision": score.precision, "recall": score.recall,
                           "column_accuracy": score.column_accuracy, "tp": score.tp, "fp": score.fp, "fn": score.fn,
                           "tn": score.tn, **score.per_corruption_recall, "ms_per_batch": per_batch_ms}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "detector"
    return table


def _fired_columns(result: Any) -> tuple[bool, set[str]]:
    if isinstance(result, DriftReport):
        return result.drifted, set(result.fired)
    if isinstance(result, bool | np.bool_):
        return bool(result), set()
    if isinstance(result, Mapping):
        columns = {str(k) for k, v in result.items() if v}
        return bool(columns), columns
    if isinstance(result, Iterable) and not isinstance(result, str):
        columns = {str(c) for c in result}
        return bool(columns), columns
    raise InputError(f"the detector returned {type(result).__name__}; cannot tell what fired",
                     fix="return a DriftReport, a dict column -> tests, a list of columns or a bool")


def _check_frame(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}",
                         fix="e.g. generate_table('orders', 'tiny', 42)")
    if df.empty:
        raise InputError("the DataFrame has no rows", fix="pass a non-empty table")


def _check_column(df: Any, column: str, numeric: bool = False) -> None:
    _check_frame(df)
    if column not in df.columns:
        raise InputError(f"column {column!r} not in {list(df.columns)}", fix="pick one of the frame's columns")
    if numeric and not (is_numeric(df[column]) and not pd.api.types.is_datetime64_any_dtype(df[column].dtype)):
        raise InputError(f"column {column!r} is {df[column].dtype}, not numeric",
                         fix="pick a numeric column, e.g. an amount")


def _check_fraction(fraction: float) -> None:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction!r}", fix="use e.g. fraction=0.2")


def _pick_rows(df: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    # positions, not labels: batches may carry duplicate index labels
    n = max(1, round(len(df) * fraction))
    return np.sort(np.random.default_rng(seed).choice(len(df), n, replace=False))
