"""Alert rules over the metrics an ingestion pipeline records per batch.

Three kinds of rule, declared in YAML and validated by pydantic (unknown keys and kinds are errors)::

    rules:
      - {name: dlq_rate_high, kind: dlq_rate, window_s: 1.0, max_rate: 0.05, min_records: 100}
      - {name: throughput_drop, kind: throughput_drop, window_s: 0.5, baseline_s: 0.8, max_drop: 0.5}
      - {name: consumer_lag, kind: consumer_lag, max_records: 500, for_s: 0.2}

* ``dlq_rate``: dead letters / records over the last ``window_s`` seconds exceeds ``max_rate``
  (only once the window holds ``min_records``, so one bad record in three is not a page).
* ``throughput_drop``: records/s over the last ``window_s`` falls below ``(1 - max_drop)`` x the
  run's baseline (median over the first ``baseline_s`` seconds) WHILE a backlog exists
  (``lag > backlog_records``): a consumer that keeps up with a quieter producer is not an incident.
* ``consumer_lag``: records produced but not committed stay above ``max_records`` for ``for_s``.
  Lag must be computed from what was produced (delivery-report offsets), never from the embedded
  broker's high watermark, which is the base offset of the last batch and under-reports the end.

:func:`evaluate_alerts` returns one row per (rule, batch); :func:`alert_events` turns it into
fired/resolved intervals; ``plot_alerts`` draws the timeline.

Introduced in: Lab 2 (ingestion), section 6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from platform_kit.ingestion._alerts_plot import plot_alerts

__all__ = ["DEFAULT_ALERT_RULES", "AlertRules", "ConsumerLagRule", "DlqRateRule", "ThroughputDropRule",
           "alert_events", "evaluate_alerts", "load_alert_rules", "plot_alerts"]

REQUIRED_COLUMNS = ("t_s", "records", "dead_letters", "lag")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    severity: Literal["page", "ticket"] = "page"


class DlqRateRule(_Rule):
    """Dead-letter rate over a sliding time window."""

    kind: Literal["dlq_rate"] = "dlq_rate"
    window_s: float = Field(1.0, gt=0)
    max_rate: float = Field(0.05, ge=0, le=1)
    min_records: int = Field(100, ge=1)


class ThroughputDropRule(_Rule):
    """Throughput below a fraction of the run's own baseline, while there is a backlog."""

    kind: Literal["throughput_drop"] = "throughput_drop"
    window_s: float = Field(0.5, gt=0)
    baseline_s: float = Field(1.0, gt=0)
    max_drop: float = Field(0.5, gt=0, lt=1)
    backlog_records: int = Field(0, ge=0)


class ConsumerLagRule(_Rule):
    """Records produced but not yet committed by the consumer, sustained."""

    kind: Literal["consumer_lag"] = "consumer_lag"
    max_records: int = Field(1000, ge=0)
    for_s: float = Field(0.0, ge=0)


AlertRule = Annotated[DlqRateRule | ThroughputDropRule | ConsumerLagRule, Field(discriminator="kind")]


class AlertRules(BaseModel):
    """A validated rule set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[AlertRule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> AlertRules:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self

    def rule(self, name: str) -> AlertRule:
        """The rule called ``name``.

        Raises:
            KeyError: No such rule.
        """
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(f"no rule {name!r}; rules: {', '.join(r.name for r in self.rules)}")

    def with_threshold(self, name: str, **changes: Any) -> AlertRules:
        """A copy with ``name``'s fields changed (validated again)."""
        self.rule(name)
        rules = [r.model_validate({**r.model_dump(), **changes}) if r.name == name else r for r in self.rules]
        return AlertRules(rules=rules)


#: The lab's rule set (YAML, as an on-call team would keep it in the repository).
DEFAULT_ALERT_RULES = """\
rules:
  - name: dlq_rate_high
    kind: dlq_rate
    window_s: 0.6
    max_rate: 0.05
    min_records: 200
  - name: throughput_drop
    kind: throughput_drop
    window_s: 0.5
    baseline_s: 0.8
    max_drop: 0.5
    backlog_records: 300
  - name: consumer_lag
    kind: consumer_lag
    max_records: 500
    for_s: 0.2
    severity: ticket
"""


def load_alert_rules(source: str | Path | dict[str, Any]) -> AlertRules:
    """Rules from YAML text, a YAML file, or a mapping.

    Raises:
        pydantic.ValidationError: Unknown kind or key, a threshold out of range, repeated names.
        ValueError: The YAML is not a mapping.
    """
    import yaml

    if isinstance(source, dict):
        data = source
    else:
        text = source.read_text() if isinstance(source, Path) else source
        if isinstance(source, str) and "\n" not in source and Path(source).suffix in (".yml", ".yaml"):
            text = Path(source).read_text()
        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"alert rules must be a mapping with a `rules:` list, got {type(data).__name__}")
    return AlertRules.model_validate(data)


