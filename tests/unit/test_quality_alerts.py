"""Tests of platform_kit.quality.history and platform_kit.quality.alerts (Lab 4, section 4)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from platform_kit.errors import ConfigError, InputError
from platform_kit.quality.alerts import (
    DEFAULT_RULES_YAML,
    FreshnessRule,
    NullRateRule,
    VolumeRule,
    default_rules,
    evaluate_rules,
    load_rules,
    match_incidents,
    plot_timeline,
)
from platform_kit.quality.history import REAL_KINDS, synthetic_table_history


@pytest.fixture(scope="module")
def hist():
    return synthetic_table_history("orders", days=90, seed=42)


@pytest.fixture(scope="module")
def log(hist):
    return evaluate_rules(hist, default_rules())


@pytest.fixture(scope="module")
def clean():
    return synthetic_table_history("orders", days=63, seed=7, incidents=[])


def test_synthetic_table_history_is_deterministic_per_seed():
    a, b = synthetic_table_history(seed=3), synthetic_table_history(seed=3)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)
    pd.testing.assert_frame_equal(a.incidents, b.incidents)
    assert not a.metrics["rows"].equals(synthetic_table_history(seed=4).metrics["rows"])


def test_synthetic_table_history_has_seasonality_and_labels(hist):
    m = hist.metrics
    assert list(m.columns) == ["table", "load_time", "rows", "null_rate_customer_id", "null_rate_total_amount"]
    weekend = m["load_time"].dt.dayofweek >= 5
    assert m.loc[weekend, "rows"].median() < 0.75 * m.loc[~weekend, "rows"].median()
    kinds = set(hist.incidents["kind"])
    assert set(REAL_KINDS) <= kinds and {"holiday", "minor_delay", "null_blip"} <= kinds
    assert hist.incidents["benign"].sum() == hist.incidents["kind"].isin(["holiday", "minor_delay", "null_blip"]).sum()
    assert (hist.incidents["start"] >= m["load_time"].min() + pd.Timedelta(days=14)).all()


def test_synthetic_table_history_late_load_removes_loads_and_catches_up():
    h = synthetic_table_history(incidents=[{"kind": "late_load", "start": "2024-10-20 10:00", "hours": 6}])
    times = h.metrics["load_time"]
    gap = times.diff().max()
    assert pd.Timedelta(hours=6) < gap < pd.Timedelta(hours=8)
    catch_up = h.metrics.loc[times.diff().idxmax(), "rows"]
    assert catch_up > 4 * h.metrics["rows"].median()


def test_synthetic_table_history_bad_input_raises_with_fix():
    with pytest.raises(InputError, match="too short") as exc:
        synthetic_table_history(days=7)
    assert exc.value.fix
    with pytest.raises(InputError, match="not a known kind"):
        synthetic_table_history(incidents=[{"kind": "meteor", "start": "2024-10-10"}])
    with pytest.raises(InputError, match="not a tracked column"):
        synthetic_table_history(incidents=[{"kind": "null_spike", "start": "2024-10-10", "column": "nope"}])
    with pytest.raises(InputError, match="outside the history"):
        synthetic_table_history(incidents=[{"kind": "volume_drop", "start": "2025-06-01"}])


def test_default_rules_catch_every_incident_kind(hist, log):
    match = match_incidents(log, hist)
    assert match.recall == 1.0
    assert set(match.caught["kind"]) == set(REAL_KINDS)
    assert match.precision >= 0.6
    assert log.alerts_per_week <= 2.0


def test_default_rules_each_kind_caught_by_its_own_rule(hist, log):
    own = {"late_load": "freshness", "volume_drop": "volume", "volume_spike": "volume", "null_spike": "null_rate"}
    for kind, rule_kind in own.items():
        match = match_incidents(log.alerts[log.alerts["kind"] == rule_kind], hist, kinds=[kind])
        assert match.recall == 1.0, kind


def test_volume_rule_watches_from_the_third_week():
    # the seasonal baseline exists from day 14 (two past weeks); the rule must not stay blind until day 21
    h = synthetic_table_history(days=28, incidents=[{"kind": "volume_drop", "start": "2024-10-16 13:00", "hours": 4,
                                                     "magnitude": 0.4}])
    log = evaluate_rules(h, [default_rules()["orders_volume"]])
    assert match_incidents(log, h).recall == 1.0


def test_match_incidents_labels_the_cause_of_each_alert(hist, log):
    match = match_incidents(log, hist)
    assert set(match.true_alerts["cause"]) <= set(REAL_KINDS)
    assert set(match.false_alerts["cause"]) <= {"holiday", "minor_delay", "null_blip", "none"}
    assert "holiday" in set(match.false_alerts["cause"])  # a weekday at weekend volume pages the volume rule


def test_evaluate_rules_six_hour_gap_is_one_alert_not_six():
    h = synthetic_table_history(days=28, incidents=[{"kind": "late_load", "start": "2024-10-20 10:00", "hours": 6}])
    rule = FreshnessRule(name="fresh", kind="freshness", table="orders", max_lag_hours=2)
    log = evaluate_rules(h, [rule])
    assert len(log.firings) >= 4  # the condition held at several hourly checks...
    assert len(log) == 1  # ...but on-call is paged once
    alert = log.alerts.iloc[0]
    assert alert["event"] == "new" and alert["firings"] == len(log.firings)
    assert h.incidents["start"][0] <= alert["notified_at"] <= h.incidents["end"][0]


def test_evaluate_rules_escalates_when_it_worsens_and_repeats_after_cooldown():
    h = synthetic_table_history(days=28, incidents=[{"kind": "late_load", "start": "2024-10-20 02:00", "hours": 20}])
    rule = FreshnessRule(name="fresh", kind="freshness", table="orders", max_lag_hours=2, escalate_factor=3,
                         cooldown_hours=8)
    alerts = evaluate_rules(h, [rule]).alerts
    # lag > 2 h at 04:00 (new), >= 6 h at 08:00 (escalated), 8 h later (repeat); caught up after 22:00
    assert list(alerts["event"]) == ["new", "escalated", "repeat"]
    assert list(alerts["severity"]) == ["warning", "critical", "critical"]
    assert list(alerts["notified_at"].dt.hour) == [4, 8, 16]
    assert alerts["episode"].nunique() == 1


def test_evaluate_rules_for_hours_suppresses_short_episodes():
    h = synthetic_table_history(days=28, incidents=[{"kind": "minor_delay", "start": "2024-10-20 10:00", "hours": 2},
                                                    {"kind": "late_load", "start": "2024-10-22 10:00", "hours": 6}])
    quick = FreshnessRule(name="f", kind="freshness", table="orders", max_lag_hours=1.5)
    patient = quick.model_copy(update={"for_hours": 2})
    assert len(evaluate_rules(h, [quick])) == 2
    slow = evaluate_rules(h, [patient])
    assert len(slow) == 1 and slow.alerts["notified_at"][0] > pd.Timestamp("2024-10-22 10:00")


def test_seasonal_baseline_quiet_on_weekends_where_global_fires(clean):
    bounds = {"kind": "volume", "table": "orders", "method": "ratio", "min_ratio": 0.6, "max_ratio": 1.6}
    seasonal = evaluate_rules(clean, [VolumeRule(name="s", baseline="seasonal", **bounds)])
    naive = evaluate_rules(clean, [VolumeRule(name="g", baseline="global", **bounds)])
    weekend = naive.firings["time"].dt.dayofweek >= 5
    assert len(seasonal.firings) == 0 and len(seasonal) == 0
    assert weekend.sum() >= 50  # every normal weekend trips the naive rule
    assert weekend.mean() > 2 / 7 + 0.2  # far more than the weekend's share of hours


def test_null_rate_rule_spike_needs_min_delta(clean):
    h = synthetic_table_history(days=28, incidents=[{"kind": "null_blip", "start": "2024-10-20 10:00", "hours": 2,
                                                     "column": "total_amount", "magnitude": 4}])
    loose = NullRateRule(name="n", kind="null_rate", table="orders", column="total_amount", spike_factor=2.5)
    strict = loose.model_copy(update={"min_delta": 0.05})
    assert len(evaluate_rules(h, [loose])) >= 1
    assert len(evaluate_rules(h, [strict])) == 0


def test_alert_log_summary_and_frame(log):
    summary = log.summary()
    assert list(summary["rule"]) == [r.name for r in default_rules().rules]
    assert summary["alerts"].sum() == len(log.frame())
    assert (summary["alerts"] <= summary["firings"]).all()
    assert summary["alerts_per_week"].sum() == pytest.approx(log.alerts_per_week)


def test_match_incidents_counts_noise_as_false(hist):
    fake = pd.DataFrame({"notified_at": [hist.incidents.loc[hist.incidents["benign"], "start"].iloc[0],
                                         hist.real_incidents["start"].iloc[0]], "table": "orders"})
    match = match_incidents(fake, hist.incidents, tolerance="0h")
    assert match.precision == 0.5 and len(match.caught) == 1
    assert match.recall == pytest.approx(1 / len(hist.real_incidents))
    with pytest.raises(InputError, match="negative"):
        match_incidents(fake, hist.incidents, tolerance="-1h")


def test_load_rules_round_trip_and_file(tmp_path):
    path = tmp_path / "rules.yml"
    path.write_text(DEFAULT_RULES_YAML)
    assert load_rules(path) == load_rules(DEFAULT_RULES_YAML) == default_rules()
    assert default_rules()["orders_volume"].max_z == 5.0


@pytest.mark.parametrize(("text", "where", "fix"), [
    ("rules:\n  - {name: v, kind: volume, table: orders, max_zz: 3}", "rules[0] (v).max_zz", "spelling"),
    ("rules:\n  - {name: v, kind: volum, table: orders}", "rules[0] (v)", "kind"),
    ("rules:\n  - {name: f, kind: freshness, table: orders}", "rules[0] (f).max_lag_hours", "add"),
    ("rules:\n  - {name: n, kind: null_rate, table: orders, column: c}", "rules[0] (n)", "max_rate"),
    ("rules:\n  - {name: v, kind: volume, table: orders, method: ratio, min_ratio: 2, max_ratio: 1}",
     "rules[0] (v)", "below"),
    ("rules:\n  - {name: v, kind: volume, table: orders, severity: page}", "rules[0] (v).severity", "one of"),
    ("rules:\n  - {name: a, kind: freshness, table: o, max_lag_hours: 1}\n"
     "  - {name: a, kind: freshness, table: o, max_lag_hours: 2}", "rules", "unique"),
    ("rules: [unclosed", "not valid YAML", "syntax"),
])
def test_load_rules_bad_config_raises_with_key_path(text, where, fix):
    with pytest.raises(ConfigError) as exc:
        load_rules(text)
    assert where in exc.value.message
    assert fix in exc.value.fix


def test_evaluate_rules_unknown_table_or_column_raises(hist):
    with pytest.raises(InputError, match="not in the history"):
        evaluate_rules(hist, [FreshnessRule(name="f", kind="freshness", table="nope", max_lag_hours=2)])
    with pytest.raises(InputError, match="not tracked"):
        evaluate_rules(hist, [NullRateRule(name="n", kind="null_rate", table="orders", column="x", max_rate=0.1)])


def test_plot_timeline_draws_alerts_and_incidents(hist, log):
    ax = plot_timeline(hist, log)
    assert len(ax.collections) >= 1 and len(ax.patches) == len(hist.incidents)
    matplotlib.pyplot.close("all")
