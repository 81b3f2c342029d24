"""Lab 3 section 4: one aggregation through every PySpark API, plan comparisons and the RDD-port exercise."""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
import pytest

from platform_kit.errors import GradingError, InputError
from platform_kit.grading import check
from platform_kit.grading.exercises.spark_apis import _first_difference
from platform_kit.spark import apis
from platform_kit.spark.apis import ApiComparison, normalise_plan, normalise_rows, same_results

EXERCISE = "spark.rdd_to_dataframe"


# --- pure logic ---------------------------------------------------------------------------------------


def test_rows_normalise_to_sorted_tuples_with_nulls_first() -> None:
    rows = [(2, "b", 1), (None, "a", 4), (1, "c", 2), (1, None, 3)]
    assert normalise_rows(rows) == [(None, "a", 4), (1, None, 3), (1, "c", 2), (2, "b", 1)]
    assert normalise_rows([]) == []


def test_same_results_ignores_order_but_not_values_or_duplicates() -> None:
    verdict = same_results({"df": [(1, "a", 2), (2, "b", 3)], "rdd": [(2, "b", 3), (1, "a", 2)],
                            "off": [(1, "a", 2), (2, "b", 4)], "dup": [(1, "a", 2), (1, "a", 2), (2, "b", 3)]})
    assert verdict == {"df": True, "rdd": True, "off": False, "dup": False}
    assert same_results({"a": [(1,)], "b": [(2,)]}, reference="b") == {"a": False, "b": True}


def test_same_results_rejects_nothing_and_unknown_references() -> None:
    with pytest.raises(InputError, match="no results"):
        same_results({})
    with pytest.raises(InputError, match="reference"):
        same_results({"a": []}, reference="z")


def test_plan_text_normalises_expression_and_plan_ids() -> None:
    a = "Aggregate [customer_id#12L, event_type#13], [count(1) AS events#40L]\n+- Exchange hashpartitioning(x#1, 4), [plan_id=77]  "
    b = "Aggregate [customer_id#2L, event_type#3], [count(1) AS events#9L]\n+- Exchange hashpartitioning(x#5, 4), [plan_id=3]"
    assert normalise_plan(a) == normalise_plan(b)
    assert "#" not in normalise_plan(a) and "plan_id" not in normalise_plan(a)
    with pytest.raises(InputError, match="plan as text"):
        normalise_plan(42)  # type: ignore[arg-type]


def test_plan_comparison_diff_is_empty_only_for_equal_plans() -> None:
    same = apis.PlanComparison(True, True, "A\nB", "A\nB")
    other = apis.PlanComparison(False, False, "A\nB", "A\nC")
    assert same.identical and same.diff() == ""
    assert not other.identical and "-B" in other.diff() and "+C" in other.diff()


def test_api_comparison_ratios() -> None:
    table = pd.DataFrame({"label": ["DataFrame", "RDD"], "wall_s": [0.5, 2.0]})
    comparison = ApiComparison(table, {}, {}, {})
    assert comparison.ratio("RDD", "DataFrame") == 4.0 and comparison.wall("DataFrame") == 0.5


def test_grader_explains_the_first_difference() -> None:
    expected = [(1, "purchase", 3), (2, "add_to_cart", 2)]
    assert "wrong order" in _first_difference(expected, list(reversed(expected)))
    assert "1 rows instead of 2" in _first_difference(expected, expected[:1])
    assert "unexpected" in _first_difference(expected, [*expected, (None, "purchase", 9)])
    assert "row 1 is" in _first_difference(expected, [expected[0], (2, "add_to_cart", 3)])


def test_variants_are_labelled_once_with_dataframe_first() -> None:
    variants = apis.api_variants()
    assert variants[0].label == "DataFrame" and len({v.label for v in variants}) == len(variants) == 5
    assert {v.api for v in variants} == {"DataFrame", "SQL", "RDD", "UDF"}
    assert [v.python for v in variants].count(False) == 2
    assert apis.api_variants(scalar_pandas=True)[-1].label == "pandas UDF (scalar)"


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(InputError, match="RDD"):
        apis.rdd_lineage("not an rdd")
    with pytest.raises(InputError, match="DataFrame"):
        apis.compare_plans([1], [2])
    with pytest.raises(InputError, match="DataFrame"):
        apis.python_nodes(object())

    class Frame:
        columns = ["customer_id"]

    with pytest.raises(InputError, match="lacks column"):
        apis.compare_apis(None, Frame())
    with pytest.raises(InputError, match="warm-up path"):
        apis.warm_python_workers(None, ["jvm"])


def test_remote_sessions_keep_their_python() -> None:
    class Context:
        master, pythonExec = "spark://10.0.0.5:7077", "python3"

    class Session:
        sparkContext = Context()

    assert apis.use_this_python(Session()) == "python3"
    Context.master = "local[2]"
    assert apis.use_this_python(Session()) in (sys.executable, "python3")


