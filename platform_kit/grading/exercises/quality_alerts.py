"""Exercise of lab ``04_quality``, section 4: alert thresholds that catch a labelled history's incidents
(``quality.alert_thresholds``).

The answer is a rule set (YAML text, a mapping, a :class:`~platform_kit.quality.alerts.RuleSet` or
a list of rule models, or a function returning one). It is evaluated with the package's
``evaluate_rules`` on the notebook's history and on hidden histories of the same table (other seeds).
On each, every real incident must get an alert from the rule of its kind (freshness for a late
load, volume for a drop or spike, the column's null-rate rule for a null spike) within
``TOLERANCE`` of its window, and on-call's budget must hold: at most ``MAX_FALSE_PER_WEEK`` false
alerts and ``MAX_ALERTS_PER_WEEK`` alerts in all per week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError, InputError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
EXERCISE_ID = "quality.alert_thresholds"
#: on-call's budget, per week of history
MAX_FALSE_PER_WEEK = 1.0
MAX_ALERTS_PER_WEEK = 2.5
TOLERANCE = pd.Timedelta(hours=2)
#: hidden histories: seeds whose benign noise (holidays, catch-up loads) pages the default rules over budget
HIDDEN_SEEDS = (22, 36)
#: incident kind -> the rule kind that must catch it
RULE_FOR = {"late_load": "freshness", "volume_drop": "volume", "volume_spike": "volume", "null_spike": "null_rate"}
_WHY = {"freshness": "a late load (no new rows for hours) would page nobody",
        "volume": "a drop or spike in rows per load would page nobody",
        "null_rate": "a null spike in that column would page nobody"}


def as_rule_set(answer: Any) -> Any:
    """The learner's answer as a RuleSet; a clear ``fail`` when it does not load."""
    from platform_kit.quality.alerts import FreshnessRule, NullRateRule, RuleSet, VolumeRule, load_rules

    if isinstance(answer, RuleSet):
        return answer
    if isinstance(answer, list | tuple):
        if answer and all(isinstance(r, FreshnessRule | VolumeRule | NullRateRule) for r in answer):
            return RuleSet(rules=list(answer))
        answer = {"rules": list(answer)}
    if isinstance(answer, Mapping):
        answer = dict(answer)
    elif not isinstance(answer, str | Path):
        fail(f"expected the rule set as YAML text (a string starting with `rules:`), got {type(answer).__name__}")
    try:
        return load_rules(answer)
    except ConfigError as exc:
        fail(f"your rules do not load: {exc.message} (fix: {exc.fix})")


def _check_coverage(rules: Any, table: str, columns: tuple[str, ...]) -> None:
    mine = [r for r in rules.rules if r.table == table]
    others = sorted({r.table for r in rules.rules} - {table})
    if not mine:
        fail(f"none of your rules watches table {table!r} (they watch {others}): set `table: {table}`")
    for kind in ("freshness", "volume"):
        if not any(r.kind == kind for r in mine):
            fail(f"your rules have no `kind: {kind}` rule for {table}: {_WHY[kind]}; add one")
    watched = {r.column for r in mine if r.kind == "null_rate"}
    for column in columns:
        if column not in watched:
            fail(f"no `kind: null_rate` rule watches column {column!r} of {table} (tracked columns: "
                 f"{', '.join(columns)}): {_WHY['null_rate']}; add one per tracked column")


def score_rules(history: Any, rules: Any) -> dict[str, Any]:
    """Evaluate ``rules`` on ``history``: per real incident whether its own rule kind caught it, and the noise."""
    from platform_kit.quality.alerts import evaluate_rules, match_incidents

    log = evaluate_rules(history, rules)
    alerts = log.alerts
    incidents = history.real_incidents.copy()
    caught = []
    for inc in incidents.itertuples(index=False):
        kind = RULE_FOR[inc.kind]
        own = alerts[(alerts["kind"] == kind) & ((alerts["column"] == inc.column) if kind == "null_rate" else True)]
        sent = own["notified_at"]
        caught.append(bool(((sent >= inc.start - TOLERANCE) & (sent <= inc.end + TOLERANCE)).any()))
    incidents["caught"] = caught
    match = match_incidents(log, history, tolerance=TOLERANCE)
    return {"log": log, "incidents": incidents, "false": match.false_alerts, "weeks": log.weeks,
            "alerts_per_week": log.alerts_per_week, "false_per_week": len(match.false_alerts) / log.weeks,
            "recall": float(incidents["caught"].mean()) if len(incidents) else float("nan")}


