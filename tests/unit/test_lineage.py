"""Tests of platform_kit.lineage: SQL column lineage, the lineage graph, OpenLineage merge."""

from __future__ import annotations

import json
import re

import matplotlib
import pytest

from platform_kit.errors import InputError
from platform_kit.lineage import ColumnEdge, LineageGraph, column_lineage, pipeline_lineage
from platform_kit.lineage.examples import (
    EXERCISE_MODEL,
    FEATURE_LINEAGE,
    PIPELINE,
    SCHEMA,
    schema_from_frames,
)

matplotlib.use("Agg")

SMALL = {"orders": {"order_id": "BIGINT", "customer_id": "BIGINT", "amount": "DOUBLE", "status": "TEXT"},
         "customers": {"customer_id": "BIGINT", "segment": "TEXT"}}


@pytest.fixture(scope="module")
def graph() -> LineageGraph:
    return LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA), feature_tables={"customer_features"})


def _direct(edges: list[ColumnEdge]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for e in edges:
        if e.kind != "filter":
            out.setdefault(e.target, {})[e.source] = e.kind
    return out


def test_schema_matches_generated_tables() -> None:
    from platform_kit.datasets import generate_table

    assert schema_from_frames({t: generate_table(t, "tiny", 42) for t in SCHEMA}) == SCHEMA


@pytest.mark.parametrize("feature", sorted(FEATURE_LINEAGE))
def test_upstream_kinds_equal_hand_written(graph: LineageGraph, feature: str) -> None:
    assert graph.upstream_kinds(feature) == FEATURE_LINEAGE[feature]


def test_features_are_the_feature_table(graph: LineageGraph) -> None:
    assert graph.features == set(FEATURE_LINEAGE)


def test_upstream_paths_go_through_staged_orders(graph: LineageGraph) -> None:
    assert graph.upstream_paths("avg_order_value") == [
        ("orders.order_id", "staged_orders.order_id", "customer_features.avg_order_value"),
        ("payments.amount", "staged_orders.paid_amount", "customer_features.avg_order_value"),
    ]


def test_downstream_of_raw_fields(graph: LineageGraph) -> None:
    assert graph.downstream("orders.status") == {"customer_features.cancel_rate"}
    assert graph.downstream("payments.amount") == {
        "customer_features.total_spend", "customer_features.avg_order_value",
        "customer_features.spend_share_of_segment"}
    assert graph.downstream("orders.total_amount") == set()  # staged but no feature uses it
    assert graph.downstream("payments.status") == set()
    assert graph.downstream("payments.status", include_filters=True) == set(FEATURE_LINEAGE)


def test_upstream_with_filters_adds_row_selecting_columns(graph: LineageGraph) -> None:
    extra = graph.upstream("total_spend", include_filters=True) - graph.upstream("total_spend")
    assert {"payments.status", "payments.order_id", "orders.order_id", "orders.customer_id"} <= extra


def test_exercise_new_feature_lineage() -> None:
    g = LineageGraph(pipeline_lineage(PIPELINE | EXERCISE_MODEL, schema=SCHEMA),
                     feature_tables={"customer_item_features"})
    assert g.upstream_kinds("items_per_order") == {"order_items.quantity": "aggregate",
                                                   "orders.order_id": "aggregate"}
    assert g.upstream_kinds("max_unit_price") == {"order_items.unit_price": "aggregate"}
    assert "orders.status" in g.upstream("items_per_order", include_filters=True)
    assert "orders.status" not in g.upstream("items_per_order")


def test_column_lineage_cte_alias_window_subquery_case() -> None:
    sql = """WITH o AS (SELECT customer_id AS cid, amount * 2 AS a2, status FROM orders WHERE status <> 'x')
    SELECT c.segment AS seg, o.cid, SUM(o.a2) AS total,
           ROW_NUMBER() OVER (PARTITION BY o.cid ORDER BY o.a2) AS rn,
           (SELECT MAX(amount) FROM orders) AS mx,
           CASE WHEN o.cid > 1 THEN 1 END AS flag
    FROM o JOIN customers AS c ON c.customer_id = o.cid GROUP BY 1, 2"""
    edges = column_lineage(sql, target="t", schema=SMALL)
    assert _direct(edges) == {
        "t.seg": {"customers.segment": "direct"},
        "t.cid": {"orders.customer_id": "direct"},
        "t.total": {"orders.amount": "aggregate"},
        "t.rn": {"orders.customer_id": "window", "orders.amount": "window"},
        "t.mx": {"orders.amount": "aggregate"},
        "t.flag": {"orders.customer_id": "case"},
    }
    filters = {(e.source, e.target) for e in edges if e.kind == "filter"}
    assert ("orders.status", "t.total") in filters  # the CTE's WHERE
    assert ("customers.customer_id", "t.seg") in filters  # the join key
    assert ("orders.status", "t.flag") in filters
    assert ("orders.customer_id", "t.flag") not in filters  # join/group key, but already a data-flow edge


def test_column_lineage_select_star_expands_with_schema() -> None:
    edges = column_lineage("SELECT * FROM (SELECT * FROM customers) AS s", target="t", schema=SMALL)
    assert _direct(edges) == {"t.customer_id": {"customers.customer_id": "direct"},
                              "t.segment": {"customers.segment": "direct"}}


def test_column_lineage_star_without_schema_is_input_error() -> None:
    with pytest.raises(InputError, match=r"SELECT \*") as info:
        column_lineage("SELECT * FROM customers")
    assert "schema=" in info.value.fix


def test_column_lineage_without_schema_single_table() -> None:
    edges = column_lineage("SELECT customer_id, UPPER(segment) AS s FROM customers", target="t", dialect="spark")
    assert _direct(edges) == {"t.customer_id": {"customers.customer_id": "direct"},
                              "t.s": {"customers.segment": "expression"}}


def test_column_lineage_sources_inline_views() -> None:
    edges = column_lineage("SELECT n FROM v", target="t", sources={"v": "SELECT amount + 1 AS n FROM orders"},
                           schema=SMALL | {"v": {"n": "DOUBLE"}})
    assert _direct(edges) == {"t.n": {"orders.amount": "expression"}}


def test_column_lineage_parse_error_names_model() -> None:
    with pytest.raises(InputError, match=r"model 'bad'.*does not parse") as info:
        pipeline_lineage({"bad": "SELECT FROM WHERE"}, schema=SMALL)
    assert info.value.fix
    assert "Token" not in info.value.message


@pytest.mark.parametrize(("sql", "pattern"), [
    ("SELECT nope FROM orders", r"nope"),
    ("SELECT a FROM nowhere", r"unknown table 'nowhere'"),
    ("INSERT INTO orders VALUES (1)", r"one SELECT"),
    ("", r"empty"),
])
def test_column_lineage_bad_input(sql: str, pattern: str) -> None:
    with pytest.raises(InputError, match=pattern) as info:
        column_lineage(sql, schema=SMALL)
    assert info.value.fix


def test_pipeline_lineage_model_order_matters() -> None:
    reordered = {"customer_features": PIPELINE["customer_features"], "staged_orders": PIPELINE["staged_orders"]}
    with pytest.raises(InputError, match="staged_orders") as info:
        pipeline_lineage(reordered, schema=SCHEMA)
    assert "earlier" in info.value.fix


def test_pipeline_lineage_model_shadowing_raw_table_is_input_error() -> None:
    with pytest.raises(InputError, match="raw table"):
        pipeline_lineage({"orders": "SELECT order_id FROM orders"}, schema=SMALL)


def test_resolve_unknown_and_ambiguous(graph: LineageGraph) -> None:
    with pytest.raises(InputError, match="no column"):
        graph.upstream("nope")
    with pytest.raises(InputError, match="ambiguous"):
        graph.downstream("customer_id")


def _naive_regex_lineage(models: dict[str, str], schema: dict[str, dict[str, str]]) -> dict[str, set[str]]:
    """A wrong answer: any raw column whose name appears in the model's text is a source of every output."""
    out: dict[str, set[str]] = {}
    for model, sql in models.items():
        for alias in re.findall(r"AS (\w+)", sql):
            out[f"{model}.{alias}"] = {f"{t}.{c}" for t, cols in schema.items() for c in cols
                                       if re.search(rf"\b{c}\b", sql)}
    return out


def test_naive_regex_lineage_is_rejected(graph: LineageGraph) -> None:
    naive = _naive_regex_lineage(PIPELINE, SCHEMA)
    mismatched = [f for f in FEATURE_LINEAGE if f in naive and naive[f] != graph.upstream(f)]
    assert "customer_features.total_spend" in mismatched
    assert graph.upstream("total_spend") == {"payments.amount"}


def _event(run_id: str) -> dict:
    return {
        "eventType": "COMPLETE", "eventTime": "2025-01-01T00:00:00+00:00", "producer": "https://example.org/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id}, "job": {"namespace": "lab01", "name": "lab01.load_orders"},
        "inputs": [{"namespace": "kafka://workbench", "name": "lab01.orders"}],
        "outputs": [{"namespace": "clickhouse://workbench", "name": "default.orders", "facets": {
            "columnLineage": {"fields": {
                "total_amount": {"inputFields": [{"namespace": "kafka://workbench", "name": "lab01.orders",
                                                  "field": "amount", "transformations": [
                                                      {"type": "DIRECT", "subtype": "IDENTITY"}]}]},
                "status": {"inputFields": [{"namespace": "kafka://workbench", "name": "lab01.orders",
                                            "field": "state", "transformations": [
                                                {"type": "DIRECT", "subtype": "TRANSFORMATION"}]}]}}}}}],
    }


def test_merge_openlineage_extends_upstream() -> None:
    g = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA), feature_tables={"customer_features"})
    added = g.merge_openlineage([json.dumps(_event("01890000-0000-7000-8000-000000000001"))],
                                dataset_names={"clickhouse://default.orders": "orders"})
    assert added == 2
    assert g.upstream("cancel_rate") == {"lab01.orders.state"}
    assert g.upstream_kinds("cancel_rate") == {"lab01.orders.state": "aggregate"}
    assert g.downstream("lab01.orders.state") == {"customer_features.cancel_rate"}
    frame = g.edges_frame()
    assert set(frame.loc[frame.origin == "openlineage", "target"]) == {"orders.total_amount", "orders.status"}


