"""The grader of ``quality.feature_lineage`` (Lab 4, section 3): raw value sources of features."""

from __future__ import annotations

from typing import Any

import pytest

from platform_kit.errors import GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.quality_lineage import HIDDEN
from platform_kit.lineage import LineageGraph, pipeline_lineage
from platform_kit.lineage.examples import EXERCISE_MODEL, PIPELINE, SCHEMA

ID = "quality.feature_lineage"
CONTEXT = {"models": PIPELINE | EXERCISE_MODEL, "schema": SCHEMA, "new_model": "customer_item_features"}

#: Hand-checked value sources of the hidden pipelines (the grader derives them with the package).
HIDDEN_TRUTH = {
    "clean_readings.device_id": {"readings.device_id"},
    "clean_readings.ts": {"readings.ts"},
    "clean_readings.temp_f": {"readings.temp_c"},
    "clean_readings.humidity": {"readings.humidity"},
    "site_features.site": {"devices.site"},
    "site_features.mean_daily_temp_f": {"readings.temp_c"},
    "site_features.peak_humidity": {"readings.humidity"},
    "site_features.days_reported": {"readings.ts"},
    "site_features.rows_seen": set(),
    "account_features.account_id": {"accounts.account_id"},
    "account_features.tier": {"accounts.tier"},
    "account_features.zone": {"accounts.country"},
    "account_features.spend": {"txns.amount", "txns.kind"},
    "account_features.spend_rank_in_tier": {"accounts.tier", "txns.amount", "txns.kind"},
    "user_daily.user_id": {"events.user_id"},
    "user_daily.day": {"events.ts"},
    "user_daily.events": set(),
    "user_daily.value": {"events.value"},
    "user_features.user_id": {"users.user_id"},
    "user_features.plan": {"users.plan"},
    "user_features.events_90d": set(),
    "user_features.best_day_value": {"events.value"},
    "user_features.tenure_at_last_active": {"users.signup_ts", "events.ts"},
    "user_features.top_value": {"events.value"},
}


def sqlglot_sources(models, schema, feature):
    """The notebook's solution: sqlglot.lineage with the earlier models inlined as sources."""
    from sqlglot import exp
    from sqlglot.lineage import lineage

    model, column = feature.rsplit(".", 1)
    earlier = {name: sql for name, sql in models.items() if name != model}
    node = lineage(column, models[model], schema=schema, sources=earlier, dialect="duckdb")
    return {f"{exp.table_name(n.expression)}.{n.name.rsplit('.', 1)[-1]}" for n in node.walk()
            if isinstance(n.expression, exp.Table)}


_GRAPHS: dict[tuple[tuple[str, str], ...], LineageGraph] = {}


def _graph(models: dict[str, str], schema: dict[str, dict[str, str]]) -> LineageGraph:
    key = tuple(models.items())
    if key not in _GRAPHS:
        _GRAPHS[key] = LineageGraph(pipeline_lineage(models, schema=schema))
    return _GRAPHS[key]


def package_sources(models, schema, feature):
    return _graph(models, schema).upstream(feature)


def _run(answer: Any) -> Any:
    return check(ID, answer, context=CONTEXT, show=False)


def test_hidden_pipelines_match_hand_checked_lineage() -> None:
    derived = {}
    for _, schema, models in HIDDEN:
        graph = LineageGraph(pipeline_lineage(models, schema=schema))
        derived |= {n: graph.upstream(n) for n in graph.nodes if n.rsplit(".", 1)[0] in models}
    assert derived == HIDDEN_TRUTH


@pytest.mark.parametrize("answer", [sqlglot_sources, package_sources])
def test_reference_answers_pass(answer: Any) -> None:
    result = _run(answer)
    assert result.passed, result.message
    assert "items_per_order <- order_items.quantity, orders.order_id" in result.message
    assert "of 24 columns in 3 hidden pipelines" in result.message


def with_filters(models, schema, feature):
    return _graph(models, schema).upstream(feature, include_filters=True)


