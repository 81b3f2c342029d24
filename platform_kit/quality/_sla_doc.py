"""Ownership documents and the accountability check behind :mod:`platform_kit.quality.sla`.

Kept apart from the measurements so each module stays small; import from ``sla``.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from platform_kit.errors import ConfigError, InputError
from platform_kit.quality.contract import (
    LOGICAL_TYPES,
    STAGES,
    ColumnSpec,
    DataContract,
    bundled_contracts,
    load_contract,
)

_log = logging.getLogger(__name__)

__all__ = ["CHANNELS", "coerce_contracts", "render_ownership_doc", "validate_contract_for_sla"]

#: Escalation channels a contract may name (the same as ``EscalationStep.channel``).
CHANNELS = ("email", "slack", "pager", "ticket")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_STAGE_ORDER = {stage: i for i, stage in enumerate(STAGES)}


def coerce_contracts(contracts: Any) -> list[DataContract]:
    """A list of contracts from one contract, or an iterable of contracts, names, paths or YAML text.

    Raises:
        InputError: Nothing was given, an item is of another type, or a name appears twice.
    """
    items = [contracts] if isinstance(contracts, DataContract | str | Path) else contracts
    if not isinstance(items, Iterable):
        raise InputError(f"expected contracts, got {type(contracts).__name__}",
                         fix="pass a list of DataContract, e.g. [load_contract('orders_raw')]")
    out = []
    for item in items:
        if isinstance(item, str | Path):
            item = load_contract(item)
        if not isinstance(item, DataContract):
            raise InputError(f"expected a DataContract, got {type(item).__name__}",
                             fix="load one first: load_contract('orders_raw')")
        out.append(item)
    if not out:
        raise InputError("no contracts given", fix="pass at least one contract, e.g. [load_contract('orders_raw')]")
    names = [c.name for c in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"contract(s) {twice} given more than once", fix="pass each contract once")
    return out


# ---------------------------------------------------------------- the ownership document

def render_ownership_doc(contracts: Any, *, title: str = "Data ownership and SLAs") -> str:
    """A Markdown document: one section per contract with owner, SLAs, escalation and columns.

    Each section gives the owner (team and e-mail), stage and description, the SLA targets in
    words, the escalation chain in order, a RACI line (Responsible: the owning team;
    Accountable: the owner's address; Consulted: escalation contacts after the first;
    Informed: owners of the later-stage contracts in the same document, i.e. the consumers)
    and a table of the columns with their types and constraints. Sections follow pipeline
    order (raw, staged, feature), then name.

    Args:
        contracts: Contracts (or bundled names, paths, YAML text); one contract is fine too.
        title: The document's top heading.

    Returns:
        The Markdown text, ending with a newline.

    Raises:
        InputError: No contracts, or an item that is not a contract.
        ConfigError: A name, path or text does not load as a contract.
    """
    items = sorted(coerce_contracts(contracts), key=lambda c: (_STAGE_ORDER[c.stage], c.name))
    lines = [f"# {title}", "",
             f"{len(items)} contract(s). Generated from the YAML data contracts: edit those, not this file.", ""]
    for contract in items:
        lines += _section(contract, items)
    _log.debug("ownership doc for %d contracts", len(items))
    return "\n".join(lines).rstrip() + "\n"


def _section(contract: DataContract, everyone: list[DataContract]) -> list[str]:
    owner = contract.owner
    out = [f"## {contract.name} (v{contract.version})", "",
           f"- **Owner:** {owner.team} <{owner.email}>",
           f"- **Stage:** {contract.stage}",
           f"- **Description:** {contract.description.strip() or '_none given_'}",
           f"- **Primary key:** {', '.join(contract.primary_key) or '_none_'}", "",
           "### Service levels", ""]
    out += [f"- {line}" for line in describe_sla(contract)]
    out += ["", "### Escalation", ""]
    if contract.escalation:
        for i, step in enumerate(contract.escalation, 1):
            when = "immediately" if step.after_hours == 0 else f"after {step.after_hours:g} h"
            out.append(f"{i}. {when}: {step.contact} via {step.channel}")
    else:
        out.append("_No escalation chain: nobody is told when an SLA is missed._")
    consulted = [s.contact for s in contract.escalation[1:]]
    informed = sorted({c.owner.team for c in everyone
                       if _STAGE_ORDER[c.stage] > _STAGE_ORDER[contract.stage] and c.owner.team != owner.team})
    out += ["", f"**RACI:** Responsible: {owner.team} · Accountable: {owner.email} · "
                f"Consulted: {', '.join(consulted) or '—'} · Informed: {', '.join(informed) or '—'}",
            "", "### Columns", "",
            "| column | type | required | constraints | description |",
            "|---|---|---|---|---|"]
    for col in contract.columns:
        rules = _constraints(col, col.name in contract.primary_key)
        out.append(f"| {col.name} | {col.type} | {'yes' if not col.nullable else 'no'} | "
                   f"{_cell(rules)} | {_cell(col.description)} |")
    out.append("")
    return out


def describe_sla(contract: DataContract) -> list[str]:
    """The contract's SLA targets as sentences (a missing target is said to be missing)."""
    sla = contract.sla
    fresh = getattr(sla, "freshness_hours", None)
    complete = getattr(sla, "completeness", None)
    valid = getattr(sla, "validity", None)
    return [
        f"**Freshness:** new data lands at least every {fresh:g} hours (lag never above {fresh:g} h)."
        if fresh is not None else "**Freshness:** no target set.",
        f"**Completeness:** at least {complete:.2%} of required values present "
        "(and of the expected rows, when a volume is expected)."
        if complete is not None else "**Completeness:** no target set.",
        f"**Validity:** at least {valid:.2%} of validation checks (or validated rows) pass."
        if valid is not None else "**Validity:** no target set.",
    ]