def test_merge_openlineage_lab1_builder_roundtrip() -> None:
    from openlineage.client.serde import Serde

    from platform_kit.assessment.lineage import build_run_events

    events = build_run_events(job_name="lab01.enrich", inputs={"o": "kafka://lab01.orders"},
                              output="clickhouse://default.orders", column_lineage={"order_id": ["o.order_id"]},
                              started_at="2025-01-01T00:00:00+00:00",
                              finished_at="2025-01-01T00:01:00+00:00")
    g = LineageGraph()
    g.merge_openlineage([Serde.to_json(e) for e in events])
    assert [(e.source, e.target, e.kind) for e in g.edges()] == [
        ("lab01.orders.order_id", "default.orders.order_id", "direct")]


def test_merge_openlineage_bad_event_is_input_error() -> None:
    with pytest.raises(InputError, match="OpenLineage") as info:
        LineageGraph().merge_openlineage(["{not json"])
    assert info.value.fix


def test_merge_openlineage_default_without_log_merges_nothing(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("platform_kit.assessment.lineage.openlineage_log_path", lambda: tmp_path / "none.jsonl")
    assert LineageGraph().merge_openlineage() == 0


def test_edges_frame_and_plot(graph: LineageGraph) -> None:
    frame = graph.edges_frame()
    assert list(frame.columns) == ["source", "target", "kind", "model", "expression", "origin"]
    assert set(frame.kind) <= {"direct", "expression", "case", "aggregate", "window", "filter"}
    layers = graph.layers()
    assert layers["orders.status"] == 0 and layers["staged_orders.is_cancelled"] == 1
    assert layers["customer_features.cancel_rate"] == 2
    ax = graph.plot()
    assert {t.get_text() for t in ax.texts} - {""} == graph.nodes
    matplotlib.pyplot.close(ax.figure)


def test_to_networkx_matches(graph: LineageGraph) -> None:
    nx_graph = graph.to_networkx()
    assert nx_graph.number_of_edges() == len(graph.edges())


# ---------------------------------------------------------------- OpenLineage: lake files and the landing job

def test_lake_table_names_maps_lab1_lake_files_only() -> None:
    from openlineage.client.serde import Serde

    from platform_kit.assessment.lineage import build_run_events
    from platform_kit.lineage import lake_table_names

    lake = "parquet://tmp/state/store/lake/lab01/catalog_tiny_42/orders.parquet"
    publish = build_run_events(job_name="lab01.publish_orders", inputs={"orders": lake},
                               output="kafka://lab01.orders", column_lineage={"status": ["orders.status"]},
                               started_at="2025-01-01T00:00:00+00:00", finished_at="2025-01-01T00:00:01+00:00")
    enrich = build_run_events(job_name="lab01.enrich_orders", inputs={"o": "kafka://lab01.orders"},
                              output="clickhouse://default.lab01_orders_enriched",
                              column_lineage={"status": ["o.status"]},
                              started_at="2025-01-01T00:00:00+00:00", finished_at="2025-01-01T00:00:02+00:00")
    events = [Serde.to_json(e) for e in publish + enrich]
    names = lake_table_names(events, SCHEMA)
    assert names == {lake: "orders"}  # the topic and the ClickHouse table are not raw tables of the SQL
    g = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA), feature_tables={"customer_features"})
    assert g.merge_openlineage(events, dataset_names=names) == 2
    # raw orders.status now also feeds Lab 1's topic and ClickHouse table; the features are unchanged
    assert g.downstream("orders.status") == {"customer_features.cancel_rate"}
    assert "default.lab01_orders_enriched.status" in g.nodes
    assert "orders.status" in g.raw_fields


