"""Lineage (Lab 1, section 7): OpenLineage events, their validation, ingestion, and where_from.

Tiers: pure logic (column references, event building, walking edges), failure (malformed
OpenLineage input rejected with the path of the bad field, cycles, bad times), and the file
transport round trip into a SQLite catalog (no engine needed).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from platform_kit.assessment.catalog import (
    ColumnRecord,
    DatasetRecord,
    LineageEdge,
    open_catalog,
    plot_lineage_graph,
    walk_lineage,
    where_from,
)
from platform_kit.assessment.lineage import (
    MalformedLineageError,
    build_run_events,
    dataset_to_openlineage,
    edges_from_event,
    emit_pipeline_lineage,
    ingest_openlineage,
    openlineage_log_path,
    openlineage_to_dataset,
    parse_run_event,
    read_openlineage_log,
    resolve_column_ref,
)
from platform_kit.errors import ConfigError, WorkbenchError

ORDERS = "parquet://lake/lab01/orders.parquet"
CUSTOMERS = "parquet://lake/lab01/customers.parquet"
TOPIC = "kafka://lab01.orders"
OUTPUT = "clickhouse://default.lab01_orders_enriched"
LINEAGE = {"amount_usd": ["orders.total_amount", "orders.currency"], "region": ["customers.region"],
           "segment": ["customers.segment"], "order_id": ["orders.order_id"]}
START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _events(**overrides: Any) -> list[Any]:
    args = {"job_name": "lab01.enrich_orders", "inputs": {"orders": TOPIC, "customers": CUSTOMERS},
            "output": OUTPUT, "column_lineage": LINEAGE, "started_at": START,
            "finished_at": START + timedelta(seconds=3), "records_in": 1000, "records_out": 990} | overrides
    return build_run_events(**args)


def _json(event: Any) -> dict[str, Any]:
    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(event))


# --- ids and column references -------------------------------------------------------------------


def test_dataset_ids_round_trip_through_openlineage_names() -> None:
    for identifier in (ORDERS, TOPIC, OUTPUT, "postgres://workbench.public.customers"):
        assert openlineage_to_dataset(*dataset_to_openlineage(identifier)) == identifier
    assert dataset_to_openlineage(TOPIC) == ("kafka://workbench", "lab01.orders")
    assert openlineage_to_dataset("postgres://db.example:5432", "shop.public.t") == "postgres://shop.public.t"


def test_column_references_resolve_by_alias_id_or_name() -> None:
    inputs = {"orders": TOPIC, "customers": CUSTOMERS}
    assert resolve_column_ref("orders.total_amount", inputs) == (TOPIC, "total_amount")
    assert resolve_column_ref("lab01.orders.currency", inputs) == (TOPIC, "currency")  # the topic's name
    assert resolve_column_ref(f"{ORDERS}.currency", inputs) == (ORDERS, "currency")  # a full id
    assert resolve_column_ref("customers.parquet.region", {"c": CUSTOMERS}) == (CUSTOMERS, "region")


@pytest.mark.parametrize(
    ("ref", "inputs", "words"),
    [
        ("total_amount", {"orders": TOPIC}, "not 'dataset.column'"),
        ("orders.", {"orders": TOPIC}, "not 'dataset.column'"),
        ("payments.amount", {"orders": TOPIC}, "is not an input"),
        ("orders.x", {"a": ORDERS, "b": "parquet://archive/orders.parquet"}, "matches several inputs"),
    ],
)
def test_bad_column_references_are_rejected(ref: str, inputs: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        resolve_column_ref(ref, inputs)


# --- building events -------------------------------------------------------------------------------


def test_run_events_are_valid_openlineage_json() -> None:
    start, complete = (_json(e) for e in _events())
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["run"]["runId"] == complete["run"]["runId"]
    assert start["schemaURL"].endswith("OpenLineage.json#/$defs/RunEvent")
    assert complete["eventTime"] == "2024-05-01T12:00:03+00:00"
    assert [d["name"] for d in complete["inputs"]] == ["lab01.orders", "lake/lab01/customers.parquet"]
    assert complete["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 1000
    output = complete["outputs"][0]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 990
    fields = output["facets"]["columnLineage"]["fields"]
    assert [f["field"] for f in fields["amount_usd"]["inputFields"]] == ["total_amount", "currency"]
    assert fields["order_id"]["inputFields"][0]["transformations"][0]["subtype"] == "IDENTITY"
    assert fields["amount_usd"]["inputFields"][0]["transformations"][0]["subtype"] == "TRANSFORMATION"
    assert output["facets"]["columnLineage"]["_schemaURL"].endswith("ColumnLineageDatasetFacet")
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == list(LINEAGE)
    for event in (start, complete):
        parse_run_event(event)  # our validator accepts what the client's serializer wrote


def test_edges_from_an_event() -> None:
    edges = edges_from_event(_json(_events()[1]))
    assert LineageEdge(TOPIC, "currency", OUTPUT, "amount_usd", "lab01.enrich_orders",
                       "DIRECT/TRANSFORMATION", edges[0].run_id) in edges
    assert {(e.input_dataset, e.input_column, e.output_column) for e in edges} >= {
        (CUSTOMERS, "region", "region"), (TOPIC, "order_id", "order_id")}


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"job_name": ""}, "job_name is empty"),
        ({"column_lineage": {}}, "column_lineage is empty"),
        ({"column_lineage": {"x": "orders.x"}}, "non-empty list"),
        ({"output": "lab01_orders_enriched"}, "scheme://name"),
        ({"started_at": 12.5}, "perf_counter"),
        ({"started_at": "yesterday"}, "ISO-8601"),
        ({"finished_at": START - timedelta(seconds=1)}, "before started_at"),
        ({"finished_at": object()}, "pass a datetime"),
    ],
)
def test_bad_run_arguments_give_clear_errors(overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        _events(**overrides)


def test_times_accept_epoch_seconds_iso_text_and_naive_datetimes() -> None:
    epoch = START.timestamp()
    for started in (epoch, START.isoformat(), START.replace(tzinfo=None), pd.Timestamp(START)):
        assert _json(_events(started_at=started)[0])["eventTime"] == "2024-05-01T12:00:00+00:00"


# --- malformed OpenLineage input -------------------------------------------------------------------


def _valid() -> dict[str, Any]:
    return _json(_events()[1])


def _broken(path: list[Any], value: Any = None, delete: bool = False) -> dict[str, Any]:
    event = _valid()
    target = event
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


@pytest.mark.parametrize(
    ("event", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (_broken(["run"], delete=True), "run: Field required"),
        (_broken(["run", "runId"], "run-1"), "run.runId"),
        (_broken(["eventType"], "FINISHED"), "eventType"),
        (_broken(["eventTime"], "noon"), "eventTime"),
        (_broken(["job", "name"], ""), "job.name"),
        (_broken(["schemaURL"], "https://example.org/other.json"), "schemaURL"),
        (_broken(["outputs", 0, "facets", "columnLineage", "fields", "region"], {"inputs": []}),
         "outputs.0.facets.columnLineage.fields.region.inputFields: Field required"),
        (_broken(["outputs", 0, "facets", "columnLineage", "fields", "region", "inputFields", 0, "field"],
                 ""), "inputFields.0.field"),
        (_broken(["outputs", 0, "facets", "columnLineage", "fields"], ["region"]), "columnLineage.fields"),
    ],
)
def test_malformed_events_are_rejected_with_the_bad_field(event: Any, words: str) -> None:
    with pytest.raises(MalformedLineageError, match=words) as caught:
        edges_from_event(event)
    assert isinstance(caught.value, WorkbenchError) and caught.value.fix


def test_a_malformed_batch_stores_nothing(tmp_path: Path) -> None:
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        with pytest.raises(MalformedLineageError):
            ingest_openlineage(catalog, [_valid(), "{broken"])
        assert catalog.lineage().empty and catalog.datasets().empty


def test_reading_a_log_names_the_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "ol.jsonl"
    log.write_text(json.dumps(_valid()) + "\n\n" + '{"eventType": "START"}\n', encoding="utf-8")
    with pytest.raises(MalformedLineageError, match=r"ol.jsonl:3: .*eventTime"):
        read_openlineage_log(log)
    assert read_openlineage_log(tmp_path / "missing.jsonl") == []


# --- emitting through the client's file transport ---------------------------------------------------


def test_emit_writes_json_lines_and_ingests_edges(tmp_path: Path) -> None:
    log = tmp_path / "catalog" / "openlineage.jsonl"
    with open_catalog(tmp_path / "catalog" / "catalog.sqlite") as catalog:
        catalog.upsert([DatasetRecord(id=ORDERS, source="parquet", name="orders", columns=tuple(
            ColumnRecord(name=n, type=t) for n, t in (("order_id", "int64"), ("total_amount", "double"),
                                                      ("currency", "string"))))])
        publish = emit_pipeline_lineage(
            catalog, job_name="lab01.publish_orders", inputs={"orders": ORDERS}, output=TOPIC,
            column_lineage={c: [f"orders.{c}"] for c in ("order_id", "total_amount", "currency")},
            started_at=START, finished_at=START, path=log)
        enrich = emit_pipeline_lineage(
            catalog, job_name="lab01.enrich_orders", inputs={"orders": TOPIC, "customers": CUSTOMERS},
            output=OUTPUT, column_lineage=LINEAGE, started_at=START, finished_at=START + timedelta(seconds=2),
            records_in=10, records_out=9, path=log)
        lines = log.read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["eventType"] for line in lines] == ["START", "COMPLETE"] * 2
        assert [e["eventType"] for e in enrich.events] == ["START", "COMPLETE"] and enrich.path == log
        assert len(read_openlineage_log(log)) == 4
        schema = publish.events[0]["inputs"][0]["facets"]["schema"]["fields"]
        assert {f["name"]: f.get("type") for f in schema}["total_amount"] == "double"  # from the catalog
        assert len(catalog.lineage()) == len(publish.edges) + len(enrich.edges) == 3 + 5
        datasets = catalog.datasets().set_index("id")
        assert datasets.loc[TOPIC, "source"] == "openlineage" and datasets.loc[ORDERS, "source"] == "parquet"
        trace = where_from(catalog, OUTPUT, "amount_usd")
        origins = trace[trace["is_origin"]]
        assert set(zip(origins["input_dataset"], origins["input_column"], strict=True)) == {(ORDERS, "total_amount"),
                                                                               (ORDERS, "currency")}
        assert trace["depth"].max() == 2
        # re-emitting the same run updates the edges in place
        emit_pipeline_lineage(catalog, job_name="lab01.enrich_orders",
                              inputs={"orders": TOPIC, "customers": CUSTOMERS}, output=OUTPUT,
                              column_lineage=LINEAGE, started_at=START, finished_at=START, path=log)
        assert len(catalog.lineage()) == 8


def test_default_log_path_is_in_the_catalog_state_folder() -> None:
    from platform_kit._state import state_dir

    assert openlineage_log_path() == state_dir() / "catalog" / "openlineage.jsonl"


# --- walking lineage ---------------------------------------------------------------------------------


def _edges(*rows: tuple[str, str, str, str, str]) -> pd.DataFrame:
    names = ["input_dataset", "input_column", "output_dataset", "output_column", "job"]
    return pd.DataFrame(rows, columns=names)


def test_walk_is_multi_hop_and_marks_origins() -> None:
    edges = _edges(("a://raw", "x", "b://stage", "x", "load"), ("b://stage", "x", "c://mart", "y", "model"),
                   ("a://fx", "rate", "c://mart", "y", "model"))
    trace = walk_lineage(edges, "c://mart", "y")
    assert trace[["depth", "input_dataset", "is_origin"]].values.tolist() == [
        [1, "a://fx", True], [1, "b://stage", False], [2, "a://raw", True]]
    assert walk_lineage(edges, "c://mart", "y", max_depth=1)["depth"].max() == 1
    assert walk_lineage(edges, "a://raw", "x").empty  # a source comes from nowhere


def test_walk_terminates_on_cycles() -> None:
    edges = _edges(("a://t", "x", "b://t", "x", "j1"), ("b://t", "x", "a://t", "x", "j2"),
                   ("b://t", "x", "b://t", "x", "self"))
    trace = walk_lineage(edges, "a://t", "x")
    assert len(trace) == 3 and trace["cycle"].tolist() == [False, True, True]


def test_walk_rejects_bad_input() -> None:
    with pytest.raises(ConfigError, match="lack columns"):
        walk_lineage(pd.DataFrame({"input_dataset": []}), "a://t", "x")
    with pytest.raises(ConfigError, match="max_depth"):
        walk_lineage(_edges(), "a://t", "x", max_depth=0)


def test_where_from_needs_a_dataset_id(tmp_path: Path) -> None:
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        with pytest.raises(ConfigError, match="scheme://name"):
            where_from(catalog, "lab01_orders_enriched", "amount_usd")
        assert where_from(catalog, OUTPUT, "amount_usd").empty


def test_lineage_graph_plot_draws_every_dataset() -> None:
    import matplotlib

    matplotlib.use("Agg")
    edges = _edges(("a://raw", "x", "b://stage", "x", "load"), ("b://stage", "x", "c://mart", "y", "model"),
                   ("c://mart", "y", "a://raw", "x", "loop"))
    ax = plot_lineage_graph(edges, highlight="c://mart")
    labels = {t.get_text() for t in ax.texts}
    assert {"load", "model", "loop"} <= labels and len(ax.collections) == 3