def _constraints(col: ColumnSpec, in_key: bool) -> str:
    rules = []
    if in_key:
        rules.append("primary key")
    if col.unique:
        rules.append("unique")
    if col.min is not None:
        rules.append(f"≥ {col.min}")
    if col.max is not None:
        rules.append(f"≤ {col.max}")
    if col.allowed_values is not None:
        rules.append("one of " + ", ".join(map(str, col.allowed_values)))
    if col.regex is not None:
        rules.append(f"matches `{col.regex}`")
    if col.max_length is not None:
        rules.append(f"length ≤ {col.max_length}")
    return "; ".join(rules) or "—"


def _cell(text: str) -> str:
    # a pipe would end the Markdown table cell early
    return text.replace("|", "\\|").replace("\n", " ").strip() or "—"


# ---------------------------------------------------------------- the accountability check

def validate_contract_for_sla(contract: DataContract | Mapping[str, Any] | str | Path) -> list[str]:
    """What a contract still lacks to be accountable; an empty list means it is complete.

    A contract is accountable when it has: a name; an owner team and a well-formed owner
    e-mail; a non-empty description; a known stage; SLA targets ``freshness_hours > 0`` and
    ``completeness``/``validity`` in (0, 1]; at least one escalation step, each with a
    contact, a channel (``email``, ``slack``, ``pager``, ``ticket``; explicit in plain data)
    and ``after_hours >= 0``, steps in non-decreasing ``after_hours``; at least one column,
    every one named and typed; a non-empty primary key of listed, non-nullable columns.
    Plain data or text is checked field by field first, so every gap shows at once, and then
    loaded as a :class:`DataContract` for the remaining rules (min <= max and the like).

    Args:
        contract: A loaded contract, its plain data (as from ``yaml.safe_load``), YAML text,
            a path or a bundled contract's name.

    Returns:
        One line per problem, ``"<key path>: <what is wrong> (fix: <remedy>)"``.

    Raises:
        InputError: The text is not YAML or does not hold a mapping, or another type was given.
    """
    data = _as_data(contract)
    problems = _check_data(data)
    if not problems and not isinstance(contract, DataContract):
        try:
            load_contract(yaml.safe_dump(data, sort_keys=False))
        except ConfigError as exc:
            problems.append(f"contract does not load: {exc.message} (fix: {exc.fix})")
    return problems


