"""Exercise of lab ``03_spark``, section 4: port an RDD job to DataFrames with identical output."""

from __future__ import annotations

from collections import Counter
from typing import Any

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "03_spark"
_ID = "spark.rdd_to_dataframe"
_COLUMNS = ["customer_id", "event_type", "events"]


def _first_difference(expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]]) -> str:
    if len(expected) != len(got):
        missing = [r for r in expected if r not in set(got)][:2]
        extra = [r for r in got if r not in set(expected)][:2]
        detail = f"; missing e.g. {missing}" if missing else ""
        detail += f"; unexpected e.g. {extra}" if extra else ""
        return f"{len(got)} rows instead of {len(expected)}{detail}"
    if sorted(expected, key=repr) == sorted(got, key=repr):
        index = next(i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b)
        return (f"the right rows in the wrong order: row {index} is {got[index]}, expected {expected[index]} "
                "(most events first, then customer_id, then event_type, all ascending)")
    index = next(i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b)
    return f"row {index} is {got[index]}, expected {expected[index]}"


def _judge(answer: Any, events: Any, min_events: int, label: str, oracle: dict[int, list[tuple[Any, ...]]]) -> int:
    from platform_kit.spark.apis import python_nodes, rdd_engaged_customers

    try:  # the learner's function first: building a DataFrame is cheap, and a stub stops here
        result = answer(events, min_events)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's code: report it, keep the notebook going
        fail(f"your function raised {type(exc).__name__} on {label}: {str(exc).strip()[:300]}")
    if not hasattr(result, "_jdf") or not hasattr(result, "collect"):
        fail(f"return a Spark DataFrame (not an RDD, a list or a pandas frame), got {type(result).__name__}")
    if list(result.columns) != _COLUMNS:
        fail(f"the columns are {list(result.columns)}; the RDD job's tuples are {_COLUMNS} (alias the count 'events')")
    if id(events) not in oracle:  # the RDD original at threshold 1; higher thresholds filter it (same order)
        oracle[id(events)] = [tuple(r) for r in rdd_engaged_customers(events, 1)]
    expected = [row for row in oracle[id(events)] if row[2] >= min_events]
    got = [tuple(r) for r in result.collect()]
    # Inputs built with createDataFrame are themselves RDD scans: count only what the port adds.
    python = list((Counter(python_nodes(result)) - Counter(python_nodes(events))).elements())
    if python:
        fail(f"your plan runs Python or reads an RDD ({', '.join(sorted(set(python)))}) on {label}: the point of "
             "the port is a plan Catalyst can optimise; use DataFrame functions only (no .rdd, no UDFs)")
    if got != expected:
        fail(f"on {label} (min_events={min_events}): {_first_difference(expected, got)}")
    return len(got)


@exercise(
    id=_ID,
    lab=LAB,
    kind="function",
    title="port an RDD job to DataFrames with identical output",
    hint="events.where(customer_id is not null AND event_type in ENGAGED_TYPES).groupBy('customer_id', "
    "'event_type').agg(F.count('*').alias('events')).where(events >= min_events)"
    ".orderBy(F.desc('events'), 'customer_id', 'event_type')",
)
def _grade_rdd_to_dataframe(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.spark.apis import hidden_inputs, use_this_python

    from pyspark.sql import SparkSession

    spark = context_value(context, "spark", SparkSession, exercise_id=_ID)
    use_this_python(spark)
    checked: list[int] = []
    oracle: dict[int, list[tuple[Any, ...]]] = {}
    shown = (context or {}).get("events")
    if shown is not None:  # the notebook's own input first: the learner saw this one
        if (context or {}).get("expected") is not None:  # the RDD job's rows, already computed by the notebook
            oracle[id(shown)] = [tuple(r) for r in context["expected"]]
            minimum = int(context.get("min_events", 2))
            oracle[id(shown)] = [r for r in oracle[id(shown)] if r[2] >= minimum]
        checked.append(_judge(answer, shown, int((context or {}).get("min_events", 2)), "the lab's clickstream", oracle))
    for label, events, min_events in hidden_inputs(spark):
        checked.append(_judge(answer, events, min_events, label, oracle))
    return f"identical rows and order on {len(checked)} inputs ({', '.join(map(str, checked))} rows), no Python in the plan"
