"""Tests of platform_kit.quality.tuning (Lab 4, section 6)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from platform_kit.errors import InputError
from platform_kit.quality.alerts import default_rules
from platform_kit.quality.history import synthetic_table_history
from platform_kit.quality.tuning import choose_operating_point, operating_points, plot_sweep, sweep_thresholds

Z_VALUES = [2, 3, 4, 5, 6, 8, 10, 14]


@pytest.fixture(scope="module")
def hist():
    return synthetic_table_history("orders", days=90, seed=42)


@pytest.fixture(scope="module")
def sweep(hist):
    return sweep_thresholds(hist, hist.incidents, default_rules()["orders_volume"], "max_z", Z_VALUES)


def test_sweep_thresholds_columns_and_monotonic_trends(sweep):
    assert list(sweep["threshold"]) == Z_VALUES
    assert {"alerts", "alerts_per_week", "true_alerts", "false_alerts", "precision", "recall"} <= set(sweep.columns)
    # stricter thresholds: never more firings, never better recall; pages mostly fall (a holiday that flaps
    # around the threshold can page more often at a slightly stricter value, so not monotonically)
    assert sweep["firings"].is_monotonic_decreasing
    assert sweep["recall"].is_monotonic_decreasing
    assert (sweep["alerts"] <= sweep["firings"]).all()
    assert sweep["alerts"].iloc[0] > 10 * sweep["alerts"].iloc[-1]
    assert sweep["false_alerts"].iloc[0] > 5 * max(1, sweep["false_alerts"].iloc[-1])
    assert sweep["precision"].iloc[-1] > sweep["precision"].iloc[0]
    assert (sweep["true_alerts"] + sweep["false_alerts"] == sweep["alerts"]).all()


def test_choose_operating_point_respects_budget_and_beats_naive_choice(sweep):
    budget = 0.9
    best = choose_operating_point(sweep, budget)
    assert best["alerts_per_week"] <= budget
    within = sweep[sweep["alerts_per_week"] <= budget]
    assert best["recall"] == within["recall"].max()
    # max recall ignoring the budget (the lowest threshold) blows the budget several times over
    naive = sweep.loc[sweep["recall"].idxmax()]
    assert naive["alerts_per_week"] > 3 * budget
    assert naive["threshold"] != best["threshold"]


def test_choose_operating_point_ties_go_to_fewer_alerts():
    sweep = pd.DataFrame({"threshold": [1, 2, 3], "alerts_per_week": [3.0, 1.0, 2.0],
                          "recall": [1.0, 0.8, 0.8], "precision": [0.2, 0.9, 0.5]})
    assert choose_operating_point(sweep, 2.5)["threshold"] == 2
    assert choose_operating_point(sweep, 5)["threshold"] == 1


def test_choose_operating_point_no_value_meets_budget_raises_with_fix(sweep):
    with pytest.raises(InputError, match="no threshold meets") as exc:
        choose_operating_point(sweep, 0.01)
    assert "raise the budget" in exc.value.fix
    with pytest.raises(InputError, match="positive"):
        choose_operating_point(sweep, -1)
    with pytest.raises(InputError, match="sweep_thresholds"):
        choose_operating_point(pd.DataFrame(), 1)


def test_operating_points_one_row_per_budget(sweep):
    table = operating_points(sweep, [0.01, 0.9, 100])
    assert list(table["budget"]) == [0.01, 0.9, 100.0]
    assert list(table["meets"]) == [False, True, True]
    assert np.isnan(table["threshold"].iloc[0])
    assert table["threshold"].iloc[1] == choose_operating_point(sweep, 0.9)["threshold"]
    assert table["recall"].iloc[2] == sweep["recall"].max()
    with pytest.raises(InputError, match="positive"):
        operating_points(sweep, [-1])


def test_sweep_thresholds_freshness_lag(hist):
    sweep = sweep_thresholds(hist, hist.incidents, default_rules()["orders_freshness"], "max_lag_hours",
                             np.arange(1.0, 9.0, 1.0))
    assert sweep["recall"].iloc[0] == 1.0 and sweep["recall"].iloc[-1] < 1.0
    assert sweep["alerts"].is_monotonic_decreasing
    assert sweep["incidents"].eq(int((hist.incidents["kind"] == "late_load").sum())).all()


def test_sweep_thresholds_bad_param_or_value_raises(hist):
    rule = default_rules()["orders_volume"]
    with pytest.raises(InputError, match="not a threshold") as exc:
        sweep_thresholds(hist, hist.incidents, rule, "max_zz", [1])
    assert "max_z" in exc.value.fix
    with pytest.raises(InputError, match="not valid"):
        sweep_thresholds(hist, hist.incidents, rule, "max_z", [-1])
    with pytest.raises(InputError, match="no values"):
        sweep_thresholds(hist, hist.incidents, rule, "max_z", [])


def test_plot_sweep_draws_budget_and_operating_point(sweep):
    ax = plot_sweep(sweep, budget=0.9)
    assert len(ax.lines) == 3  # precision, recall, operating point
    assert len(ax.right_ax.lines) == 2  # alerts/week, budget
    matplotlib.pyplot.close("all")
