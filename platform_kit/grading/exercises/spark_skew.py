"""Exercise of lab ``03_spark``, section 2: a skew detector and a salted join (``spark.skew_join``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "03_spark"
_SHUFFLED = {"spark.sql.adaptive.enabled": "false", "spark.sql.autoBroadcastJoinThreshold": "-1"}


def reference_hot_keys(counts: Mapping[Any, int], threshold: float) -> set[Any]:
    """Non-null keys with more than ``threshold`` x the median count (the package's rule)."""
    from platform_kit.spark.skew import hot_keys

    return set(hot_keys({k: v for k, v in counts.items() if k is not None}, threshold))


def _detector_cases() -> list[tuple[str, pd.DataFrame, float]]:
    """Hidden distributions: exact counts, so the median and the threshold edge are known."""
    rng = np.random.default_rng(2203)
    uniform = pd.DataFrame({"k": rng.permutation(np.repeat(np.arange(60), 100))})
    skus = [f"sku-{i:03d}" for i in range(150)]
    counts = dict.fromkeys(skus, 30) | {"sku-007": 900, "sku-123": 400, "sku-042": 150, "sku-099": 90}
    planted = pd.DataFrame({"sku": rng.permutation(np.repeat(list(counts), list(counts.values())))})
    # two resellers: 77 inflates the mean so much that 12 (6.7 x the median) stays below 5 x the mean
    keys = np.concatenate([np.repeat(np.arange(100, dtype="float64"), 30), np.full(2970, 77.0), np.full(170, 12.0),
                           np.full(5000, np.nan)])
    nulls = pd.DataFrame({"customer": pd.array(rng.permutation(keys), dtype="Int64")})
    return [
        ("a uniform key (60 keys x 100 rows)", uniform, 5.0),
        ("150 SKUs with threshold 3: three hot, one at exactly 3 x the median", planted, 3.0),
        ("100 customers, 5,000 null keys and two resellers", nulls, 5.0),
    ]


def _as_key_set(result: Any, label: str) -> set[Any]:
    if isinstance(result, pd.Series | np.ndarray):
        result = result.tolist()
    if isinstance(result, str) or not isinstance(result, list | tuple | set | frozenset):
        fail(f"expected a list (or set) of keys, got {type(result).__name__} on {label}")
    keys = set()
    for item in result:
        if isinstance(item, tuple | list | dict) or hasattr(item, "asDict"):
            fail(f"return the keys themselves, not (key, count) pairs or Rows: got {item!r} on {label}")
        keys.add(item.item() if isinstance(item, np.generic) else item)
    return keys


def _check_detector(detect: Callable[..., Any], spark: Any) -> None:
    for label, frame, threshold in _detector_cases():
        column = frame.columns[0]
        counts = frame[column].value_counts(dropna=True).to_dict()
        expected = reference_hot_keys(counts, threshold)
        got = _as_key_set(detect(spark.createDataFrame(frame), column, threshold), label)
        if got == expected:
            continue
        if None in got or any(isinstance(k, float) and np.isnan(k) for k in got):
            fail(f"you returned a null key on {label}: an inner join drops null keys before the shuffle, "
                 "so they are not hot keys to salt; leave them out of the counts")
        values = np.array(list(counts.values()), dtype=float)
        by_mean = {k for k, v in counts.items() if v > threshold * values.mean()}
        if got == by_mean and by_mean != expected:
            fail(f"on {label} you compared with the mean count; the hot keys themselves inflate the mean, "
                 "so use the median count per key")
        at_edge = {k for k, v in counts.items() if v >= threshold * float(np.median(values))}
        if got == at_edge:
            fail(f"on {label} you flagged a key with exactly {threshold:g} x the median: hot means strictly more")
        extra, missed = sorted(map(str, got - expected)), sorted(map(str, expected - got))
        fail(f"on {label} with threshold {threshold:g}: expected hot keys {sorted(map(str, expected))}, got "
             f"{sorted(map(str, got))} (extra {extra[:5]}, missed {missed[:5]}); a key is hot when its row count "
             "is more than threshold x the median row count per key")


def _salted_inputs(spark: Any) -> tuple[Any, Any]:
    rng = np.random.default_rng(77)
    keys = np.concatenate([np.repeat(np.arange(50), 60), np.full(3000, 7), np.full(200, -1)])
    left = pd.DataFrame({"event": np.arange(keys.size), "k": pd.array(rng.permutation(keys), dtype="Int64"),
                         "amount": rng.integers(1, 500, keys.size)})
    left.loc[left["k"] == -1, "k"] = pd.NA  # null keys must match nothing, and not be duplicated
    right_keys = [*range(45), 7, 3, 3, *range(100, 105)]  # duplicates (key 7 and 3 match several rows)
    right = pd.DataFrame({"k": right_keys, "label": [f"r{i}" for i in range(len(right_keys))]})
    return spark.createDataFrame(left), spark.createDataFrame(right)


def _check_salted(salted_join: Callable[..., Any], spark: Any) -> int:
    from platform_kit.spark.joins import executed_plan, parse_plan, sql_conf

    left, right = _salted_inputs(spark)
    with sql_conf(spark, _SHUFFLED):  # a shuffled join, as in the lab's "before"
        result = salted_join(left, right, "k", 8)
        if not hasattr(result, "columns") or not hasattr(result, "collect"):
            fail(f"expected a Spark DataFrame, got {type(result).__name__}")
        plain = left.join(right, "k")
        if list(result.columns) != list(plain.columns):
            fail(f"the salted join has columns {result.columns}, the plain join {plain.columns}: drop the salt "
                 "column after joining and join with on=[key, salt] so the key appears once")
        joins = parse_plan(executed_plan(result)).joins
        got, want = Counter(map(tuple, result.collect())), Counter(map(tuple, plain.collect()))
    if not joins:
        fail("your result has no join in its plan")
    if min(len(joins[0].left_keys), len(joins[0].right_keys)) < 2:
        fail("the join condition is the key alone, so the hot key still lands in one task: join on the key "
             "and the salt (replicate the right side once per salt value)")
    if got != want:
        extra, missing = sum((got - want).values()), sum((want - got).values())
        if extra and not missing:
            fail(f"{extra} rows too many: each left row must meet each matching right row once; give every left "
                 "row one salt and the right side every salt value (and do not replicate the left side)")
        if missing and not extra:
            fail(f"{missing} rows missing: the right side needs one copy for every salt value 0..buckets-1 "
                 "(F.explode(F.sequence(0, buckets - 1))), or some left rows find no partner")
        fail(f"the rows differ from the plain join ({extra} extra, {missing} missing)")
    return sum(want.values())


@exercise(
    id="spark.skew_join",
    lab=LAB,
    kind="value",
    title="detect hot keys, and a salted join with exactly the plain join's rows",
    hint="hot_keys: groupBy(key).count(), drop the null key, hot when count > threshold x the MEDIAN count; "
    "salted_join: left gets salt = pmod(xxhash64(*left.columns), buckets), right gets "
    "explode(sequence(0, buckets - 1)); join on [key, salt], then drop salt",
)
def _grade_skew_join(answer: Any, context: dict[str, Any]) -> str:
    spark = context_value(context, "spark", object, exercise_id="spark.skew_join")
    if not isinstance(answer, Mapping) or not all(callable(answer.get(k)) for k in ("hot_keys", "salted_join")):
        fail("pass a dict {'hot_keys': your_detector, 'salted_join': your_salted_join} (the functions, not calls)")
    _check_detector(answer["hot_keys"], spark)
    rows = _check_salted(answer["salted_join"], spark)
    message = f"the detector matches on 3 hidden distributions and the salted join returns the same {rows:,} rows"
    skewed, key = context.get("skewed"), context.get("key")
    if skewed is not None and key:
        found = _as_key_set(answer["hot_keys"](skewed, key, 5.0), "the lab's skewed clickstream")
        planted = set(context.get("planted") or ())
        if not planted <= found:
            fail(f"on the lab's clickstream your detector missed the planted resellers {sorted(planted - found)}")
        expected = set(context.get("hot_keys") or found)
        if found != expected:
            fail(f"on the lab's clickstream you found {sorted(found)}, the package finds {sorted(expected)}")
        message += f"; on the lab data it finds {sorted(found)}"
    return message
