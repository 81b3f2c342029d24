"""The ``quality.gate`` exercise (Lab 4, section 5): a gate for build_customer_features, graded on broken versions.

The reference passes; gates that guard the wrong transform or contract, tolerate failures, cannot run the
good transform or whose inputs do not exercise it fail with a message naming the cause.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import yaml

from platform_kit.datasets import generate_table
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_gates import BROKEN_VERSIONS, REFERENCE_GATE, as_gate
from platform_kit.quality.contract import bundled_contracts, load_contract
from platform_kit.quality.gate import QualityGate, run_gate
from platform_kit.quality.pipeline import build_customer_features

ID = "quality.gate"
FIELDS: dict[str, Any] = {"name": "features", "transform": "platform_kit.quality.pipeline:build_customer_features",
                          "inputs": {"orders": "orders", "customers": "customers"}, "contract": "customer_features"}


def _grade(answer: Any) -> Any:
    return check(ID, answer, show=False)


def test_reference_gate_passes() -> None:
    result = _grade(REFERENCE_GATE)
    assert result.passed, result.message
    assert f"blocks all {len(BROKEN_VERSIONS)} hidden broken versions" in result.message
    assert "35 expectations, 200 rows" in result.message


def test_every_accepted_form_gives_the_same_gate() -> None:
    reference = as_gate(REFERENCE_GATE)
    single = yaml.safe_dump(yaml.safe_load(REFERENCE_GATE)["gates"][0])  # without the `gates:` list
    assert as_gate(single) == reference
    assert as_gate({**FIELDS, "name": "customer_features"}).transform == reference.transform
    gate = QualityGate(**FIELDS)
    assert as_gate(gate) is gate


def test_each_broken_version_fails_the_contract_in_its_own_way() -> None:
    failed = set()
    for label, broken in BROKEN_VERSIONS:
        verdict = run_gate(QualityGate(**{**FIELDS, "transform": broken}))
        assert not verdict.passed and verdict.error is None, label
        failed.add(verdict.blocking[0].expectation)
    assert len(failed) == len(BROKEN_VERSIONS)  # unique, not null, between, type list


@pytest.mark.parametrize(("change", "needles"), [
    ({"allow": ["primary_key"]}, ["got through your gate (region joined from the orders", "on your `allow` list"]),
    ({"allow": ["expect_column_values_to_be_unique", "expect_column_values_to_not_be_null",
                "expect_column_values_to_be_between", "expect_column_values_to_be_in_type_list"]},
     ["got through your gate", "only warn"]),
    ({"max_failed_expectations": 1}, ["tolerates max_failed_expectations=1", "should tolerate 0"]),
])
def test_tolerant_gates_are_told_which_broken_version_got_through(change: dict[str, Any],
                                                                  needles: list[str]) -> None:
    result = _grade({**FIELDS, **change})
    assert not result.passed and result.attempted
    for needle in needles:
        assert needle in result.message, result.message


def test_inputs_that_do_not_exercise_the_transform_are_rejected() -> None:
    orders = generate_table("orders", "tiny", 42).drop_duplicates("customer_id")  # nobody with two orders
    result = _grade({**FIELDS, "inputs": {"orders": orders, "customers": "customers"}})
    assert not result.passed
    assert "region joined from the orders" in result.message and "do not exercise the transform" in result.message


def _loosened_contract() -> str:
    data = yaml.safe_load(bundled_contracts()["customer_features"].read_text())
    data["columns"][6].pop("max")  # cancel_rate without its upper bound
    return yaml.safe_dump(data)


@pytest.mark.parametrize(("answer", "needle"), [
    ({**FIELDS, "contract": "orders_staged"}, "against the orders_staged contract"),
    ({**FIELDS, "contract": _loosened_contract()}, "a modified copy of the customer_features contract"),
    ({**FIELDS, "transform": "platform_kit.quality.pipeline:stage_orders"},
     "runs platform_kit.quality.pipeline:stage_orders, but the new transform"),
    ({**FIELDS, "transform": lambda orders, customers: build_customer_features(orders, customers)}, "<lambda>"),
    ({**FIELDS, "transform": "platform_kit.quality.nowhere:build"}, "cannot be imported"),
    ({**FIELDS, "inputs": ["customers", "orders"]}, "takes the orders first"),
    ({**FIELDS, "inputs": ["orders"]}, "fails the GOOD transform"),
    ({**FIELDS, "scale": "small"}, "keep it at scale tiny"),
    ({**FIELDS, "inputs": ["ordrs"]}, "does not load: invalid quality gate: inputs"),
    ("gates:\n  - name: a\n    transform: x:y\n    inputs: [orders]\n    contract: customer_features\n    alow: 1\n",
     "gates[0] (a).alow"),
    (REFERENCE_GATE + REFERENCE_GATE.replace("gates:\n", "").replace("name: customer_features", "name: twin"),
     "exactly one gate"),
    ("gates: [\n", "not valid YAML"),
    ("  ", "your gate is empty"),
    (3, "got int"),
])
def test_wrong_or_malformed_gates_fail_with_a_message(answer: Any, needle: str) -> None:
    result = _grade(answer)
    assert not result.passed and result.attempted
    assert needle in result.message, result.message


def test_stub_is_not_attempted() -> None:
    def stub() -> str:
        raise NotImplementedError("write the gate")

    result = _grade(stub)
    assert not result.passed and not result.attempted


def test_reference_contract_is_the_bundled_one() -> None:
    assert as_gate(REFERENCE_GATE).load_contract() == load_contract("customer_features")
    assert isinstance(generate_table("customers", "tiny", 42), pd.DataFrame)
