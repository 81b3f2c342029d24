"""Exercise of lab ``04_quality``, section 3: the raw sources of a feature (``quality.feature_lineage``).

The learner writes ``raw_sources(models, schema, feature)``: the raw ``table.column`` fields
whose values flow into ``feature`` (``model.column``) through the pipeline's SQL. The grader
derives the lineage of every column of the lab's pipeline (with the new feature model) and of
three hidden pipelines with :mod:`platform_kit.lineage` and compares, feature by feature.

What counts: *value* sources only, i.e. the columns read by the expression that computes the
feature (CASE conditions and a window's PARTITION BY / ORDER BY inside it included), followed
through CTEs, subqueries, joins and earlier models down to the raw tables. Columns that only
filter, join or group rows (WHERE, JOIN ... ON, GROUP BY, HAVING, QUALIFY) are not listed;
the package reports those with ``include_filters=True``. ``COUNT(*)`` has no value source.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
Schema = dict[str, dict[str, str]]

#: Hidden pipelines: (label, raw schema, models in run order).
HIDDEN: tuple[tuple[str, Schema, dict[str, str]], ...] = (
    ("the hidden sensor pipeline (two models, a CTE, a join, HAVING, COUNT(*))",
     {"readings": {"device_id": "BIGINT", "ts": "TIMESTAMP", "temp_c": "DOUBLE", "humidity": "DOUBLE",
                   "quality_flag": "VARCHAR"},
      "devices": {"device_id": "BIGINT", "site": "VARCHAR", "model": "VARCHAR", "installed_at": "TIMESTAMP"}},
     {"clean_readings": """
SELECT r.device_id, r.ts, r.temp_c * 9 / 5 + 32 AS temp_f, r.humidity
FROM readings AS r
WHERE r.quality_flag = 'ok'
""", "site_features": """
WITH daily AS (
    SELECT d.site, DATE_TRUNC('day', c.ts) AS day, AVG(c.temp_f) AS avg_temp_f, MAX(c.humidity) AS max_humidity
    FROM clean_readings AS c
    JOIN devices AS d ON d.device_id = c.device_id
    WHERE d.installed_at < TIMESTAMP '2024-06-01'
    GROUP BY 1, 2
)
SELECT site, AVG(avg_temp_f) AS mean_daily_temp_f, MAX(max_humidity) AS peak_humidity,
       COUNT(DISTINCT day) AS days_reported, COUNT(*) AS rows_seen
FROM daily
GROUP BY site
HAVING COUNT(*) > 1
"""}),
    ("the hidden account pipeline (unqualified columns in a join, a subquery, CASE, a window)",
     {"accounts": {"account_id": "BIGINT", "tier": "VARCHAR", "country": "VARCHAR", "opened_at": "TIMESTAMP"},
      "txns": {"txn_id": "BIGINT", "account_id": "BIGINT", "amount": "DOUBLE", "kind": "VARCHAR",
               "created_at": "TIMESTAMP"}},
     {"account_features": """
SELECT a.account_id, tier,
       CASE WHEN country IN ('DE', 'FR') THEN 'eu' ELSE 'other' END AS zone,
       t.spend,
       RANK() OVER (PARTITION BY tier ORDER BY t.spend DESC) AS spend_rank_in_tier
FROM accounts AS a
JOIN (
    SELECT account_id, SUM(CASE WHEN kind = 'refund' THEN -amount ELSE amount END) AS spend
    FROM txns
    WHERE created_at >= TIMESTAMP '2024-01-01'
    GROUP BY account_id
) AS t ON t.account_id = a.account_id
WHERE opened_at < TIMESTAMP '2024-12-01'
"""}),
    ("the hidden user pipeline (SELECT *, two CTEs, a LEFT JOIN, a correlated subquery)",
     {"events": {"user_id": "BIGINT", "event": "VARCHAR", "ts": "TIMESTAMP", "value": "DOUBLE"},
      "users": {"user_id": "BIGINT", "plan": "VARCHAR", "signup_ts": "TIMESTAMP"}},
     {"user_daily": """
