"""Join strategies (platform_kit.spark.joins) and the ``spark.join_strategy`` exercise.

Pure tier: plan texts, the advisor and failure explanations on fabricated input. Failure
tier: hostile sizes, join types, plans and hints. Engine tier: plans and broadcast metrics
of small joins on the local session, a real broadcast failure, and the grader.
"""

from __future__ import annotations

import math

import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.spark import joins

BHJ = """*(3) HashAggregate(keys=[country#14], functions=[count(1)])
+- Exchange hashpartitioning(country#14, 4), ENSURE_REQUIREMENTS, [plan_id=71]
   +- *(2) HashAggregate(keys=[country#14], functions=[partial_count(1)])
      +- *(2) Project [country#14]
         +- *(2) BroadcastHashJoin [customer_id#2L], [customer_id#8L], Inner, BuildRight, false, false
            :- *(2) Filter isnotnull(customer_id#2L)
            :  +- *(2) ColumnarToRow
            :     +- FileScan parquet [customer_id#2L] Batched: true, ReadSchema: struct<customer_id:bigint>
            +- BroadcastExchange HashedRelationBroadcastMode(List(input[0, bigint, false]),false), [plan_id=65]
               +- *(1) Filter isnotnull(customer_id#8L)
                  +- FileScan parquet [customer_id#8L,country#14] Batched: true
"""
SMJ = """*(5) Project [k#1L, a#2, b#5]
+- *(5) SortMergeJoin [k#1L, cast(x#3 as string)], [k#4L, concat(y#6, z#7)], LeftOuter
   :- *(2) Sort [k#1L ASC NULLS FIRST], false, 0
   :  +- Exchange hashpartitioning(k#1L, 8), ENSURE_REQUIREMENTS, [plan_id=12]
   :     +- LocalTableScan [k#1L, a#2, x#3]
   +- *(4) Sort [k#4L ASC NULLS FIRST], false, 0
      +- Exchange hashpartitioning(k#4L, 8), ENSURE_REQUIREMENTS, [plan_id=13]
         +- LocalTableScan [k#4L, b#5, y#6, z#7]
"""
AQE_FINAL = """AdaptiveSparkPlan isFinalPlan=true
+- == Final Plan ==
   ResultQueryStage 4
   +- *(4) HashAggregate(keys=[country#14], functions=[count(1)])
      +- AQEShuffleRead coalesced
         +- ShuffleQueryStage 3
            +- Exchange hashpartitioning(country#14, 4), ENSURE_REQUIREMENTS, [plan_id=3305]
               +- *(3) SortMergeJoin(skew=true) [customer_id#2L], [customer_id#8L], Inner
                  :- *(1) Sort [customer_id#2L ASC NULLS FIRST], false, 0
                  :  +- AQEShuffleRead skewed
                  :     +- ShuffleQueryStage 0
                  :        +- Exchange hashpartitioning(customer_id#2L, 8), ENSURE_REQUIREMENTS, [plan_id=1]
                  :           +- FileScan parquet [customer_id#2L]
                  +- *(2) Sort [customer_id#8L ASC NULLS FIRST], false, 0
                     +- AQEShuffleRead skewed
                        +- ShuffleQueryStage 1
                           +- Exchange hashpartitioning(customer_id#8L, 8), ENSURE_REQUIREMENTS, [plan_id=2]
                              +- FileScan parquet [customer_id#8L,country#14]
+- == Initial Plan ==
   HashAggregate(keys=[country#14], functions=[count(1)])
   +- Exchange hashpartitioning(country#14, 4), ENSURE_REQUIREMENTS, [plan_id=3138]
      +- BroadcastHashJoin [customer_id#2L], [customer_id#8L], Inner, BuildLeft, false, false
         :- FileScan parquet [customer_id#2L]
         +- FileScan parquet [customer_id#8L,country#14]
"""
AQE_INITIAL = """AdaptiveSparkPlan isFinalPlan=false
+- ShuffledHashJoin [a#1], [b#2], Inner, BuildLeft
   :- Exchange hashpartitioning(a#1, 4), ENSURE_REQUIREMENTS, [plan_id=1]
   :  +- Range (0, 10, step=1, splits=2)
   +- Exchange hashpartitioning(b#2, 4), ENSURE_REQUIREMENTS, [plan_id=2]
      +- Range (0, 10, step=1, splits=2)
"""
OTHERS = """BroadcastNestedLoopJoin BuildRight, LeftOuter, (ts#1 >= start#2)
:- CartesianProduct
:  :- Range (0, 3, step=1, splits=1)
:  +- Range (0, 3, step=1, splits=1)
+- BroadcastExchange IdentityBroadcastMode, [plan_id=9]
   +- ReusedExchange [start#2], Exchange SinglePartition, ENSURE_REQUIREMENTS, [plan_id=4]
"""