def test_lake_table_names_bad_event_is_input_error() -> None:
    from platform_kit.lineage import lake_table_names

    with pytest.raises(InputError, match="OpenLineage"):
        lake_table_names(["{not json"], SCHEMA)


def test_landing_events_extend_lineage_upstream() -> None:
    from platform_kit.lineage import lake_table_names
    from platform_kit.lineage.examples import LANDING, landing_events

    events = landing_events()
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    g = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA), feature_tables={"customer_features"})
    assert g.merge_openlineage(events, dataset_names=lake_table_names(events, SCHEMA)) == len(LANDING["columns"])
    assert g.upstream("total_spend") == {"shop.public.payments.amount_cents"}
    assert g.downstream("shop.public.payments.amount_cents") == g.downstream("payments.amount")
    assert g.upstream_kinds("spend_share_of_segment") == {"customers.segment": "window",
                                                          "shop.public.payments.amount_cents": "window"}


# ---------------------------------------------------------------- running the SQL, shuffling raw fields

@pytest.fixture(scope="module")
def frames() -> dict:
    from platform_kit.datasets import generate_table

    return {t: generate_table(t, "tiny", 42) for t in SCHEMA}


def test_run_pipeline_on_duckdb(frames: dict) -> None:
    from platform_kit.lineage import run_pipeline

    out = run_pipeline(PIPELINE | EXERCISE_MODEL, frames)
    assert list(out) == ["staged_orders", "customer_features", "customer_item_features"]
    features = out["customer_features"]
    assert list(features.columns) == [f.split(".")[1] for f in FEATURE_LINEAGE]
    assert len(features) == len(frames["customers"])
    assert len(out["staged_orders"]) == len(frames["orders"])
    captured = frames["payments"].loc[frames["payments"].status == "captured", "amount"].sum()
    assert features["total_spend"].sum() == pytest.approx(captured)


