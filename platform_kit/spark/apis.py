"""DataFrame vs RDD vs Spark SQL vs pandas UDFs: the same aggregation, timed, with plans.

The typed ``Dataset[T]`` API (compile-time checked case classes, encoders) exists in Scala
and Java only. In PySpark the choice is between the **DataFrame** (and SQL, which compiles
to the same plan), the **RDD** of Python objects, and Python code plugged into DataFrames as
**UDFs** (row-at-a-time, or vectorised pandas UDFs over Arrow batches). What Python offers
instead of compile-time types is schemas checked at run time: a ``StructType`` given to the
reader, ``DataFrame.to(schema)`` to reconcile a frame with a contract, and the pandas API on
Spark (``df.pandas_api()``) for pandas-style code on the same engine.

:func:`compare_apis` runs the lab's aggregation through each API (warmed up once: Python
workers start on first use), measures each with :func:`platform_kit.spark.measure` and
returns a table plus the results; :func:`same_results` proves they agree;
:func:`compare_plans` shows that DataFrame and SQL are one plan; :func:`rdd_lineage` shows
what an RDD has instead of a plan.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._apis_exercise import (
    ENGAGED_TYPES,
    EVENTS_SCHEMA,
    dataframe_engaged_customers,
    hidden_inputs,
    rdd_engaged_customers,
)
from platform_kit.spark._apis_plans import PYTHON_NODES, PlanComparison, compare_plans, normalise_plan, python_nodes, rdd_lineage
from platform_kit.spark._apis_variants import GROUP_COLUMNS, SQL_VIEW, ApiVariant, api_variants, normalise_rows
from platform_kit.spark._apis_workers import use_this_python

_log = logging.getLogger(__name__)

__all__ = [
    "ENGAGED_TYPES",
    "EVENTS_SCHEMA",
    "GROUP_COLUMNS",
    "PYTHON_NODES",
    "SQL_VIEW",
    "ApiComparison",
    "ApiVariant",
    "PlanComparison",
    "api_variants",
    "compare_apis",
    "compare_plans",
    "dataframe_engaged_customers",
    "hidden_inputs",
    "normalise_plan",
    "normalise_rows",
    "plot_apis",
    "python_nodes",
    "rdd_engaged_customers",
    "rdd_lineage",
    "same_results",
    "use_this_python",
    "WARM_PATHS",
    "warm_python_workers",
]


def _collect(built: Any) -> list[Any]:
    return built.collect()


_WARMED: set[tuple[str, str]] = set()
#: What :func:`warm_python_workers` can warm: the SQL UDF worker pool (scalar pandas and row
#: UDFs), the grouped-aggregate pandas path, and the RDD worker pool (a separate set of workers).
WARM_PATHS = ("udf", "grouped", "rdd")


def warm_python_workers(spark: Any, paths: Sequence[str] = WARM_PATHS, partitions: int | None = None) -> float:
    """Start the executors' Python workers and run each Python path once, on a few rows.

    Each executor forks its Python workers on the first Python task (measured here: ~4 s
    of "boot" per task under load, then ~1-2 s of imports), and SQL UDFs and RDD lambdas
    use *separate* worker pools, so each pays that once. Charged to whichever variant
    ran first, it would distort a comparison. Each path is warmed once per application
    (later calls skip it).

    Args:
        spark: The session.
        paths: Any of :data:`WARM_PATHS`.
        partitions: Tasks per warm-up job (default: the application's parallelism).

    Returns:
        Seconds the warm-up took (0 when everything was warm already).

    Raises:
        InputError: An unknown path.
    """
    import time

    from pyspark.sql import functions as F

    unknown = [p for p in paths if p not in WARM_PATHS]
    if unknown:
        raise InputError(f"unknown warm-up path(s) {unknown}", fix=f"use some of {WARM_PATHS}")
    app = str(spark.sparkContext.applicationId)
    todo = [p for p in paths if (app, p) not in _WARMED]
    if not todo:
        return 0.0
    use_this_python(spark)

    @F.pandas_udf("long")  # type: ignore[call-overload]
    def plus_one(values: pd.Series) -> pd.Series:
        return values + 1

    @F.pandas_udf("long")  # type: ignore[call-overload]
    def total(values: pd.Series) -> int:
        return int(values.sum())

    began = time.perf_counter()
    slices = partitions or max(2, int(spark.sparkContext.defaultParallelism))
    rows = spark.range(0, 64 * slices, 1, slices).withColumn("key", F.col("id") % 7)
    # One Python node per job: two UDF kinds in one select would boot two workers per task.
    jobs = {"udf": lambda: rows.select(plus_one("id")).collect(),
            "grouped": lambda: rows.groupBy("key").agg(total("id")).collect(),
            "rdd": lambda: rows.rdd.map(lambda r: (r[1], 1)).reduceByKey(lambda a, b: a + b).collect()}
    for path in todo:
        jobs[path]()
        _WARMED.add((app, path))
    return time.perf_counter() - began


def same_results(results: Mapping[str, Sequence[Any]], reference: str | None = None) -> dict[str, bool]:
    """Whether each variant returned exactly the reference's rows (order ignored, values exact).

    Args:
        results: Rows by variant label (``Row`` objects or tuples).
        reference: Label to compare with (default: the first).

    Raises:
        InputError: No results, or ``reference`` is not among them.
    """
    if not results:
        raise InputError("no results to compare", fix="pass {label: rows} for at least one variant")
    ref_label = next(iter(results)) if reference is None else reference
    if ref_label not in results:
        raise InputError(f"reference {ref_label!r} is not one of {list(results)}", fix="name a label of results")
    expected = normalise_rows(results[ref_label])
    return {label: normalise_rows(rows) == expected for label, rows in results.items()}


@dataclass(frozen=True)
class ApiComparison:
    """What :func:`compare_apis` measured.

    Attributes:
        table: One row per variant: wall and task time, stages, tasks, input/shuffle MB,
            result rows, ``vs_first`` (wall time over the first variant's: the DataFrame) and ``same_rows``.
        results: The rows each variant returned, by label.
        metrics: The :class:`~platform_kit.spark.JobMetrics` of each timed run, by label.
        built: The DataFrame (or RDD) each timed run collected, by label (for plans and lineage).
        warmup_s: Seconds spent starting Python workers before the timed runs.
    """

    table: pd.DataFrame
    results: dict[str, list[Any]] = field(repr=False)
    metrics: dict[str, Any] = field(repr=False)
    built: dict[str, Any] = field(repr=False)
    warmup_s: float = 0.0

    def wall(self, label: str) -> float:
        """Wall seconds of one variant."""
        return float(self.table.set_index("label").loc[label, "wall_s"])

    def ratio(self, slower: str, faster: str) -> float:
        """Wall time of ``slower`` over ``faster``."""
        return self.wall(slower) / max(self.wall(faster), 1e-9)


def compare_apis(spark: Any, events: Any, *, variants: Sequence[ApiVariant] | None = None,
                 warmup: str | None = "python", warmup_rows: int = 2000) -> ApiComparison:
    """Run each variant on ``events``, timed with :func:`platform_kit.spark.measure`.

    Args:
        spark: The session (its UI feeds the stage metrics).
        events: The clickstream DataFrame (customer_id, event_type, product_id at least).
        variants: Which ones (default :func:`api_variants`, DataFrame first).
        warmup: ``"python"`` starts the Python workers once (:func:`warm_python_workers`);
            ``"sample"`` also runs each variant once on ``warmup_rows`` rows first (loads
            classes, compiles code), ``"full"`` on all of ``events``; None does neither.
        warmup_rows: Rows of the sample warm-up.

    Raises:
        InputError: ``events`` lacks a needed column, or an unknown warm-up mode.
    """
    from platform_kit.spark.monitor import measure

    missing = [c for c in (*GROUP_COLUMNS, "product_id") if c not in getattr(events, "columns", [])]
    if missing:
        raise InputError(f"events lacks column(s) {missing}", fix="pass the clickstream DataFrame (data.read(spark, 'clickstream'))")
    if warmup not in (None, "python", "sample", "full"):
        raise InputError(f"warmup must be 'python', 'sample', 'full' or None, got {warmup!r}", fix="use one of those")
    use_this_python(spark)
    warmup_s = warm_python_workers(spark) if warmup is not None else 0.0
    chosen = list(variants or api_variants())
    results: dict[str, list[Any]] = {}
    metrics: dict[str, Any] = {}
    built: dict[str, Any] = {}
    for variant in chosen:
        if warmup in ("sample", "full"):
            sample = events.limit(warmup_rows) if warmup == "sample" else events
            _collect(variant.build(sample))
        built[variant.label] = variant.build(events)
        metrics[variant.label] = measure(spark, lambda b=built[variant.label]: _collect(b), variant.label)
        results[variant.label] = metrics[variant.label].result
        _log.info("%s: %.2f s", variant.label, metrics[variant.label].wall_s)
    agree = same_results(results)
    rows = []
    for variant in chosen:
        m = metrics[variant.label]
        rows.append({**m.summary(), "api": variant.api, "python": variant.python,
                     "result_rows": len(results[variant.label]), "same_rows": agree[variant.label]})
    table = pd.DataFrame(rows)
    base = table["wall_s"].iloc[0]
    table["vs_first"] = (table["wall_s"] / base).round(2) if base else float("nan")
    return ApiComparison(table, results, metrics, built, warmup_s)


def plot_apis(comparison: ApiComparison) -> Any:
    """Wall time and executor task time per API (Python-running variants hatched)."""
    import matplotlib.pyplot as plt

    table = comparison.table
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.4))
    y = range(len(table))
    colours = ["tab:orange" if p else "tab:blue" for p in table["python"]]
    for ax, column, xlabel in ((axes[0], "wall_s", "wall time (s)"), (axes[1], "task_s", "executor task time (s)")):
        bars = ax.barh(list(y), table[column], color=colours)
        for bar, python in zip(bars, table["python"], strict=True):
            bar.set_hatch("//" if python else "")
        ax.set(yticks=list(y), yticklabels=list(table["label"]) if ax is axes[0] else [], xlabel=xlabel)
        ax.invert_yaxis()
    axes[1].set_title("orange, hatched: Python code on the executors", fontsize=9)
    fig.tight_layout()
    return axes
