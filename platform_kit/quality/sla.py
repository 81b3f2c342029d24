"""Quality SLAs and ownership: who answers for a table, what it promises, and whether it kept it.

A contract's ``owner``, ``sla`` (freshness, completeness and validity targets) and
``escalation`` blocks become an ownership document, and measured load metrics plus
validation reports become an SLA compliance table with the error budget left and whom to
page::

    contracts = [load_contract(n) for n in bundled_contracts()]
    Path("OWNERS.md").write_text(render_ownership_doc(contracts))

    hist = synthetic_table_history("orders", days=30)
    m = measure_sla(hist, reports, load_contract("orders_raw"), window="14D")
    staged = downstream_metrics(hist, table="orders_staged", drop_null_rows=True)  # a job fed by it
    table = sla_compliance([load_contract("orders_raw")], [m])   # one row per contract and metric
    plot_compliance(table)

    validate_contract_for_sla(yaml_text)   # [] when owner, SLAs, escalation and key are all there

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality._sla_doc import CHANNELS, coerce_contracts, render_ownership_doc, validate_contract_for_sla
from platform_kit.quality._sla_reports import downstream_metrics, naive_utc, validity_from_reports
from platform_kit.quality.contract import DataContract
from platform_kit.quality.history import TableHistory
from platform_kit.quality.validate import ValidationReport

_log = logging.getLogger(__name__)

__all__ = ["CHANNELS", "COMPLIANCE_COLUMNS", "SlaMeasurement", "describe_loads", "downstream_metrics", "measure_sla",
           "plot_compliance", "render_ownership_doc", "sla_compliance", "validate_contract_for_sla"]

COMPLIANCE_COLUMNS = ["contract", "metric", "target", "measured", "unit", "met", "status", "error_budget_left",
                      "owner", "page", "detail"]
Window = tuple[Any, Any] | str | pd.Timedelta


@dataclass(frozen=True)
class SlaMeasurement:
    """What one contract's table achieved over a window (see :func:`measure_sla` for definitions).

    ``None`` means not measured: no target to measure against, or no input to measure from.
    """

    contract: str
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    loads: int
    freshness: float | None
    worst_lag_hours: float
    stale_hours: float | None
    completeness: float | None
    value_completeness: float | None
    row_completeness: float | None
    validity: float | None
    validity_basis: str
    reports: int

    def to_dict(self) -> dict[str, Any]:
        """Plain data (timestamps as ISO text)."""
        out = asdict(self)
        out["window_start"], out["window_end"] = self.window_start.isoformat(), self.window_end.isoformat()
        return out


def measure_sla(history_metrics: TableHistory | pd.DataFrame,
                validation_reports: Sequence[ValidationReport | Mapping[str, Any]] | None,
                contract: DataContract, *, window: Window, expected_rows: int | None = None,
                validity_basis: Literal["expectations", "rows"] = "expectations") -> SlaMeasurement:
    """Measure freshness, completeness and validity of one table over a window.

    Definitions (``W = [start, end]`` the window, ``F`` the contract's ``freshness_hours``):

    - **lag** at time t: t minus the latest ``load_time`` at or before t. Before the first
      load the lag counts from the last load before ``start``, or from ``start`` itself when
      there is none. **worst_lag_hours** is the largest lag reached in W (including the gap
      from the last load to ``end``); **stale_hours** is the time in W with lag > F, and
      **freshness** = 1 - stale_hours / |W|, the share of the window the table was fresh.
    - **value_completeness**: over loads in W and the contract's non-nullable columns that
      the metrics track as ``null_rate_<column>``, non-null values / values
      = 1 - sum(rows * null_rate) / (columns * sum(rows)). None when no such column is tracked.
    - **row_completeness**: min(1, rows loaded in W / ``expected_rows``); without it, when the
      metrics have an ``expected_rows`` column (rows a job received, see
      :func:`downstream_metrics`), sum(rows) / sum(expected_rows) over the loads in W; else None.
    - **completeness** = the smaller of the two that were measured (None when neither was).
    - **validity** from the reports run in W (by ``run_at``; undated reports count; reports
      naming another contract are skipped). Basis ``"expectations"``: passed expectations /
      evaluated expectations, summed over reports. Basis ``"rows"``: 1 - bad rows / rows,
      where a report's bad rows are the sum of its failed expectations' unexpected counts
      (capped at its rows, so a row breaking two rules counts twice: a lower bound on
      validity), or all its rows when a table-level expectation failed; plain-dict reports
      give ``bad_rows`` instead. None when no report is in W.

    Args:
        history_metrics: A :class:`TableHistory` or its metrics frame (``load_time``; ``rows``
            and ``null_rate_<column>`` when present) for one table.
        validation_reports: :class:`ValidationReport` objects or mappings with ``evaluated``,
            ``failed``, ``rows`` (and optionally ``contract``, ``run_at``, ``bad_rows``).
        contract: The contract whose targets apply.
        window: ``(start, end)`` timestamps, or a duration (``"14D"``, a Timedelta) ending at
            the last load; timezone-aware times are compared in UTC.
        expected_rows: Rows the window should hold in total (for row completeness); overrides
            an ``expected_rows`` column of the metrics.
        validity_basis: ``"expectations"`` or ``"rows"`` (see above).

    Returns:
        The measurement.

    Raises:
        InputError: Not a contract, metrics without ``load_time`` or with several tables, an
            empty or reversed window, a bad report, or an unknown ``validity_basis``.
    """
    if not isinstance(contract, DataContract):
        raise InputError(f"expected a DataContract, got {type(contract).__name__}",
                         fix="load one first: load_contract('orders_raw')")
    if validity_basis not in ("expectations", "rows"):
        raise InputError(f"unknown validity_basis {validity_basis!r}", fix="use 'expectations' or 'rows'")
    metrics = _metrics_frame(history_metrics)
    start, end = _window(window, metrics)
    in_window = metrics[(metrics["load_time"] >= start) & (metrics["load_time"] <= end)]
    fresh_hours = contract.sla.freshness_hours if contract.sla else None
    worst, stale = _lag(metrics["load_time"], start, end, fresh_hours)
    span = (end - start) / pd.Timedelta(hours=1)
    value_c = _value_completeness(in_window, contract)
    row_c = None
    if expected_rows is not None:
        if not isinstance(expected_rows, int | np.integer) or expected_rows <= 0:
            raise InputError(f"expected_rows={expected_rows!r} must be a positive integer",
                             fix="pass the rows the window should hold, or None to skip row completeness")
        if "rows" not in metrics:
            raise InputError("expected_rows needs a `rows` column in the metrics", fix="pass expected_rows=None")
        row_c = min(1.0, float(in_window["rows"].sum()) / expected_rows)
    elif {"expected_rows", "rows"} <= set(metrics.columns) and in_window["expected_rows"].sum() > 0:
        row_c = min(1.0, float(in_window["rows"].sum()) / float(in_window["expected_rows"].sum()))
    parts = [v for v in (value_c, row_c) if v is not None]
    validity, used = validity_from_reports(validation_reports or (), contract.name, start, end, validity_basis)
    measurement = SlaMeasurement(
        contract=contract.name, window_start=start, window_end=end, loads=len(in_window),
        freshness=None if stale is None else 1.0 - stale / span, worst_lag_hours=worst, stale_hours=stale,
        completeness=min(parts) if parts else None, value_completeness=value_c, row_completeness=row_c,
        validity=validity, validity_basis=validity_basis, reports=used)
    _log.debug("SLA measurement %s", measurement)
    return measurement


def describe_loads(history_metrics: TableHistory | pd.DataFrame, *, window: Window) -> dict[str, float]:
    """What a table's loads achieved over a window, before any target: the numbers to set SLA targets from.

    Args:
        history_metrics: A :class:`TableHistory` or its metrics frame (one table).
        window: As for :func:`measure_sla`.

    Returns:
        ``loads``; ``cadence_hours``, the median gap between consecutive loads in the window
        (a freshness target below it is breached between any two on-time loads);
        ``worst_lag_hours`` as :func:`measure_sla` defines it; ``rows`` loaded; and, for each
        tracked column, ``null_rate_<column>`` weighted by rows (NaN without loads).

    Raises:
        InputError: As :func:`measure_sla` for the metrics and the window.
    """
    metrics = _metrics_frame(history_metrics)
    start, end = _window(window, metrics)
    inside = metrics[(metrics["load_time"] >= start) & (metrics["load_time"] <= end)]
    gaps = inside["load_time"].diff().dropna() / pd.Timedelta(hours=1)
    rows = inside["rows"].to_numpy(float) if "rows" in inside else np.ones(len(inside))
    out = {"loads": float(len(inside)), "cadence_hours": float(gaps.median()) if len(gaps) else math.nan,
           "worst_lag_hours": _lag(metrics["load_time"], start, end, None)[0], "rows": float(rows.sum())}
    for column in (c for c in metrics.columns if c.startswith("null_rate_")):
        values = inside[column].to_numpy(float)
        out[column] = float((rows * values).sum() / rows.sum()) if rows.sum() > 0 else math.nan
    return out


def _metrics_frame(history: Any) -> pd.DataFrame:
    frame = history.metrics if isinstance(history, TableHistory) else history
    if not isinstance(frame, pd.DataFrame) or "load_time" not in frame:
        raise InputError("the history must be a TableHistory or a DataFrame with a load_time column",
                         fix="pass synthetic_table_history(...) or its .metrics")
    if "table" in frame and frame["table"].nunique() > 1:
        raise InputError(f"the metrics hold several tables: {sorted(frame['table'].unique())}",
                         fix="filter to one table: metrics[metrics['table'] == 'orders']")
    out = frame.copy()
    out["load_time"] = naive_utc(pd.to_datetime(out["load_time"]))
    return out.sort_values("load_time", ignore_index=True)


def _window(window: Any, metrics: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    is_pair = isinstance(window, tuple) and len(window) == 2
    if not is_pair and metrics.empty:
        raise InputError("a duration window needs at least one load to end at",
                         fix="pass window=(start, end) explicitly")
    try:
        if is_pair:
            start, end = naive_utc(window[0]), naive_utc(window[1])
        else:
            span = pd.Timedelta(window)
            end = metrics["load_time"].iloc[-1]
            start = end - span
    except (ValueError, TypeError) as exc:
        raise InputError(f"cannot read window={window!r}: {exc}",
                         fix="pass (start, end) timestamps or a duration such as '14D'") from None
    if pd.isna(start) or pd.isna(end) or not start < end:
        raise InputError(f"the window {start} to {end} is empty or reversed", fix="make start earlier than end")
    return start, end


def _lag(load_times: pd.Series, start: pd.Timestamp, end: pd.Timestamp,
         fresh_hours: float | None) -> tuple[float, float | None]:
    """Worst lag in hours and hours with lag above ``fresh_hours`` (None without a target)."""
    times = load_times.to_numpy(dtype="datetime64[ns]")
    before = times[times <= np.datetime64(start)]
    inside = times[(times > np.datetime64(start)) & (times <= np.datetime64(end))]
    anchors = np.concatenate([[before[-1] if len(before) else np.datetime64(start)], inside])
    nexts = np.concatenate([inside, [np.datetime64(end)]])
    hour = np.timedelta64(1, "h")
    worst = float(((nexts - anchors) / hour).max())
    if fresh_hours is None:
        return worst, None
    # in each segment the lag grows from (segment start - anchor) to (next - anchor)
    seg_start = np.maximum(anchors, np.datetime64(start))
    stale_from = np.maximum(anchors + np.timedelta64(int(fresh_hours * 3.6e12), "ns"), seg_start)
    stale = np.clip((nexts - stale_from) / hour, 0, None).sum()
    return worst, float(stale)


def _value_completeness(frame: pd.DataFrame, contract: DataContract) -> float | None:
    required = [f"null_rate_{c.name}" for c in contract.columns if not c.nullable]
    tracked = [c for c in required if c in frame]
    if not tracked or frame.empty:
        return None
    rows = frame["rows"].to_numpy(float) if "rows" in frame else np.ones(len(frame))
    if rows.sum() <= 0:
        return None
    nulls = sum(float((rows * frame[c].to_numpy(float)).sum()) for c in tracked)
    return float(1.0 - nulls / (len(tracked) * rows.sum()))


# ---------------------------------------------------------------- compliance table

def sla_compliance(contracts: Any, measurements: Sequence[SlaMeasurement] | Mapping[str, SlaMeasurement]
                   ) -> pd.DataFrame:
    """One row per contract and SLA metric: target, measured value, whether it was met, whom to page.

    Rows, per contract: ``freshness`` (target ``freshness_hours``, measured the worst lag in
    hours, met when worst lag <= target), ``completeness`` and ``validity`` (target and
    measured as shares, met when measured >= target). ``error_budget_left`` is the share of
    the allowed shortfall still unspent: ``1 - (1 - measured) / (1 - target)`` for shares
    (1 untouched, 0 used up, negative overspent; a target of 1 has no budget, so 0 when met
    and -inf when not) and ``1 - worst_lag / freshness_hours`` for freshness. ``status`` is
    ``met``, ``breached``, ``no target`` (the contract sets none) or ``not measured``; ``met``
    is True/False, or None for the last two. ``page`` is the first escalation step
    (``contact (channel)``), or the owner's e-mail without a chain.

    Args:
        contracts: The contracts (or names/paths) to report on.
        measurements: Their :func:`measure_sla` results, a list or a mapping by contract name.

    Returns:
        A frame with :data:`COMPLIANCE_COLUMNS`.

    Raises:
        InputError: A contract has no measurement, a measurement has no contract, or an item
            has the wrong type.
    """
    items = coerce_contracts(contracts)
    found = _by_name(measurements)
    names = {c.name for c in items}
    missing = [c.name for c in items if c.name not in found]
    extra = sorted(set(found) - names)
    if missing or extra:
        raise InputError(f"measurements do not match the contracts: missing {missing}, unknown {extra}",
                         fix="pass one measure_sla(...) result per contract")
    rows = []
    for contract in items:
        m = found[contract.name]
        sla = contract.sla
        page = _page(contract)
        base = {"contract": contract.name, "owner": contract.owner.email, "page": page}
        fresh_target = sla.freshness_hours if sla else None
        detail = ("" if m.freshness is None else
                  f"fresh {m.freshness:.1%} of {m.window_start:%Y-%m-%d %H:%M} to {m.window_end:%Y-%m-%d %H:%M}, "
                  f"{m.loads} loads")
        rows.append({**base, **_row("freshness", fresh_target, m.worst_lag_hours, "hours", lower_is_better=True),
                     "detail": detail})
        completeness_detail = ", ".join(f"{k} {v:.2%}" for k, v in (("values", m.value_completeness),
                                                                    ("rows", m.row_completeness)) if v is not None)
        rows.append({**base, **_row("completeness", sla.completeness if sla else None, m.completeness, "share"),
                     "detail": completeness_detail})
        rows.append({**base, **_row("validity", sla.validity if sla else None, m.validity, "share"),
                     "detail": f"{m.reports} report(s), by {m.validity_basis}" if m.reports else "no reports"})
    table = pd.DataFrame(rows, columns=COMPLIANCE_COLUMNS)
    table["met"] = table["met"].astype(object)
    breached = table[table["status"] == "breached"]
    if len(breached):
        _log.info("SLA breached: %s", ", ".join(f"{r.contract}.{r.metric}" for r in breached.itertuples()))
    return table


def _by_name(measurements: Any) -> dict[str, SlaMeasurement]:
    items = list(measurements.values()) if isinstance(measurements, Mapping) else list(measurements)
    out: dict[str, SlaMeasurement] = {}
    for item in items:
        if not isinstance(item, SlaMeasurement):
            raise InputError(f"expected an SlaMeasurement, got {type(item).__name__}",
                             fix="pass the results of measure_sla(...)")
        if item.contract in out:
            raise InputError(f"two measurements for contract {item.contract!r}", fix="pass one per contract")
        out[item.contract] = item
    return out


def _row(metric: str, target: float | None, measured: float | None, unit: str,
         lower_is_better: bool = False) -> dict[str, Any]:
    row = {"metric": metric, "target": target, "measured": measured, "unit": unit}
    if target is None:
        return {**row, "met": None, "status": "no target", "error_budget_left": math.nan}
    if measured is None:
        return {**row, "met": None, "status": "not measured", "error_budget_left": math.nan}
    if lower_is_better:
        met, left = measured <= target, 1.0 - measured / target
    else:
        met = measured >= target
        left = (1.0 - (1.0 - measured) / (1.0 - target) if target < 1
                else (0.0 if measured >= 1 else -math.inf))
    return {**row, "met": bool(met), "status": "met" if met else "breached", "error_budget_left": left}


def _page(contract: DataContract) -> str:
    if not contract.escalation:
        return contract.owner.email
    first = min(contract.escalation, key=lambda s: s.after_hours)
    return f"{first.contact} ({first.channel})"


def plot_compliance(table: pd.DataFrame, ax: Any = None) -> Any:
    """Error budget left per contract and metric as horizontal bars (green met, red breached).

    Bars are clipped to [-1, 1]; rows without a target or a measurement are grey at 0 and
    labelled so. Each bar is annotated with measured vs target, right of zero.

    Args:
        table: The frame of :func:`sla_compliance`.
        ax: Matplotlib axes (a new figure when None).

    Returns:
        The axes.

    Raises:
        InputError: ``table`` lacks the compliance columns.
    """
    missing = [c for c in ("contract", "metric", "status", "error_budget_left", "measured", "target")
               if c not in getattr(table, "columns", ())]
    if missing:
        raise InputError(f"not a compliance table: missing columns {missing}", fix="pass sla_compliance(...)")
    plt = require("matplotlib.pyplot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.4 * len(table) + 1.2))
    colors = {"met": "tab:green", "breached": "tab:red"}
    labels = [f"{r.contract} · {r.metric}" for r in table.itertuples()]
    values = np.clip(pd.to_numeric(table["error_budget_left"], errors="coerce").fillna(0).to_numpy(float), -1, 1)
    y = np.arange(len(table))[::-1]
    ax.barh(y, values, color=[colors.get(s, "0.7") for s in table["status"]])
    for yi, v, r in zip(y, values, table.itertuples(), strict=True):
        text = (r.status if r.status in ("no target", "not measured")
                else f"{r.measured:.4g} vs {r.target:.4g}")
        # right of a green bar; right of zero over a red one, so it never runs into the labels
        ax.text(max(v, 0.0) + 0.02, yi, text, va="center", ha="left", fontsize="small")
    ax.set_yticks(y, labels)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set_xlim(-1.3, 1.3)
    ax.set_xlabel("error budget left (1 untouched, 0 spent, < 0 breached; clipped at -1)")
    ax.set_title("SLA compliance")
    return ax
