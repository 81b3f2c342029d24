"""Corrupted batches on purpose: break a clean table in known ways and see which ones a suite catches.

A :class:`Break` is one corruption: a null, a bad value or a duplicated key (row-level: one or two
rows of a copy), a changed type or a dropped column (column-level). :func:`corrupt` applies breaks
to a clean frame. :func:`catch_breaks` validates a contract's suite on the clean frame, on ONE
batch holding every row-level break at its own rows (GX reports the index of each bad row, so a
break is caught when an expectation flags one of its rows) and on one batch per column-level
break, and says which break was caught by which expectation::

    breaks = [Break("null customer", "null", "customer_id"),
              Break("negative amount", "value", "total_amount", lambda v: -v),
              Break("status dropped", "drop", "status")]
    bad = corrupt(raw, breaks[:2])                   # Corrupted: .frame, .rows (index labels per break)
    report = catch_breaks(load_contract("orders_raw"), raw, breaks)
    report.frame()                                   # break, kind, column, caught, caught_by
    report.missed                                    # the breaks no expectation flagged

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.quality._gx import contract_expectations, import_gx, make_context, outcome_fields
from platform_kit.quality.contract import DataContract

_log = logging.getLogger(__name__)

__all__ = ["BREAK_KINDS", "Break", "BreakResult", "CatchReport", "Corrupted", "catch_breaks", "corrupt",
           "suite_outcomes"]

BreakKind = Literal["null", "value", "duplicate", "type", "drop"]
BREAK_KINDS: tuple[str, ...] = ("null", "value", "duplicate", "type", "drop")
_ROW_KINDS = ("null", "value", "duplicate")
_NULLABLE = {"i": "Int64", "u": "UInt64", "b": "boolean"}  # numpy kinds that cannot hold a null


@dataclass(frozen=True)
class Break:
    """One corruption of a clean batch.

    Attributes:
        label: Unique name shown in reports (``"null customer_id"``).
        kind: ``null`` (one row set to null), ``value`` (one row set to ``value``), ``duplicate``
            (one row takes another row's value of ``column``), ``type`` (the column replaced by
            ``value(column)``) or ``drop`` (the column removed).
        column: The column broken.
        value: For ``value``: the bad value, or a function of the row's old value; for
            ``type``: a function from the column (a Series) to its new version.
    """

    label: str
    kind: BreakKind
    column: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.kind not in BREAK_KINDS:
            raise InputError(f"unknown break kind {self.kind!r} ({self.label})", fix=f"use one of {BREAK_KINDS}")
        if not self.label or not self.column:
            raise InputError("a break needs a label and a column", fix="e.g. Break('null id', 'null', 'id')")
        if self.kind == "value" and self.value is None:
            raise InputError(f"break {self.label!r} sets no value", fix="pass value= (or use kind='null')")
        if self.kind == "type" and not callable(self.value):
            raise InputError(f"break {self.label!r} needs value=<function Series -> Series>",
                             fix="e.g. value=lambda s: s.map(str)")

    @property
    def row_level(self) -> bool:
        """Whether the break touches rows (null, value, duplicate) rather than a whole column."""
        return self.kind in _ROW_KINDS


@dataclass(frozen=True)
class Corrupted:
    """A corrupted copy of a batch and the index labels each row-level break touched."""

    frame: pd.DataFrame
    rows: dict[str, tuple[Any, ...]]


def _check_breaks(df: Any, breaks: Iterable[Break]) -> list[Break]:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}", fix="convert first (toPandas())")
    out = list(breaks)
    if not all(isinstance(b, Break) for b in out):
        raise InputError("breaks must be Break objects", fix="build them with Break(label, kind, column, value)")
    labels = [b.label for b in out]
    if len(set(labels)) != len(labels):
        raise InputError(f"break labels repeat: {sorted({x for x in labels if labels.count(x) > 1})}",
                         fix="give each break its own label")
    missing = sorted({b.column for b in out} - set(df.columns))
    if missing:
        raise InputError(f"breaks name column(s) {missing} that the frame lacks",
                         fix=f"use columns of the frame: {', '.join(map(str, df.columns))}")
    return out


def _set(out: pd.DataFrame, label: Any, column: str, value: Any, brk: Break) -> None:
    before = out[column].dtype
    try:
        with warnings.catch_warnings():
            # pandas warns (and will raise) before upcasting a column to hold a value of another type
            warnings.simplefilter("error", FutureWarning)
            out.loc[label, column] = value
    except (FutureWarning, TypeError, ValueError):
        changed = True
    else:
        changed = out[column].dtype != before
    if changed:
        raise InputError(f"break {brk.label!r}: value {value!r} changes the dtype of {column} ({before})",
                         fix="use kind='type' for a type change, or a value of the column's dtype")


def corrupt(df: pd.DataFrame, breaks: Iterable[Break], *, seed: int = 0) -> Corrupted:
    """A copy of ``df`` with every break applied; row-level breaks hit distinct, seeded rows.

    A null in an integer or boolean column first makes the column nullable (``Int64``,
    ``boolean``), so the null is the only change. Column-level breaks are applied last.

    Raises:
        InputError: Not a DataFrame, an unknown column, repeated labels, a value that does not
            fit the column's dtype, or fewer rows than the breaks need.
    """
    chosen = _check_breaks(df, breaks)
    row_breaks = [b for b in chosen if b.row_level]
    needed = sum(2 if b.kind == "duplicate" else 1 for b in row_breaks)
    if needed > len(df):
        raise InputError(f"{len(row_breaks)} row-level breaks need {needed} rows, the frame has {len(df)}",
                         fix="use a larger batch or fewer breaks")
    out = df.copy()
    picks = iter(out.index[np.random.default_rng(seed).choice(len(out), size=needed, replace=False)])
    rows: dict[str, tuple[Any, ...]] = {}
    for brk in row_breaks:
        col, at = brk.column, next(picks)
        if brk.kind == "null":
            nullable = _NULLABLE.get(out[col].dtype.kind) if isinstance(out[col].dtype, np.dtype) else None
            if nullable:
                out[col] = out[col].astype(nullable)
            out.loc[at, col] = None
            rows[brk.label] = (at,)
        elif brk.kind == "value":
            _set(out, at, col, brk.value(out.at[at, col]) if callable(brk.value) else brk.value, brk)
            rows[brk.label] = (at,)
        else:
            source = next(picks)
            _set(out, at, col, out.at[source, col], brk)
            rows[brk.label] = (at, source)
    for brk in chosen:
        if brk.kind == "type":
            out[brk.column] = brk.value(out[brk.column])
        elif brk.kind == "drop":
            out = out.drop(columns=brk.column)
    return Corrupted(out, rows)


@functools.lru_cache(maxsize=1)
def _batch_definition() -> Any:
    # one quiet in-memory context for quick checks: no checkpoint, no stored results, no Data Docs
    context = make_context(None)
    source = context.data_sources.add_pandas(name="platform_kit_breaks")
    return source.add_dataframe_asset(name="batch").add_batch_definition_whole_dataframe("whole")


def _suite(contract: DataContract) -> Any:
    if not isinstance(contract, DataContract):
        raise InputError(f"expected a DataContract, got {type(contract).__name__}",
                         fix="load one first: load_contract('orders_raw')")
    return import_gx().ExpectationSuite(name=f"{contract.name}-breaks",
                                        expectations=contract_expectations(contract, "pandas"))


def _run(suite: Any, df: pd.DataFrame, *, indices: bool = False) -> list[tuple[dict[str, Any], set[Any] | None]]:
    """``(outcome fields, flagged index labels or None)`` per expectation of ``suite`` on ``df``."""
    fmt = {"result_format": "COMPLETE" if indices else "SUMMARY", "partial_unexpected_count": 5}
    try:
        result = _batch_definition().get_batch(batch_parameters={"dataframe": df}).validate(suite, result_format=fmt)
    except Exception as exc:  # GX raises many unrelated types; none may leak
        raise InputError(f"GX could not validate the batch: {type(exc).__name__}: {exc}",
                         fix="pass a materialised pandas DataFrame") from exc
    out = []
    for r in result.results:
        flagged = None
        listed = (r.result or {}).get("unexpected_index_list")
        if indices and listed is not None:
            flagged = {item.get("index") if isinstance(item, dict) else item for item in listed}
        out.append((outcome_fields(r), flagged))
    return out


def suite_outcomes(contract: DataContract, df: pd.DataFrame) -> list[Any]:
    """The contract's expectations on ``df`` as ExpectationOutcome objects (a quick, unrecorded check).

    Raises:
        InputError: Not a DataContract or not a pandas DataFrame.
    """
    from platform_kit.quality.validate import ExpectationOutcome

    if not isinstance(df, pd.DataFrame):
        raise InputError(f"expected a pandas DataFrame, got {type(df).__name__}", fix="convert first (toPandas())")
    return [ExpectationOutcome(**fields) for fields, _ in _run(_suite(contract), df)]


def _name(fields: dict[str, Any]) -> str:
    return f"{fields['expectation']}({fields['column']})" if fields["column"] else fields["expectation"]


@dataclass(frozen=True)
class BreakResult:
    """Whether one break was caught, and by which expectations (``expectation(column)``)."""

    label: str
    kind: str
    column: str
    caught: bool
    caught_by: tuple[str, ...] = ()
    rows: tuple[Any, ...] = ()


@dataclass(frozen=True)
class CatchReport:
    """Which breaks a contract's suite catches; judged only when the clean batch passes."""

    contract: str
    clean_passed: bool
    clean_failures: tuple[Any, ...]
    results: tuple[BreakResult, ...] = field(repr=False)
    seconds: float = 0.0

    @property
    def missed(self) -> list[BreakResult]:
        """The breaks no expectation flagged."""
        return [r for r in self.results if not r.caught]

    @property
    def caught(self) -> list[BreakResult]:
        """The breaks at least one expectation flagged."""
        return [r for r in self.results if r.caught]

    def frame(self) -> pd.DataFrame:
        """One row per break: label, kind, column, caught, caught_by (joined)."""
        rows = [{"break": r.label, "kind": r.kind, "column": r.column, "caught": r.caught,
                 "caught_by": ", ".join(r.caught_by)} for r in self.results]
        return pd.DataFrame(rows, columns=["break", "kind", "column", "caught", "caught_by"])

    def summary(self) -> str:
        """One line: contract, clean verdict, breaks caught, the missed ones."""
        if not self.clean_passed:
            failed = ", ".join(f"{o.expectation}({o.column})" if o.column else o.expectation
                               for o in self.clean_failures[:4])
            return f"{self.contract}: the CLEAN batch fails ({failed}); catches are not meaningful"
        line = f"{self.contract}: clean batch passes, {len(self.caught)}/{len(self.results)} breaks caught"
        return line + (f"; missed: {', '.join(r.label for r in self.missed)}" if self.missed else "")


