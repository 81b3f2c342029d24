"""Alert rules over per-batch pipeline metrics (Lab 2, section 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from platform_kit.ingestion import alerts as A


def timeline() -> pd.DataFrame:
    """40 batches of 0.1 s: steady 1000 rec/s, a bad burst at 1.0-1.5 s, a slow sink (and growing lag) at 2-3 s."""
    rows = []
    lag = 0
    for i in range(40):
        t = (i + 1) * 0.1
        slow = 2.0 < t <= 3.0
        records = 30 if slow else 100
        lag = max(0, lag + (100 if slow else -200))
        dead = 25 if 1.0 < t <= 1.5 else 0
        rows.append({"batch": i + 1, "t_s": t, "records": records, "dead_letters": dead, "lag": lag})
    return pd.DataFrame(rows)


def test_default_rules_load_and_fire_where_expected() -> None:
    rules = A.load_alert_rules(A.DEFAULT_ALERT_RULES)
    rules = rules.with_threshold("dlq_rate_high", window_s=0.3, min_records=100)
    events = A.alert_events(A.evaluate_alerts(rules, timeline())).set_index("rule")
    assert events.loc["dlq_rate_high", "fired_at_s"] == pytest.approx(1.1)
    assert events.loc["dlq_rate_high", "resolved_at_s"] == pytest.approx(1.8)
    assert events.loc["dlq_rate_high", "peak"] == pytest.approx(0.25)
    assert 2.0 < events.loc["throughput_drop", "fired_at_s"] < 2.6
    assert events.loc["throughput_drop", "resolved_at_s"] > 3.0
    assert events.loc["consumer_lag", "fired_at_s"] > 2.5 and events.loc["consumer_lag", "severity"] == "ticket"


def test_dlq_rate_needs_enough_records() -> None:
    metrics = pd.DataFrame({"t_s": [0.1, 0.2], "records": [3, 3], "dead_letters": [1, 1], "lag": [0, 0]})
    rules = A.AlertRules(rules=[A.DlqRateRule(name="r", window_s=1, max_rate=0.1, min_records=10)])
    assert not A.evaluate_alerts(rules, metrics)["firing"].any()
    loose = A.AlertRules(rules=[A.DlqRateRule(name="r", window_s=1, max_rate=0.1, min_records=1)])
    assert A.evaluate_alerts(loose, metrics)["firing"].all()


def test_throughput_drop_ignores_a_quiet_producer_without_backlog() -> None:
    metrics = timeline().assign(lag=0)
    rules = A.AlertRules(rules=[A.ThroughputDropRule(name="drop", baseline_s=1.0, backlog_records=0)])
    assert not A.evaluate_alerts(rules, metrics)["firing"].any()


def test_lag_must_be_sustained() -> None:
    metrics = pd.DataFrame({"t_s": [0.1, 0.2, 0.3, 0.4, 0.5], "records": [1] * 5, "dead_letters": [0] * 5,
                            "lag": [0, 900, 0, 900, 900]})
    rules = A.AlertRules(rules=[A.ConsumerLagRule(name="lag", max_records=500, for_s=0.1)])
    firing = A.evaluate_alerts(rules, metrics)["firing"].tolist()
    assert firing == [False, False, False, False, True]
    events = A.alert_events(A.evaluate_alerts(rules, metrics))
    assert len(events) == 1 and np.isnan(events["resolved_at_s"].iloc[0])


def test_throughput_window_is_shorter_at_the_start() -> None:
    metrics = pd.DataFrame({"t_s": [0.1, 0.2, 1.5], "records": [10, 10, 10], "dead_letters": [0] * 3, "lag": [0] * 3})
    assert A.throughput(metrics, 1.0).tolist() == pytest.approx([100.0, 100.0, 10.0])


@pytest.mark.parametrize("text", [
    "rules: []",
    "rules:\n  - {name: a, kind: dlq_rate, max_rate: 2}",
    "rules:\n  - {name: a, kind: disk_full}",
    "rules:\n  - {name: a, kind: consumer_lag, max_record: 5}",
    "rules:\n  - {name: a, kind: consumer_lag}\n  - {name: a, kind: dlq_rate}",
    "rules:\n  - {name: 'has space', kind: consumer_lag}",
])
def test_bad_rule_sets_are_rejected(text: str) -> None:
    with pytest.raises(ValidationError):
        A.load_alert_rules(text)


def test_rules_from_a_file_a_mapping_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(A.DEFAULT_ALERT_RULES)
    assert A.load_alert_rules(path) == A.load_alert_rules(str(path)) == A.load_alert_rules(A.DEFAULT_ALERT_RULES)
    assert A.load_alert_rules({"rules": [{"name": "x", "kind": "consumer_lag"}]}).rule("x").max_records == 1000
    with pytest.raises(ValueError, match="mapping"):
        A.load_alert_rules("- just\n- a list\n")
    rules = A.load_alert_rules(A.DEFAULT_ALERT_RULES)
    with pytest.raises(KeyError):
        rules.rule("nope")
    with pytest.raises(KeyError):
        rules.with_threshold("nope", max_rate=0.1)
    with pytest.raises(ValidationError):
        rules.with_threshold("dlq_rate_high", max_rate=5)


def test_metrics_are_checked() -> None:
    rules = A.load_alert_rules(A.DEFAULT_ALERT_RULES)
    with pytest.raises(ValueError, match="lag"):
        A.evaluate_alerts(rules, pd.DataFrame({"t_s": [1.0], "records": [1], "dead_letters": [0]}))
    with pytest.raises(ValueError, match="negative"):
        A.evaluate_alerts(rules, [{"t_s": -1.0, "records": 1, "dead_letters": 0, "lag": 0}])
    assert A.alert_events(A.evaluate_alerts(rules, timeline().assign(dead_letters=0, lag=0))).empty


def test_plot_draws_three_panels() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = timeline().assign(hwm_lag=lambda d: d["lag"] // 2)
    axes = A.plot_alerts(metrics, A.evaluate_alerts(A.load_alert_rules(A.DEFAULT_ALERT_RULES), metrics),
                         phases=[("steady", 0.0, 1.0), ("slow", 2.0, 3.0)], title="t")
    assert len(axes) == 3 and axes[2].get_legend() is not None
    plt.close("all")
