"""Freshness, volume and null-rate alerts over a table's load-metrics history.

A YAML rule set (:func:`load_rules`) names, per table, a ``freshness`` rule (newest load
older than N hours), a ``volume`` rule (rows against a seasonal, hour-of-week baseline,
scored as a robust z-score or a ratio) and ``null_rate`` rules (absolute ceiling and/or a
spike against the trailing median). :func:`evaluate_rules` turns a history into raw
*firings* (every check where a rule's condition holds) and deduplicated *alerts* (the
notifications an on-call engineer receives)::

    hist = synthetic_table_history("orders", seed=42)
    log = evaluate_rules(hist, default_rules())
    log.frame()                                  # one row per notification
    match_incidents(log, hist.incidents).recall  # share of real incidents caught

Deduplication: the firings of a rule form *episodes* (a gap shorter than
``resolve_hours`` does not end one). An episode notifies once (``new``) after it has
lasted ``for_hours``, again (``repeat``) every ``cooldown_hours`` while it lasts, and at
once (``escalated``) when its severity rises: a firing whose score (value over threshold)
reaches ``escalate_factor`` is one severity level up. A six-hour freshness gap is one
alert, not six.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality._alerts_rules import (
    DEFAULT_RULES_YAML,
    SEVERITIES,
    FreshnessRule,
    NullRateRule,
    Rule,
    RuleSet,
    VolumeRule,
    default_rules,
    load_rules,
)
from platform_kit.quality.history import TableHistory

_log = logging.getLogger(__name__)

__all__ = ["DEFAULT_RULES_YAML", "SEVERITIES", "AlertLog", "FreshnessRule", "IncidentMatch", "NullRateRule", "Rule",
           "RuleSet", "VolumeRule", "default_rules", "evaluate_rules", "load_rules", "match_incidents",
           "plot_timeline"]

AnyRule = FreshnessRule | VolumeRule | NullRateRule
_STEP = pd.Timedelta(hours=1)
_FIRING_COLUMNS = ["time", "rule", "table", "column", "kind", "value", "score", "severity"]
_ALERT_COLUMNS = ["notified_at", "rule", "table", "column", "kind", "severity", "event", "episode",
                  "episode_start", "episode_end", "value", "peak_score", "firings"]
SEVERITY_COLORS = {"info": "tab:blue", "warning": "tab:orange", "critical": "tab:red"}


@dataclass(frozen=True)
class AlertLog:
    """The result of :func:`evaluate_rules`.

    Attributes:
        firings: Every check where a rule held: ``time``, ``rule``, ``table``, ``column``,
            ``kind``, ``value`` (lag hours, rows/baseline or z, null rate), ``score`` (value
            over threshold, >= 1) and ``severity``.
        alerts: The notifications after deduplication: ``notified_at``, ``rule``, ``table``,
            ``column``, ``kind``, ``severity``, ``event`` (new/repeat/escalated), ``episode``,
            ``episode_start``, ``episode_end``, ``value``, ``peak_score``, ``firings``.
        weeks: Length of the evaluated history in weeks (for alerts per week).
        rules: The rules that were evaluated.
    """

    firings: pd.DataFrame
    alerts: pd.DataFrame
    weeks: float
    rules: tuple[AnyRule, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.alerts)

    @property
    def alerts_per_week(self) -> float:
        """Notifications per week over the whole history."""
        return len(self.alerts) / self.weeks if self.weeks else float("nan")

    def frame(self) -> pd.DataFrame:
        """The deduplicated alerts (a copy), one row per notification."""
        return self.alerts.copy()

    def summary(self) -> pd.DataFrame:
        """Per rule: firings, episodes, alerts (by event and severity) and alerts per week."""
        rows = []
        for rule in self.rules:
            fired = self.firings[self.firings["rule"] == rule.name]
            sent = self.alerts[self.alerts["rule"] == rule.name]
            row: dict[str, Any] = {"rule": rule.name, "kind": rule.kind, "table": rule.table,
                                   "firings": len(fired), "episodes": int(sent["episode"].nunique()),
                                   "alerts": len(sent)}
            row.update({f"{e}": int((sent["event"] == e).sum()) for e in ("new", "repeat", "escalated")})
            row.update({s: int((sent["severity"] == s).sum()) for s in SEVERITIES})
            row["alerts_per_week"] = len(sent) / self.weeks if self.weeks else float("nan")
            rows.append(row)
        return pd.DataFrame(rows)


def evaluate_rules(history: TableHistory | pd.DataFrame, rules: RuleSet | Iterable[AnyRule] | str) -> AlertLog:
    """Evaluate ``rules`` hour by hour over ``history`` and deduplicate the firings into alerts.

    Args:
        history: A :class:`~platform_kit.quality.history.TableHistory` or its ``metrics``
            frame (``table``, ``load_time``, ``rows``, ``null_rate_<column>``).
        rules: A :class:`RuleSet`, rule models, or YAML text/path for :func:`load_rules`.

    Returns:
        The firings and alerts.

    Raises:
        InputError: The metrics lack a column, or a rule names a table or column that is not
            in them.
        ConfigError: ``rules`` is YAML that does not load.
    """
    metrics = history.metrics if isinstance(history, TableHistory) else history
    rule_list = _as_rules(rules)
    _check_metrics(metrics, rule_list)
    firing_parts, alert_parts = [], []
    for rule in rule_list:
        table = metrics[metrics["table"] == rule.table].sort_values("load_time")
        fired = _fire(rule, table)
        firing_parts.append(fired)
        alert_parts.append(_deduplicate(rule, fired))
    span = metrics["load_time"].max() - metrics["load_time"].min()
    firings = _concat(firing_parts, _FIRING_COLUMNS, ("time",))
    alerts = _concat(alert_parts, _ALERT_COLUMNS, ("notified_at", "episode_start", "episode_end"))
    log = AlertLog(firings, alerts, span / pd.Timedelta(weeks=1), tuple(rule_list))
    _log.debug("%d rules: %d firings, %d alerts (%.1f/week)", len(rule_list), len(firings), len(alerts),
               log.alerts_per_week)
    return log


def _concat(parts: list[pd.DataFrame], columns: list[str], times: tuple[str, ...]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:  # typed, so that .dt works on an empty result
        return pd.DataFrame(columns=columns).astype({t: "datetime64[ns]" for t in times})
    return pd.concat(parts, ignore_index=True).sort_values(times[0], ignore_index=True, kind="stable")


def _as_rules(rules: RuleSet | Iterable[AnyRule] | str) -> list[AnyRule]:
    if isinstance(rules, str):
        return list(load_rules(rules).rules)
    if isinstance(rules, RuleSet):
        return list(rules.rules)
    out = list(rules)
    if not out:
        raise InputError("no rules to evaluate", fix="pass default_rules() or load_rules(path_or_text)")
    if not all(isinstance(r, FreshnessRule | VolumeRule | NullRateRule) for r in out):
        raise InputError("rules must be a RuleSet, rule models or YAML text",
                         fix="load them with load_rules(path_or_text)")
    return out


def _check_metrics(metrics: pd.DataFrame, rules: list[AnyRule]) -> None:
    missing = {"table", "load_time", "rows"} - set(metrics.columns)
    if missing:
        raise InputError(f"the metrics history lacks {sorted(missing)}",
                         fix="pass synthetic_table_history(...) or a frame with table, load_time, rows, null_rate_<col>")
    tables = set(metrics["table"].unique())
    for rule in rules:
        if rule.table not in tables:
            raise InputError(f"rule {rule.name!r} watches table {rule.table!r}, not in the history ({sorted(tables)})",
                             fix="fix the rule's `table:` or add that table's metrics")
        if isinstance(rule, NullRateRule) and f"null_rate_{rule.column}" not in metrics.columns:
            tracked = [c.removeprefix("null_rate_") for c in metrics.columns if c.startswith("null_rate_")]
            raise InputError(f"rule {rule.name!r} watches column {rule.column!r}, whose null rate is not tracked",
                             fix=f"use one of {tracked}")


def _fire(rule: AnyRule, table: pd.DataFrame) -> pd.DataFrame:
    """Value and score per check for one rule; keep the checks with score >= 1."""
    if isinstance(rule, FreshnessRule):
        loads = table["load_time"].reset_index(drop=True)
        checks = pd.date_range(loads.min().ceil("h"), loads.max().ceil("h"), freq="h")
        last = loads.searchsorted(checks, side="right") - 1  # newest load at or before each check
        value = pd.Series((checks - loads.to_numpy()[last]) / pd.Timedelta(hours=1), index=checks)
        score = value / rule.max_lag_hours
    else:
        slots = table["load_time"].dt.floor("h")
        grid = pd.date_range(slots.min(), slots.max(), freq="h")
        if isinstance(rule, VolumeRule):
            value, score = _volume_scores(rule, table.set_index(slots)["rows"].astype(float).reindex(grid))
        else:
            value, score = _null_scores(rule, table.set_index(slots)[f"null_rate_{rule.column}"].reindex(grid))
    keep = (score >= 1.0).to_numpy()
    level = SEVERITIES.index(rule.severity) + (score[keep] >= (rule.escalate_factor or np.inf)).to_numpy()
    return pd.DataFrame({"time": value.index[keep], "rule": rule.name, "table": rule.table,
                         "column": getattr(rule, "column", None), "kind": rule.kind,
                         "value": value.to_numpy()[keep], "score": score.to_numpy()[keep],
                         "severity": [SEVERITIES[min(lv, 2)] for lv in level]}, columns=_FIRING_COLUMNS)


def _volume_scores(rule: VolumeRule, rows: pd.Series) -> tuple[pd.Series, pd.Series]:
    window = rule.weeks * 168
    if rule.baseline == "seasonal":
        past = np.column_stack([rows.shift(168 * k).to_numpy() for k in range(1, rule.weeks + 1)])
        enough = (~np.isnan(past)).sum(axis=1) >= 2  # under two past weeks: no baseline yet
        with np.errstate(all="ignore"):
            base = pd.Series(np.where(enough, np.nanmedian(np.where(enough[:, None], past, 0.0), axis=1), np.nan),
                             index=rows.index)
    else:
        base = rows.shift(1).rolling(window, min_periods=168).median()
    ratio = rows / base
    if rule.method == "ratio":
        low = rule.min_ratio / ratio if rule.min_ratio else 0.0 * ratio
        high = ratio / rule.max_ratio if rule.max_ratio else 0.0 * ratio
        return ratio, np.maximum(low, high).fillna(0.0)
    log_ratio = np.log(ratio)
    # one day of ratios is enough for a first scale: with a week (168) the rule stayed blind for the
    # third week of a history, although its seasonal baseline exists from day 14
    scale = 1.4826 * log_ratio.abs().shift(1).rolling(window, min_periods=24).median()
    z = log_ratio / scale.clip(lower=0.02)  # floor: a perfectly regular history would divide by ~0
    return z, (z.abs() / rule.max_z).fillna(0.0)


def _null_scores(rule: NullRateRule, rate: pd.Series) -> tuple[pd.Series, pd.Series]:
    score = pd.Series(0.0, index=rate.index)
    if rule.max_rate is not None:
        score = np.maximum(score, rate / rule.max_rate)
    if rule.spike_factor is not None:
        base = rate.shift(1).rolling(rule.baseline_hours, min_periods=rule.baseline_hours // 4).median()
        spike = rate / (rule.spike_factor * base.clip(lower=1e-4))
        spike = spike.where(rate - base >= rule.min_delta, np.minimum(spike, 0.999))
        score = np.maximum(score, spike)
    return rate, score.fillna(0.0)


def _deduplicate(rule: AnyRule, fired: pd.DataFrame) -> pd.DataFrame:
    """Episodes of consecutive firings -> notifications (new, repeat, escalated)."""
    rows: list[dict[str, Any]] = []
    if fired.empty:
        return pd.DataFrame(columns=_ALERT_COLUMNS)
    times = fired["time"]
    episode_ids = (times.diff() >= pd.Timedelta(hours=rule.resolve_hours) + _STEP).cumsum().to_numpy()
    hold, cooldown = pd.Timedelta(hours=rule.for_hours), pd.Timedelta(hours=rule.cooldown_hours)
    for episode, part in fired.groupby(episode_ids, sort=True):
        start, end = part["time"].iloc[0], part["time"].iloc[-1] + _STEP
        last_at, last_level, peak = None, -1, 0.0
        for row in part.itertuples(index=False):
            peak = max(peak, row.score)
            level = SEVERITIES.index(row.severity)
            if row.time - start < hold:
                continue  # `for`: the condition has not held long enough yet
            if last_at is None:
                event = "new"
            elif level > last_level:
                event = "escalated"
            elif row.time - last_at >= cooldown:
                event = "repeat"
            else:
                continue
            last_at, last_level = row.time, max(level, last_level)
            rows.append({"notified_at": row.time, "rule": rule.name, "table": rule.table, "column": row.column,
                         "kind": rule.kind, "severity": SEVERITIES[last_level], "event": event,
                         "episode": f"{rule.name}#{episode}", "episode_start": start, "episode_end": end,
                         "value": row.value, "peak_score": peak, "firings": len(part)})
    return pd.DataFrame(rows, columns=_ALERT_COLUMNS)


@dataclass(frozen=True)
class IncidentMatch:
    """Alerts scored against labelled incidents (see :func:`match_incidents`).

    Attributes:
        incidents: The real incidents scored, with ``caught``, ``first_alert`` and ``delay``.
        caught: Incidents with at least one alert in their window.
        missed: Incidents with none.
        true_alerts: Alerts inside a real incident's window (tolerance included), with
            ``cause``: that incident's kind.
        false_alerts: The others, with ``cause``: the benign event they fell in
            (``holiday``, ``minor_delay``, ``null_blip``) or ``none`` (plain noise).
        precision: ``len(true_alerts) / alerts`` (NaN without alerts).
        recall: ``len(caught) / incidents`` (NaN without incidents).
    """

    incidents: pd.DataFrame
    caught: pd.DataFrame
    missed: pd.DataFrame
    true_alerts: pd.DataFrame
    false_alerts: pd.DataFrame
    precision: float
    recall: float


def match_incidents(alerts: AlertLog | pd.DataFrame, incidents: TableHistory | pd.DataFrame,
                    tolerance: str | pd.Timedelta = "2h", kinds: Iterable[str] | None = None) -> IncidentMatch:
    """Which real incidents the alerts caught, and which alerts were noise.

    An alert is *true* when it was sent (``notified_at``) within ``[start - tolerance,
    end + tolerance]`` of a real (non-benign) incident of its table, whatever the incident's
    kind: a volume alert on a late load's catch-up is not noise. An incident is *caught*
    when at least one alert falls in its window.

    Args:
        alerts: An :class:`AlertLog` or its ``frame()``.
        incidents: A history or its ``incidents`` frame (``table``, ``kind``, ``start``,
            ``end``, ``benign``).
        tolerance: Slack on both sides of an incident window.
        kinds: Score recall on these incident kinds only (e.g. the kinds one rule targets);
            all real incidents still make alerts true.

    Raises:
        InputError: A frame lacks a needed column or ``tolerance`` is negative.
    """
    frame = alerts.alerts if isinstance(alerts, AlertLog) else alerts
    labels = incidents.incidents if isinstance(incidents, TableHistory) else incidents
    for name, need, have in (("alerts", {"notified_at", "table"}, frame), ("incidents",
                             {"table", "kind", "start", "end", "benign"}, labels)):
        if need - set(have.columns):
            raise InputError(f"{name} lacks {sorted(need - set(have.columns))}",
                             fix="pass evaluate_rules(...) and synthetic_table_history(...).incidents")
    tol = pd.Timedelta(tolerance)
    if tol < pd.Timedelta(0):
        raise InputError(f"tolerance {tolerance!r} is negative", fix="use a tolerance such as '2h'")
    real = labels[~labels["benign"].astype(bool)].reset_index(drop=True)
    sent = frame["notified_at"].to_numpy()[:, None]
    inside = ((sent >= (real["start"] - tol).to_numpy()[None, :]) & (sent <= (real["end"] + tol).to_numpy()[None, :])
              & (frame["table"].to_numpy()[:, None] == real["table"].to_numpy()[None, :]))
    scored = real.copy()
    scored["caught"] = inside.any(axis=0)
    firsts = [frame["notified_at"].to_numpy()[inside[:, j]].min() if inside[:, j].any() else pd.NaT
              for j in range(len(real))]
    scored["first_alert"] = pd.to_datetime(pd.Series(firsts, dtype="datetime64[ns]"))
    scored["delay"] = scored["first_alert"] - scored["start"]
    if kinds is not None:
        scored = scored[scored["kind"].isin(list(kinds))].reset_index(drop=True)
    true_mask = inside.any(axis=1)
    precision = float(true_mask.mean()) if len(frame) else float("nan")
    recall = float(scored["caught"].mean()) if len(scored) else float("nan")
    labelled = frame.assign(cause=_causes(frame, labels, tol))
    return IncidentMatch(scored, scored[scored["caught"]].reset_index(drop=True),
                         scored[~scored["caught"]].reset_index(drop=True), labelled[true_mask].reset_index(drop=True),
                         labelled[~true_mask].reset_index(drop=True), precision, recall)


def _causes(frame: pd.DataFrame, labels: pd.DataFrame, tol: pd.Timedelta) -> np.ndarray:
    """Per alert: the kind of the incident (real first, then benign) whose window holds it, else ``none``."""
    cause = np.full(len(frame), "none", dtype=object)
    ordered = labels.sort_values("benign", kind="stable", ascending=False)  # real ones written last, so they win
    sent, table = frame["notified_at"].to_numpy(), frame["table"].to_numpy()
    for inc in ordered.itertuples(index=False):
        cause[(sent >= (inc.start - tol).to_datetime64()) & (sent <= (inc.end + tol).to_datetime64())
              & (table == inc.table)] = inc.kind
    return cause


def plot_timeline(history: TableHistory | pd.DataFrame, alerts: AlertLog | pd.DataFrame,
                  incidents: pd.DataFrame | None = None, ax: Any = None, table: str | None = None) -> Any:
    """Rows per load over time, alerts as severity-coloured markers, incidents as shaded spans.

    Args:
        history: A history or its metrics frame.
        alerts: An :class:`AlertLog` or its ``frame()``.
        incidents: Incidents to shade (real in red, benign in grey); defaults to the
            history's own when ``history`` is a :class:`TableHistory`.
        ax: Matplotlib axes to draw on (a new figure when None).
        table: Which table to draw (default: the first in the metrics).

    Returns:
        The axes.
    """
    plt = require("matplotlib.pyplot")
    metrics = history.metrics if isinstance(history, TableHistory) else history
    if incidents is None and isinstance(history, TableHistory):
        incidents = history.incidents
    frame = alerts.alerts if isinstance(alerts, AlertLog) else alerts
    table = table or str(metrics["table"].iloc[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 4))
    rows = metrics[metrics["table"] == table]
    ax.plot(rows["load_time"], rows["rows"], lw=0.6, color="0.3", label="rows per load")
    if incidents is not None:
        for inc in incidents[incidents["table"] == table].itertuples(index=False):
            ax.axvspan(inc.start, inc.end, color="0.7" if inc.benign else "tab:red", alpha=0.25, lw=0)
    top = float(rows["rows"].max()) * 1.05
    for severity, color in SEVERITY_COLORS.items():
        sel = frame[(frame["table"] == table) & (frame["severity"] == severity)]
        if len(sel):
            ax.scatter(sel["notified_at"], np.full(len(sel), top), marker="v", color=color, s=30,
                       label=f"{severity} alert ({len(sel)})", zorder=3)
    ax.set_title(f"{table}: loads, alerts (triangles) and incidents (red: real, grey: benign)")
    ax.set_ylabel("rows")
    ax.legend(loc="upper left", fontsize="small")
    return ax
