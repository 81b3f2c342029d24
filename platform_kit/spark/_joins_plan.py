"""Join nodes read from Spark physical plans, runtime SQL settings, and plan-node metrics.

The physical plan is the only place that says which join Spark actually runs: the
optimiser picks a strategy from size estimates, hints override it, and adaptive query
execution (AQE) may replace it at runtime. :func:`parse_plan` reads the text of
``df._jdf.queryExecution().executedPlan()`` (for an AQE plan that has run, its final
plan) into :class:`JoinNode` rows; :func:`plan_nodes` walks the same plan through py4j
to read SQL metrics (rows, bytes, times) once the DataFrame was collected.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._plan_tree import jvm_plan, sql_conf, walk_plan

__all__ = [
    "JOIN_OPERATORS",
    "JoinNode",
    "PlanSummary",
    "executed_plan",
    "outline",
    "parse_plan",
    "plan_nodes",
    "sql_conf",
]

#: Physical join operators and the strategy names this package uses for them.
JOIN_OPERATORS = {
    "BroadcastHashJoin": "broadcast_hash",
    "SortMergeJoin": "sort_merge",
    "ShuffledHashJoin": "shuffled_hash",
    "BroadcastNestedLoopJoin": "broadcast_nested_loop",
    "CartesianProduct": "cartesian",
}
_JOIN_LINE = re.compile(
    r"(?P<op>BroadcastHashJoin|SortMergeJoin|ShuffledHashJoin|BroadcastNestedLoopJoin|CartesianProduct)"
    r"(?P<skew>\(skew=true\))?\s*(?P<rest>.*)$"
)
_BUILD = re.compile(r"\bBuild(Left|Right)\b")
_JOIN_TYPES = ("LeftOuter", "RightOuter", "FullOuter", "LeftSemi", "LeftAnti", "ExistenceJoin", "Inner", "Cross")
_NODE_PREFIX = re.compile(r"^[\s:|+\-]*(\*\(\d+\)\s*)?")


@dataclass(frozen=True)
class JoinNode:
    """One join operator of a physical plan.

    Attributes:
        operator: Spark's operator name (``SortMergeJoin``...).
        strategy: ``broadcast_hash``, ``sort_merge``, ``shuffled_hash``,
            ``broadcast_nested_loop`` or ``cartesian``.
        join_type: ``Inner``, ``LeftOuter``... (empty when the plan does not say).
        build_side: ``left``/``right`` for hash and nested-loop joins, else ``None``.
        left_keys: Equi-join keys of the left child, as printed (``customer_id#2L``).
        right_keys: Equi-join keys of the right child.
        skew: True when AQE split skewed partitions of this join (``SortMergeJoin(skew=true)``).
    """

    operator: str
    strategy: str
    join_type: str
    build_side: str | None
    left_keys: tuple[str, ...]
    right_keys: tuple[str, ...]
    skew: bool = False


@dataclass(frozen=True)
class PlanSummary:
    """What a physical plan says about joins and data movement.

    Attributes:
        joins: Join nodes, outermost first.
        shuffles: Shuffle ``Exchange`` nodes (hash/range/round-robin/single partitioning).
        broadcasts: ``BroadcastExchange`` nodes.
        adaptive: The plan is wrapped in ``AdaptiveSparkPlan`` (AQE on).
        final: For AQE, whether the text is the final (executed) plan or only the initial one.
        text: The plan text the summary was read from (the final plan when there is one).
    """

    joins: tuple[JoinNode, ...]
    shuffles: int
    broadcasts: int
    adaptive: bool
    final: bool
    text: str = field(repr=False, default="")

    @property
    def strategy(self) -> str | None:
        """Strategy of the outermost join, or None when the plan has no join."""
        return self.joins[0].strategy if self.joins else None

    @property
    def skew_join(self) -> bool:
        """True when AQE handled a skewed join somewhere in the plan."""
        return any(j.skew for j in self.joins)


def _split_top(text: str) -> list[str]:
    """Split ``a, f(b, c), d`` on commas outside brackets."""
    parts, depth, current = [], 0, []
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    tail = "".join(current).strip()
    if tail:
        parts.append(tail)
    return parts


def _bracket_groups(rest: str, count: int) -> tuple[list[tuple[str, ...]], str]:
    """Read up to ``count`` leading ``[...]`` groups of ``rest``; returns them and the remainder."""
    groups: list[tuple[str, ...]] = []
    text = rest.lstrip()
    while len(groups) < count and text.startswith("["):
        depth = 0
        for index, char in enumerate(text):
            depth += char == "["
            depth -= char == "]"
            if depth == 0:
                groups.append(tuple(_split_top(text[1:index])))
                text = text[index + 1 :].lstrip(", ").lstrip()
                break
        else:
            break
    return groups, text


def _parse_join(line: str) -> JoinNode | None:
    body = _NODE_PREFIX.sub("", line)
    match = _JOIN_LINE.match(body)
    if match is None:
        return None
    op, rest = match["op"], match["rest"]
    keys, remainder = _bracket_groups(rest, 2) if op in ("BroadcastHashJoin", "SortMergeJoin", "ShuffledHashJoin") else ([], rest)
    head = remainder[:200]
    join_type = next((t for t in _JOIN_TYPES if re.search(rf"\b{t}\b", head)), "")
    build = _BUILD.search(head)
    left, right = (keys + [(), ()])[:2]
    return JoinNode(op, JOIN_OPERATORS[op], join_type, build.group(1).lower() if build else None,
                    left, right, bool(match["skew"]))


def _final_section(text: str) -> tuple[str, bool, bool]:
    adaptive = "AdaptiveSparkPlan" in text
    final = "isFinalPlan=true" in text
    if final and "== Final Plan ==" in text:
        body = text.split("== Final Plan ==", 1)[1]
        return body.split("== Initial Plan ==", 1)[0], adaptive, final
    return text, adaptive, final


_OPERATOR_WORDS = ("Scan", "Exchange", "Join", "Project", "Filter", "Aggregate", "Range", "Sort", "Union", "Relation",
                   "AdaptiveSparkPlan", "Generate", "Expand", "Window", "Limit", "RDD", "CartesianProduct")


def parse_plan(text: str) -> PlanSummary:
    """Read joins, shuffles and broadcasts from a physical plan's text.

    Args:
        text: ``executedPlan().toString()`` or the "Physical Plan" part of ``explain()``;
            for an AQE plan that has run, only its final plan is read.

    Raises:
        InputError: ``text`` is not a string or does not look like a Spark plan.
    """
    if not isinstance(text, str):
        raise InputError(f"a plan must be text, got {type(text).__name__}",
                         fix="pass df._jdf.queryExecution().executedPlan().toString() or use executed_plan(df)")
    body, adaptive, final = _final_section(text)
    lines = [_NODE_PREFIX.sub("", line) for line in body.splitlines()]
    if not any(word in body for word in _OPERATOR_WORDS):
        raise InputError("this text does not look like a Spark physical plan",
                         fix="pass df._jdf.queryExecution().executedPlan().toString()")
    joins = tuple(node for node in (_parse_join(line) for line in body.splitlines()) if node is not None)
    shuffles = sum(1 for line in lines if line.startswith("Exchange "))
    broadcasts = sum(1 for line in lines if line.startswith("BroadcastExchange "))
    return PlanSummary(joins, shuffles, broadcasts, adaptive, final, body)


_OUTLINE_WORDS = ("Join", "CartesianProduct", "Exchange", "Scan", "QueryStage", "AQEShuffleRead", "AdaptiveSparkPlan")


def outline(text: str, words: tuple[str, ...] = _OUTLINE_WORDS, *, width: int = 110) -> str:
    """The plan lines naming joins, exchanges and scans (indentation kept, long lines cut).

    For an AQE plan that has run, only the final plan is outlined.
    """
    body = parse_plan(text).text
    keep = [line.rstrip() for line in body.splitlines() if any(word in line for word in words)]
    return "\n".join(line if len(line) <= width else line[: width - 3] + "..." for line in keep)


def executed_plan(df: Any) -> str:
    """The physical plan Spark runs for ``df`` (after ``collect()`` of ``df``: AQE's final plan), as text."""
    return str(jvm_plan(df).toString())


def plan_nodes(df: Any) -> list[tuple[int, str, dict[str, int]]]:
    """(depth, node name, SQL metrics) for every node of ``df``'s executed plan.

    Metrics are filled once the plan has run: call after ``collect()`` of the same
    DataFrame (``count()`` plans a new query). AQE stages and reused exchanges are followed.
    """
    converters = df.sparkSession.sparkContext._jvm.scala.jdk.javaapi.CollectionConverters
    out: list[tuple[int, str, dict[str, int]]] = []
    for depth, node in walk_plan(jvm_plan(df), reused=True):
        metrics = converters.asJava(node.metrics())
        out.append((depth, str(node.nodeName()), {str(k): int(metrics.get(k).value()) for k in metrics.keySet()}))
    return out
