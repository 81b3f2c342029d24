"""Exercise of lab ``02_ingestion``, section 4: the batch interval that meets a latency SLA at the least CPU."""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "02_ingestion"
_ID = "ingestion.sla_interval"
_CPU = "cpu_us_per_record"


def _table(rows: list[tuple[str, float, float, float]], index: list[Any] | None = None) -> pd.DataFrame:
    """Rows of (trigger, param, p99_ms, cpu_us_per_record) as a summary-like table."""
    frame = pd.DataFrame(rows, columns=["trigger", "param", "p99_ms", _CPU], index=index)
    frame.insert(0, "mode", [f"{t} {p:g}" for t, p, _, _ in rows])
    frame["p50_ms"] = frame["p99_ms"] / 2
    return frame


def _cases() -> list[tuple[str, pd.DataFrame, float]]:
    return [
        ("three intervals where CPU falls as the interval grows",
         _table([("interval", 50, 120, 40), ("interval", 200, 300, 30), ("interval", 1000, 1100, 20)]), 350.0),
        ("noisy CPU: a shorter interval is cheaper than the longest one that meets the SLA",
         _table([("interval", 500, 600, 18), ("interval", 200, 240, 31), ("interval", 100, 130, 28),
                 ("interval", 50, 80, 35)]), 300.0),
        ("a table that also holds per-record, size and Spark rows (cheaper, and within the SLA)",
         _table([("record", 1, 90, 200), ("size", 100, 100, 10), ("spark", 500, 200, 5),
                 ("interval", 50, 110, 45), ("interval", 200, 260, 33)], index=list("abcde")), 280.0),
        ("a p99 exactly equal to the SLA (equal meets it)",
         _table([("interval", 50, 60, 40), ("interval", 200, 250, 30)]), 250.0),
        ("two intervals with the same CPU (either is right)",
         _table([("interval", 100, 150, 25), ("interval", 250, 280, 25), ("interval", 50, 90, 30)]), 300.0),
    ]


def _best_cpu(table: pd.DataFrame, sla: float) -> float | None:
    rows = table[(table["trigger"] == "interval") & (table["p99_ms"] <= sla)]
    return None if rows.empty else float(rows[_CPU].min())


def _judge(choice: Any, table: pd.DataFrame, sla: float, label: str) -> str:
    if isinstance(choice, bool) or not isinstance(choice, numbers.Real) or not math.isfinite(float(choice)):
        fail(f"return the chosen interval in ms as a number (e.g. 200.0), got {choice!r} on {label}")
    value = float(choice)
    matches = table[(table["param"] - value).abs() < 1e-9]
    if matches.empty:
        fail(f"{value:g} is not one of the measured settings on {label}: pick a `param` of an interval row")
    intervals = matches[matches["trigger"] == "interval"]
    if intervals.empty:
        kinds = ", ".join(sorted(set(matches["trigger"])))
        fail(f"{value:g} on {label} is the param of a {kinds} row: the question is which *interval* trigger "
             "(rows with trigger == 'interval') to run")
    row = intervals.iloc[0]
    if float(row["p99_ms"]) > sla:
        fail(f"interval {value:g} ms breaks the SLA on {label}: its p99 is {float(row['p99_ms']):g} ms > "
             f"{sla:g} ms (meeting the SLA comes first, then CPU)")
    best = _best_cpu(table, sla)
    if best is not None and float(row[_CPU]) > best + 1e-9:
        fail(f"interval {value:g} ms meets the SLA on {label} but costs {float(row[_CPU]):g} µs of CPU per record; "
             f"another interval within the SLA costs {best:g} µs: compare the {_CPU} column, not the interval length")
    return f"{value:g} ms"


@exercise(
    id=_ID,
    lab=LAB,
    kind="function",
    title="the batch interval that meets a p99 SLA at the least CPU per record",
    hint="keep rows with trigger == 'interval' and p99_ms <= sla_p99_ms (equal meets it); among them take the "
    "smallest cpu_us_per_record and return its param as a float; raise ValueError when no row is left",
)
def _grade_sla_interval(answer: Any, context: dict[str, Any]) -> str:
    for label, table, sla in _cases():
        pristine = table.copy()
        choice = answer(table, sla)
        if not table.equals(pristine):
            fail(f"your function changed the table it was given (on {label}); filter a copy")
        _judge(choice, table, sla, label)
    impossible = _cases()[0][1]
    try:
        outcome = answer(impossible, 100.0)
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001 - any other error is the learner's, reported as such
        fail(f"when no interval meets the SLA, raise ValueError; got {type(exc).__name__}: {exc}")
    else:
        fail(f"no interval meets p99 <= 100 ms on the first hand-made table, yet you returned {outcome!r}: "
             "raise ValueError rather than recommend a setting that breaks the SLA")
    if context and "table" in context:
        measured = context_value(context, "table", pd.DataFrame, exercise_id=_ID)
        sla = float(context_value(context, "sla_p99_ms", float, exercise_id=_ID))
        picked = _judge(answer(measured.copy(), sla), measured, sla, "this notebook's measurements")
        return f"right on 5 hand-made tables and on your measurements: {picked} meets p99 <= {sla:g} ms at the least CPU"
    return "right on 5 hand-made tables, and refuses an impossible SLA"