# --- pure tier: plans ------------------------------------------------------------------------------------------
def test_a_broadcast_hash_join_plan() -> None:
    summary = joins.parse_plan(BHJ)
    assert summary.strategy == "broadcast_hash" and summary.shuffles == 1 and summary.broadcasts == 1
    node = summary.joins[0]
    assert (node.join_type, node.build_side, node.left_keys, node.right_keys) == (
        "Inner", "right", ("customer_id#2L",), ("customer_id#8L",))
    assert not summary.adaptive and not summary.skew_join


def test_a_sort_merge_join_with_expression_keys() -> None:
    summary = joins.parse_plan(SMJ)
    node = summary.joins[0]
    assert summary.strategy == "sort_merge" and summary.shuffles == 2 and summary.broadcasts == 0
    assert node.join_type == "LeftOuter" and node.build_side is None
    assert node.left_keys == ("k#1L", "cast(x#3 as string)") and node.right_keys == ("k#4L", "concat(y#6, z#7)")


def test_aqe_plans_are_read_from_their_final_plan_when_there_is_one() -> None:
    final = joins.parse_plan(AQE_FINAL)
    assert final.adaptive and final.final and final.strategy == "sort_merge" and final.skew_join
    assert final.shuffles == 3 and "Initial Plan" not in final.text
    initial = joins.parse_plan(AQE_INITIAL)
    assert initial.adaptive and not initial.final
    assert initial.strategy == "shuffled_hash" and initial.joins[0].build_side == "left"


def test_nested_loop_and_cartesian_joins_and_reused_exchanges() -> None:
    summary = joins.parse_plan(OTHERS)
    assert [j.strategy for j in summary.joins] == ["broadcast_nested_loop", "cartesian"]
    assert summary.joins[0].build_side == "right" and summary.joins[0].join_type == "LeftOuter"
    assert summary.shuffles == 0 and summary.broadcasts == 1  # a reused exchange is not a new shuffle


def test_outline_keeps_joins_exchanges_and_scans() -> None:
    lines = joins.outline(BHJ, width=60).splitlines()
    assert len(lines) == 5 and all(len(line) <= 60 for line in lines)
    assert "BroadcastHashJoin" in lines[1] and lines[-1].endswith("...")


@pytest.mark.parametrize("text", [None, 42, "", "   \n", "hello world, nothing here"])
def test_parse_plan_rejects_what_is_not_a_plan(text) -> None:
    with pytest.raises(InputError) as caught:
        joins.parse_plan(text)
    assert caught.value.fix


def test_a_plan_without_joins_has_no_strategy() -> None:
    summary = joins.parse_plan("*(1) Project [id#0L]\n+- *(1) Range (0, 10, step=1, splits=2)\n")
    assert summary.strategy is None and summary.joins == () and summary.shuffles == 0


# --- pure tier: the advisor -----------------------------------------------------------------------------------------
MIB = 1024 * 1024


@pytest.mark.parametrize("left, right, threshold, how, expected", [
    (800 * MIB, 2 * MIB, 10 * MIB, "inner", ("broadcast_hash", "right")),
    (2 * MIB, 800 * MIB, 10 * MIB, "inner", ("broadcast_hash", "left")),
    (3 * MIB, 2 * MIB, 10 * MIB, "inner", ("broadcast_hash", "right")),
    (2 * MIB, 3 * MIB, 10 * MIB, "inner", ("broadcast_hash", "left")),
    (2 * MIB, 2 * MIB, 10 * MIB, "inner", ("broadcast_hash", "right")),  # a tie broadcasts the right side
    (10 * MIB, 900 * MIB, 10 * MIB, "inner", ("broadcast_hash", "left")),  # <= like Spark
    (800 * MIB, 900 * MIB, 10 * MIB, "inner", ("sort_merge", None)),
    (1, 1, -1, "inner", ("sort_merge", None)),
    (2 * MIB, 800 * MIB, 10 * MIB, "left", ("sort_merge", None)),  # the preserved side cannot be broadcast
    (800 * MIB, 2 * MIB, 10 * MIB, "left_semi", ("broadcast_hash", "right")),
    (2 * MIB, 800 * MIB, 10 * MIB, "right", ("broadcast_hash", "left")),
    (1, 1, 10 * MIB, "full_outer", ("sort_merge", None)),
])
def test_choose_join_strategy(left, right, threshold, how, expected) -> None:
    advice = joins.choose_join_strategy(left, right, threshold, how)
    assert (advice.strategy, advice.build_side) == expected
    assert advice.reason


