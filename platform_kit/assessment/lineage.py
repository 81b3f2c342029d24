"""Column-level lineage with OpenLineage: emit a pipeline run, log it locally, ingest it into the catalog.

A pipeline run becomes two OpenLineage RunEvents (START, COMPLETE) built with
``openlineage-python``: the job, its input datasets, and its output dataset carrying the
``columnLineage`` facet (which input columns each output column is computed from) and
the ``schema`` facet. The client's file transport appends them as JSON lines to
``<state dir>/catalog/openlineage.jsonl`` (no network); the very JSON it wrote is then
validated and turned into lineage edges of the catalog, so :func:`where_from` can walk them.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from platform_kit._state import state_dir
from platform_kit.assessment._catalog_model import ColumnRecord, DatasetRecord, LineageEdge, split_dataset_id
from platform_kit.assessment._catalog_openlineage import (
    MalformedLineageError,
    dataset_to_openlineage,
    edges_from_event,
    openlineage_to_dataset,
    parse_run_event,
    schema_of,
)
from platform_kit.assessment._catalog_store import Catalog
from platform_kit.errors import ConfigError

__all__ = [
    "LineageRun",
    "MalformedLineageError",
    "build_run_events",
    "dataset_to_openlineage",
    "edges_from_event",
    "emit_pipeline_lineage",
    "ingest_openlineage",
    "openlineage_log_path",
    "openlineage_to_dataset",
    "parse_run_event",
    "read_openlineage_log",
    "resolve_column_ref",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineageRun:
    """What :func:`emit_pipeline_lineage` did.

    Attributes:
        run_id: OpenLineage run id (UUID).
        job: Job name.
        events: The events as written (OpenLineage JSON, parsed back into dicts).
        edges: Column-level edges ingested into the catalog.
        path: JSON-lines file the events were appended to.
    """

    run_id: str
    job: str
    events: tuple[dict[str, Any], ...]
    edges: tuple[LineageEdge, ...]
    path: Path


def openlineage_log_path() -> Path:
    """``<state dir>/catalog/openlineage.jsonl`` (wiped by ``workbench reset``).

    Introduced in: Lab 1 (assessment).
    """
    return state_dir() / "catalog" / "openlineage.jsonl"


def _timestamp(value: Any, label: str) -> datetime:
    """Aware UTC datetime of a datetime, pandas Timestamp, ISO string or epoch seconds."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{label} {value!r} is not an ISO-8601 time", fix="pass a datetime") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if value < 1e8:
            raise ConfigError(
                f"{label}={value} looks like a time.perf_counter() reading, not a wall-clock time",
                fix="pass datetime.now(UTC) or time.time() taken when the run started/finished")
        value = datetime.fromtimestamp(float(value), UTC)
    elif hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        if isinstance(value, date):
            value = datetime(value.year, value.month, value.day)
        else:
            raise ConfigError(f"{label} is a {type(value).__name__}", fix="pass a datetime or epoch seconds")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def resolve_column_ref(ref: str, inputs: Mapping[str, str]) -> tuple[str, str]:
    """Resolve ``"dataset.column"`` to ``(dataset id, column)`` using the job's inputs.

    ``dataset`` is, in order: an alias (a key of ``inputs``), a full dataset id, or the
    name of exactly one input (``lab01.orders`` for ``kafka://lab01.orders``, ``orders`` for
    ``parquet://lake/lab01/orders.parquet``).

    Introduced in: Lab 1 (assessment).

    Raises:
        ConfigError: No ``.``, or the dataset part matches no input (or several).
    """
    if not isinstance(ref, str) or "." not in ref.strip(".") or ref.endswith("."):
        raise ConfigError(f"column reference {ref!r} is not 'dataset.column'",
                          fix="write input columns as 'orders.total_amount'")
    name, column = ref.rsplit(".", 1)
    if name in inputs:
        return inputs[name], column
    if "://" in name:
        split_dataset_id(name)
        return name, column
    matches = []
    for target in dict.fromkeys(inputs.values()):
        rest = split_dataset_id(target)[1]
        leaf = rest.rstrip("/").rsplit("/", 1)[-1]
        if name in (rest, leaf, leaf.removesuffix(".parquet"), rest.rsplit(".", 1)[-1]):
            matches.append(target)
    if len(matches) != 1:
        known = ", ".join(sorted(inputs)) or "none"
        why = "matches several inputs" if matches else "is not an input"
        raise ConfigError(f"dataset {name!r} of column reference {ref!r} {why} (aliases: {known})",
                          fix="add it to `inputs` as alias -> dataset id, or use the full id")
    return matches[0], column


