"""Exercise of lab ``04_quality``, section 1: a data contract for a new table (``quality.contract_suite``).

The learner writes the contract of ``payments`` (YAML text, a mapping or a DataContract). The GX
suite generated from it must pass the lab's clean batch and a hidden clean batch of another seed
(whose payments run into January 2025 and reach larger amounts), and catch every hidden corruption
of that batch: a null in each column, out-of-range values, unknown categories, a repeated
``payment_id``, amounts stored as text and a missing column. A wrong answer is told which rule
fails on clean data (too strict) or which corruption slipped through (too loose).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from platform_kit.errors import GradingError, WorkbenchError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
EXERCISE_ID = "quality.contract_suite"
TABLE = "payments"
#: A second clean batch: its payments reach 2025-01-03 and 582,644.62, beyond the lab batch's extremes.
HIDDEN_SEED = 12

#: A contract that passes: the reference answer of the lab (and of the tests).
REFERENCE_CONTRACT = """\
name: payments_raw
version: "1.0.0"
owner:
  team: payments-platform
  email: payments-platform@company.example
description: Payment attempts as landed; a failed attempt is retried, so an order can have several.
stage: raw
column_match: set
row_count:
  min: 1
primary_key: [payment_id]
columns:
  - name: payment_id
    type: integer
    nullable: false
    min: 1
  - name: order_id
    type: integer
    nullable: false
    min: 1
  - name: payment_ts
    type: timestamp
    description: Up to three days after the order (bank transfers), so into early January 2025.
    nullable: false
    min: "2024-01-01T00:00:00"
    max: "2025-01-15T00:00:00"
  - name: method
    type: string
    nullable: false
    allowed_values: [card, paypal, apple_pay, google_pay, bank_transfer, gift_card]
  - name: amount
    type: float
    nullable: false
    min: 0.01
    max: 1000000
  - name: status
    type: string
    nullable: false
    allowed_values: [captured, failed, refunded]
"""

_FIXES = {
    "negative amount": "give amount a `min` above 0",
    "amount booked in cents": "give amount a `max` (the orders contract allows order totals up to 1,000,000)",
    "payment dated 2031": "give payment_ts a `max`: a payment comes at most three days after its 2024 order",
    "payment at the Unix epoch": "give payment_ts a `min`: the trading year starts on 2024-01-01",
    "order_id -1": "give order_id `min: 1` (ids start at 1; -1 is an 'unknown order' sentinel)",
    "unknown method crypto": "list the `allowed_values` of method",
    "unknown status pending": "list the `allowed_values` of status",
    "repeated payment_id": "declare `primary_key: [payment_id]` (or `unique: true` on it)",
    "amount stored as text": "declare amount as `type: float`",
    "column status missing": "list every column of payments in the contract",
}


_WHY_HIDDEN = {
    "payment_ts": "Bounds fitted to one batch's extremes are too tight: a bank transfer comes up to three days "
                  "after its order, so payments of late-December orders land in early January 2025.",
    "amount": "Bounds fitted to one batch's extremes are too tight: the largest order total differs from batch "
              "to batch; bound amount by what is plausible (the orders contract allows up to 1,000,000).",
    "payment_id": "Ids grow with the table: do not bound them by this batch's largest id.",
    "order_id": "Ids grow with the table: do not bound them by this batch's largest id.",
}


def hidden_breaks(clean: pd.DataFrame) -> list[Any]:
    """The corruptions of the hidden batch, each one a Break (null per column, bad values, key, type, column)."""
    from platform_kit.quality.validate import Break

    top = round(float(clean["amount"].max()) * 100, 2)
    return [
        *(Break(f"null {column}", "null", column) for column in clean.columns),
        Break("negative amount", "value", "amount", lambda v: -v),
        Break("amount booked in cents", "value", "amount", top),
        Break("payment dated 2031", "value", "payment_ts", pd.Timestamp("2031-05-01 10:00:00")),
        Break("payment at the Unix epoch", "value", "payment_ts", pd.Timestamp("1970-01-01")),
        Break("order_id -1", "value", "order_id", -1),
        Break("unknown method crypto", "value", "method", "crypto"),
        Break("unknown status pending", "value", "status", "pending"),
        Break("repeated payment_id", "duplicate", "payment_id"),
        Break("amount stored as text", "type", "amount", lambda s: s.map(lambda v: f"{v:.2f}")),
        Break("column status missing", "drop", "status"),
    ]


def _fix(label: str) -> str:
    if label.startswith("null "):
        return f"set `nullable: false` on {label[5:]}: every payment has one"
    return _FIXES.get(label, "tighten the rule of that column")


def as_contract(answer: Any) -> Any:
    """The learner's answer as a DataContract (YAML text, a file path, a mapping or a DataContract)."""
    from platform_kit.quality.contract import DataContract, bundled_contracts, load_contract

    if isinstance(answer, str) and answer.strip() in bundled_contracts():
        fail(f"{answer.strip()!r} is a bundled contract of another table: write a new contract for {TABLE}")
    if isinstance(answer, Mapping):
        try:
            answer = yaml.safe_dump(dict(answer), sort_keys=False, allow_unicode=True)
        except yaml.YAMLError as exc:
            fail(f"your mapping cannot be written as YAML ({exc}); use plain str, int, float, bool, list and dict")
    if isinstance(answer, DataContract):
        return answer
    if not isinstance(answer, str):
        fail(f"return the contract as YAML text, a dict or a DataContract, got {type(answer).__name__}")
    if not answer.strip():
        fail("your contract is empty: write its YAML (name, version, owner, stage, columns)")
    try:
        return load_contract(answer)
    except WorkbenchError as exc:
        fail(f"your contract does not load: {exc.message}" + (f" (fix: {exc.fix})" if exc.fix else ""))