# --- engine tier: local Spark ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark(spark: Any) -> Any:
    apis.use_this_python(spark)  # the conftest's session, with this interpreter for Python workers
    return spark


@pytest.fixture(scope="module")
def events(spark: Any) -> Any:
    return apis.hidden_inputs(spark)[1][1]  # 3,000 seeded events with anonymous ones


def test_every_api_returns_the_same_rows_and_dataframe_equals_sql(spark: Any, events: Any) -> None:
    comparison = apis.compare_apis(spark, events, warmup=None)
    assert comparison.table["same_rows"].all() and comparison.table["label"].iloc[0] == "DataFrame"
    assert len(comparison.results["DataFrame"]) == comparison.table["result_rows"].iloc[0] > 50
    plans = apis.compare_plans(comparison.built["DataFrame"], comparison.built["Spark SQL"])
    assert plans.identical, plans.diff()
    lineage = apis.rdd_lineage(comparison.built["RDD (Python lambdas)"])
    assert "PythonRDD" in lineage and "ShuffledRDD" in lineage
    assert apis.python_nodes(events) == [] and apis.python_nodes(comparison.built["DataFrame"]) == []
    assert apis.python_nodes(spark.createDataFrame([(1,)], "x long")) == ["Scan ExistingRDD"]
    assert "ArrowEvalPython" in apis.python_nodes(comparison.built["Python UDF (row at a time)"])
    assert "ArrowAggregatePython" in apis.python_nodes(comparison.built["pandas UDF (grouped agg)"])
    with pytest.raises(InputError, match="warmup"):
        apis.compare_apis(spark, events, warmup="always")


def test_different_queries_have_different_plans(spark: Any, events: Any) -> None:
    plans = apis.compare_plans(events.groupBy("customer_id").count(), events.groupBy("event_type").count())
    assert not plans.same_result and not plans.same_text and plans.diff()


def test_the_reference_port_passes(spark: Any) -> None:
    result = check(EXERCISE, apis.dataframe_engaged_customers, context={"spark": spark}, show=False)
    assert result.passed, result.message


def test_ports_that_differ_are_rejected(spark: Any, events: Any) -> None:
    from pyspark.sql import functions as F

    def keeps_anonymous(events: Any, min_events: int) -> Any:
        return (events.where(F.col("event_type").isin("add_to_cart", "purchase"))
                .groupBy("customer_id", "event_type").agg(F.count("*").alias("events"))
                .where(F.col("events") >= min_events).orderBy(F.desc("events"), "customer_id", "event_type"))

    def unsorted(events: Any, min_events: int) -> Any:
        return apis.dataframe_engaged_customers(events, min_events).orderBy("customer_id", "event_type")

    def renamed(events: Any, min_events: int) -> Any:
        return apis.dataframe_engaged_customers(events, min_events).withColumnRenamed("events", "n")

    def through_the_rdd(events: Any, min_events: int) -> Any:
        return apis.dataframe_engaged_customers(events.rdd.toDF(events.schema), min_events)

    def with_a_udf(events: Any, min_events: int) -> Any:
        engaged = F.udf(lambda kind: kind in ("add_to_cart", "purchase"), "boolean")
        return (events.where(F.col("customer_id").isNotNull() & engaged("event_type"))
                .groupBy("customer_id", "event_type").agg(F.count("*").alias("events"))
                .where(F.col("events") >= min_events).orderBy(F.desc("events"), "customer_id", "event_type"))

    def rows_not_frame(events: Any, min_events: int) -> Any:
        return []

    expectations = {keeps_anonymous: "rows instead of", unsorted: "wrong order",
                    renamed: "columns", through_the_rdd: "ExistingRDD", with_a_udf: "Python", rows_not_frame: "DataFrame"}
    for answer, message in expectations.items():
        result = check(EXERCISE, answer, context={"spark": spark}, show=False)
        assert not result.passed and result.attempted and message in result.message, (answer.__name__, result.message)


def test_the_notebook_input_is_checked_first_and_the_stub_is_not_attempted(spark: Any, events: Any) -> None:
    def stub(events: Any, min_events: int) -> Any:
        raise NotImplementedError

    result = check(EXERCISE, stub, context={"spark": spark, "events": events, "min_events": 3}, show=False)
    assert not result.passed and not result.attempted
    seen = []

    def spy(events_in: Any, min_events: int) -> Any:
        seen.append(min_events)
        return apis.dataframe_engaged_customers(events_in, min_events)

    expected = apis.rdd_engaged_customers(events, 3)  # the notebook passes the RDD job's rows it computed
    context = {"spark": spark, "events": events, "min_events": 3, "expected": expected}
    assert check(EXERCISE, spy, context=context, show=False).passed
    assert seen[0] == 3 and len(seen) == 4
    wrong = check(EXERCISE, spy, context={**context, "expected": expected[1:]}, show=False)
    assert not wrong.passed and "the lab's clickstream" in wrong.message
    with pytest.raises(GradingError, match="spark"):
        check(EXERCISE, spy, context={}, show=False)
