"""The ``quality.contract_suite`` exercise (Lab 4, section 1): a contract for payments, graded on hidden batches.

The reference passes in every accepted form; too strict contracts are told which rule fails on clean
data, too loose ones which corruption slipped through; bad answer types and missing context fail cleanly.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import yaml

from platform_kit.datasets import generate_table
from platform_kit.errors import GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_contracts import (
    HIDDEN_SEED,
    REFERENCE_CONTRACT,
    as_contract,
    hidden_breaks,
)
from platform_kit.quality.contract import load_contract

ID = "quality.contract_suite"


@pytest.fixture(scope="module")
def payments() -> pd.DataFrame:
    return generate_table("payments", "tiny", 42)


def _grade(answer: Any, payments: pd.DataFrame) -> Any:
    return check(ID, answer, context={"payments": payments}, show=False)


def _edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(yaml.safe_load(REFERENCE_CONTRACT))
    change(data)
    return data


def _column(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in data["columns"] if c["name"] == name)


def test_reference_contract_passes_and_every_form_loads(payments: pd.DataFrame) -> None:
    result = _grade(REFERENCE_CONTRACT, payments)
    assert result.passed, result.message
    assert "1,036 payments" in result.message and "all 16 hidden corruptions" in result.message
    contract = load_contract(REFERENCE_CONTRACT)  # the other accepted forms become the same contract
    assert as_contract(yaml.safe_load(REFERENCE_CONTRACT)) == contract and as_contract(contract) is contract


def test_hidden_batch_goes_beyond_the_lab_batch(payments: pd.DataFrame) -> None:
    hidden = generate_table("payments", "tiny", HIDDEN_SEED)
    assert hidden["payment_ts"].max() > pd.Timestamp("2025-01-01") > payments["payment_ts"].max()
    assert hidden["amount"].max() > payments["amount"].max()
    labels = [b.label for b in hidden_breaks(hidden)]
    assert len(labels) == len(set(labels)) == 16
    assert {f"null {c}" for c in hidden.columns} <= set(labels)


def _too_loose(data: dict[str, Any]) -> None:
    _column(data, "method").pop("allowed_values")
    _column(data, "order_id").pop("min")
    _column(data, "amount").pop("max")
    data.pop("primary_key")


def test_too_loose_contract_names_each_corruption_that_slipped_through(payments: pd.DataFrame) -> None:
    result = _grade(_edit(_too_loose), payments)
    assert not result.passed and result.attempted
    message = result.message
    assert message.startswith("4 of 16 corruptions slipped through your suite")
    for needle in ("amount booked in cents", "give amount a `max`", "order_id -1", "unknown method crypto",
                   "allowed_values` of method", "repeated payment_id", "primary_key: [payment_id]"):
        assert needle in message, message


def test_nullable_columns_let_nulls_through(payments: pd.DataFrame) -> None:
    def nullable(data: dict[str, Any]) -> None:
        for name in ("payment_ts", "status"):
            _column(data, name)["nullable"] = True

    result = _grade(_edit(nullable), payments)
    assert not result.passed
    assert "2 of 16" in result.message and "null payment_ts" in result.message and "null status" in result.message
    assert "set `nullable: false` on status" in result.message


@pytest.mark.parametrize(("change", "needles"), [
    (lambda d: _column(d, "amount").update(min=20.0),
     ["lab's CLEAN payments", "too strict", "expect_column_values_to_be_between(amount)", "columns.amount.min/max"]),
    (lambda d: _column(d, "payment_ts").update(max="2025-01-01T00:00:00"),
     ["another CLEAN batch", f"seed {HIDDEN_SEED}", "payment_ts", "early January 2025"]),
    (lambda d: _column(d, "method").update(allowed_values=["card", "paypal", "apple_pay"]),
     ["lab's CLEAN payments", "expect_column_values_to_be_in_set(method)"]),
    (lambda d: _column(d, "amount").update(type="integer"),
     ["lab's CLEAN payments", "expect_column_values_to_be_in_type_list(amount)", "observed float64"]),
])
def test_too_strict_contract_names_the_failing_rule(payments: pd.DataFrame, change: Callable[[dict[str, Any]], None],
                                                   needles: list[str]) -> None:
    result = _grade(_edit(change), payments)
    assert not result.passed and result.attempted
    for needle in needles:
        assert needle in result.message, result.message


def test_bounds_fitted_to_the_lab_batch_fail_the_hidden_clean_batch(payments: pd.DataFrame) -> None:
    fitted = _edit(lambda d: _column(d, "amount").update(max=float(payments["amount"].max())))
    result = _grade(fitted, payments)
    assert not result.passed
    assert "another CLEAN batch" in result.message and "largest order total differs" in result.message


@pytest.mark.parametrize(("answer", "needle"), [
    (_edit(lambda d: d["columns"].pop()), "leaves out column(s) ['status']"),
    (_edit(lambda d: d["columns"].append({"name": "currency", "type": "string"})), "['currency'] are not in payments"),
    ("orders_raw", "bundled contract of another table"),
    (_edit(lambda d: d.update(name="orders_staged")), "name of a bundled contract"),
    (load_contract("orders_raw").to_yaml(), "bundled contract"),
    (_edit(lambda d: _column(d, "amount").update(min=5.0, max=1.0)), "does not load: contract <contract text>"),
    (_edit(lambda d: d.update(colums=[])), "does not load"),
    ("name: [", "not valid YAML"),
    ("", "your contract is empty"),
    (42, "YAML text, a dict or a DataContract, got int"),
    (["payment_id"], "got list"),
])
def test_malformed_or_wrong_table_answers_fail_with_a_message(payments: pd.DataFrame, answer: Any,
                                                              needle: str) -> None:
    result = _grade(answer, payments)
    assert not result.passed and result.attempted
    assert needle in result.message, result.message


def test_stub_is_not_attempted_and_context_is_required(payments: pd.DataFrame) -> None:
    def stub() -> str:
        raise NotImplementedError("write the contract")

    result = _grade(stub, payments)
    assert not result.passed and not result.attempted
    with pytest.raises(GradingError, match="context"):
        check(ID, REFERENCE_CONTRACT, context={}, show=False)
    with pytest.raises(GradingError, match="columns"):
        check(ID, REFERENCE_CONTRACT, context={"payments": generate_table("orders", "tiny", 42)}, show=False)
