"""Validation reports, timestamps and derived load metrics for :func:`platform_kit.quality.sla.measure_sla`.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.quality.validate import ValidationReport

__all__ = ["downstream_metrics", "naive_utc", "validity_from_reports"]


def naive_utc(values: Any) -> Any:
    """Timestamps (a Series or one value) as naive UTC, so aware report times and naive load times compare."""
    if isinstance(values, pd.Series):
        return values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values
    ts = pd.Timestamp(values)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def validity_from_reports(reports: Any, name: str, start: pd.Timestamp, end: pd.Timestamp,
                          basis: str) -> tuple[float | None, int]:
    """Validity share of the reports for contract ``name`` run in [start, end], and how many counted."""
    good = total = 0.0
    used = 0
    for i, report in enumerate(reports):
        fields = _report_fields(report, i)
        if fields["contract"] not in (None, name):
            continue
        if fields["run_at"] is not None:
            try:
                run_at = naive_utc(fields["run_at"])
            except (ValueError, TypeError):
                raise InputError(f"validation_reports[{i}].run_at={fields['run_at']!r} is not a time",
                                 fix="use ISO text such as '2024-10-01T12:00:00+00:00'") from None
            if not start <= run_at <= end:
                continue
        used += 1
        if basis == "expectations":
            good += fields["evaluated"] - fields["failed"]
            total += fields["evaluated"]
        else:
            good += fields["rows"] - _bad_rows(fields, i)
            total += fields["rows"]
    return (float(good / total) if total else None), used


def _report_fields(report: Any, i: int) -> dict[str, Any]:
    if isinstance(report, ValidationReport):
        fields = {"contract": report.contract, "run_at": report.run_at, "evaluated": report.evaluated,
                  "failed": report.failed, "rows": report.rows, "outcomes": report.outcomes, "bad_rows": None}
    elif isinstance(report, Mapping):
        missing = [k for k in ("evaluated", "failed", "rows") if k not in report]
        if missing:
            raise InputError(f"validation_reports[{i}] lacks {missing}",
                             fix="give evaluated, failed and rows (counts), or pass ValidationReport objects")
        fields = {"contract": report.get("contract"), "run_at": report.get("run_at"),
                  "evaluated": report["evaluated"], "failed": report["failed"], "rows": report["rows"],
                  "outcomes": report.get("outcomes"), "bad_rows": report.get("bad_rows")}
    else:
        raise InputError(f"validation_reports[{i}] is a {type(report).__name__}",
                         fix="pass ValidationReport objects or dicts of {evaluated, failed, rows}")
    ev, failed, rows = fields["evaluated"], fields["failed"], fields["rows"]
    counts_ok = all(isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 0 for v in (ev, failed, rows))
    if not counts_ok or failed > ev:
        raise InputError(f"validation_reports[{i}] has impossible counts: evaluated={ev!r}, failed={failed!r}, "
                         f"rows={rows!r}", fix="use whole numbers >= 0 with failed <= evaluated")
    return fields


def _bad_rows(fields: Mapping[str, Any], i: int) -> int:
    rows = fields["rows"]
    if fields["bad_rows"] is not None:
        bad = fields["bad_rows"]
        if not isinstance(bad, int | np.integer) or not 0 <= bad <= rows:
            raise InputError(f"validation_reports[{i}].bad_rows={bad!r} is not in 0..rows ({rows})",
                             fix="count each invalid row once")
        return int(bad)
    if fields["failed"] == 0:
        return 0
    failures = [o for o in (fields["outcomes"] or ()) if not _get(o, "success")]
    if not failures:
        raise InputError(f"validation_reports[{i}] has failures but no outcomes or bad_rows to count rows from",
                         fix="add bad_rows to the report, or use validity_basis='expectations'")
    counts = [_get(o, "unexpected_count") for o in failures]
    if any(c is None for c in counts):
        return int(rows)  # a table-level rule failed (row count, column set): the batch as a whole is invalid
    return int(min(rows, sum(counts)))


def _get(outcome: Any, key: str) -> Any:
    return outcome.get(key) if isinstance(outcome, Mapping) else getattr(outcome, key)


def downstream_metrics(upstream: Any, *, table: str, every: str | pd.Timedelta = "1h",
                       delay: str | pd.Timedelta = "20min", drop_null_rows: bool = False) -> pd.DataFrame:
    """Load metrics of a table that a scheduled job builds from ``upstream``'s loads.

    The job runs at midnight of the first upstream load's day plus ``delay``, then every
    ``every``. A run loads only when upstream loaded since the previous run (so an upstream
    gap makes this table stale too) and carries those loads' rows. With ``drop_null_rows``
    the job drops rows with a null in a tracked key column, about rows x (sum of the null
    rates), and its own null rates are 0; otherwise it passes the nulls through.

    Args:
        upstream: A :class:`~platform_kit.quality.history.TableHistory` or its metrics frame
            (``load_time``, ``rows``, ``null_rate_<column>``).
        table: Name of the derived table (its ``table`` column).
        every: Run interval (``"1h"``, ``"1D"``).
        delay: Offset of the runs from midnight (``"20min"``, ``"3h"``).
        drop_null_rows: Drop rows with null keys instead of passing them on.

    Returns:
        ``table``, ``load_time``, ``rows``, ``expected_rows`` (rows received from upstream)
        and the ``null_rate_<column>`` columns, one row per run that loaded.

    Raises:
        InputError: No upstream loads, no ``rows`` column, or a non-positive or unreadable interval.
    """
    frame = getattr(upstream, "metrics", upstream)
    if not isinstance(frame, pd.DataFrame) or not {"load_time", "rows"} <= set(frame.columns) or frame.empty:
        raise InputError("upstream must be a TableHistory or a metrics frame with load_time and rows, and loads",
                         fix="pass synthetic_table_history(...) or its .metrics")
    try:
        step, offset = pd.Timedelta(every), pd.Timedelta(delay)
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read every={every!r} / delay={delay!r}: {exc}",
                         fix="use durations such as '1h', '1D', '20min'") from None
    if step <= pd.Timedelta(0) or offset < pd.Timedelta(0):
        raise InputError(f"every={every!r} must be positive and delay={delay!r} not negative",
                         fix="e.g. every='1D', delay='3h' for a daily 03:00 job")
    loads = frame.assign(load_time=naive_utc(pd.to_datetime(frame["load_time"]))).sort_values("load_time")
    nulls = [c for c in loads.columns if c.startswith("null_rate_")]
    runs = pd.date_range(loads["load_time"].iloc[0].normalize() + offset, loads["load_time"].iloc[-1] + step, freq=step)
    rows = loads["rows"].to_numpy(float)
    null_rows = {c: rows * loads[c].to_numpy(float) for c in nulls}
    picked = pd.DataFrame({"run": runs[np.searchsorted(runs.to_numpy(), loads["load_time"].to_numpy())],
                           "rows": rows, **null_rows})
    grouped = picked.groupby("run", sort=True).sum()
    received = grouped["rows"].to_numpy()
    out = pd.DataFrame({"table": table, "load_time": grouped.index, "expected_rows": received.astype(np.int64)})
    if drop_null_rows:
        dropped = np.minimum(received, sum((grouped[c].to_numpy() for c in nulls), np.zeros(len(grouped))))
        out["rows"] = np.round(received - dropped).astype(np.int64)
        for c in nulls:
            out[c] = 0.0
    else:
        out["rows"] = received.astype(np.int64)
        for c in nulls:
            out[c] = grouped[c].to_numpy() / np.where(received > 0, received, 1)
    return out[["table", "load_time", "rows", "expected_rows", *nulls]].reset_index(drop=True)