def catch_breaks(contract: DataContract, clean: pd.DataFrame, breaks: Iterable[Break], *,
                 seed: int = 0) -> CatchReport:
    """Validate the contract's suite on ``clean`` and on its corrupted copies; report each break.

    Row-level breaks share one batch (each at its own rows, attributed by the row indices GX
    reports); each column-level break gets a batch of its own, where only expectations that pass
    on the clean batch count. The checks run in a private in-memory GX context (nothing is
    recorded): ``2 + column-level breaks`` validations in all.

    Raises:
        InputError: Bad contract, frame or breaks (see :func:`corrupt`).
    """
    from platform_kit.quality.validate import ExpectationOutcome

    started = time.perf_counter()
    chosen = _check_breaks(clean, breaks)
    suite = _suite(contract)
    clean = clean.reset_index(drop=True)
    baseline = _run(suite, clean)
    clean_bad = {(f["expectation"], f["column"]) for f, _ in baseline if not f["success"]}
    results: dict[str, BreakResult] = {}
    row_breaks = [b for b in chosen if b.row_level]
    if row_breaks:
        bad = corrupt(clean, row_breaks, seed=seed)
        outcomes = _run(suite, bad.frame, indices=True)
        for brk in row_breaks:
            touched = set(bad.rows[brk.label])
            by = tuple(_name(f) for f, flagged in outcomes if not f["success"] and (
                touched & flagged if flagged is not None
                else f["column"] == brk.column and (f["expectation"], f["column"]) not in clean_bad))
            results[brk.label] = BreakResult(brk.label, brk.kind, brk.column, bool(by), by, bad.rows[brk.label])
    for brk in chosen:
        if brk.row_level:
            continue
        outcomes = _run(suite, corrupt(clean, [brk], seed=seed).frame)
        by = tuple(_name(f) for f, _ in outcomes
                   if not f["success"] and (f["expectation"], f["column"]) not in clean_bad)
        results[brk.label] = BreakResult(brk.label, brk.kind, brk.column, bool(by), by)
    report = CatchReport(contract.name, not clean_bad,
                         tuple(ExpectationOutcome(**f) for f, _ in baseline if not f["success"]),
                         tuple(results[b.label] for b in chosen), round(time.perf_counter() - started, 4))
    _log.info("%s", report.summary())
    return report