def test_the_advisor_keeps_a_broadcast_within_executor_memory_and_spark_limits() -> None:
    assert joins.choose_join_strategy(1e12, 500 * MIB, 1e12).strategy == "broadcast_hash"
    capped = joins.choose_join_strategy(1e12, 500 * MIB, 1e12, executor_memory_bytes=2048 * MIB)
    assert capped.strategy == "sort_merge" and "214,748,365" in capped.reason
    assert joins.choose_join_strategy(1e13, 9 * 1024**3, 1e13).strategy == "sort_merge"  # above 8 GiB
    assert joins.broadcastable_sides("inner") == ("left", "right")
    assert joins.broadcastable_sides("LEFT ANTI") == ("right",) and joins.broadcastable_sides("outer") == ()


@pytest.mark.parametrize("args, kwargs", [
    ((-1, 10), {}), ((10, math.nan), {}), ((True, 10), {}), (("10MB", 10), {}), ((10, 10, "1g"), {}),
    ((10, 10, math.nan), {}), ((10, 10, 10, "sideways"), {}),
    ((10, 10), {"executor_memory_bytes": -5}), ((10, 10), {"executor_memory_bytes": 100, "memory_fraction": 0}),
])
def test_the_advisor_rejects_hostile_sizes_and_join_types(args, kwargs) -> None:
    with pytest.raises(InputError) as caught:
        joins.choose_join_strategy(*args, **kwargs)
    assert caught.value.fix


def test_force_join_validates_before_touching_the_frames() -> None:
    with pytest.raises(InputError, match="unknown strategy"):
        joins.force_join(None, None, "k", "nested_loop")
    with pytest.raises(InputError, match="build_side"):
        joins.force_join(None, None, "k", "broadcast_hash", build_side="middle")
    with pytest.raises(InputError, match="cannot broadcast its left"):
        joins.force_join(None, None, "k", "broadcast_hash", build_side="left", how="left")


# --- pure tier: failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("message, kind", [
    ("java.util.concurrent.ExecutionException: org.apache.spark.SparkException: Cannot broadcast the table that "
     "is larger than 1024.0 KiB: 64.0 MiB.\n\tat java.base/...", "size_limit"),
    ("SparkException: Cannot broadcast the table over 512000000 rows: 600000000 rows", "row_limit"),
    ("org.apache.spark.SparkException: Could not execute broadcast in 300 secs. You can increase the timeout",
     "timeout"),
    ("java.lang.OutOfMemoryError: Not enough memory to build and broadcast the table to all worker nodes",
     "driver_memory"),
    ("Job aborted: Total size of serialized results of 12 tasks (1030 MiB) is bigger than "
     "spark.driver.maxResultSize (1024.0 MiB)", "max_result_size"),
    ("AnalysisException: [UNRESOLVED_COLUMN] x", "other"),
])
def test_broadcast_failures_are_classified_with_a_fix(message, kind) -> None:
    failure = joins.explain_broadcast_failure(RuntimeError(message))
    assert failure.kind == kind and failure.fix and failure.explanation
    assert "\n" not in failure.message and len(failure.message) <= 300
    assert joins.explain_broadcast_failure(message).kind == kind


def test_explain_broadcast_failure_rejects_other_objects() -> None:
    with pytest.raises(InputError):
        joins.explain_broadcast_failure(404)


# --- engine tier: local Spark -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tables(spark) -> tuple[object, object]:
    from pyspark.sql import functions as F

    facts = spark.range(3000).select(F.col("id").alias("order_id"), (F.col("id") % 25).alias("sku"),
                                     (F.col("id") % 9).alias("qty"))
    dims = spark.range(25).select(F.col("id").alias("sku"), (F.col("id") * 1.5).alias("price"))
    return facts, dims


STATIC = {"spark.sql.adaptive.enabled": "false"}


def test_plans_follow_the_threshold_and_the_hints(spark, tables) -> None:
    facts, dims = tables
    with joins.sql_conf(spark, STATIC):
        assert joins.join_strategy(facts.join(dims, "sku")) == "broadcast_hash"
        with joins.sql_conf(spark, {"spark.sql.autoBroadcastJoinThreshold": -1}):
            smj = joins.plan_summary(facts.join(dims, "sku"))
            assert smj.strategy == "sort_merge" and smj.shuffles == 2
            forced = joins.plan_summary(joins.force_join(facts, dims, "sku", "broadcast_hash", build_side="left"))
            assert (forced.strategy, forced.joins[0].build_side) == ("broadcast_hash", "left")
            assert joins.join_strategy(joins.force_join(facts, dims, "sku", "shuffled_hash")) == "shuffled_hash"
        assert joins.join_strategy(joins.force_join(facts, dims, "sku", "sort_merge")) == "sort_merge"
        assert "SortMergeJoin" in joins.plan_outline(joins.force_join(facts, dims, "sku", "sort_merge"))
    with pytest.raises(InputError, match="no join"):
        joins.join_strategy(facts)
    with pytest.raises(InputError, match="DataFrame"):
        joins.executed_plan("SELECT 1")


