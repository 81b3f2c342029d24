"""Exercise of lab ``04_quality``, section 5: a quality gate for a new transform (``quality.gate``).

The learner declares a gate (a QualityGate, a mapping of its fields or its YAML) for
``platform_kit.quality.pipeline:build_customer_features`` against the ``customer_features``
contract. The grader checks that it names that transform and contract, runs it on the good
transform (it must pass) and on hidden broken versions of the transform (each must fail): a join
that repeats customers, a lookup that leaves nulls, a rate in percent and a flag stored as 0/1,
each caught by a different kind of expectation. A gate that tolerates a failure (``allow``,
``max_failed_expectations``) or whose inputs do not exercise the transform is told which broken
version got through and why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import yaml

from platform_kit.errors import WorkbenchError
from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise
from platform_kit.quality.pipeline import build_customer_features

LAB = "04_quality"
EXERCISE_ID = "quality.gate"
TRANSFORM = "platform_kit.quality.pipeline:build_customer_features"
CONTRACT = "customer_features"

#: A gate that passes: the reference answer of the lab (and of the tests).
REFERENCE_GATE = """\
gates:
  - name: customer_features
    description: Per-customer order features for the churn model; must meet their contract.
    transform: platform_kit.quality.pipeline:build_customer_features
    inputs:
      orders: orders
      customers: customers
    contract: customer_features
    scale: tiny
    seed: 42
"""


def _dup_region(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    out = build_customer_features(orders, customers)
    regions = orders[["customer_id", "region"]].astype({"customer_id": "int64"})
    return out.drop(columns="region").merge(regions, on="customer_id", how="inner")[list(out.columns)]


def _segment_lookup(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    out = build_customer_features(orders, customers)
    out["segment"] = out["segment"].map({"consumer": "consumer", "premium": "premium"})
    return out


def _rate_percent(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    out = build_customer_features(orders, customers)
    out["cancel_rate"] = (out["cancel_rate"] * 100).round(1)
    return out


def _flag_as_int(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    out = build_customer_features(orders, customers)
    out["has_orders"] = out["has_orders"].astype("int64")
    return out


#: Hidden broken versions of the transform: (what changed, the function).
BROKEN_VERSIONS: tuple[tuple[str, Callable[..., pd.DataFrame]], ...] = (
    ("region joined from the orders (an inner join repeats every customer with several orders)", _dup_region),
    ("segment mapped through a lookup that lacks 'business' (nulls)", _segment_lookup),
    ("cancel_rate in percent instead of a share", _rate_percent),
    ("has_orders stored as 0/1 integers", _flag_as_int),
)


def as_gate(answer: Any) -> Any:
    """The learner's answer as one QualityGate (a QualityGate, a mapping of its fields, or YAML text)."""
    from platform_kit.quality.gate import QualityGate, load_gates

    if isinstance(answer, QualityGate):
        return answer
    try:
        if isinstance(answer, Mapping):
            return QualityGate(**dict(answer))
        if not isinstance(answer, str):
            fail(f"return the gate as a QualityGate, a dict of its fields or its YAML text, got "
                 f"{type(answer).__name__}")
        if not answer.strip():
            fail("your gate is empty: write its YAML (name, transform, inputs, contract)")
        try:
            data = yaml.safe_load(answer)
        except yaml.YAMLError as exc:
            fail(f"your gate is not valid YAML: {exc}")
        if isinstance(data, dict) and "gates" not in data:  # one gate, without the `gates:` list around it
            answer = yaml.safe_dump({"gates": [data]}, sort_keys=False)
        gates = load_gates(answer)
    except WorkbenchError as exc:
        fail(f"your gate does not load: {exc.message}" + (f" (fix: {exc.fix})" if exc.fix else ""))
    if len(gates) != 1:
        fail(f"declare exactly one gate (for {TRANSFORM}), got {len(gates)}: {', '.join(gates) or 'none'}")
    return next(iter(gates.values()))


def _check_target(gate: Any) -> None:
    from platform_kit.datasets._scales import resolve_factor
    from platform_kit.quality.contract import load_contract
    from platform_kit.quality.gate import resolve_transform

    try:
        func = resolve_transform(gate.transform)
    except WorkbenchError as exc:
        fail(f"your gate's transform cannot be imported: {exc.message}")
    if func is not build_customer_features:
        fail(f"your gate runs {gate.transform_name}, but the new transform to guard is {TRANSFORM}")
    try:
        contract = gate.load_contract()
    except WorkbenchError as exc:
        fail(f"your gate's contract does not load: {exc.message}")
    if contract != load_contract(CONTRACT):
        what = (f"the {contract.name} contract" if contract.name != CONTRACT else
                "a modified copy of the customer_features contract")
        fail(f"your gate checks the output against {what}; point it at the table's own contract, "
             f"`contract: {CONTRACT}`, so that the contract stays the single source of its rules")
    if resolve_factor(gate.scale) > resolve_factor("tiny"):
        fail(f"your gate runs at scale {gate.scale!r}: a gate in the test suite runs on every change, so keep it "
             "at scale tiny (seconds)")


def _why_through(gate: Any, verdict: Any) -> str:
    if verdict.warnings:
        shown = ", ".join(f"{o.expectation}({o.column})" if o.column else o.expectation for o in verdict.warnings[:3])
        return (f"its failure(s) {shown} are on your `allow` list, so they only warn; allow only what you accept "
                "shipping (better: nothing)")
    if verdict.blocking:
        return (f"it has {len(verdict.blocking)} blocking failure(s) but your gate tolerates "
                f"max_failed_expectations={gate.max_failed_expectations}; a CI gate should tolerate 0")
    return ("the contract saw nothing wrong on your inputs, so they do not exercise the transform: use the "
            "generated tables (inputs: {orders: orders, customers: customers})")


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="value",
    title="a quality gate for build_customer_features that passes the good transform and fails broken ones",
    hint="copy a gate of platform_kit/quality/gates.yml: transform "
    "platform_kit.quality.pipeline:build_customer_features, inputs {orders: orders, customers: customers}, "
    "contract customer_features, scale tiny; no allow list and max_failed_expectations 0",
)
def _grade_gate(answer: Any) -> str:
    from platform_kit.quality.gate import QualityGate, run_gate

    gate = as_gate(answer)
    _check_target(gate)
    good = run_gate(gate)
    if not good.passed:
        fail(f"your gate fails the GOOD transform, so every change would be blocked: {good.summary()}"
             + ("; check the inputs: build_customer_features(orders, customers) takes the orders first"
                if good.error else ""))
    fields = {**dict(gate), "name": f"{gate.name}-broken"}
    for label, broken in BROKEN_VERSIONS:
        verdict = run_gate(QualityGate(**{**fields, "transform": broken}))
        if verdict.passed:
            fail(f"a broken version of the transform got through your gate ({label}): {_why_through(gate, verdict)}")
    return (f"your gate {gate.name} passes {TRANSFORM.split(':')[1]} ({good.report.evaluated} expectations, "
            f"{good.report.rows} rows, {good.seconds:.2f} s) and blocks all {len(BROKEN_VERSIONS)} hidden broken "
            "versions of it")
