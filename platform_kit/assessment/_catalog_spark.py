"""Harvest Spark catalog tables: ``listTables``/``listColumns`` plus ``DESCRIBE TABLE EXTENDED``.

Spark records row counts only after ``ANALYZE TABLE``; for Parquet tables without
statistics the harvester reads the footers of the table's files instead (kilobytes, no
Spark job), so a fresh table still gets an exact row count.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from platform_kit.assessment._catalog_harvest import register_harvester
from platform_kit.assessment._catalog_model import ColumnRecord, DatasetRecord
from platform_kit.assessment._catalog_parquet import _Files, _is_data_file, read_footer
from platform_kit.errors import ConfigError

__all__ = ["SparkCatalogHarvester", "parse_describe", "spark_record"]

log = logging.getLogger(__name__)

_STATS = re.compile(r"(?P<bytes>\d+) bytes(?:, (?P<rows>\d+) rows)?")


def parse_describe(rows: Sequence[tuple[str, str, str | None]]) -> dict[str, str]:
    """The ``# Detailed Table Information`` block of ``DESCRIBE TABLE EXTENDED`` as a dict (pure).

    Introduced in: Lab 1 (assessment).
    """
    details: dict[str, str] = {}
    inside = False
    for name, value, _comment in rows:
        name = (name or "").strip()
        if name.startswith("# Detailed Table Information"):
            inside = True
            continue
        if inside and name.startswith("#"):
            break
        if inside and name:
            details[name] = (value or "").strip()
    return details


def spark_record(database: str, table: str, columns: Sequence[Mapping[str, Any]], details: Mapping[str, str],
                 *, footer_rows: int | None = None, footer_bytes: int | None = None,
                 source: str = "spark") -> DatasetRecord:
    """Build the record of one Spark table from its columns and DESCRIBE details (pure).

    Introduced in: Lab 1 (assessment).

    Args:
        database: Spark database (namespace).
        table: Table name.
        columns: ``{"name", "dataType", "nullable", "description", "isPartition", "isBucket"}`` each.
        details: :func:`parse_describe` output.
        footer_rows: Rows counted from Parquet footers (used when Spark has no statistics).
        footer_bytes: Bytes of the table's files (used when Spark has no statistics).
    """
    stats = _STATS.search(details.get("Statistics", ""))
    rows = int(stats["rows"]) if stats and stats["rows"] else footer_rows
    size = int(stats["bytes"]) if stats else footer_bytes
    column_records = tuple(
        ColumnRecord(name=c["name"], type=c["dataType"], nullable=bool(c.get("nullable", True)),
                     description=c.get("description") or None,
                     tags=tuple(t for t, on in (("partition", c.get("isPartition")),
                                                ("bucket", c.get("isBucket"))) if on))
        for c in columns
    )
    keep = ("Type", "Provider", "Location", "Created Time", "Statistics")
    origin = "statistics" if stats and stats["rows"] else "footers" if rows is not None else ""
    return DatasetRecord(
        id=f"spark://{database}.{table}", source=source, name=table, row_count=rows, size_bytes=size,
        partition_columns=tuple(c.name for c in column_records if "partition" in c.tags),
        owner=details.get("Owner") or None, description=details.get("Comment") or None,
        columns=column_records,
        properties={k: details[k] for k in keep if k in details} | {"row_count_from": origin},
    )


@register_harvester("spark")
class SparkCatalogHarvester:
    """Catalogue the (non-temporary) tables of one Spark database.

    Introduced in: Lab 1 (assessment).

    Args:
        spark: A SparkSession (``pk.spark``).
        database: Spark database to harvest.
        tables: Only these tables (default: all).
        footer_counts: For Parquet tables without statistics, count rows from file footers.
        source: Source name in harvest results.
    """

    def __init__(self, spark: Any, database: str = "default", *, tables: Sequence[str] | None = None,
                 footer_counts: bool = True, source: str = "spark") -> None:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", database):
            raise ConfigError(f"{database!r} is not a plain Spark database name",
                              fix="use letters, digits and underscores only")
        self.spark = spark
        self.database = database
        self.tables = list(tables) if tables is not None else None
        self.footer_counts = footer_counts
        self.source = source
        self.warnings: list[str] = []

    def __repr__(self) -> str:
        return f"SparkCatalogHarvester(database={self.database!r})"

    def harvest(self) -> list[DatasetRecord]:
        """List the tables, then describe each; a table dropped meanwhile becomes a warning."""
        self.warnings = []
        listed = [t for t in self.spark.catalog.listTables(self.database) if not t.isTemporary]
        if self.tables is not None:
            wanted = set(self.tables)
            self.warnings += [f"missing table {self.database}.{t}"
                              for t in sorted(wanted - {t.name for t in listed})]
            listed = [t for t in listed if t.name in wanted]
        records = []
        for table in sorted(listed, key=lambda t: t.name):
            try:
                records.append(self._describe(table.name))
            except Exception as exc:  # noqa: BLE001 - AnalysisException: the table vanished
                if "TABLE_OR_VIEW_NOT_FOUND" not in str(exc) and "not found" not in str(exc).lower():
                    raise
                self.warnings.append(f"{self.database}.{table.name}: vanished while being harvested")
        return records

    def _describe(self, table: str) -> DatasetRecord:
        qualified = f"`{self.database}`.`{table}`"
        columns = [
            {"name": c.name, "dataType": c.dataType, "nullable": c.nullable, "description": c.description,
             "isPartition": c.isPartition, "isBucket": c.isBucket}
            for c in self.spark.catalog.listColumns(f"{self.database}.{table}")
        ]
        described = self.spark.sql(f"DESCRIBE TABLE EXTENDED {qualified}").collect()
        details = parse_describe([(r[0], r[1], r[2]) for r in described])
        rows = size = None
        location = details.get("Location", "")
        if (self.footer_counts and details.get("Provider", "").lower() == "parquet"
                and location.startswith("file:") and "rows" not in details.get("Statistics", "")):
            rows, size = self._footer_totals(location)
        return spark_record(self.database, table, columns, details, footer_rows=rows, footer_bytes=size,
                            source=self.source)

    def _footer_totals(self, location: str) -> tuple[int | None, int | None]:
        files = _Files(None)
        path = re.sub(r"^file:(//)?", "", location)
        try:
            found = [(p, s) for p, s in files.list(path) if _is_data_file(p)]
            return (sum(read_footer(p, s, files).metadata.num_rows for p, s in found),
                    sum(s for _, s in found))
        except (OSError, ConfigError) as exc:
            self.warnings.append(f"{location}: footers unreadable ({exc})")
            return None, None