def alias_qualified(models, schema, feature):
    from sqlglot import exp
    from sqlglot.lineage import lineage

    model, column = feature.rsplit(".", 1)
    earlier = {name: sql for name, sql in models.items() if name != model}
    node = lineage(column, models[model], schema=schema, sources=earlier, dialect="duckdb")
    return {f"{n.expression.alias_or_name}.{n.name.rsplit('.', 1)[-1]}" for n in node.walk()
            if isinstance(n.expression, exp.Table)}


def stops_at_models(models, schema, feature):
    """Treats earlier models as tables: sources like staged_orders.paid_amount."""
    from sqlglot import exp
    from sqlglot.lineage import lineage

    model, column = feature.rsplit(".", 1)
    node = lineage(column, models[model], schema=schema, dialect="duckdb")
    return {f"{exp.table_name(n.expression)}.{n.name.rsplit('.', 1)[-1]}" for n in node.walk()
            if isinstance(n.expression, exp.Table)}


def skips_earlier_models(models, schema, feature):
    """Keeps only sources read directly by the feature's own model: misses what flows through staged_orders."""
    return {path[0] for path in _graph(models, schema).upstream_paths(feature) if len(path) == 2}


def unqualified(models, schema, feature):
    return {source.rsplit(".", 1)[1] for source in package_sources(models, schema, feature)}


def one_string(models, schema, feature):
    return ",".join(sorted(package_sources(models, schema, feature)))


def pairs(models, schema, feature):
    return [tuple(s.split(".")) for s in package_sources(models, schema, feature)]


def crashes(models, schema, feature):
    return {"x": 1}[feature]


def cte_names(models, schema, feature):
    """Stops at the CTE of the hidden sensor pipeline (daily.avg_temp_f) but is right elsewhere."""
    if feature == "site_features.mean_daily_temp_f":
        return {"daily.avg_temp_f"}
    return package_sources(models, schema, feature)


def adds_wrong_column(models, schema, feature):
    found = package_sources(models, schema, feature)
    return found | {"orders.channel"} if feature == "customer_features.order_count" else found


@pytest.mark.parametrize(("answer", "needle"), [
    (with_filters, "only filter, join or group the rows"),
    (alias_qualified, "the alias of table"),
    (stops_at_models, "is a column of the model staged_orders, not a raw field"),
    (skips_earlier_models, "you missed 2 raw field(s): a column of orders reached through staged_orders.order_id"),
    (unqualified, "is not qualified"),
    (one_string, "return a set of 'table.column' strings, got str"),
    (pairs, "return 'table.column' strings, got ("),
    (crashes, "your function raised KeyError"),
    (cte_names, "'daily', a CTE"),
    (adds_wrong_column, "['orders.channel'], which do not flow into it"),
])
def test_wrong_answers_fail_with_a_reason(answer: Any, needle: str) -> None:
    result = _run(answer)
    assert not result.passed and result.attempted, result.message
    assert needle in result.message, result.message


def test_unknown_table_and_column_are_named() -> None:
    def bad_table(models, schema, feature):
        return {"order.status"} if feature == "customer_features.cancel_rate" else package_sources(
            models, schema, feature)

    def bad_column(models, schema, feature):
        return {"orders.state"} if feature == "customer_features.cancel_rate" else package_sources(
            models, schema, feature)

    assert "'order' is not a raw table" in _run(bad_table).message
    assert "table orders has no column 'state'" in _run(bad_column).message


def test_stub_is_not_attempted_and_non_function_fails() -> None:
    def stub(models, schema, feature):
        raise NotImplementedError("write your solution here")

    result = _run(stub)
    assert not result.passed and not result.attempted
    result = _run({"customer_features.total_spend": {"payments.amount"}})
    assert not result.passed and "expected a function" in result.message


def test_missing_context_is_an_authoring_error() -> None:
    with pytest.raises(GradingError, match="context"):
        check(ID, sqlglot_sources, context={"schema": SCHEMA}, show=False)
