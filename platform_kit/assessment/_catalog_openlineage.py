"""Reading OpenLineage RunEvents back: validation with clear errors, and column-level edges.

Producers other than ours send events too, so parsing accepts any facets it does not
know, but what it relies on (run id, job, datasets, the ``columnLineage`` facet) must
be there and well typed, or the event is rejected with the path of the bad field.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from platform_kit.assessment._catalog_model import LineageEdge, split_dataset_id
from platform_kit.errors import WorkbenchError

__all__ = ["MalformedLineageError", "dataset_to_openlineage", "edges_from_event", "openlineage_to_dataset",
           "parse_run_event"]


class MalformedLineageError(WorkbenchError):
    """An OpenLineage event is not valid JSON or lacks a field lineage ingestion needs."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _InputField(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    field: str = Field(min_length=1)
    transformations: list[dict[str, Any]] = []


class _Fields(_Open):
    inputFields: list[_InputField]  # noqa: N815 - the OpenLineage spelling


class _ColumnLineage(_Open):
    fields: dict[str, _Fields]


class _SchemaField(_Open):
    name: str = Field(min_length=1)
    type: str | None = None
    description: str | None = None


class _Schema(_Open):
    fields: list[_SchemaField] = []


class _Dataset(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)
    facets: dict[str, dict[str, Any]] = {}


class _Job(_Open):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)


class _Run(_Open):
    runId: UUID  # noqa: N815


class RunEventModel(_Open):
    """The part of an OpenLineage RunEvent that lineage ingestion relies on."""

    eventType: Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"] | None = None  # noqa: N815
    eventTime: datetime  # noqa: N815
    producer: str = Field(min_length=1)
    schemaURL: str = Field(pattern=r"^https?://.*OpenLineage\.json.*RunEvent$")  # noqa: N815
    run: _Run
    job: _Job
    inputs: list[_Dataset] = []
    outputs: list[_Dataset] = []


def dataset_to_openlineage(dataset: str, authority: str = "workbench") -> tuple[str, str]:
    """Our id ``scheme://name`` -> OpenLineage ``(namespace, name)`` = ``("scheme://authority", name)``.

    Introduced in: Lab 1 (assessment).
    """
    scheme, name = split_dataset_id(dataset)
    return f"{scheme}://{authority}", name


def openlineage_to_dataset(namespace: str, name: str) -> str:
    """OpenLineage ``(namespace, name)`` -> our id ``scheme://name`` (the authority is dropped).

    Introduced in: Lab 1 (assessment).
    """
    scheme = namespace.split("://", 1)[0] if "://" in namespace else namespace
    return f"{scheme.lower()}://{name}"


def _describe(exc: ValidationError, prefix: str = "") -> str:
    problems = []
    for error in exc.errors()[:4]:
        where = prefix + ".".join(str(p) for p in error["loc"])
        problems.append(f"{where or '<event>'}: {error['msg']}")
    more = f" (+{exc.error_count() - 4} more)" if exc.error_count() > 4 else ""
    return "; ".join(problems) + more


def parse_run_event(
    event: str | bytes | Mapping[str, Any],
) -> tuple[RunEventModel, dict[int, _ColumnLineage]]:
    """Validate one RunEvent (JSON text or a dict) and its outputs' ``columnLineage`` facets.

    Introduced in: Lab 1 (assessment).

    Returns:
        ``(event, {output index: column lineage facet})``.

    Raises:
        MalformedLineageError: Not JSON, not an object, or a required field is missing or mistyped.
    """
    fix = "emit events with openlineage.client (RunEvent + Serde.to_json) or fix the named field"
    if isinstance(event, str | bytes):
        try:
            event = json.loads(event)
        except json.JSONDecodeError as exc:
            raise MalformedLineageError(f"OpenLineage event is not valid JSON: {exc}", fix=fix) from None
    if not isinstance(event, Mapping):
        raise MalformedLineageError(f"OpenLineage event must be a JSON object, got {type(event).__name__}",
                                    fix=fix)
    try:
        parsed = RunEventModel.model_validate(dict(event))
    except ValidationError as exc:
        raise MalformedLineageError(f"OpenLineage RunEvent is invalid: {_describe(exc)}", fix=fix) from None
    facets: dict[int, _ColumnLineage] = {}
    for index, output in enumerate(parsed.outputs):
        raw = output.facets.get("columnLineage")
        if raw is None:
            continue
        try:
            facets[index] = _ColumnLineage.model_validate(raw)
        except ValidationError as exc:
            where = f"outputs.{index}.facets.columnLineage."
            raise MalformedLineageError(
                f"OpenLineage columnLineage facet is invalid: {_describe(exc, where)}", fix=fix) from None
    return parsed, facets


def schema_of(dataset: _Dataset) -> list[tuple[str, str | None, str | None]]:
    """``(name, type, description)`` of the dataset's ``schema`` facet (empty when absent or malformed)."""
    try:
        schema = _Schema.model_validate(dataset.facets.get("schema") or {})
    except ValidationError:
        return []
    return [(f.name, f.type, f.description) for f in schema.fields]


def edges_from_event(event: str | bytes | Mapping[str, Any]) -> list[LineageEdge]:
    """Column-level lineage edges of one RunEvent (pure; validates it first).

    Introduced in: Lab 1 (assessment).

    Raises:
        MalformedLineageError: See :func:`parse_run_event`.
    """
    parsed, facets = parse_run_event(event)
    edges = []
    for index, facet in facets.items():
        output = parsed.outputs[index]
        out_id = openlineage_to_dataset(output.namespace, output.name)
        for out_col, fields in facet.fields.items():
            for field in fields.inputFields:
                kinds = "/".join(str(t.get("type", "")) + ("/" + t["subtype"] if t.get("subtype") else "")
                                 for t in field.transformations) or None
                edges.append(LineageEdge(
                    input_dataset=openlineage_to_dataset(field.namespace, field.name),
                    input_column=field.field,
                    output_dataset=out_id, output_column=out_col, job=parsed.job.name,
                    transformation=kinds, run_id=str(parsed.run.runId)))
    return edges