def build_run_events(*, job_name: str, inputs: Mapping[str, str], output: str,
                     column_lineage: Mapping[str, Sequence[str]], started_at: Any, finished_at: Any,
                     records_in: int | None = None, records_out: int | None = None, namespace: str = "lab01",
                     schemas: Mapping[str, Sequence[tuple[str, str | None]]] | None = None,
                     run_id: str | None = None) -> list[Any]:
    """Build the START and COMPLETE ``RunEvent`` objects of one pipeline run (openlineage-python).

    Introduced in: Lab 1 (assessment).

    Args:
        job_name: e.g. ``lab01.enrich_orders``.
        inputs: Alias -> dataset id of every input (``{"orders": "kafka://lab01.orders"}``).
        output: Dataset id of the output (``clickhouse://default.lab01_orders_enriched``).
        column_lineage: Output column -> input columns as ``"alias.column"``.
        started_at: When the run started (datetime, ISO text or epoch seconds).
        finished_at: When it finished.
        records_in: Records read (``inputStatistics`` of the first input).
        records_out: Records written (``outputStatistics`` of the output).
        namespace: Job namespace.
        schemas: Dataset id -> ``[(column, type)]`` for ``schema`` facets.
        run_id: Reuse a run id (default: a new UUIDv7).

    Raises:
        ConfigError: Empty job name or lineage, an unknown input, or a bad time.
    """
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import (
        column_lineage_dataset as cl,
        input_statistics_input_dataset,
        job_type_job,
        output_statistics_output_dataset as output_stats,
        schema_dataset,
    )
    from openlineage.client.uuid import generate_new_uuid

    if not job_name or not isinstance(job_name, str):
        raise ConfigError("job_name is empty", fix="name the job, e.g. 'lab01.enrich_orders'")
    if not column_lineage:
        raise ConfigError("column_lineage is empty",
                          fix="map each output column to the input columns it uses")
    split_dataset_id(output)
    start, end = _timestamp(started_at, "started_at"), _timestamp(finished_at, "finished_at")
    if end < start:
        raise ConfigError(f"finished_at {end} is before started_at {start}", fix="swap or correct the times")
    start_text, end_text = start.isoformat(), end.isoformat()
    schemas = schemas or {}

    def schema_facet(dataset: str, fallback: Iterable[str] = ()) -> dict[str, Any]:
        fields = list(schemas.get(dataset) or [(name, None) for name in fallback])
        if not fields:
            return {}
        return {"schema": schema_dataset.SchemaDatasetFacet(
            fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields])}

    lineage_fields: dict[str, Any] = {}
    used: dict[str, set[str]] = {}
    for out_col, refs in column_lineage.items():
        if isinstance(refs, str) or not refs:
            raise ConfigError(f"lineage of {out_col!r} must be a non-empty list of 'dataset.column'",
                              fix=f"e.g. {{{out_col!r}: ['orders.{out_col}']}}")
        resolved = [resolve_column_ref(r, inputs) for r in refs]
        identity = len(resolved) == 1 and resolved[0][1] == out_col
        kind = cl.Transformation(type="DIRECT", subtype="IDENTITY" if identity else "TRANSFORMATION")
        fields = []
        for dataset, column in resolved:
            ns, name = dataset_to_openlineage(dataset)
            fields.append(cl.InputField(namespace=ns, name=name, field=column, transformations=[kind]))
            used.setdefault(dataset, set()).add(column)
        lineage_fields[str(out_col)] = cl.Fields(inputFields=fields)

    input_ids = list(dict.fromkeys([*inputs.values(), *used]))
    out_ns, out_name = dataset_to_openlineage(output)
    run = Run(runId=run_id or str(generate_new_uuid()))
    job_type = job_type_job.JobTypeJobFacet(processingType="BATCH", integration="PLATFORM_KIT", jobType="JOB")
    job = Job(namespace=namespace, name=job_name, facets={"jobType": job_type})
    events = []
    for state, when in ((RunState.START, start_text), (RunState.COMPLETE, end_text)):
        datasets_in = []
        for position, dataset in enumerate(input_ids):
            ns, name = dataset_to_openlineage(dataset)
            stats: dict[str, Any] = {}
            if position == 0 and records_in is not None and state == RunState.COMPLETE:
                stats["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
                    rowCount=records_in)
            datasets_in.append(InputDataset(namespace=ns, name=name,
                                            facets=schema_facet(dataset, sorted(used.get(dataset, ()))),
                                            inputFacets=stats))
        facets = schema_facet(output, list(lineage_fields)) | {"columnLineage": cl.ColumnLineageDatasetFacet(
            fields=lineage_fields)}
        out_stats: dict[str, Any] = {}
        if records_out is not None and state == RunState.COMPLETE:
            facet = output_stats.OutputStatisticsOutputDatasetFacet(rowCount=records_out)
            out_stats["outputStatistics"] = facet
        events.append(RunEvent(eventType=state, eventTime=when, run=run, job=job, inputs=datasets_in,
                               outputs=[OutputDataset(namespace=out_ns, name=out_name, facets=facets,
                                                      outputFacets=out_stats)]))
    return events