def _as_data(contract: Any) -> dict[str, Any]:
    if isinstance(contract, DataContract):
        # model_dump, not to_dict: defaults (channel: email) must stay visible
        return contract.model_dump(mode="json")
    if isinstance(contract, Mapping):
        return dict(contract)
    if isinstance(contract, str | Path):
        text = str(contract)
        bundled = bundled_contracts()
        if isinstance(contract, Path) or text in bundled or ("\n" not in text and Path(text).is_file()):
            path = bundled.get(text, Path(text))
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read contract {path}: {exc.strerror or exc}",
                                 fix="check the path or pass the YAML text") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"the contract is not valid YAML: {exc}",
                             fix="fix the indentation and quote patterns") from None
        if not isinstance(data, dict):
            raise InputError("the contract must be a mapping (name:, owner:, sla:, columns:, ...)",
                             fix="start from platform_kit/quality/contracts/orders_raw.yml")
        return data
    raise InputError(f"cannot check a {type(contract).__name__} as a contract",
                     fix="pass a DataContract, a dict, YAML text or a path")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_data(data: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def report(key: str, what: str, fix: str) -> None:
        problems.append(f"{key}: {what} (fix: {fix})")

    if not str(data.get("name") or "").strip():
        report("name", "missing", "name the table, e.g. name: orders_raw")
    owner = data.get("owner")
    if not isinstance(owner, Mapping):
        report("owner", "missing", "add owner: {team: <team>, email: <team>@company.example}")
    else:
        if not str(owner.get("team") or "").strip():
            report("owner.team", "missing", "name the owning team, e.g. team: commerce-ingest")
        email = owner.get("email")
        if not email:
            report("owner.email", "missing", "add the team's address, e.g. email: team@company.example")
        elif not isinstance(email, str) or not _EMAIL.match(email):
            report("owner.email", f"{email!r} is not an e-mail address", "write it as team@company.example")
    if not isinstance(data.get("description"), str) or not data["description"].strip():
        report("description", "missing or empty", "say in one sentence what one row is and who uses it")
    if data.get("stage") not in STAGES:
        report("stage", f"{data.get('stage')!r} is not a stage", f"use one of {', '.join(STAGES)}")
    _check_sla(data.get("sla"), report)
    _check_escalation(data.get("escalation"), report)
    _check_columns(data.get("columns"), data.get("primary_key"), report)
    return problems


def _check_sla(sla: Any, report: Any) -> None:
    if not isinstance(sla, Mapping):
        report("sla", "missing", "add sla: {freshness_hours: 24, completeness: 0.99, validity: 0.99}")
        return
    fresh = sla.get("freshness_hours")
    if fresh is None:
        report("sla.freshness_hours", "missing", "add the longest acceptable gap between loads, e.g. 24")
    elif not _is_number(fresh) or fresh <= 0:
        report("sla.freshness_hours", f"{fresh!r} is not a positive number of hours", "use e.g. 24")
    for key in ("completeness", "validity"):
        value = sla.get(key)
        if value is None:
            report(f"sla.{key}", "missing", f"add a target share in (0, 1], e.g. {key}: 0.99")
        elif not _is_number(value) or not 0 < value <= 1:
            report(f"sla.{key}", f"{value!r} is not a share in (0, 1]", "write a fraction such as 0.99, not 99")


def _check_escalation(steps: Any, report: Any) -> None:
    if not isinstance(steps, list) or not steps:
        report("escalation", "no escalation step", "add - {contact: team@company.example, channel: email}")
        return
    previous = 0.0
    for i, step in enumerate(steps):
        key = f"escalation[{i}]"
        if not isinstance(step, Mapping):
            report(key, "is not a mapping", "write each step as {contact: ..., channel: ..., after_hours: ...}")
            continue
        if not str(step.get("contact") or "").strip():
            report(f"{key}.contact", "missing", "name who is told: an address, a channel or a rota")
        channel = step.get("channel")
        if channel is None:
            report(f"{key}.channel", "missing", f"say how they are told: one of {', '.join(CHANNELS)}")
        elif channel not in CHANNELS:
            report(f"{key}.channel", f"{channel!r} is not a channel", f"use one of {', '.join(CHANNELS)}")
        after = step.get("after_hours", 0)
        if not _is_number(after) or after < 0:
            report(f"{key}.after_hours", f"{after!r} is not a number of hours >= 0", "use 0 for immediately")
        elif after < previous:
            report(f"{key}.after_hours", f"{after:g} h comes before the previous step's {previous:g} h",
                   "order the steps by after_hours")
        else:
            previous = float(after)


def _check_columns(columns: Any, primary_key: Any, report: Any) -> None:
    if not isinstance(columns, list) or not columns:
        report("columns", "no columns", "list each column with name: and type:")
        columns = []
    nullable = {}
    for i, col in enumerate(columns):
        if not isinstance(col, Mapping) or not str(col.get("name") or "").strip():
            report(f"columns[{i}].name", "missing", "name the column")
            continue
        key = f"columns[{i}] ({col['name']})"
        if col.get("type") is None:
            report(f"{key}.type", "missing", f"give a type: one of {', '.join(LOGICAL_TYPES)}")
        elif col.get("type") not in LOGICAL_TYPES:
            report(f"{key}.type", f"{col.get('type')!r} is not a type", f"use one of {', '.join(LOGICAL_TYPES)}")
        nullable[col["name"]] = col.get("nullable", True)
    if not isinstance(primary_key, list) or not primary_key:
        report("primary_key", "missing", "list the column(s) that identify a row, e.g. primary_key: [order_id]")
        return
    for name in primary_key:
        if name not in nullable:
            report("primary_key", f"{name!r} is not among the columns", "fix the name or add the column")
        elif nullable[name] is not False:
            report("primary_key", f"key column {name!r} may be null", f"set nullable: false on column {name!r}")
