"""Broadcast hash join vs sort-merge join: read the plan, choose, force, and price a broadcast.

A sort-merge join shuffles both sides by the key and sorts them; a broadcast hash join
ships the small side whole to every executor and streams the big side past it, with no
shuffle. Spark picks broadcast when its size *estimate* of a side is at most
``spark.sql.autoBroadcastJoinThreshold`` (10 MB); hints (``F.broadcast``,
``/*+ BROADCAST(t) */``, ``MERGE``...) override the estimate, and AQE may switch to a
broadcast at runtime once it has measured the shuffled sides. Broadcasting the *large*
side is the failure mode: the driver collects it, builds a hash table and every executor
holds a copy, until a limit, the driver heap or a timeout stops it.

This module reads which join a DataFrame runs (:func:`join_strategy`, :func:`plan_summary`),
advises from sizes (:func:`choose_join_strategy`), forces a strategy with hints
(:func:`force_join`), reads Spark's own size estimates (:func:`join_side_bytes`), reads the
broadcast's cost from the plan metrics (:func:`broadcast_metrics`) and the storage memory
of driver and executors (:func:`storage_memory`), and explains broadcast failures
(:func:`explain_broadcast_failure`).

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._joins_plan import (
    JOIN_OPERATORS,
    JoinNode,
    PlanSummary,
    executed_plan,
    outline,
    parse_plan,
    plan_nodes,
    sql_conf,
)
from platform_kit.spark.monitor import JobMetrics, SparkRest, measure

_log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_THRESHOLD",
    "JOIN_OPERATORS",
    "MAX_BROADCAST_BYTES",
    "BroadcastAttempt",
    "BroadcastFailure",
    "JoinAdvice",
    "JoinNode",
    "PlanSummary",
    "attempt",
    "broadcast_metrics",
    "broadcastable_sides",
    "choose_join_strategy",
    "estimated_bytes",
    "executed_plan",
    "explain_broadcast_failure",
    "force_join",
    "join_side_bytes",
    "join_strategy",
    "parse_plan",
    "plan_nodes",
    "plan_outline",
    "plan_summary",
    "sql_conf",
    "storage_memory",
]

#: Spark's default ``spark.sql.autoBroadcastJoinThreshold`` (10 MiB).
DEFAULT_THRESHOLD = 10 * 1024 * 1024
#: Spark's default ``spark.sql.maxBroadcastTableSize``: no hash table above 8 GiB is broadcast.
MAX_BROADCAST_BYTES = 8 * 1024**3

_HOW = {"inner": "inner", "cross": "inner", "left": "left", "leftouter": "left", "left_outer": "left",
        "semi": "left", "leftsemi": "left", "left_semi": "left", "anti": "left", "leftanti": "left",
        "left_anti": "left", "right": "right", "rightouter": "right", "right_outer": "right",
        "outer": "full", "full": "full", "fullouter": "full", "full_outer": "full"}
_HINTS = {"broadcast_hash": "broadcast", "sort_merge": "merge", "shuffled_hash": "shuffle_hash",
          "cartesian": "shuffle_replicate_nl"}


@dataclass(frozen=True)
class JoinAdvice:
    """A strategy for one join and why.

    Attributes:
        strategy: ``broadcast_hash`` or ``sort_merge``.
        build_side: The side to broadcast (``left``/``right``), None for sort-merge.
        reason: One sentence naming the sizes and the rule applied.
    """

    strategy: str
    build_side: str | None
    reason: str


def _size(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"{name} must be a number of bytes, got {value!r}",
                         fix="pass sizes in bytes, e.g. from ks.joins.join_side_bytes(df)")
    if math.isnan(value) or value < 0:
        raise InputError(f"{name} must be >= 0 bytes, got {value!r}", fix="pass a measured or estimated size")
    return float(value)


def broadcastable_sides(how: str) -> tuple[str, ...]:
    """Sides Spark can build a broadcast hash table from for a join type.

    An outer join must keep the unmatched rows of its preserved side, so that side must be
    streamed: a left join can only broadcast the right side, a right join the left, and a
    full outer join neither (a broadcast hint on the wrong side is silently ignored).
    """
    kind = _HOW.get(str(how).lower().replace(" ", ""))
    if kind is None:
        raise InputError(f"unknown join type {how!r}", fix=f"use one of {sorted(set(_HOW))}")
    return {"inner": ("left", "right"), "left": ("right",), "right": ("left",), "full": ()}[kind]


def choose_join_strategy(
    left_bytes: float,
    right_bytes: float,
    threshold: float = DEFAULT_THRESHOLD,
    how: str = "inner",
    *,
    max_broadcast_bytes: float = MAX_BROADCAST_BYTES,
    executor_memory_bytes: float | None = None,
    memory_fraction: float = 0.1,
) -> JoinAdvice:
    """Advise broadcast hash join or sort-merge join from the two sides' sizes.

    A side is broadcast when it may be (see :func:`broadcastable_sides`), its size is at
    most ``threshold`` (Spark's own rule, ``<=``), below ``max_broadcast_bytes`` and, when
    ``executor_memory_bytes`` is given, at most ``memory_fraction`` of an executor's memory
    (every executor holds a copy). Of two candidates the smaller is broadcast; otherwise
    both sides are shuffled and merged.

    Args:
        left_bytes: Size of the left side (Spark's estimate, or measured).
        right_bytes: Size of the right side.
        threshold: Largest side to broadcast; negative disables broadcasting (like ``-1``).
        how: Join type (``inner``, ``left``, ``right``, ``full``, ``left_semi``...).
        max_broadcast_bytes: Hard ceiling (Spark refuses hash tables from 8 GiB).
        executor_memory_bytes: Memory of one executor, to keep the copy a small share of it.
        memory_fraction: That share.

    Raises:
        InputError: A size is negative, NaN or not a number, or the join type is unknown.
    """
    left, right = _size(left_bytes, "left_bytes"), _size(right_bytes, "right_bytes")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or math.isnan(threshold):
        raise InputError(f"threshold must be a number of bytes, got {threshold!r}",
                         fix="pass bytes, e.g. 10 * 1024 * 1024 (or -1 to disable broadcasting)")
    limit = min(float(threshold), _size(max_broadcast_bytes, "max_broadcast_bytes"))
    if executor_memory_bytes is not None:
        if not 0 < memory_fraction <= 1:
            raise InputError(f"memory_fraction must be in (0, 1], got {memory_fraction!r}", fix="pass e.g. 0.1")
        limit = min(limit, _size(executor_memory_bytes, "executor_memory_bytes") * memory_fraction)
    sizes = {"left": left, "right": right}
    allowed = broadcastable_sides(how)
    candidates = [side for side in allowed if threshold >= 0 and sizes[side] <= limit]
    if not candidates:
        why = ("broadcasting is disabled (threshold < 0)" if threshold < 0 else
               f"a {how} join cannot broadcast either side" if not allowed else
               f"no broadcastable side ({', '.join(allowed)}) is within {limit:,.0f} bytes")
        return JoinAdvice("sort_merge", None,
                          f"sort-merge: {why} (left {left:,.0f} B, right {right:,.0f} B); shuffle both sides")
    side = min(candidates, key=lambda s: (sizes[s], s != "right"))
    other = "left" if side == "right" else "right"
    return JoinAdvice("broadcast_hash", side,
                      f"broadcast the {side} side: {sizes[side]:,.0f} B <= {limit:,.0f} B, and the {other} side "
                      f"({sizes[other]:,.0f} B) is streamed without a shuffle")


def force_join(left: Any, right: Any, on: str | Sequence[str], strategy: str, *, build_side: str = "right",
               how: str = "inner") -> Any:
    """Join with a strategy forced by a hint (what ``/*+ BROADCAST(t) */`` and ``MERGE`` do in SQL).

    Args:
        left: Left DataFrame.
        right: Right DataFrame.
        on: Join column(s), present in both.
        strategy: ``broadcast_hash``, ``sort_merge``, ``shuffled_hash`` or ``cartesian``.
        build_side: For hash joins, which side to build the table from (``left``/``right``).
        how: Join type.

    Raises:
        InputError: Unknown strategy or side, or a build side the join type cannot broadcast.
    """
    if strategy not in _HINTS:
        raise InputError(f"unknown strategy {strategy!r}", fix=f"use one of {sorted(_HINTS)}")
    if build_side not in ("left", "right"):
        raise InputError(f"build_side must be 'left' or 'right', got {build_side!r}", fix="pass 'left' or 'right'")
    hint = _HINTS[strategy]
    if strategy == "broadcast_hash" and build_side not in broadcastable_sides(how):
        raise InputError(f"a {how} join cannot broadcast its {build_side} side (Spark would ignore the hint)",
                         fix=f"broadcast one of {broadcastable_sides(how) or 'no side'}, or use sort_merge")
    if strategy in ("sort_merge", "cartesian"):
        return left.hint(hint).join(right.hint(hint), on, how)
    if build_side == "left":
        return left.hint(hint).join(right, on, how)
    return left.join(right.hint(hint), on, how)


def plan_summary(df: Any) -> PlanSummary:
    """:func:`parse_plan` of ``df``'s executed plan (AQE's final plan after ``collect()``)."""
    return parse_plan(executed_plan(df))


def plan_outline(df: Any, *, width: int = 110) -> str:
    """The joins, exchanges and scans of ``df``'s executed plan, one per line (see :func:`outline`)."""
    return outline(executed_plan(df), width=width)


def join_strategy(df: Any) -> str:
    """The strategy of ``df``'s outermost join: ``broadcast_hash``, ``sort_merge``...

    Raises:
        InputError: ``df`` is not a DataFrame or its plan has no join.
    """
    summary = plan_summary(df)
    if summary.strategy is None:
        raise InputError("this DataFrame's plan has no join", fix="pass the DataFrame returned by .join(...)")
    return summary.strategy


def _find_join(node: Any) -> Any | None:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.nodeName() == "Join":
            return current
        children = current.children()
        stack.extend(children.apply(i) for i in range(children.size() - 1, -1, -1))
    return None


def estimated_bytes(df: Any) -> int:
    """Spark's size estimate of ``df`` (optimised logical plan statistics, in bytes)."""
    return int(df._jdf.queryExecution().optimizedPlan().stats().sizeInBytes())


def join_side_bytes(df: Any) -> tuple[int, int]:
    """Spark's size estimates of the two inputs of ``df``'s first join, after column pruning.

    These are the numbers the planner compares with ``spark.sql.autoBroadcastJoinThreshold``.
    File sizes scaled by the columns read; a filter does not lower them (without
    cost-based optimisation), which is why AQE's runtime sizes can differ.

    Raises:
        InputError: The plan has no join.
    """
    join = _find_join(df._jdf.queryExecution().optimizedPlan())
    if join is None:
        raise InputError("this DataFrame's plan has no join", fix="pass the DataFrame returned by .join(...)")
    return int(join.left().stats().sizeInBytes()), int(join.right().stats().sizeInBytes())


def broadcast_metrics(df: Any) -> list[dict[str, int]]:
    """Metrics of each ``BroadcastExchange`` of ``df``'s executed plan (after ``collect()`` of ``df``).

    Keys: ``rows`` (rows collected to the driver), ``data_size`` (bytes of the hash table the
    driver built: what ``spark.sql.maxBroadcastTableSize`` is checked against; memory is
    taken in pages, so small tables still show one whole page), ``collect_ms``,
    ``build_ms``, ``broadcast_ms``.
    """
    out = []
    for _depth, name, metrics in plan_nodes(df):
        if name == "BroadcastExchange":
            out.append({"rows": metrics.get("numOutputRows", 0), "data_size": metrics.get("dataSize", 0),
                        "collect_ms": metrics.get("collectTime", 0), "build_ms": metrics.get("buildTime", 0),
                        "broadcast_ms": metrics.get("broadcastTime", 0)})
    return out


def storage_memory(spark: Any) -> dict[str, int]:
    """Storage memory in use (bytes) per executor id and ``driver``, from the status REST API.

    Broadcast variables live there (on the driver and on every executor that used them),
    so the difference before/after a broadcast join prices its copies.
    """
    return {str(e["id"]): int(e.get("memoryUsed", 0)) for e in SparkRest(spark).executors()}


@dataclass(frozen=True)
class BroadcastFailure:
    """A broadcast join failure, classified.

    Attributes:
        kind: ``size_limit``, ``row_limit``, ``timeout``, ``driver_memory``,
            ``max_result_size`` or ``other``.
        message: Spark's message (first line of the root cause).
        explanation: What happened, in one sentence.
        fix: What to do instead.
    """

    kind: str
    message: str
    explanation: str
    fix: str


_FAILURES = (
    ("size_limit", ("Cannot broadcast the table that is larger than",),
     "the hash table built on the driver exceeded spark.sql.maxBroadcastTableSize (8 GiB by default)",
     "broadcast the small side only (remove the hint on the large side); raise the limit only if the driver "
     "and every executor can hold the table"),
    ("row_limit", ("Cannot broadcast the table over", "Cannot broadcast the table with"),
     "the broadcast side has more rows than a hash table may hold (512 million)",
     "use a sort-merge join (hint MERGE) or reduce the side before joining"),
    ("timeout", ("Could not execute broadcast in", "TimeoutException"),
     "collecting and building the broadcast side took longer than spark.sql.broadcastTimeout",
     "do not broadcast a side that is large or slow to compute; cache it first or use a sort-merge join"),
    ("driver_memory", ("Not enough memory to build and broadcast", "OutOfMemoryError"),
     "the driver ran out of heap collecting or building the broadcast side",
     "broadcast a smaller side, or disable broadcasting for this join (autoBroadcastJoinThreshold=-1 or MERGE)"),
    ("max_result_size", ("maxResultSize", "Total size of serialized results"),
     "the rows collected to the driver exceeded spark.driver.maxResultSize",
     "do not broadcast the large side; the driver is not meant to hold it"),
)


def explain_broadcast_failure(error: BaseException | str) -> BroadcastFailure:
    """Classify a broadcast join failure (an exception or its message) and say what to do.

    Raises:
        InputError: ``error`` is neither an exception nor a string.
    """
    if not isinstance(error, BaseException | str):
        raise InputError(f"expected an exception or its message, got {type(error).__name__}",
                         fix="pass the exception caught around the Spark action")
    text = str(error)
    for kind, needles, explanation, fix in _FAILURES:
        found = next((needle for needle in needles if needle in text), None)
        if found is not None:
            line = text[text.find(found):].splitlines()[0]
            return BroadcastFailure(kind, line.strip()[:300], explanation, fix)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
    return BroadcastFailure("other", first[:300], "the join failed for a reason not specific to broadcasting",
                            "read Spark's message; check the plan with ks.joins.plan_summary(df)")


@dataclass(frozen=True)
class BroadcastAttempt:
    """The outcome of running a join that may fail: its metrics, or the failure and its time."""

    label: str
    seconds: float
    metrics: JobMetrics | None
    failure: BroadcastFailure | None

    @property
    def ok(self) -> bool:
        """True when the work finished."""
        return self.failure is None


def attempt(spark: Any, work: Callable[[], Any], label: str = "") -> BroadcastAttempt:
    """Run ``work`` under :func:`~platform_kit.spark.monitor.measure`; a failure is caught and explained."""
    began = time.perf_counter()
    try:
        metrics = measure(spark, work, label)
    except Exception as exc:  # noqa: BLE001 - any Spark failure is the subject of the demo
        failure = explain_broadcast_failure(exc)
        _log.info("%s failed (%s): %s", label, failure.kind, failure.message)
        return BroadcastAttempt(label, time.perf_counter() - began, None, failure)
    return BroadcastAttempt(label, metrics.wall_s, metrics, None)