def _window_sums(t: np.ndarray, values: np.ndarray, window_s: float) -> np.ndarray:
    """For each i, the sum of values[j] with t[i] - window_s < t[j] <= t[i]."""
    cumulative = np.concatenate([[0.0], np.cumsum(values, dtype=float)])
    first = np.searchsorted(t, t - window_s, side="right")
    return cumulative[np.arange(1, len(t) + 1)] - cumulative[first]


def _check(metrics: Any) -> Any:
    import pandas as pd

    frame = pd.DataFrame(metrics)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"metrics lack column(s) {missing}; the pipeline records {list(REQUIRED_COLUMNS)} per batch")
    frame = frame.sort_values("t_s", kind="stable").reset_index(drop=True)
    if (frame["t_s"] < 0).any() or frame[list(REQUIRED_COLUMNS)].isna().any().any():
        raise ValueError("metrics have negative times or missing values")
    return frame


def throughput(metrics: Any, window_s: float) -> np.ndarray:
    """Records/s over the trailing ``window_s`` at each batch (the window is shorter at the start)."""
    frame = _check(metrics)
    t = frame["t_s"].to_numpy(float)
    span = np.minimum(window_s, np.maximum(t, 1e-9))
    return _window_sums(t, frame["records"].to_numpy(float), window_s) / span


def evaluate_alerts(rules: AlertRules, metrics: Any) -> Any:
    """Evaluate every rule at every batch.

    Args:
        rules: The rule set.
        metrics: Per-batch metrics (a DataFrame or list of dicts) with ``t_s`` (seconds since the run
            started, at the end of the batch), ``records``, ``dead_letters`` and ``lag``.

    Returns:
        A DataFrame with ``rule, kind, severity, batch, t_s, value, threshold, firing``.

    Raises:
        ValueError: Columns missing, negative times or missing values.
    """
    import pandas as pd

    frame = _check(metrics)
    t = frame["t_s"].to_numpy(float)
    lag = frame["lag"].to_numpy(float)
    out = []
    for rule in rules.rules:
        if isinstance(rule, DlqRateRule):
            records = _window_sums(t, frame["records"].to_numpy(float), rule.window_s)
            dead = _window_sums(t, frame["dead_letters"].to_numpy(float), rule.window_s)
            value = np.divide(dead, records, out=np.zeros_like(dead), where=records > 0)
            firing = (value > rule.max_rate) & (records >= rule.min_records)
            threshold = np.full(len(t), rule.max_rate)
        elif isinstance(rule, ThroughputDropRule):
            value = throughput(frame, rule.window_s)
            base = value[t <= rule.baseline_s]
            baseline = float(np.median(base)) if len(base) else np.nan
            threshold = np.full(len(t), (1 - rule.max_drop) * baseline)
            firing = (t > rule.baseline_s) & (value < threshold) & (lag > rule.backlog_records)
        else:
            value = lag
            threshold = np.full(len(t), float(rule.max_records))
            over = lag > rule.max_records
            since = np.full(len(t), np.nan)
            start = np.nan
            for i, flag in enumerate(over):
                start = (t[i] if np.isnan(start) else start) if flag else np.nan
                since[i] = start
            firing = over & (t - np.nan_to_num(since, nan=np.inf) >= rule.for_s - 1e-9)
        batch = frame["batch"].to_numpy() if "batch" in frame.columns else np.arange(1, len(t) + 1)
        out.append(pd.DataFrame({"rule": rule.name, "kind": rule.kind, "severity": rule.severity, "batch": batch,
                                 "t_s": t, "value": value, "threshold": threshold, "firing": firing.astype(bool)}))
    return pd.concat(out, ignore_index=True)


def alert_events(evaluation: Any) -> Any:
    """Fired/resolved intervals: ``rule, severity, fired_at_s, resolved_at_s (NaN: still firing), peak, threshold``."""
    import pandas as pd

    rows = []
    for rule, group in evaluation.groupby("rule", sort=False):
        group = group.sort_values("t_s")
        firing = group["firing"].to_numpy(bool)
        starts = np.flatnonzero(firing & ~np.concatenate([[False], firing[:-1]]))
        for start in starts:
            end = start
            while end + 1 < len(firing) and firing[end + 1]:
                end += 1
            window = group.iloc[start:end + 1]
            resolved = group["t_s"].iloc[end + 1] if end + 1 < len(group) else np.nan
            peak = window["value"].min() if group["kind"].iloc[0] == "throughput_drop" else window["value"].max()
            rows.append({"rule": rule, "severity": group["severity"].iloc[0], "fired_at_s": group["t_s"].iloc[start],
                         "resolved_at_s": resolved, "batches": len(window), "peak": float(peak),
                         "threshold": float(window["threshold"].iloc[0])})
    return pd.DataFrame(rows, columns=["rule", "severity", "fired_at_s", "resolved_at_s", "batches", "peak",
                                       "threshold"])
