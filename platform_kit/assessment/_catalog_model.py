"""Records the catalog stores: datasets, their columns, column-level lineage edges, harvest results.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from platform_kit.errors import ConfigError

__all__ = [
    "ColumnRecord",
    "DatasetRecord",
    "HarvestResult",
    "LineageEdge",
    "dataset_id",
    "split_dataset_id",
]

_ID = re.compile(r"^[a-z][a-z0-9+.-]*://.+$")


def split_dataset_id(identifier: str) -> tuple[str, str]:
    """Split a dataset id ``scheme://rest`` into ``(scheme, rest)``.

    Introduced in: Lab 1 (assessment).

    Args:
        identifier: e.g. ``clickhouse://default.lab01_orders_enriched``.

    Raises:
        ConfigError: The id has no ``scheme://`` prefix.
    """
    if not isinstance(identifier, str) or not _ID.match(identifier):
        raise ConfigError(
            f"dataset id {identifier!r} is not of the form scheme://name",
            fix="use ids like 'parquet://lake/orders.parquet' or 'clickhouse://default.orders'",
        )
    scheme, rest = identifier.split("://", 1)
    return scheme, rest


def dataset_id(scheme: str, name: str) -> str:
    """Build a dataset id from a source scheme and a name (``dataset_id("spark", "default.t")``).

    Introduced in: Lab 1 (assessment).
    """
    identifier = f"{scheme}://{name}"
    split_dataset_id(identifier)
    return identifier


class ColumnRecord(BaseModel):
    """One column of a dataset as a harvester saw it.

    Introduced in: Lab 1 (assessment).

    Attributes:
        name: Column name.
        type: Type as the source system spells it (``int64``, ``Nullable(String)``, ``bigint``).
        nullable: Whether nulls are allowed (None when the source does not say).
        min: Smallest value, as text (None when the source keeps no statistics).
        max: Largest value, as text.
        null_count: Number of nulls (exact or estimated, None when unknown).
        distinct_count: Number of distinct values (None when unknown).
        description: Documentation of the column.
        tags: Labels such as ``pii``, ``primary_key``, ``partition``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    nullable: bool | None = None
    min: str | None = None
    max: str | None = None
    null_count: int | None = Field(default=None, ge=0)
    distinct_count: int | None = Field(default=None, ge=0)
    description: str | None = None
    tags: tuple[str, ...] = ()


class DatasetRecord(BaseModel):
    """One dataset (file, table, topic) with its columns, as returned by a harvester.

    Introduced in: Lab 1 (assessment).

    Attributes:
        id: Unique address ``scheme://name`` (``parquet://lake/lab01/orders.parquet``,
            ``postgres://workbench.public.customers``).
        source: Harvester source that produced it (``parquet``, ``spark``...).
        name: Short name (table or file stem).
        row_count: Rows (None when the source cannot tell cheaply).
        size_bytes: Bytes on storage (None when unknown).
        partition_columns: Columns the data is partitioned by.
        owner: Owning role or user, when the source records one.
        tags: Labels (``pii`` when a column holds personal data).
        description: Documentation of the dataset.
        columns: The columns, in order.
        properties: Extra facts as text (engine, location, footer bytes read...).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    source: str = Field(min_length=1)
    name: str = Field(min_length=1)
    row_count: int | None = Field(default=None, ge=0)
    size_bytes: int | None = Field(default=None, ge=0)
    partition_columns: tuple[str, ...] = ()
    owner: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    columns: tuple[ColumnRecord, ...] = ()
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_has_scheme(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"id {value!r} must look like scheme://name, e.g. parquet://lake/orders.parquet")
        return value

    @field_validator("columns")
    @classmethod
    def _unique_columns(cls, value: tuple[ColumnRecord, ...]) -> tuple[ColumnRecord, ...]:
        names = [c.name for c in value]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"duplicate column names {duplicated}")
        return value

    @property
    def column_names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class LineageEdge:
    """``input_dataset.input_column`` feeds ``output_dataset.output_column`` through ``job``.

    Introduced in: Lab 1 (assessment).
    """

    input_dataset: str
    input_column: str
    output_dataset: str
    output_column: str
    job: str
    transformation: str | None = None
    run_id: str | None = None

    def __post_init__(self) -> None:
        split_dataset_id(self.input_dataset)
        split_dataset_id(self.output_dataset)
        for label, value in (("input_column", self.input_column), ("output_column", self.output_column),
                             ("job", self.job)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"lineage edge has an empty {label}", fix="name every column and the job")


@dataclass(frozen=True)
class HarvestResult:
    """Outcome of harvesting one source: what was stored, or why not.

    Introduced in: Lab 1 (assessment).
    """

    source: str
    harvester: str
    datasets: int
    columns: int
    seconds: float
    error: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when the source was harvested without an error."""
        return self.error is None
