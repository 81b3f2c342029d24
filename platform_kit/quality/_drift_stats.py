"""Private statistics behind :mod:`platform_kit.quality.drift`: input coercion, binning,
category alignment, association measures and the decimal-places profile.

Everything here works on 1-D numpy arrays or pandas Series and returns plain floats or arrays;
validation messages are written for the public functions that call these helpers.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError

__all__: list[str] = []

#: proportion substituted for an empty bin/category so log ratios stay finite
EPSILON = 1e-4
#: the largest number of decimal places the decimal profile distinguishes
MAX_DECIMALS = 6


def as_series(values: Any, name: str) -> pd.Series:
    """Turn array-likes into a Series; reject scalars, strings, mappings and None."""
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        raise InputError(f"{name} is a DataFrame; these tests compare one column at a time",
                         fix=f"pass a single column, e.g. df['amount'], as {name}")
    if values is None or isinstance(values, str | bytes | dict) or np.ndim(values) != 1:
        raise InputError(f"{name} must be a 1-D array-like of values, got {type(values).__name__}",
                         fix=f"pass a pandas Series, numpy array or list as {name}")
    return pd.Series(list(values) if not isinstance(values, np.ndarray) else values)


def is_numeric(series: pd.Series) -> bool:
    """True for ints, floats and datetimes/timedeltas; bools count as categorical."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return False
    return bool(pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype)
                or pd.api.types.is_timedelta64_dtype(dtype))


def numeric_values(values: Any, name: str) -> np.ndarray:
    """Non-null values as float64 (datetimes as epoch ns); InputError when none are left."""
    series = as_series(values, name)
    if series.notna().sum() == 0:  # before the dtype check: an empty list has dtype object
        raise InputError(f"{name} has no non-null values", fix=f"pass a non-empty {name} with at least one value")
    if not is_numeric(series):
        raise InputError(f"{name} has dtype {series.dtype}, not numeric",
                         fix="use chi_square_test/js_distance for categorical columns, or cast to a number")
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or pd.api.types.is_timedelta64_dtype(series.dtype):
        series = series.dropna().astype("int64")
    out = series.to_numpy(dtype="float64", na_value=np.nan)
    out = out[~np.isnan(out)]
    if not np.isfinite(out).all():
        raise InputError(f"{name} contains infinite values", fix="replace ±inf with NaN or a finite value first")
    return out


def category_values(values: Any, name: str) -> np.ndarray:
    """Non-null category values as an array; InputError when there are none."""
    out = as_series(values, name).dropna().to_numpy()
    if out.size == 0:
        raise InputError(f"{name} has no non-null values", fix=f"pass a non-empty {name} with at least one value")
    return out


