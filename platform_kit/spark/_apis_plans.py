"""Plans of the APIs: DataFrame and SQL meet in one optimized plan; an RDD has only a lineage.

:func:`compare_plans` asks Catalyst itself whether two DataFrames' optimized logical plans
compute the same result (``LogicalPlan.sameResult``, which compares canonicalized plans,
so expression ids and aliases do not matter) and also compares their text with the ids
stripped. :func:`rdd_lineage` is what an RDD offers instead: the chain of RDDs it was built
from, with no optimizer in between. :func:`python_nodes` finds the plan nodes where rows
leave the JVM for Python (UDFs) or come from an RDD.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark._pushdown_plan import executed_plan, walk_plan

__all__ = ["PYTHON_NODES", "PlanComparison", "compare_plans", "normalise_plan", "python_nodes", "rdd_lineage"]

#: Physical nodes that run Python code or read rows from an RDD rather than a source Catalyst can see.
PYTHON_NODES = ("BatchEvalPython", "ArrowEvalPython", "ArrowAggregatePython", "ArrowWindowPython",
                "AggregateInPandas", "FlatMapGroupsInPandas", "FlatMapCoGroupsInPandas", "MapInPandas", "MapInArrow",
                "PythonMapInArrow", "WindowInPandas", "FlatMapGroupsInArrow", "Scan ExistingRDD")
_PYTHON = re.compile(r"Python|Pandas|InArrow|ExistingRDD")
_IDS = re.compile(r"#\d+L?|plan_id=\d+|\[id=#?\d+\]")


def normalise_plan(text: str) -> str:
    """A plan's text without expression ids (``#123``, ``#45L``) and plan ids, so equal plans compare equal."""
    if not isinstance(text, str):
        raise InputError(f"expected a plan as text, got {type(text).__name__}", fix="pass str(plan)")
    return "\n".join(line.rstrip() for line in _IDS.sub("", text).strip().splitlines())


@dataclass(frozen=True)
class PlanComparison:
    """Whether two DataFrames' optimized plans are the same computation.

    Attributes:
        same_result: Catalyst's ``sameResult`` on the canonicalized optimized plans.
        same_text: The optimized plans' text is equal once ids are stripped.
        left: The first plan's normalised text.
        right: The second plan's normalised text.
    """

    same_result: bool
    same_text: bool
    left: str
    right: str

    @property
    def identical(self) -> bool:
        """Both tests agree the plans are the same."""
        return self.same_result and self.same_text

    def diff(self) -> str:
        """A unified diff of the normalised texts (empty when equal)."""
        return "\n".join(difflib.unified_diff(self.left.splitlines(), self.right.splitlines(), "left", "right",
                                              lineterm=""))


def _optimized(df: Any) -> Any:
    jdf = getattr(df, "_jdf", None)
    if jdf is None:
        raise InputError(f"expected a pyspark DataFrame, got {type(df).__name__}",
                         fix="pass DataFrames (an RDD has no plan: use rdd_lineage)")
    return jdf.queryExecution().optimizedPlan()


def compare_plans(left: Any, right: Any) -> PlanComparison:
    """Compare two DataFrames' optimized logical plans (e.g. the DataFrame and the SQL version)."""
    a, b = _optimized(left), _optimized(right)
    text_a, text_b = normalise_plan(a.toString()), normalise_plan(b.toString())
    return PlanComparison(bool(a.sameResult(b)), text_a == text_b, text_a, text_b)


def rdd_lineage(rdd: Any) -> str:
    """``rdd.toDebugString()`` as text: the RDDs it depends on, indented at each shuffle."""
    if not hasattr(rdd, "toDebugString"):
        raise InputError(f"expected a pyspark RDD, got {type(rdd).__name__}", fix="pass df.rdd or an RDD you built")
    raw = rdd.toDebugString()
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def python_nodes(df: Any) -> list[str]:
    """Names of the executed plan's nodes that run Python or scan an RDD (empty: all in the JVM)."""
    names = [str(node.nodeName()).strip() for node in walk_plan(executed_plan(df))]
    return [name for name in names if name in PYTHON_NODES or _PYTHON.search(name)]