def _failures_text(outcomes: list[Any]) -> str:
    parts = []
    for o in outcomes[:3]:
        where = f"{o.expectation}({o.column})" if o.column else o.expectation
        bad = f"{o.unexpected_count} rows, e.g. {', '.join(map(str, o.sample[:2]))}" if o.unexpected_count else (
            f"observed {o.observed}" if o.observed is not None else o.error or "failed")
        parts.append(f"{where} from rule {o.rule} ({bad})")
    more = f" and {len(outcomes) - 3} more" if len(outcomes) > 3 else ""
    return "; ".join(parts) + more


def _check_columns(contract: Any, clean: pd.DataFrame) -> None:
    from platform_kit.quality.contract import bundled_contracts

    if contract.name in bundled_contracts():
        fail(f"{contract.name!r} is the name of a bundled contract: name your contract after {TABLE} "
             "(e.g. payments_raw)")
    have, want = set(contract.column_names), set(map(str, clean.columns))
    if want - have:
        fail(f"your contract leaves out column(s) {sorted(want - have)} of {TABLE}: list every column with its "
             "type, so that a batch which loses one fails")
    if have - want:
        fail(f"column(s) {sorted(have - want)} are not in {TABLE} (its columns: {', '.join(clean.columns)}): "
             "is this the contract of another table?")


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="value",
    title="a contract for payments whose suite passes clean batches and catches every corruption",
    hint="list all six columns with their types and `nullable: false`; `primary_key: [payment_id]`; min 1 on the "
    "ids; amount between 0.01 and 1,000,000; payment_ts from 2024-01-01 into mid-January 2025; allowed_values "
    "for method and status (read them from the data with .unique())",
)
def _grade_contract_suite(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.datasets import generate_table
    from platform_kit.quality.validate import catch_breaks
    from platform_kit.quality._validate_breaks import suite_outcomes

    lab_batch = context_value(context, TABLE, pd.DataFrame, exercise_id=EXERCISE_ID)
    hidden = generate_table(TABLE, "tiny", HIDDEN_SEED)
    if set(lab_batch.columns) != set(hidden.columns):
        raise GradingError(f"check({EXERCISE_ID!r}) got context[{TABLE!r}] with columns {list(lab_batch.columns)}",
                           fix=f"pass the lab's clean table: context={{{TABLE!r}: company[{TABLE!r}]}}")
    contract = as_contract(answer)
    _check_columns(contract, lab_batch)
    failed = [o for o in suite_outcomes(contract, lab_batch) if not o.success]
    if failed:
        fail(f"your suite fails the lab's CLEAN {TABLE} ({len(lab_batch):,} rows), so it is too strict: "
             f"{_failures_text(failed)}. Loosen or fix that rule: a contract states what valid data looks like")
    breaks = hidden_breaks(hidden)
    report = catch_breaks(contract, hidden, breaks, seed=HIDDEN_SEED)
    if not report.clean_passed:
        columns = {o.column for o in report.clean_failures}
        why = [text for column, text in _WHY_HIDDEN.items() if column in columns]
        fail(f"your suite passes the lab's {TABLE} but fails another CLEAN batch of the same generator (seed "
             f"{HIDDEN_SEED}, {len(hidden):,} rows): {_failures_text(list(report.clean_failures))}. "
             + (" ".join(why) or "A rule fitted to one batch does not hold for the next one."))
    if report.missed:
        listed = "; ".join(f"{r.label} ({_fix(r.label)})" for r in report.missed[:4])
        more = f"; and {len(report.missed) - 4} more" if len(report.missed) > 4 else ""
        fail(f"{len(report.missed)} of {len(breaks)} corruptions slipped through your suite (it passed the "
             f"corrupted batch): {listed}{more}")
    kinds = sorted({name.split("(")[0] for r in report.results for name in r.caught_by})
    return (f"your {contract.name} contract passes the lab's {len(lab_batch):,} payments and a hidden clean batch, "
            f"and its suite catches all {len(breaks)} hidden corruptions with {len(kinds)} kinds of expectation")
