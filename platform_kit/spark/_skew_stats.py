"""Key-frequency statistics: how unevenly rows spread over join keys (pure, no Spark).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError

__all__ = ["KeySkew", "as_counts", "gini", "hot_keys", "skew_stats", "zipf_weights"]


@dataclass(frozen=True)
class KeySkew:
    """How rows spread over the values of a key.

    Attributes:
        key: The column.
        rows: Rows with a non-null key.
        null_rows: Rows whose key is null (an inner join drops them before the shuffle; an
            outer join sends them all to one task).
        keys: Distinct non-null keys.
        top: The most frequent keys and their row counts, most frequent first.
        top_share: Share of the non-null rows held by the keys in ``top``.
        max_share: Share of the non-null rows held by the most frequent key.
        max_over_median: Most frequent key's rows over the median key's rows.
        gini: Gini coefficient of the rows per key (0 = every key equal, toward 1 = one key has all).
        threshold: The factor over the median count a key needed to be called hot.
        hot_keys: Keys with more than ``threshold`` x the median count, most frequent first.
    """

    key: str
    rows: int
    null_rows: int
    keys: int
    top: tuple[tuple[Any, int], ...]
    top_share: float
    max_share: float
    max_over_median: float
    gini: float
    threshold: float
    hot_keys: tuple[Any, ...] = field(default_factory=tuple)

    @property
    def null_share(self) -> float:
        """Share of all rows whose key is null."""
        total = self.rows + self.null_rows
        return self.null_rows / total if total else 0.0

    def summary(self) -> dict[str, Any]:
        """One flat row for a table."""
        return {"key": self.key, "rows": self.rows, "null_share": round(self.null_share, 3), "keys": self.keys,
                f"top{len(self.top)}_share": round(self.top_share, 3), "max_share": round(self.max_share, 3),
                "max_over_median": round(self.max_over_median, 1), "gini": round(self.gini, 3),
                "hot_keys": list(self.hot_keys)}


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so keys compare and print naturally."""
    return value.item() if isinstance(value, np.generic) else value


def as_counts(counts: Mapping[Any, int] | pd.Series) -> pd.Series:
    """Validate row counts per key; returns them as a Series, most frequent first.

    Raises:
        InputError: Not a mapping/Series, a null key, or a count that is negative, NaN or fractional.
    """
    if isinstance(counts, pd.Series):
        series = counts
    elif isinstance(counts, Mapping):
        series = pd.Series(dict(counts), dtype="object") if counts else pd.Series(dtype="float64")
    else:
        raise InputError(f"counts must be a mapping key -> rows or a pandas Series, got {type(counts).__name__}",
                         fix="pass df.groupBy(key).count() as a dict, or use key_skew(df, key)")
    if series.index.hasnans or any(k is None for k in series.index):
        raise InputError("counts has a null key", fix="count null keys separately (null_rows=...)")
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any() or (values < 0).any() or (values != values.round()).any():
        bad = series[values.isna() | (values < 0) | (values != values.round())].head(3).to_dict()
        raise InputError(f"row counts must be whole numbers >= 0, got {bad}", fix="pass row counts per key")
    return values.astype("int64").sort_values(ascending=False, kind="stable")


def gini(values: Any) -> float:
    """Gini coefficient of non-negative values (0 = equal, (n-1)/n = one value holds everything).

    Raises:
        InputError: A value is negative or NaN.
    """
    array = np.sort(np.asarray(values, dtype="float64"))
    if np.isnan(array).any() or (array < 0).any():
        raise InputError("gini needs non-negative numbers", fix="pass row counts per key")
    if array.size == 0 or array.sum() == 0:
        return 0.0
    n = array.size
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * array).sum()) / (n * array.sum()) - (n + 1) / n)


def hot_keys(counts: Mapping[Any, int] | pd.Series, threshold: float = 5.0) -> list[Any]:
    """Keys holding more than ``threshold`` times the median key's rows, most frequent first.

    The rule is AQE's own for skewed partitions (``skewedPartitionFactor``, 5 by default),
    applied to keys: relative to the median, so a uniform distribution has no hot key
    however large it is.

    Raises:
        InputError: ``threshold`` is not a number >= 1, or the counts are malformed.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold) \
            or threshold < 1:
        raise InputError(f"threshold must be a number >= 1 (times the median), got {threshold!r}",
                         fix="use e.g. 5 (AQE's skewedPartitionFactor)")
    series = as_counts(counts)
    if series.empty:
        return []
    median = float(series.median())
    return [_plain(k) for k, v in series.items() if v > threshold * median]


def skew_stats(counts: Mapping[Any, int] | pd.Series, *, key: str = "key", null_rows: int = 0,
               threshold: float = 5.0, top: int = 5) -> KeySkew:
    """Skew statistics of row counts per key (see :class:`KeySkew`).

    Raises:
        InputError: Malformed counts, a negative ``null_rows`` or ``top`` < 1.
    """
    series = as_counts(counts)
    if isinstance(null_rows, bool) or not isinstance(null_rows, int | np.integer) or null_rows < 0:
        raise InputError(f"null_rows must be an integer >= 0, got {null_rows!r}", fix="pass the count of null keys")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise InputError(f"top must be an integer >= 1, got {top!r}", fix="pass e.g. 5")
    rows = int(series.sum())
    head = series.head(top)
    median = float(series.median()) if len(series) else 0.0
    return KeySkew(
        key=key, rows=rows, null_rows=int(null_rows), keys=len(series),
        top=tuple((_plain(k), int(v)) for k, v in head.items()),
        top_share=float(head.sum()) / rows if rows else 0.0,
        max_share=float(series.iloc[0]) / rows if rows else 0.0,
        max_over_median=float(series.iloc[0]) / median if median else 0.0,
        gini=gini(series.to_numpy()), threshold=float(threshold),
        hot_keys=tuple(hot_keys(series, threshold)),
    )


def zipf_weights(k: int, s: float = 1.0) -> np.ndarray:
    """Weights proportional to ``1 / rank**s`` for ranks 1..k, summing to 1.

    Raises:
        InputError: ``k`` < 1 or ``s`` < 0.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}", fix="pass the number of hot keys")
    if not isinstance(s, int | float) or not math.isfinite(s) or s < 0:
        raise InputError(f"the Zipf exponent must be >= 0, got {s!r}", fix="use e.g. 1.0 (0 = equal shares)")
    weights = 1.0 / np.arange(1, k + 1, dtype="float64") ** float(s)
    return weights / weights.sum()