SELECT user_id, CAST(ts AS DATE) AS day, COUNT(*) AS events, SUM(value) AS value
FROM events
WHERE event <> 'heartbeat'
GROUP BY user_id, CAST(ts AS DATE)
""", "user_features": """
WITH recent AS (SELECT * FROM user_daily WHERE day >= DATE '2024-06-01'),
     ranked AS (
       SELECT user_id, value, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY value DESC) AS rn FROM recent)
SELECT u.user_id, u.plan,
       COALESCE(SUM(r.events), 0) AS events_90d,
       MAX(r.value) AS best_day_value,
       DATE_DIFF('day', u.signup_ts, MAX(r.day)) AS tenure_at_last_active,
       (SELECT MAX(value) FROM ranked AS k WHERE k.user_id = u.user_id AND k.rn = 1) AS top_value
FROM users AS u
LEFT JOIN recent AS r ON r.user_id = u.user_id
GROUP BY u.user_id, u.plan, u.signup_ts
"""}),
)


class _Lineage:
    """The package's answer for one pipeline: value sources, filter-only sources and paths per column."""

    def __init__(self, schema: Mapping[str, Mapping[str, str]], models: Mapping[str, str]) -> None:
        from platform_kit.lineage import LineageGraph, pipeline_lineage

        self.schema = {str(t).lower(): {str(c).lower() for c in cols} for t, cols in schema.items()}
        self.models = dict(models)
        self.graph = LineageGraph(pipeline_lineage(models, schema={t: dict(c) for t, c in schema.items()}))
        self.features = sorted(n for n in self.graph.nodes if n.rsplit(".", 1)[0] in self.models)
        self.names = _sql_names(self.models)

    def value(self, feature: str) -> set[str]:
        return self.graph.upstream(feature)

    def filters(self, feature: str) -> set[str]:
        return self.graph.upstream(feature, include_filters=True) - self.value(feature)

    def through(self, feature: str, raw: str) -> str | None:
        """The first intermediate (earlier model) column on a path from ``raw`` to ``feature``."""
        hops = [p[1] for p in self.graph.upstream_paths(feature) if p[0] == raw and len(p) > 2]
        return min(hops) if hops else None


def _sql_names(models: Mapping[str, str]) -> dict[str, str]:
    """Aliases, CTE and subquery names used in the models -> what they are."""
    import sqlglot
    from sqlglot import exp

    names: dict[str, str] = {}
    for sql in models.values():
        tree = sqlglot.parse_one(sql, dialect="duckdb")
        for table in tree.find_all(exp.Table):
            if table.alias:
                names[table.alias.lower()] = f"the alias of table {table.name}"
        for cte in tree.find_all(exp.CTE):
            names[cte.alias.lower()] = "a CTE"
        for sub in tree.find_all(exp.Subquery):
            if sub.alias:
                names[sub.alias.lower()] = "the alias of a subquery"
    return names


def _as_fields(result: Any, where: str) -> set[str]:
    if isinstance(result, Mapping):
        result = list(result)
    if isinstance(result, str) or not isinstance(result, set | frozenset | list | tuple):
        fail(f"return a set of 'table.column' strings, got {type(result).__name__} for {where}")
    if not all(isinstance(item, str) for item in result):
        bad = next(item for item in result if not isinstance(item, str))
        fail(f"return 'table.column' strings, got {bad!r} ({type(bad).__name__}) for {where}")
    return {item.strip().lower() for item in result}