def test_run_pipeline_bad_sql_and_frames(frames: dict) -> None:
    from platform_kit.lineage import run_pipeline

    with pytest.raises(InputError, match="model 'bad' failed on DuckDB") as info:
        run_pipeline({"bad": "SELECT nope FROM orders"}, frames)
    assert info.value.fix
    with pytest.raises(InputError, match="not a DataFrame"):
        run_pipeline({"m": "SELECT 1 AS x"}, {"orders": [1, 2]})
    with pytest.raises(InputError, match="no models"):
        run_pipeline({}, frames)


def test_changed_columns_nulls_tolerance_and_keys() -> None:
    import pandas as pd

    from platform_kit.lineage.impact import changed_columns

    a = pd.DataFrame({"k": [1, 2, 3], "x": [1.0, None, 3.0], "s": ["a", None, "c"], "n": pd.array([1, None, 3])})
    b = a.iloc[::-1].copy()
    b["x"] = [3.0 * (1 + 1e-12), None, 1.0]
    assert changed_columns(a, b, "k") == []
    b.loc[b.k == 2, "s"] = "z"
    assert changed_columns(a, b, "k") == ["s"]
    assert changed_columns(a, b.assign(k=[4, 2, 1]), "k") == ["n", "s", "x"]
    with pytest.raises(InputError, match="not unique"):
        changed_columns(a, a.assign(k=1), "k")
    with pytest.raises(InputError, match="no key column"):
        changed_columns(a, b, "id")


