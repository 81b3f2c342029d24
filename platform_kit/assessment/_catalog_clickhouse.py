"""Harvest ClickHouse tables from ``system.tables``, ``system.columns`` and ``system.parts``.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.assessment._catalog_harvest import register_harvester
from platform_kit.assessment._catalog_model import ColumnRecord, DatasetRecord
from platform_kit.errors import ConfigError

__all__ = ["ClickHouseHarvester", "clickhouse_records"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def clickhouse_records(database: str, tables: pd.DataFrame, columns: pd.DataFrame, parts: pd.DataFrame,
                       source: str = "clickhouse") -> tuple[list[DatasetRecord], list[str]]:
    """Turn the three system-table extracts into records (pure: no engine involved).

    A table listed in ``tables`` but with no columns vanished between the queries: it is
    skipped with a warning.

    Introduced in: Lab 1 (assessment).

    Returns:
        ``(records, warnings)``.
    """
    records: list[DatasetRecord] = []
    warnings: list[str] = []
    by_table = ({} if columns.empty else
                {name: frame.sort_values("position") for name, frame in columns.groupby("table")})
    part_stats = parts.set_index("table") if not parts.empty else pd.DataFrame(columns=["rows", "bytes"])
    for row in tables.itertuples(index=False):
        cols = by_table.get(row.name)
        if cols is None or cols.empty:
            warnings.append(f"{database}.{row.name}: vanished while being harvested")
            continue
        column_records = tuple(
            ColumnRecord(
                name=c.name, type=c.type, nullable=c.type.startswith("Nullable("),
                description=c.comment or None,
                tags=tuple(t for t, on in (("partition", c.is_in_partition_key),
                                           ("sorting_key", c.is_in_sorting_key)) if on),
            )
            for c in cols.itertuples(index=False)
        )
        if row.name in part_stats.index:
            rows, size = _int(part_stats.at[row.name, "rows"]), _int(part_stats.at[row.name, "bytes"])
        else:  # no active parts: an empty MergeTree, or an engine without parts (Memory, Log, views)
            rows, size = _int(row.total_rows), _int(row.total_bytes)
        records.append(DatasetRecord(
            id=f"clickhouse://{database}.{row.name}", source=source, name=row.name, row_count=rows,
            size_bytes=size,
            partition_columns=tuple(c.name for c in column_records if "partition" in c.tags),
            description=row.comment or None,
            properties={"engine": row.engine, "partition_key": row.partition_key or "",
                        "sorting_key": row.sorting_key or ""},
            columns=column_records,
        ))
    return records, warnings


@register_harvester("clickhouse")
class ClickHouseHarvester:
    """Catalogue the tables of one ClickHouse database (chdb or a server) via its system tables.

    Introduced in: Lab 1 (assessment).

    Args:
        olap: ``pk.olap`` (anything with ``query_df(sql)``).
        database: Database to harvest.
        tables: Only these tables (default: all, temporary tables excluded).
        source: Source name in harvest results.
    """

    def __init__(self, olap: Any, database: str = "default", *, tables: Sequence[str] | None = None,
                 source: str = "clickhouse") -> None:
        for name in [database, *(tables or [])]:
            if not _NAME.match(name):
                raise ConfigError(f"{name!r} is not a plain ClickHouse identifier",
                                  fix="use letters, digits and underscores only")
        self.olap = olap
        self.database = database
        self.tables = list(tables) if tables is not None else None
        self.source = source
        self.warnings: list[str] = []

    def __repr__(self) -> str:
        return f"ClickHouseHarvester(database={self.database!r})"

    def harvest(self) -> list[DatasetRecord]:
        """Query the system tables and build one record per table."""
        where = f"database = {_quote(self.database)}"
        if self.tables is not None:
            if not self.tables:
                return []
            where += " AND table IN (" + ", ".join(_quote(t) for t in self.tables) + ")"
        table_where = where.replace("table IN", "name IN") + " AND NOT is_temporary"
        tables = self.olap.query_df(
            "SELECT name, engine, partition_key, sorting_key, comment, total_rows, total_bytes "
            f"FROM system.tables WHERE {table_where} ORDER BY name")
        if tables.empty:
            self.warnings = [f"missing table {t}" for t in self.tables or []]
            return []
        columns = self.olap.query_df(
            "SELECT table, name, type, position, comment, is_in_partition_key, is_in_sorting_key "
            f"FROM system.columns WHERE {where} ORDER BY table, position")
        parts = self.olap.query_df(
            "SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts "
            f"WHERE {where} AND active GROUP BY table")
        records, self.warnings = clickhouse_records(self.database, tables, columns, parts, self.source)
        missing = sorted(set(self.tables or []) - set(tables["name"]))
        self.warnings += [f"missing table {self.database}.{t}" for t in missing]
        return records
