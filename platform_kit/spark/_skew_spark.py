"""Skew on Spark DataFrames: plant hot keys, count keys, and the salted join.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._skew_stats import KeySkew, skew_stats, zipf_weights

_log = logging.getLogger(__name__)

__all__ = ["key_counts", "key_skew", "plant_hot_keys", "salted_join"]

_SALT = "__salt"
_SALTABLE = {"inner": "inner", "left": "left", "leftouter": "left", "left_outer": "left"}


def _functions() -> Any:
    from pyspark.sql import functions

    return functions


def _need_columns(df: Any, columns: Sequence[str], what: str) -> None:
    try:
        present = set(df.columns)
    except AttributeError as exc:
        raise InputError(f"{what} must be a Spark DataFrame, got {type(df).__name__}",
                         fix="pass a pyspark.sql.DataFrame") from exc
    missing = [c for c in columns if c not in present]
    if missing:
        raise InputError(f"{what} has no column(s) {missing}; it has {sorted(present)}",
                         fix="pass column names that exist in the DataFrame")


def plant_hot_keys(df: Any, key: str, hot_keys: Sequence[Any], share: float, *, zipf_s: float = 1.0,
                   id_col: str, seed: int = 0) -> Any:
    """Re-key a ``share`` of the rows to a few hot keys with Zipf-like shares (deterministic).

    Row ``i`` is chosen by a hash of its ``id_col`` and ``seed`` (not ``rand()``), so the same
    rows get the same keys in every job and after task retries. Hot key ``j`` (0-based) gets
    ``share * w_j`` of all rows with ``w`` from :func:`zipf_weights`; other rows keep their key.

    Args:
        df: The table (e.g. the clickstream).
        key: The join key to skew (e.g. ``customer_id``).
        hot_keys: Keys to pile rows onto, hottest first.
        share: Fraction of all rows re-keyed, in (0, 1].
        zipf_s: Zipf exponent among the hot keys (0 = equal shares).
        id_col: A column unique per row (e.g. ``event_id``), hashed to choose rows.
        seed: Changes which rows are chosen.

    Raises:
        InputError: Missing columns, no hot keys, or ``share`` outside (0, 1].
    """
    _need_columns(df, [key, id_col], "df")
    hot = list(hot_keys)
    if not hot or any(k is None for k in hot):
        raise InputError("hot_keys must list at least one non-null key", fix="pass e.g. [131, 35, 177]")
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
        raise InputError(f"share must be in (0, 1], got {share!r}", fix="pass the fraction of rows to re-key")
    f = _functions()
    weights = zipf_weights(len(hot), zipf_s)
    bounds = (weights.cumsum() * float(share)).tolist()
    u = f.pmod(f.xxhash64(f.lit(int(seed)), f.col(id_col)), f.lit(1_000_000)) / f.lit(1_000_000.0)
    dtype = df.schema[key].dataType
    expr = None
    for value, bound in zip(hot, bounds, strict=True):
        literal = f.lit(value).cast(dtype)
        expr = f.when(u < bound, literal) if expr is None else expr.when(u < bound, literal)
    return df.withColumn(key, expr.otherwise(f.col(key)))


def key_counts(df: Any, key: str, *, max_keys: int = 100_000) -> tuple[pd.Series, int]:
    """Rows per non-null key (most frequent first) and the number of rows with a null key.

    One Spark job (``groupBy(key).count()``), whose result comes to the driver.

    Raises:
        InputError: ``key`` is missing, or the key has more than ``max_keys`` distinct values
            (too many to bring to the driver: sample the table or raise the limit).
    """
    _need_columns(df, [key], "df")
    f = _functions()
    rows = df.groupBy(key).agg(f.count(f.lit(1)).alias("rows")).limit(max_keys + 2).collect()
    nulls = sum(int(r["rows"]) for r in rows if r[key] is None)
    counted = {r[key]: int(r["rows"]) for r in rows if r[key] is not None}
    if len(counted) > max_keys:
        raise InputError(f"{key} has more than {max_keys:,} distinct values: too many to bring to the driver",
                         fix="sample the table first (df.sample(0.01)) or pass a larger max_keys")
    series = pd.Series(counted, dtype="int64").sort_values(ascending=False, kind="stable")
    series.index.name = key
    return series, nulls


def key_skew(df: Any, key: str, *, threshold: float = 5.0, top: int = 5, max_keys: int = 100_000) -> KeySkew:
    """Detect skew of ``df`` on ``key`` from the data: counts per key, then :func:`skew_stats`."""
    counts, nulls = key_counts(df, key, max_keys=max_keys)
    return skew_stats(counts, key=key, null_rows=nulls, threshold=threshold, top=top)


def salted_join(left: Any, right: Any, on: str, *, buckets: int = 16, hot_keys: Sequence[Any] | None = None,
                how: str = "inner", salt_from: Sequence[str] | None = None) -> Any:
    """Join with the key salted, so a hot key's rows spread over ``buckets`` tasks; same rows as the plain join.

    Each left row gets a salt in ``0..buckets-1`` (a hash of ``salt_from`` columns, all left
    columns by default: deterministic); the right side is replicated once per salt value, and
    the join runs on ``(on, salt)``. Every left row still meets every right row of its key
    exactly once, so the result is the plain join's multiset of rows (same columns, same
    order), for inner and left joins. With ``hot_keys`` only those keys are salted and
    replicated (the rest keep salt 0), which keeps the right side small.

    Args:
        left: The large, skewed side.
        right: The side that is replicated ``buckets`` times (for its hot keys).
        on: The join column, present in both.
        buckets: Salt values (>= 2); more than the shuffle partitions spreads a key evenly.
        hot_keys: Keys to salt (None: all keys).
        how: ``inner`` or ``left`` (a right or full join would duplicate unmatched right rows).
        salt_from: Left columns hashed into the salt.

    Raises:
        InputError: Missing columns, ``buckets`` < 2, or a join type salting cannot keep exact.
    """
    if not isinstance(on, str):
        raise InputError(f"on must be one column name, got {on!r}", fix="salt one key column, e.g. 'customer_id'")
    _need_columns(left, [on], "left")
    _need_columns(right, [on], "right")
    if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 2:
        raise InputError(f"buckets must be an integer >= 2, got {buckets!r}",
                         fix="use a few times the number of shuffle partitions, e.g. 16")
    kind = _SALTABLE.get(str(how).lower())
    if kind is None:
        raise InputError(f"salting keeps the rows exact for inner and left joins only, not {how!r}",
                         fix="salt the side whose unmatched rows are not kept, or use AQE's skew join")
    columns = list(salt_from) if salt_from is not None else list(left.columns)
    _need_columns(left, columns, "left")
    if not columns:
        raise InputError("salt_from is empty", fix="name at least one left column to hash")
    if _SALT in left.columns or _SALT in right.columns:
        raise InputError(f"a column is already called {_SALT}", fix="rename it before salting")
    f = _functions()
    salt = f.pmod(f.xxhash64(*[f.col(c) for c in columns]), f.lit(buckets)).cast("int")
    replicas = f.sequence(f.lit(0), f.lit(buckets - 1))
    if hot_keys is not None:
        hot = [k for k in hot_keys if k is not None]
        is_hot = f.col(on).isin(hot) if hot else f.lit(False)
        salt = f.when(is_hot, salt).otherwise(f.lit(0))
        replicas = f.when(is_hot, replicas).otherwise(f.array(f.lit(0)))
    salted_left = left.withColumn(_SALT, salt)
    salted_right = right.withColumn(_SALT, f.explode(replicas))
    return salted_left.join(salted_right, [on, _SALT], kind).drop(_SALT)