def _check_names(got: set[str], truth: _Lineage, where: str) -> None:
    raw = ", ".join(sorted(truth.schema))
    for item in sorted(got):
        table, dot, column = item.rpartition(".")
        if not dot or not table:
            fail(f"'{item}' for {where} is not qualified: write every source as table.column, "
                 f"with the raw table's name ({raw})")
        if table in truth.schema:
            if column not in truth.schema[table]:
                fail(f"'{item}' for {where}: table {table} has no column {column!r}")
        elif table in truth.models:
            fail(f"'{item}' for {where} is a column of the model {table}, not a raw field: follow it through "
                 f"{table}'s SQL down to the raw table column(s) it is computed from")
        elif table in truth.names:
            fail(f"'{item}' for {where} is qualified with {table!r}, {truth.names[table]}: name the raw table "
                 f"it reads ({raw}), and follow CTEs and subqueries down to it")
        else:
            fail(f"'{item}' for {where}: {table!r} is not a raw table of this pipeline ({raw})")


def _compare(got: set[str], truth: _Lineage, feature: str, where: str) -> None:
    _check_names(got, truth, where)
    expected = truth.value(feature)
    extra, missing = got - expected, expected - got
    if extra:
        only_filters = extra <= truth.filters(feature)
        if only_filters:
            fail(f"for {where} you listed {sorted(extra)}, which only filter, join or group the rows "
                 "(WHERE / JOIN ON / GROUP BY / HAVING): they decide which rows are used, not the value; "
                 "list the value sources only")
        fail(f"for {where} you listed {sorted(extra)}, which do not flow into it")
    if missing:
        hints = []
        for raw in sorted(missing):
            hop = truth.through(feature, raw)
            table = raw.rsplit(".", 1)[0]
            hints.append(f"a column of {table} reached through {hop}" if hop else
                         f"a column of {table} read in the same model (look inside CTEs, subqueries, CASE "
                         "and window clauses)")
        fail(f"for {where} you missed {len(missing)} raw field(s): {'; '.join(hints)}")


def _call(answer: Callable[..., Any], truth: _Lineage, schema: Schema, feature: str, where: str) -> set[str]:
    try:
        result = answer(dict(truth.models), copy.deepcopy(schema), feature)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's code: report it with the case
        fail(f"your function raised {type(exc).__name__}: {exc} for {where}")
    return _as_fields(result, where)


@exercise(
    id="quality.feature_lineage",
    lab=LAB,
    kind="function",
    title="the raw value sources of every feature, through CTEs, joins and earlier models",
    hint="model, column = feature.rsplit('.', 1); node = sqlglot.lineage.lineage(column, models[model], "
    "schema=schema, sources={earlier models}, dialect='duckdb'); keep the nodes n of node.walk() whose "
    "n.expression is an exp.Table, as f'{exp.table_name(n.expression)}.{column name}'",
)
def _grade_feature_lineage(answer: Any, context: dict[str, Any]) -> str:
    models = context_value(context, "models", Mapping, exercise_id="quality.feature_lineage")
    schema = context_value(context, "schema", Mapping, exercise_id="quality.feature_lineage")
    new_model = str(context.get("new_model") or list(models)[-1])
    lab = _Lineage(schema, models)
    shown = []
    for feature in lab.features:
        got = _call(answer, lab, {t: dict(c) for t, c in schema.items()}, feature,
                    f"{feature} (the lab's pipeline)")
        _compare(got, lab, feature, f"{feature} (the lab's pipeline)")
        if feature.startswith(f"{new_model}."):
            shown.append(f"{feature.rsplit('.', 1)[1]} <- {', '.join(sorted(got)) or 'nothing'}")
    hidden = 0
    for label, hidden_schema, hidden_models in HIDDEN:
        truth = _Lineage(hidden_schema, hidden_models)
        for feature in truth.features:
            where = f"{feature} ({label})"
            _compare(_call(answer, truth, hidden_schema, feature, where), truth, feature, where)
            hidden += 1
    return (f"the value sources of all {len(lab.features)} columns of the lab's pipeline match the package "
            f"({'; '.join(shown)}), and of {hidden} columns in {len(HIDDEN)} hidden pipelines")
