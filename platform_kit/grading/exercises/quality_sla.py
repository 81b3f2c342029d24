"""Exercise of lab ``04_quality``, section 7: an accountable contract with SLAs (``quality.sla_contract``).

The learner fills the blanks (``___``) of the lab's contract template for the raw payments
table: owner, description, SLA targets and escalation chain, and returns the YAML text. The
grader checks, in order: the text parses; no blank is left and the template's table part
(name, stage, key, columns) is unchanged; :func:`~platform_kit.quality.sla.validate_contract_for_sla`
finds nothing missing; the targets are in range and in the right unit; each target can be
judged on the measured data and is met in normal operation, i.e. over the incident-free first
two weeks of the lab's load history and of two hidden histories of the same table
(freshness and completeness), and by a GX validation of the lab's payments batch (validity,
share of valid rows); and the escalation chain tells someone at once and reaches beyond the
owning team.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
BLANK = "___"
#: Seeds of the hidden load histories (same table, other noise).
HIDDEN_SEEDS = (7, 2024)
BASELINE_DAYS = 14
MAX_FRESHNESS_HOURS = 168.0
MIN_SHARE = 0.9
_TABLE_KEYS = ("name", "stage", "primary_key", "columns")


def _parse(answer: Any) -> tuple[dict[str, Any], str]:
    if isinstance(answer, Mapping):
        data = dict(answer)
        return data, yaml.safe_dump(data, sort_keys=False)
    if not isinstance(answer, str):
        fail(f"return the contract as YAML text (a str), got {type(answer).__name__}")
    try:
        data = yaml.safe_load(answer)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        fail(f"the contract is not valid YAML{where}: {problem}; check the indentation (spaces, not tabs) "
             "and quote values that contain ': ' or start with '#' (e.g. contact: \"#payments-oncall\")")
    if not isinstance(data, dict):
        fail("the contract must be a YAML mapping (name:, owner:, sla:, escalation:, ...), "
             f"got {type(data).__name__}: start from the template")
    return data, answer


def _blanks(node: Any, path: str = "") -> list[str]:
    if isinstance(node, Mapping):
        return [b for key, value in node.items() for b in _blanks(value, f"{path}.{key}" if path else str(key))]
    if isinstance(node, list):
        return [b for i, value in enumerate(node) for b in _blanks(value, f"{path}[{i}]")]
    return [path] if isinstance(node, str) and BLANK in node else []


def _baseline(history: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    metrics = getattr(history, "metrics", history)
    start = pd.Timestamp(pd.to_datetime(metrics["load_time"]).min()).normalize()
    return start, start + pd.Timedelta(days=BASELINE_DAYS)


def _check_ranges(sla: Any, cadence: float) -> None:
    fresh = sla.freshness_hours
    if fresh > MAX_FRESHNESS_HOURS:
        fail(f"sla.freshness_hours: {fresh:g} h is more than a week, so a dead feed would go unnoticed for days; "
             f"is it in minutes? The unit is hours ({fresh:g} minutes = {fresh / 60:g} h)")
    if fresh < cadence:
        fail(f"sla.freshness_hours: {fresh:g} h is below the table's load interval (a load every {cadence:.2f} h "
             "in the measured history): the lag passes it between any two on-time loads, so this target cannot "
             "tell a late load from a normal one; the target must be at least the load interval")
    for key in ("completeness", "validity"):
        value = getattr(sla, key)
        if value < MIN_SHARE:
            fail(f"sla.{key}: {value:g} tolerates more than one bad value in ten, too lax to promise anything; "
                 f"use a share of at least {MIN_SHARE:g} (e.g. 0.99)")


def _check_escalation(contract: Any) -> str:
    steps = contract.escalation
    if steps[0].after_hours > 0:
        fail(f"escalation[0].after_hours is {steps[0].after_hours:g}: nobody is told for the first "
             f"{steps[0].after_hours:g} h of a breach; the first step must be immediate (after_hours: 0)")
    owner = contract.owner.email.lower()
    beyond = [s for s in steps if s.contact.lower() != owner and s.after_hours > 0]
    if not beyond:
        fail("the escalation chain never leaves the owning team's inbox: add a later step (after_hours > 0) "
             "to someone else, e.g. an on-call rota via pager or a team channel via slack")
    return f"{beyond[0].contact} via {beyond[0].channel} after {beyond[0].after_hours:g} h"


def _validity(contract: Any, batch: pd.DataFrame, qc: Any) -> float:
    """Share of the batch's rows that pass the contract's GX suite (``validity_basis="rows"``)."""
    from platform_kit.quality._sla_reports import validity_from_reports

    report = qc.validate(batch, contract)
    everything = (pd.Timestamp.min + pd.Timedelta(days=1), pd.Timestamp.max - pd.Timedelta(days=1))
    measured, _ = validity_from_reports([report], contract.name, *everything, "rows")
    return 0.0 if measured is None else float(measured)


@exercise(
    id="quality.sla_contract",
    lab=LAB,
    kind="value",
    title="an accountable contract: owner, measurable SLA targets met in normal operation, escalation",
    hint="copy the template and replace every ___; read the targets off the measured numbers: freshness_hours "
    "just above the worst lag of the clean weeks, completeness and validity a little below the measured shares "
    "(as fractions, not percent); escalate to the owner at once, then to an on-call contact after a few hours",
)
def _grade_sla_contract(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.quality.contract import load_contract
    from platform_kit.quality.history import synthetic_table_history
    from platform_kit.quality.sla import describe_loads, measure_sla, validate_contract_for_sla

    template = context_value(context, "template", str, exercise_id="quality.sla_contract")
    history = context_value(context, "history", object, exercise_id="quality.sla_contract")
    batch = context_value(context, "batch", pd.DataFrame, exercise_id="quality.sla_contract")
    data, text = _parse(answer)
    blanks = _blanks(data)
    if blanks:
        fail(f"fill in every {BLANK}: still blank at {', '.join(blanks[:6])}")
    table_part = yaml.safe_load(template)
    changed = [k for k in _TABLE_KEYS if data.get(k) != table_part.get(k)]
    if changed:
        fail(f"keep the template's {', '.join(changed)} as they are: the exercise fills owner, description, "
             "sla and escalation only")
    problems = validate_contract_for_sla(data)
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        fail("the contract is not accountable yet: " + "; ".join(problems[:3]) + more)
    contract = load_contract(text)
    sla = contract.sla
    lab_window = _baseline(history)
    profile = describe_loads(history, window=lab_window)
    _check_ranges(sla, profile["cadence_hours"])
    page = _check_escalation(contract)
    start = lab_window[0]
    cases = [("the lab's history", history)] + [
        (f"hidden history (seed {s})", synthetic_table_history(getattr(history, "table", "payments"), days=28, seed=s,
                                                              start=start)) for s in HIDDEN_SEEDS]
    worst, lowest = 0.0, 1.0
    for label, case in cases:
        m = measure_sla(case, [], contract, window=_baseline(case))
        if m.completeness is None:
            tracked = sorted(c.removeprefix("null_rate_") for c in getattr(case, "metrics", case).columns
                             if c.startswith("null_rate_"))
            fail(f"sla.completeness cannot be measured: the load history tracks the null rates of {tracked}, and "
                 "your contract marks none of them as required (nullable: false)")
        if m.worst_lag_hours > sla.freshness_hours:
            fail(f"sla.freshness_hours: {sla.freshness_hours:g} h is breached in normal operation: on {label} the "
                 f"lag reached {m.worst_lag_hours:.2f} h in the two incident-free weeks; an SLA breached on a good "
                 "day pages the owner for nothing")
        if m.completeness < sla.completeness:
            fail(f"sla.completeness: {sla.completeness:g} is breached in normal operation: on {label} the "
                 f"required values were {m.completeness:.4%} complete in the two incident-free weeks")
        worst, lowest = max(worst, m.worst_lag_hours), min(lowest, m.completeness)
    qc = context.get("qc")
    if qc is None:
        from platform_kit.quality.validate import QualityContext

        qc = QualityContext()
    valid = _validity(contract, batch, qc)
    if valid < sla.validity:
        fail(f"sla.validity: {sla.validity:g} is breached by the lab's own payments batch: {valid:.2%} of its "
             f"{len(batch):,} rows pass your contract's checks (GX); promise what the table delivers today")
    return (f"{contract.name} is accountable: owned by {contract.owner.team}, freshness <= {sla.freshness_hours:g} h "
            f"(worst clean lag {worst:.2f} h on {len(cases)} histories), completeness >= {sla.completeness:g} "
            f"(lowest measured {lowest:.4f}), validity >= {sla.validity:g} ({valid:.4f} of the lab's rows pass), "
            f"escalating to {page}")
