"""False positives vs alert fatigue: sweep a rule's threshold and choose an operating point.

On a labelled history (:func:`~platform_kit.quality.history.synthetic_table_history`),
:func:`sweep_thresholds` re-evaluates one rule for each value of one parameter and scores
it with :func:`~platform_kit.quality.alerts.match_incidents`: precision, recall and the
pages it would send per week. :func:`choose_operating_point` then picks, for an on-call
budget of alerts per week, the value with the best recall that stays within it (ties: the
fewer alerts, then the better precision)::

    sweep = sweep_thresholds(hist, hist.incidents, rules["orders_volume"], "max_z", [3, 4, 5, 6, 8])
    choose_operating_point(sweep, max_alerts_per_week=1.0)     # a row of the sweep
    operating_points(sweep, [0.25, 0.5, 1, 2])                 # one row per budget, NaN where none meets it
    plot_sweep(sweep, budget=1.0)

Picking the value with the highest recall and ignoring the budget is the classic mistake:
it is the noisiest setting, and a pager that goes off every few hours gets muted.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality._alerts_rules import FreshnessRule, NullRateRule, VolumeRule
from platform_kit.quality.alerts import evaluate_rules, match_incidents
from platform_kit.quality.history import TableHistory

_log = logging.getLogger(__name__)

__all__ = ["RULE_TARGETS", "choose_operating_point", "operating_points", "plot_sweep", "sweep_thresholds"]

#: rule kind -> the incident kinds its recall is scored on
RULE_TARGETS: dict[str, tuple[str, ...]] = {
    "freshness": ("late_load",),
    "volume": ("volume_drop", "volume_spike"),
    "null_rate": ("null_spike",),
}
_SWEEP_COLUMNS = ["threshold", "firings", "alerts", "alerts_per_week", "true_alerts", "false_alerts", "caught", "incidents",
                  "precision", "recall"]

AnyRule = FreshnessRule | VolumeRule | NullRateRule


def sweep_thresholds(history: TableHistory | pd.DataFrame, incidents: pd.DataFrame,
                     rule: AnyRule | Mapping[str, Any], param: str, values: Iterable[float],
                     tolerance: str | pd.Timedelta = "2h", targets: Iterable[str] | None = None) -> pd.DataFrame:
    """Evaluate ``rule`` once per value of ``param`` and score each run against ``incidents``.

    Args:
        history: The metrics history (or a :class:`TableHistory`).
        incidents: The labelled incidents (``history.incidents``).
        rule: The rule model (or its mapping, as in the YAML file) to vary.
        param: The field to sweep, e.g. ``max_z``, ``max_lag_hours``, ``max_rate``.
        values: The values to try.
        tolerance: Slack around incident windows (see ``match_incidents``).
        targets: Incident kinds that recall is scored on (default: :data:`RULE_TARGETS` of
            the rule's kind; null-rate rules only count spikes of their own column).

    Returns:
        One row per value: ``threshold``, ``firings`` (checks where the rule held: never more
        for a stricter value), ``alerts`` (pages after deduplication: an anomaly that flaps
        around the threshold can page more often at a stricter value), ``alerts_per_week``,
        ``true_alerts``, ``false_alerts``, ``caught``, ``incidents``, ``precision``, ``recall``.

    Raises:
        InputError: ``param`` is not a field of the rule, a value is invalid for it, or
            ``values`` is empty.
    """
    base = _as_rule(rule)
    fields = type(base).model_fields
    if param not in fields or param in ("name", "table", "kind", "column"):
        numeric = [f for f, info in fields.items() if info.annotation in (float, int, float | None, int | None)]
        raise InputError(f"{param!r} is not a threshold of a {base.kind} rule",
                         fix=f"sweep one of {', '.join(numeric)}")
    values = list(values)
    if not values:
        raise InputError("no values to sweep", fix="pass a list of thresholds, e.g. np.linspace(2, 8, 13)")
    kinds = tuple(targets) if targets is not None else RULE_TARGETS[base.kind]
    labels = incidents
    if isinstance(base, NullRateRule) and targets is None:
        # a column's rule is not expected to catch another column's spike
        labels = incidents[(incidents["column"] == base.column) | ~incidents["kind"].isin(kinds)]
    rows = []
    for value in values:
        try:
            variant = type(base).model_validate({**base.model_dump(), param: value})
        except ValidationError as exc:
            raise InputError(f"{param}={value!r} is not valid for rule {base.name!r}: "
                             f"{exc.errors()[0]['msg']}", fix=f"drop {value!r} from the sweep values") from None
        log = evaluate_rules(history, [variant])
        match = match_incidents(log, labels, tolerance=tolerance, kinds=kinds)
        rows.append({"threshold": value, "firings": len(log.firings), "alerts": len(log), "alerts_per_week": log.alerts_per_week,
                     "true_alerts": len(match.true_alerts), "false_alerts": len(match.false_alerts),
                     "caught": len(match.caught), "incidents": len(match.incidents),
                     "precision": match.precision, "recall": match.recall})
    sweep = pd.DataFrame(rows, columns=_SWEEP_COLUMNS)
    sweep.attrs.update(rule=base.name, param=param)
    _log.debug("swept %s.%s over %d values", base.name, param, len(values))
    return sweep


def _as_rule(rule: AnyRule | Mapping[str, Any]) -> AnyRule:
    if isinstance(rule, FreshnessRule | VolumeRule | NullRateRule):
        return rule
    kinds = {"freshness": FreshnessRule, "volume": VolumeRule, "null_rate": NullRateRule}
    if not isinstance(rule, Mapping) or rule.get("kind") not in kinds:
        raise InputError("rule must be a rule model or a mapping with kind: freshness, volume or null_rate",
                         fix="pass default_rules()['orders_volume'] or a dict as in the YAML file")
    try:
        return kinds[rule["kind"]].model_validate(dict(rule))
    except ValidationError as exc:
        raise InputError(f"the rule is invalid: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']}",
                         fix="check it against FreshnessRule/VolumeRule/NullRateRule") from None


def choose_operating_point(sweep: pd.DataFrame, max_alerts_per_week: float) -> pd.Series:
    """The sweep row with the best recall among those within the on-call budget.

    Ties on recall go to the fewer alerts per week, then to the higher precision.

    Args:
        sweep: The frame of :func:`sweep_thresholds`.
        max_alerts_per_week: The budget: how many pages a week on-call accepts.

    Returns:
        The chosen row (``threshold``, ``recall``, ``alerts_per_week``, ...).

    Raises:
        InputError: The budget is not a positive number, the sweep lacks its columns, or no
            value meets the budget (the message gives the quietest one).
    """
    need = {"threshold", "alerts_per_week", "recall", "precision"}
    if not isinstance(sweep, pd.DataFrame) or need - set(sweep.columns) or sweep.empty:
        raise InputError("sweep must be a non-empty frame from sweep_thresholds()",
                         fix="run sweep_thresholds(history, incidents, rule, param, values) first")
    if not isinstance(max_alerts_per_week, int | float) or not np.isfinite(max_alerts_per_week) \
            or max_alerts_per_week <= 0:
        raise InputError(f"max_alerts_per_week={max_alerts_per_week!r} is not a positive number",
                         fix="state the on-call budget as pages per week, e.g. 2.0")
    within = sweep[sweep["alerts_per_week"] <= max_alerts_per_week]
    if within.empty:
        quietest = sweep.loc[sweep["alerts_per_week"].idxmin()]
        raise InputError(
            f"no threshold meets {max_alerts_per_week:g} alerts/week; the quietest "
            f"({quietest['threshold']:g}) sends {quietest['alerts_per_week']:.2f}/week",
            fix=f"sweep stricter thresholds than {quietest['threshold']:g}, raise the budget to "
                f"{quietest['alerts_per_week']:.2f}, or add for_hours/cooldown_hours to the rule")
    ranked = within.assign(_recall=within["recall"].fillna(0.0), _precision=within["precision"].fillna(0.0))
    ranked = ranked.sort_values(["_recall", "alerts_per_week", "_precision"], ascending=[False, True, False],
                                kind="stable")
    return ranked.drop(columns=["_recall", "_precision"]).iloc[0]


def operating_points(sweep: pd.DataFrame, budgets: Iterable[float]) -> pd.DataFrame:
    """The operating point for each on-call budget (NaN where no value meets it).

    Args:
        sweep: The frame of :func:`sweep_thresholds`.
        budgets: Alerts per week on-call accepts, e.g. ``[0.25, 0.5, 1, 2]``.

    Returns:
        One row per budget: ``budget``, ``threshold``, ``alerts_per_week``, ``precision``,
        ``recall``, ``meets`` (False when no value meets the budget).
    """
    rows = []
    for budget in budgets:
        try:
            best = choose_operating_point(sweep, float(budget))
        except InputError as exc:
            if "no threshold meets" not in exc.message:
                raise
            rows.append({"budget": float(budget), "meets": False})
            continue
        rows.append({"budget": float(budget), **{k: best[k] for k in ("threshold", "alerts_per_week", "precision",
                                                                       "recall")}, "meets": True})
    columns = ["budget", "threshold", "alerts_per_week", "precision", "recall", "meets"]
    return pd.DataFrame(rows, columns=columns).astype({"meets": bool})


def plot_sweep(sweep: pd.DataFrame, budget: float | None = None, ax: Any = None) -> Any:
    """Precision and recall (left axis) and alerts per week (right axis) against the threshold.

    Args:
        sweep: The frame of :func:`sweep_thresholds`.
        budget: Alerts per week on-call accepts: drawn as a dashed line, with the chosen
            operating point marked when one meets it.
        ax: Matplotlib axes (a new figure when None).

    Returns:
        The left axes (the right one is ``ax.right_ax``).
    """
    plt = require("matplotlib.pyplot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    x = sweep["threshold"]
    ax.plot(x, sweep["precision"], "o-", color="tab:blue", label="precision")
    ax.plot(x, sweep["recall"], "s-", color="tab:green", label="recall")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel(sweep.attrs.get("param", "threshold"))
    ax.set_ylabel("precision / recall")
    right = ax.twinx()
    right.plot(x, sweep["alerts_per_week"], "^--", color="tab:red", label="alerts/week")
    right.set_ylabel("alerts per week")
    if budget is not None:
        right.axhline(budget, color="tab:red", ls=":", lw=1, label=f"budget {budget:g}/week")
        try:
            best = choose_operating_point(sweep, budget)
            ax.axvline(best["threshold"], color="0.4", lw=1, label=f"operating point {best['threshold']:g}")
        except InputError:
            _log.info("no threshold meets the budget of %g alerts/week", budget)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    ax.legend(handles, [h.get_label() for h in handles], loc="center right", fontsize="small")
    ax.set_title(f"{sweep.attrs.get('rule', 'rule')}: threshold sweep")
    ax.right_ax = right
    return ax