def _describe(inc: Any) -> str:
    hours = (inc.end - inc.start) / pd.Timedelta(hours=1)
    what = {"late_load": "a late load", "volume_drop": f"a volume drop to {inc.magnitude:.2f}x",
            "volume_spike": f"a volume spike to {inc.magnitude:.2f}x",
            "null_spike": f"a null spike on {inc.column} to {inc.magnitude:.0%}"}[inc.kind]
    return f"{what} for {hours:.0f} h ({inc.start:%a %d %b %H:%M})"


def _check_history(rules: Any, history: Any, label: str) -> dict[str, Any]:
    try:
        score = score_rules(history, rules)
    except InputError as exc:
        fail(f"your rules cannot be evaluated on {label}: {exc.message} (fix: {exc.fix})")
    incidents, log = score["incidents"], score["log"]
    missed = incidents[~incidents["caught"]]
    if len(log) == 0:
        fail(f"your rules sent no alert at all on {label} and missed its {len(incidents)} real incidents: "
             "the thresholds are so high that nothing fires; compare them with the metrics' normal values")
    if len(missed):
        kinds = sorted({RULE_FOR[k] for k in missed["kind"]})
        fail(f"on {label} your rules missed {len(missed)} of {len(incidents)} real incidents: "
             + "; ".join(_describe(inc) for inc in missed.head(4).itertuples(index=False))
             + f". Each needs an alert from its own rule ({', '.join(kinds)}) between 2 h before it starts and "
             "2 h after it ends: lower that rule's threshold (or its for_hours)")
    if score["false_per_week"] > MAX_FALSE_PER_WEEK:
        false = score["false"]
        per_rule = ", ".join(
            f"{rule} {len(part)} ({', '.join(f'{c} {n}' for c, n in Counter(part['cause']).most_common())})"
            for rule, part in false.groupby("rule", sort=False))
        fail(f"on {label} your rules sent {len(false)} false alerts in {score['weeks']:.1f} weeks "
             f"({score['false_per_week']:.2f}/week; on-call accepts at most {MAX_FALSE_PER_WEEK:g}): {per_rule} "
             "(cause: the benign event they fell in, or none). That is alert fatigue: raise the noisy rule's "
             "threshold or make it wait for the anomaly to persist (for_hours), and check it still catches every "
             "incident")
    if score["alerts_per_week"] > MAX_ALERTS_PER_WEEK:
        events = Counter(log.alerts["event"])
        fail(f"on {label} your rules sent {len(log)} alerts ({score['alerts_per_week']:.2f}/week; on-call accepts "
             f"at most {MAX_ALERTS_PER_WEEK:g}): {events.get('new', 0)} new, {events.get('repeat', 0)} repeats, "
             f"{events.get('escalated', 0)} escalations. Page once per incident: lengthen cooldown_hours, raise "
             "escalate_factor, or resolve_hours so that a flapping anomaly stays one episode")
    return score


@lru_cache(maxsize=8)
def hidden_history(table: str, columns: tuple[str, ...], seed: int) -> Any:
    """A 90-day labelled history the learner has not seen (cached: it is the same on every check)."""
    from platform_kit.quality.history import synthetic_table_history

    return synthetic_table_history(table, days=90, seed=seed, columns=columns)


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="value",
    title="alert rules that catch every incident within on-call's budget, here and on hidden histories",
    hint="start from kq.alerts.DEFAULT_RULES_YAML and look at its false alerts: the volume rule pages on one-hour "
    "blips (a catch-up load after a short delay, a holiday flapping around the threshold); `for_hours: 1` (or a "
    "higher max_z) removes most of them. Keep one freshness rule, one volume rule and one null_rate rule per "
    "tracked column, and try your rules on synthetic_table_history('orders', seed=...) with other seeds",
)
def _grade_alert_thresholds(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.quality.history import TableHistory

    history = context_value(context, "history", TableHistory, exercise_id=EXERCISE_ID)
    rules = as_rule_set(answer)
    _check_coverage(rules, history.table, history.columns)
    cases = [("this notebook's history", history)] + [
        (f"a hidden history of {history.table} (another seed)", hidden_history(history.table, history.columns, seed))
        for seed in HIDDEN_SEEDS]
    scores = [_check_history(rules, hist, label) for label, hist in cases]
    caught = sum(int(s["incidents"]["caught"].sum()) for s in scores)
    worst = max(s["false_per_week"] for s in scores)
    return (f"{len(rules.rules)} rules caught all {caught} real incidents of {len(cases)} histories with at most "
            f"{worst:.2f} false alerts/week (budget {MAX_FALSE_PER_WEEK:g}); on this notebook's history "
            f"{scores[0]['alerts_per_week']:.2f} alerts/week, {len(scores[0]['false'])} of them false")