def test_perturbation_impact_is_explained_by_lineage(frames: dict, graph: LineageGraph) -> None:
    from platform_kit.lineage import perturbation_impact, plot_impact

    impact = perturbation_impact(graph, PIPELINE, frames, feature_table="customer_features", key="customer_id")
    assert set(impact["field"]) == {n for n in graph.nodes if n.split(".")[0] in SCHEMA}
    rows = impact.set_index("field")
    assert all(len(u) == 0 for u in impact["unexplained"])  # every change is predicted by lineage with filters
    assert rows.loc["payments.amount", "changed"] == ("avg_order_value", "spend_share_of_segment", "total_spend")
    assert rows.loc["orders.status", "changed"] == ("cancel_rate",)
    # a filter-only column changes values too: captured or not decides which payments are summed
    assert rows.loc["payments.status", "value_lineage"] == ()
    assert "total_spend" in rows.loc["payments.status", "changed"]
    # a permutation keeps per-customer counts: value lineage predicts more than the shuffle moves
    assert rows.loc["orders.order_id", "not_changed"] == ("order_count",)
    assert rows.loc["orders.total_amount", "changed"] == ()  # staged, but no feature reads it
    ax = plot_impact(impact)
    assert len(ax.get_yticklabels()) == len(impact)
    matplotlib.pyplot.close(ax.figure)


def test_perturbation_impact_bad_arguments(frames: dict, graph: LineageGraph) -> None:
    from platform_kit.lineage import perturbation_impact, plot_impact

    with pytest.raises(InputError, match="feature_table"):
        perturbation_impact(graph, PIPELINE, frames, feature_table="nope", key="customer_id")
    with pytest.raises(InputError, match="cannot shuffle 'orders.nope'"):
        perturbation_impact(graph, PIPELINE, frames, feature_table="customer_features", key="customer_id",
                            fields=["orders.nope"])
    with pytest.raises(InputError, match="impact table"):
        plot_impact(frames["orders"])
