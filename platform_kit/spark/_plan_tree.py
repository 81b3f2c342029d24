"""The live physical plan through py4j, and runtime settings scoped to a block.

One walker for every module that reads a plan node by node (join strategies, scan metrics,
Python operators, Lab 1's layout metrics): it follows AQE's final plan and its query stages,
optionally reused exchanges (to reach what they reuse) and scalar subqueries (which hang off
expressions, not children).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from platform_kit.errors import InputError

__all__ = ["jvm_plan", "override_conf", "plan_children", "scala_items", "sql_conf", "walk_plan"]


def scala_items(collection: Any) -> Iterator[Any]:
    """The items of a Scala collection (``Seq``, ``Map`` pairs...) seen through py4j."""
    iterator = collection.iterator()
    while iterator.hasNext():
        yield iterator.next()


def plan_children(node: Any, *, reused: bool = False, subqueries: bool = False) -> list[Any]:
    """A plan node's children, seeing through AQE (its final plan once run, its initial one before).

    Args:
        node: A py4j ``SparkPlan``.
        reused: Follow a ``ReusedExchangeExec`` into the exchange it reuses (which the plan also
            holds elsewhere, so scans under it are then met twice).
        subqueries: Also return the plans of scalar subqueries.
    """
    name = str(node.getClass().getSimpleName())
    if name == "AdaptiveSparkPlanExec":
        return [node.executedPlan()]
    if name.endswith("QueryStageExec"):
        return [node.plan()]
    if name == "ReusedExchangeExec":
        return [node.child()] if reused else []
    kids = list(scala_items(node.children()))
    if subqueries:
        try:
            kids += list(scala_items(node.subqueries()))
        except Exception:  # noqa: BLE001 - py4j: plans without subqueries()
            pass
    return kids


def walk_plan(plan: Any, *, reused: bool = False, subqueries: bool = False) -> Iterator[tuple[int, Any]]:
    """``(depth, node)`` for every node under ``plan``, parents first (options as in :func:`plan_children`)."""
    stack = [(0, plan)]
    while stack:
        depth, node = stack.pop()
        yield depth, node
        stack.extend((depth + 1, child) for child in reversed(plan_children(node, reused=reused, subqueries=subqueries)))


def jvm_plan(df: Any) -> Any:
    """The py4j executed plan of a DataFrame (``df._jdf.queryExecution().executedPlan()``).

    Raises:
        InputError: ``df`` is not a classic pyspark DataFrame (Spark Connect exposes no JVM plan).
    """
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        raise InputError(f"expected a pyspark DataFrame, got {type(df).__name__}",
                         fix="pass the DataFrame itself (Spark Connect DataFrames expose no JVM plan)")
    return jdf.queryExecution().executedPlan()


@contextlib.contextmanager
def override_conf(spark: Any, settings: Mapping[str, str | int | bool]) -> Iterator[None]:
    """Set runtime settings for a block, then restore each to its value before (or unset it).

    Unset, not reset: ``spark.conf.unset`` brings back Spark's built-in default, which is what
    an explicitly unset key had before the block.
    """
    previous = {key: spark.conf.get(key, None) for key in settings}
    try:
        for key, value in settings.items():
            spark.conf.set(key, str(value).lower() if isinstance(value, bool) else str(value))
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


@contextlib.contextmanager
def sql_conf(spark: Any, settings: Mapping[str, str | int | bool]) -> Iterator[None]:
    """Set runtime ``spark.sql.*`` settings for a block and restore the previous values.

    Raises:
        InputError: A key is not a runtime SQL setting (executor, memory and core settings
            are fixed when the application starts).
    """
    bad = [key for key in settings if not str(key).startswith("spark.sql.")]
    if bad:
        raise InputError(f"only runtime spark.sql.* settings can change on a live session, not {bad}",
                         fix="start a new application for executor/driver/core settings (ks.cluster_session)")
    with override_conf(spark, settings):
        yield
