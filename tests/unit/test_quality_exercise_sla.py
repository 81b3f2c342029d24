"""The grader of ``quality.sla_contract`` (Lab 4, section 7): fill an accountable contract with SLAs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
import yaml

from platform_kit.errors import GradingError
from platform_kit.grading import check
from platform_kit.quality.history import synthetic_table_history

ID = "quality.sla_contract"

TEMPLATE = """\
# Raw payments as the payment gateway lands them, one load an hour.
name: payments_raw
version: "1.0.0"
owner:
  team: ___
  email: ___
description: ___
stage: raw
primary_key: [payment_id]
columns:
  - {name: payment_id, type: integer, nullable: false, unique: true, min: 1}
  - {name: order_id, type: integer, nullable: false, min: 1}
  - {name: payment_ts, type: timestamp, nullable: false}
  - {name: method, type: string, nullable: false,
     allowed_values: [card, paypal, apple_pay, google_pay, bank_transfer, gift_card]}
  - {name: amount, type: float, nullable: false, min: 0.01, max: 200000}
  - {name: status, type: string, nullable: false, allowed_values: [captured, refunded, failed]}
sla:
  freshness_hours: ___
  completeness: ___
  validity: ___
escalation:
  - {contact: ___, channel: ___, after_hours: 0}
  - {contact: ___, channel: ___, after_hours: ___}
"""

FILLED = {
    "  team: ___": "  team: payments-ingest",
    "  email: ___": "  email: payments-ingest@company.example",
    "description: ___": "description: One row per payment attempt as the gateway lands it, read by finance and ML.",
    "freshness_hours: ___": "freshness_hours: 3",
    "completeness: ___": "completeness: 0.995",
    "validity: ___": "validity: 0.99",
    "  - {contact: ___, channel: ___, after_hours: 0}":
        "  - {contact: payments-ingest@company.example, channel: email, after_hours: 0}",
    "  - {contact: ___, channel: ___, after_hours: ___}":
        '  - {contact: "#payments-oncall", channel: slack, after_hours: 2}',
}


def _answer(**changes: str) -> str:
    text = TEMPLATE
    for blank, value in FILLED.items():
        text = text.replace(blank, changes.get(blank, value))
    return text


@pytest.fixture(scope="module")
def context() -> dict[str, Any]:
    from platform_kit.datasets import generate_table
    from platform_kit.quality.validate import QualityContext

    history = synthetic_table_history("payments", days=28, seed=42, start="2024-11-01")
    return {"template": TEMPLATE, "history": history, "batch": generate_table("payments", "tiny", 42),
            "qc": QualityContext()}


def _check(answer: Any, context: dict[str, Any]) -> Any:
    return check(ID, answer, context=context, show=False)


def test_reference_contract_passes(context: dict[str, Any]) -> None:
    result = _check(_answer(), context)
    assert result.passed, result.message
    assert "owned by payments-ingest" in result.message
    assert "on 3 histories" in result.message
    assert "escalating to #payments-oncall via slack after 2 h" in result.message
    as_function = _check(lambda: _answer(), context)
    assert as_function.passed, as_function.message
    as_mapping = _check(yaml.safe_load(_answer()), context)
    assert as_mapping.passed, as_mapping.message


@pytest.mark.parametrize(("changes", "needle"), [
    ({"  team: ___": "  team: ___"}, "fill in every ___: still blank at owner.team"),
    ({"  email: ___": "  email: payments team"}, "owner.email: 'payments team' is not an e-mail"),
    ({"  - {contact: ___, channel: ___, after_hours: 0}": "",
      "  - {contact: ___, channel: ___, after_hours: ___}": ""}, "escalation: no escalation step"),
    ({"completeness: ___": "completeness: 99.5"}, "sla.completeness: 99.5 is not a share in (0, 1]"),
    ({"validity: ___": "validity: 0.5"}, "sla.validity: 0.5 tolerates more than one bad value in ten"),
    ({"freshness_hours: ___": "freshness_hours: 180"}, "is it in minutes?"),
    ({"freshness_hours: ___": "freshness_hours: 0.5"}, "below the table's load interval"),
    ({"freshness_hours: ___": "freshness_hours: 1.05"}, "freshness_hours: 1.05 h is breached in normal operation"),
    ({"completeness: ___": "completeness: 0.999"}, "sla.completeness: 0.999 is breached in normal operation"),
    ({"validity: ___": "validity: 1.0"}, "sla.validity: 1 is breached by the lab's own payments batch"),
    ({"  - {contact: ___, channel: ___, after_hours: 0}":
      "  - {contact: payments-ingest@company.example, channel: email, after_hours: 1}"}, "must be immediate"),
    ({"  - {contact: ___, channel: ___, after_hours: ___}":
      "  - {contact: payments-ingest@company.example, channel: pager, after_hours: 2}"}, "never leaves"),
    ({"  - {contact: ___, channel: ___, after_hours: ___}":
      "  - {contact: #payments-oncall, channel: slack, after_hours: 2}"}, "not valid YAML at line 25, column 1: expected the node content"),
    ({"  - {contact: ___, channel: ___, after_hours: ___}":
      '  - {contact: "#payments-oncall", channel: carrier pigeon, after_hours: 2}'}, "escalation[1].channel"),
])
def test_wrong_contracts_fail_with_a_reason(context: dict[str, Any], changes: dict[str, str], needle: str) -> None:
    result = _check(_answer(**changes), context)
    assert not result.passed and result.attempted, result.message
    assert needle in result.message, result.message


def test_changed_table_part_and_unmeasurable_completeness(context: dict[str, Any]) -> None:
    loosened = _answer().replace("max: 200000", "max: 1000000")
    assert "keep the template's columns" in _check(loosened, context).message
    # a history that tracks no required column: completeness cannot be judged
    other = synthetic_table_history("payments", days=28, seed=42, start="2024-11-01", columns=("gateway_ref",))
    result = _check(_answer(), {**context, "history": other})
    assert not result.passed and "completeness cannot be measured" in result.message, result.message


@pytest.mark.parametrize(("answer", "needle"), [
    (42, "return the contract as YAML text (a str), got int"),
    ("- just\n- a list\n", "must be a YAML mapping"),
])
def test_bad_answer_types(context: dict[str, Any], answer: Any, needle: str) -> None:
    result = _check(answer, context)
    assert not result.passed and needle in result.message, result.message


def test_stub_is_not_attempted_and_context_is_required(context: dict[str, Any]) -> None:
    def stub() -> str:
        raise NotImplementedError("fill the template")

    result = _check(stub, context)
    assert not result.passed and not result.attempted
    with pytest.raises(GradingError, match="template"):
        check(ID, _answer(), context={"history": context["history"]}, show=False)
    assert isinstance(context["batch"], pd.DataFrame)