def aligned_counts(reference: np.ndarray, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides over the union of categories (a category absent on one side counts 0)."""
    codes, uniques = pd.factorize(np.concatenate([reference.astype(object), batch.astype(object)]))
    k = len(uniques)
    return (np.bincount(codes[:reference.size], minlength=k).astype("float64"),
            np.bincount(codes[reference.size:], minlength=k).astype("float64"))


def chi2_statistic(table: np.ndarray) -> float:
    """Pearson chi-square statistic of a contingency table (cells with zero expectation skipped)."""
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    nonzero = expected > 0
    return float((((table - expected) ** 2)[nonzero] / expected[nonzero]).sum())


def pool_rare(table: np.ndarray, min_expected: float) -> np.ndarray:
    """Merge the columns of a 2xk count table whose expected count is below ``min_expected``."""
    if min_expected <= 0 or table.shape[1] < 2:
        return table
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    rare = expected.min(axis=0) < min_expected
    if rare.sum() < 2 and not rare.all():
        # a lone rare category has nothing to pool with; merge it into the smallest common one
        if rare.sum() == 1:
            common = np.flatnonzero(~rare)
            rare[common[np.argmin(table[:, common].sum(axis=0))]] = True
        else:
            return table
    return np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Distinct inner cut points at the reference's quantiles (ties merge bins)."""
    inner = np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return np.unique(inner)


def binned_proportions(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values per bin ``(-inf, e0], (e0, e1], ..., (ek, inf)``."""
    idx = np.searchsorted(edges, values, side="left")
    return np.bincount(idx, minlength=edges.size + 1) / values.size


def psi_from_proportions(ref: np.ndarray, new: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index ``sum((new - ref) * ln(new / ref))`` with empty shares clipped."""
    ref = np.clip(ref, epsilon, None)
    new = np.clip(new, epsilon, None)
    return float(np.sum((new - ref) * np.log(new / ref)))


def cramers_v(table: np.ndarray, chi2: float) -> float:
    """Cramér's V of a contingency table (0 = independent, 1 = determined)."""
    n = table.sum()
    k = min(table.shape) - 1
    return float(np.sqrt(chi2 / (n * k))) if n > 0 and k > 0 else 0.0


def correlation_ratio(categories: np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio eta of ranked ``values`` on ``categories`` (0 = no relation, 1 = determined)."""
    ranks = pd.Series(values).rank().to_numpy(dtype="float64")
    centred = ranks - ranks.mean()
    sst = float(np.dot(centred, centred))
    if sst == 0.0:
        return 0.0
    codes = pd.factorize(categories)[0]
    sizes = np.bincount(codes)
    means = np.bincount(codes, weights=centred) / sizes
    return float(np.sqrt(min(float(np.dot(sizes, means**2)) / sst, 1.0)))


def association(x: pd.Series, y: pd.Series) -> tuple[str, float]:
    """Measure of association between two columns, chosen by their kinds.

    numeric-numeric: Spearman's rho (signed); categorical-numeric: rank correlation ratio eta;
    categorical-categorical: Cramér's V. Rows with a null on either side are dropped.
    """
    keep = ~(pd.isna(x.to_numpy()) | pd.isna(y.to_numpy()))
    if keep.sum() < 3:
        return "none", float("nan")
    a, b = x.to_numpy()[keep], y.to_numpy()[keep]
    num_a, num_b = is_numeric(x), is_numeric(y)
    if num_a and num_b:
        rho = pd.Series(a).rank().corr(pd.Series(b).rank())
        return "spearman", float(rho) if pd.notna(rho) else 0.0
    if num_a or num_b:
        return "eta", correlation_ratio(b, a) if num_a else correlation_ratio(a, b)
    ca, ua = pd.factorize(a)
    cb, ub = pd.factorize(b)
    table = np.bincount(ca * len(ub) + cb, minlength=len(ua) * len(ub)).reshape(len(ua), len(ub)).astype("float64")
    if min(table.shape) < 2:
        return "cramers_v", 0.0
    return "cramers_v", cramers_v(table, chi2_statistic(table))


def decimal_places(values: np.ndarray, max_decimals: int = MAX_DECIMALS) -> np.ndarray:
    """Number of decimal places each value needs (``max_decimals`` means "that many or more")."""
    out = np.full(values.shape, max_decimals, dtype="int64")
    undecided = np.ones(values.shape, dtype=bool)
    for digits in range(max_decimals):
        scaled = values * 10.0**digits
        # tolerance relative to magnitude: floats like 0.1 + 0.2 are not exact
        exact = np.isclose(scaled, np.round(scaled), rtol=1e-9, atol=1e-6)
        hit = undecided & exact
        out[hit] = digits
        undecided &= ~exact
    return out


def null_counts(reference: pd.Series, batch: pd.Series) -> np.ndarray:
    """2x2 table ``[[ref nulls, ref non-nulls], [batch nulls, batch non-nulls]]``."""
    rows: Iterable[pd.Series] = (reference, batch)
    nulls = [(int(pd.isna(s.to_numpy()).sum()), len(s)) for s in rows]  # numpy isna: ~3x faster on object columns
    return np.array([[n, size - n] for n, size in nulls], dtype="float64")


def check_frames(reference_df: Any, batch_df: Any, columns: Sequence[str]) -> None:
    """InputError unless both are non-empty DataFrames holding ``columns``."""
    for name, frame in (("reference_df", reference_df), ("batch_df", batch_df)):
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}",
                             fix="convert first, e.g. pd.DataFrame(records) or spark_df.toPandas()")
        if frame.empty:
            raise InputError(f"{name} has no rows", fix=f"pass a non-empty {name}; skip empty batches upstream")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}",
                             fix="pass columns= that both frames hold, or fix the batch's schema first")


def parse_pairs(pairs: Any) -> list[tuple[str, str]]:
    """``pairs`` as a list of (x, y) column names; InputError for anything else."""
    try:
        if isinstance(pairs, str):
            raise TypeError(pairs)
        out = [(str(x), str(y)) for x, y in pairs]
    except (TypeError, ValueError) as exc:
        raise InputError(f"pairs must be 'auto', None or a list of (x, y) column names, got {pairs!r}",
                         fix="e.g. pairs=[('currency', 'total_amount')]") from exc
    return out
