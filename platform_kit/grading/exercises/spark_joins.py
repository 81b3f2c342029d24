"""Exercise of lab ``03_spark``, section 6: choose and force a join strategy (``spark.join_strategy``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "03_spark"
#: The grader plans with Spark's own defaults, so an answer that does not force its choice gets Spark's.
_SPARK_DEFAULTS = {"spark.sql.autoBroadcastJoinThreshold": str(10 * 1024 * 1024), "spark.sql.adaptive.enabled": "true"}


def _describe(strategy: str | None, build: str | None) -> str:
    if strategy == "broadcast_hash":
        return f"a broadcast hash join of the {build} side"
    return {"sort_merge": "a sort-merge join", None: "no join"}.get(strategy, f"a {strategy} join")


def _plan_of(result: Any, label: str) -> tuple[str | None, str | None]:
    from platform_kit.spark.joins import executed_plan, parse_plan

    if not hasattr(result, "_jdf"):
        fail(f"expected a Spark DataFrame (the joined result) for {label}, got {type(result).__name__}")
    joins = parse_plan(executed_plan(result)).joins
    if not joins:
        fail(f"the DataFrame you returned for {label} has no join in its plan")
    return joins[0].strategy, joins[0].build_side


def _check_pair(answer: Callable[..., Any], pair: Mapping[str, Any], left_bytes: float, right_bytes: float,
                threshold: float, label: str) -> str:
    from platform_kit.spark.joins import choose_join_strategy

    advice = choose_join_strategy(left_bytes, right_bytes, threshold)
    result = answer(pair["left"], pair["right"], pair["on"], left_bytes, right_bytes, threshold)
    strategy, build = _plan_of(result, label)
    if (strategy, build if strategy == "broadcast_hash" else None) == (advice.strategy, advice.build_side):
        return advice.strategy
    sizes = f"left {left_bytes:,.0f} B, right {right_bytes:,.0f} B, budget {threshold:,.0f} B"
    if strategy == "broadcast_hash" and advice.strategy == "broadcast_hash":
        fail(f"{label} ({sizes}): you broadcast the {build} side, the larger one: every executor and the driver "
             f"would hold it; broadcast the {advice.build_side} side")
    if strategy == "broadcast_hash":
        fail(f"{label} ({sizes}): your plan is {_describe(strategy, build)}, but no side fits the budget; if you "
             "did not force it, Spark's own 10 MB threshold chose it: force a sort-merge join with .hint('merge')")
    fail(f"{label} ({sizes}): expected {_describe(advice.strategy, advice.build_side)}, your plan is "
         f"{_describe(strategy, build)} (force the broadcast with F.broadcast(side) or .hint('broadcast'))")


def _small_pair(spark: Any) -> dict[str, Any]:
    rng = np.random.default_rng(606)
    left = pd.DataFrame({"order": np.arange(400), "sku": rng.integers(0, 30, 400), "qty": rng.integers(1, 9, 400)})
    right = pd.DataFrame({"sku": np.arange(25), "price": np.round(rng.uniform(1, 99, 25), 2)})
    return {"left": spark.createDataFrame(left), "right": spark.createDataFrame(right), "on": "sku"}


@exercise(
    id="spark.join_strategy",
    lab=LAB,
    kind="function",
    title="choose and force the join strategy from measured sizes",
    hint="broadcast a side only if its size <= threshold, and of two such sides the smaller; force it with "
    "F.broadcast(side) (left or right); when neither side fits, force a sort-merge join with .hint('merge') "
    "because Spark's own threshold may still broadcast",
)
def _grade_join_strategy(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.spark.joins import sql_conf

    spark = context_value(context, "spark", object, exercise_id="spark.join_strategy")
    pairs = context_value(context, "pairs", list, exercise_id="spark.join_strategy")
    threshold = float(context_value(context, "threshold", object, exercise_id="spark.join_strategy"))
    chosen = []
    with sql_conf(spark, _SPARK_DEFAULTS):
        for pair in pairs:
            name = pair.get("name", "a pair")
            chosen.append(f"{name}: {_check_pair(answer, pair, pair['left_bytes'], pair['right_bytes'], threshold, name)}")
        # the same tables with other budgets and sizes: the choice must follow the numbers, not the names
        first = pairs[0]
        lb, rb = float(first["left_bytes"]), float(first["right_bytes"])
        variations = [(lb, rb, -1.0, "broadcasting disabled (budget -1)"),
                      (lb, rb, max(lb, rb) * 2, "a budget larger than both sides"),
                      (min(lb, rb) / 2, max(lb, rb), max(lb, rb) * 2, "the left side declared the smaller"),
                      (lb, rb, min(lb, rb) - 1, "a budget one byte below the smaller side")]
        for left_bytes, right_bytes, budget, what in variations:
            _check_pair(answer, first, left_bytes, right_bytes, budget, f"{first.get('name', 'the first pair')} with {what}")
        small = _small_pair(spark)
        plain = Counter(map(tuple, small["left"].join(small["right"], "sku").collect()))
        for left_bytes, right_bytes, budget in ((8000.0, 300.0, 1000.0), (8000.0, 300.0, 100.0)):
            result = answer(small["left"], small["right"], "sku", left_bytes, right_bytes, budget)
            _plan_of(result, "a hidden order lines x prices pair")
            if list(result.columns) != list(small["left"].join(small["right"], "sku").columns):
                fail(f"your join returns columns {result.columns}; join with on=<key> as given, like left.join(right, on)")
            if Counter(map(tuple, result.collect())) != plain:
                fail("on a hidden order lines x prices pair your join returns other rows than left.join(right, on): "
                     "keep the inner join on the given key, only add hints")
    return "the right strategy, forced, for " + "; ".join(chosen) + ", and for 4 other budgets and a hidden pair"