def ingest_openlineage(catalog: Catalog,
                       events: Iterable[str | bytes | Mapping[str, Any]]) -> list[LineageEdge]:
    """Validate events, store their column-level edges, and register datasets nobody harvested yet.

    A dataset seen only in lineage (a Kafka topic, say) gets a catalog entry with the
    columns of its ``schema`` facet, source ``openlineage``; harvested entries are untouched.

    Introduced in: Lab 1 (assessment).

    Raises:
        MalformedLineageError: An event is invalid (nothing of that batch is stored).
    """
    parsed = [(parse_run_event(e)[0], edges_from_event(e)) for e in events]
    edges = [edge for _, found in parsed for edge in found]
    for event, _ in parsed:
        for dataset in [*event.inputs, *event.outputs]:
            identifier = openlineage_to_dataset(dataset.namespace, dataset.name)
            columns = tuple(ColumnRecord(name=n, type=t or "unknown", description=d)
                            for n, t, d in {f[0]: f for f in schema_of(dataset)}.values())
            catalog.ensure_dataset(DatasetRecord(
                id=identifier, source="openlineage", name=dataset.name.rsplit("/", 1)[-1], row_count=None,
                size_bytes=None, columns=columns, properties={"namespace": dataset.namespace}))
    catalog.add_lineage(edges)
    return edges


def read_openlineage_log(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a JSON-lines OpenLineage log (default :func:`openlineage_log_path`); validates each line.

    Introduced in: Lab 1 (assessment).

    Raises:
        MalformedLineageError: A line is not a valid RunEvent (its number is in the message).
    """
    import json

    target = Path(path) if path else openlineage_log_path()
    if not target.is_file():
        return []
    events = []
    for number, line in enumerate(target.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            parse_run_event(line)
        except MalformedLineageError as exc:
            raise MalformedLineageError(f"{target}:{number}: {exc.message}", fix=exc.fix) from None
        events.append(json.loads(line))
    return events


def _catalog_schema(catalog: Catalog, dataset: str) -> list[tuple[str, str | None]]:
    columns = catalog.columns(dataset)
    return list(zip(columns["name"], columns["type"], strict=True))


def emit_pipeline_lineage(catalog: Catalog, *, job_name: str, inputs: Mapping[str, str], output: str,
                          column_lineage: Mapping[str, Sequence[str]], started_at: Any, finished_at: Any,
                          records_in: int | None = None, records_out: int | None = None,
                          namespace: str = "lab01", path: str | Path | None = None) -> LineageRun:
    """Emit a pipeline run's OpenLineage START/COMPLETE events to a local file and ingest them.

    Schemas of datasets already in the catalog go into the ``schema`` facets. The events
    go through ``OpenLineageClient`` with its file transport (append mode, one JSON line
    per event); what it wrote is re-validated and ingested (:func:`ingest_openlineage`).

    Introduced in: Lab 1 (assessment).

    Args:
        catalog: Catalog receiving the edges.
        job_name: Job name (``sla_run.job_name``).
        inputs: Alias -> dataset id (``{"orders": "kafka://lab01.orders", "customers": "parquet://..."}``).
        output: Output dataset id (``clickhouse://default.<sla_run.table>``).
        column_lineage: Output column -> ``["alias.column", ...]`` (``sla_run.column_lineage``).
        started_at: Run start (``sla_run.started_at``).
        finished_at: Run end (``sla_run.finished_at``).
        records_in: Records read (``sla_run.records_in``).
        records_out: Records written (``sla_run.records_out``).
        namespace: Job namespace.
        path: JSON-lines log (default :func:`openlineage_log_path`).
    """
    from openlineage.client import OpenLineageClient
    from openlineage.client.serde import Serde
    from openlineage.client.transport.file import FileConfig, FileTransport

    target = Path(path) if path else openlineage_log_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    datasets = [*inputs.values(), output]
    schemas = {d: s for d in datasets if (s := _catalog_schema(catalog, d))}
    events = build_run_events(job_name=job_name, inputs=inputs, output=output, column_lineage=column_lineage,
                              started_at=started_at, finished_at=finished_at, records_in=records_in,
                              records_out=records_out, namespace=namespace, schemas=schemas)
    written: list[str] = []

    class _Recording(FileTransport):
        def emit(self, event: Any) -> None:
            super().emit(event)
            written.append(Serde.to_json(event))

    client = OpenLineageClient(transport=_Recording(FileConfig(log_file_path=str(target), append=True)))
    for event in events:
        client.emit(event)
    client.close(0)
    edges = ingest_openlineage(catalog, written)
    import json

    log.info("emitted %d OpenLineage events for %s to %s (%d column edges)", len(written), job_name, target,
             len(edges))
    return LineageRun(run_id=str(events[0].run.runId), job=job_name,
                      events=tuple(json.loads(w) for w in written),
                      edges=tuple(dict.fromkeys(edges)), path=target)