def test_estimates_and_broadcast_metrics(spark, tables) -> None:
    facts, dims = tables
    left, right = joins.join_side_bytes(facts.join(dims, "sku"))
    assert left > right > 0 and joins.estimated_bytes(facts) >= left
    with joins.sql_conf(spark, STATIC):
        joined = facts.join(dims.hint("broadcast"), "sku")
        rows = joined.collect()
        metrics = joins.broadcast_metrics(joined)
    assert len(rows) == 3000 and metrics[0]["rows"] == 25 and metrics[0]["data_size"] > 0
    assert {"collect_ms", "build_ms", "broadcast_ms"} <= set(metrics[0])
    with pytest.raises(InputError, match="no join"):
        joins.join_side_bytes(facts)


def test_a_broadcast_above_the_limit_fails_and_is_explained(spark, tables) -> None:
    facts, dims = tables
    with joins.sql_conf(spark, {**STATIC, "spark.sql.maxBroadcastTableSize": 1024}):
        outcome = joins.attempt(spark, joins.force_join(facts, dims, "sku", "broadcast_hash", build_side="left")
                                .collect, "too big")
    assert not outcome.ok and outcome.metrics is None and outcome.failure.kind == "size_limit"
    assert "Cannot broadcast the table that is larger than" in outcome.failure.message
    fine = joins.attempt(spark, facts.join(dims, "sku").collect, "fine")
    assert fine.ok and len(fine.metrics.result) == 3000


# --- the exercise ---------------------------------------------------------------------------------------------------
def _reference(left, right, on, left_bytes, right_bytes, threshold):
    from pyspark.sql import functions as F

    right_fits, left_fits = right_bytes <= threshold, left_bytes <= threshold
    if right_fits and (not left_fits or right_bytes <= left_bytes):
        return left.join(F.broadcast(right), on)
    if left_fits:
        return F.broadcast(left).join(right, on)
    return left.hint("merge").join(right, on)


def _pairs(tables) -> list[dict]:
    facts, dims = tables
    items = facts.select("order_id", (facts["qty"] * 2).alias("lines"))
    return [{"name": "facts x dims", "left": facts, "right": dims, "on": "sku", "left_bytes": 900_000,
             "right_bytes": 4_000},
            {"name": "dims x facts", "left": dims, "right": facts, "on": "sku", "left_bytes": 4_000,
             "right_bytes": 900_000},
            {"name": "items x facts", "left": items, "right": facts, "on": "order_id", "left_bytes": 700_000,
             "right_bytes": 900_000}]


def test_join_strategy_exercise_accepts_the_reference(spark, tables) -> None:
    result = check("spark.join_strategy", _reference, context={"spark": spark, "pairs": _pairs(tables),
                                                               "threshold": 256 * 1024}, show=False)
    assert result.passed, result.message
    assert "items x facts: sort_merge" in result.message


def test_join_strategy_exercise_rejects_wrong_choices(spark, tables) -> None:
    from pyspark.sql import functions as F

    def unforced(left, right, on, *sizes):
        return left.join(right, on)

    def always_right(left, right, on, left_bytes, right_bytes, threshold):
        return left.join(F.broadcast(right), on)

    def larger_side(left, right, on, left_bytes, right_bytes, threshold):
        big = left if left_bytes >= right_bytes else right
        return F.broadcast(left).join(right, on) if big is left else left.join(F.broadcast(right), on)

    def left_join(left, right, on, *sizes):
        return left.hint("merge").join(right, on, "left")

    context = {"spark": spark, "pairs": _pairs(tables), "threshold": 256 * 1024}
    for wrong, needle in ((unforced, "hint('merge')"), (always_right, "the larger one"),
                          (larger_side, "the larger one"), (left_join, "expected"), (lambda *a: 42, "DataFrame")):
        result = check("spark.join_strategy", wrong, context=context, show=False)
        assert not result.passed and result.attempted and needle in result.message, result.message


def test_join_strategy_exercise_checks_rows_on_a_hidden_pair(spark, tables) -> None:
    def outer(left, right, on, left_bytes, right_bytes, threshold):
        forced = _reference(left, right, on, left_bytes, right_bytes, threshold)
        return forced.filter("qty > 1") if left_bytes == 8000.0 else forced  # rows dropped on the hidden pair

    result = check("spark.join_strategy", outer, context={"spark": spark, "pairs": _pairs(tables),
                                                          "threshold": 256 * 1024}, show=False)
    assert not result.passed and "other rows" in result.message
