"""Metadata harvesting for an automated data catalog: datasets, columns, statistics, PII tags, lineage.

Harvesters read metadata only (Parquet footers, system catalogs), never the data, and
write into one SQLite catalog under the workbench state (``<state>/catalog/catalog.sqlite``)::

    from platform_kit.assessment.catalog import open_catalog, workbench_harvesters, run_harvesters
    catalog = open_catalog()
    results = run_harvesters(catalog, workbench_harvesters(pk, parquet=pk.store.uri("lake", "lab01")))
    catalog.datasets(); catalog.columns(); search(catalog, "pii")
    where_from(catalog, "clickhouse://default.lab01_orders_enriched", "amount_usd")

A harvester is any object with ``source`` and ``harvest() -> list[DatasetRecord]``
(:class:`Harvester`); :data:`HARVESTERS` maps names to the classes shipped here:
``parquet`` (:class:`ParquetFooterHarvester`), ``spark`` (:class:`SparkCatalogHarvester`),
``clickhouse`` (:class:`ClickHouseHarvester`), ``postgres`` (:class:`PostgresHarvester`).
Lineage events (OpenLineage) live in :mod:`platform_kit.assessment.lineage`.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from platform_kit.assessment._catalog_clickhouse import ClickHouseHarvester, clickhouse_records
from platform_kit.assessment._catalog_harvest import (
    HARVESTERS,
    Harvester,
    annotate_records,
    register_harvester,
    run_harvesters,
    validate_records,
)
from platform_kit.assessment._catalog_model import (
    ColumnRecord,
    DatasetRecord,
    HarvestResult,
    LineageEdge,
    dataset_id,
    split_dataset_id,
)
from platform_kit.assessment._catalog_parquet import (
    Footer,
    ParquetFooterHarvester,
    read_footer,
    summarise_footers,
)
from platform_kit.assessment._catalog_postgres import PostgresHarvester, postgres_records
from platform_kit.assessment._catalog_query import (
    plot_lineage_graph,
    search,
    search_frames,
    walk_lineage,
    where_from,
)
from platform_kit.assessment._catalog_spark import SparkCatalogHarvester, parse_describe, spark_record
from platform_kit.assessment._catalog_store import Catalog, default_catalog_path, open_catalog
from platform_kit.errors import ConfigError

__all__ = [
    "HARVESTERS",
    "Catalog",
    "ClickHouseHarvester",
    "ColumnRecord",
    "DatasetRecord",
    "Footer",
    "HarvestResult",
    "Harvester",
    "LineageEdge",
    "ParquetFooterHarvester",
    "PostgresHarvester",
    "SparkCatalogHarvester",
    "annotate_records",
    "clickhouse_records",
    "dataset_id",
    "default_catalog_path",
    "harvest_results_frame",
    "open_catalog",
    "parse_describe",
    "plot_lineage_graph",
    "postgres_records",
    "read_footer",
    "register_harvester",
    "run_harvesters",
    "search",
    "search_frames",
    "spark_record",
    "split_dataset_id",
    "summarise_footers",
    "validate_records",
    "walk_lineage",
    "where_from",
    "workbench_harvesters",
]

_SOURCES = ("parquet", "spark", "clickhouse", "postgres")


def workbench_harvesters(pk: Any, *, parquet: str | Sequence[str] | None = None,
                         sources: Sequence[str] = _SOURCES, spark_database: str = "default",
                         clickhouse_database: str = "default", postgres_schema: str = "public") -> list[Any]:
    """Build the shipped harvesters for a workbench's engines (thin wiring, nothing harvested yet).

    Introduced in: Lab 1 (assessment).

    Args:
        pk: ``platform_kit.connect()``.
        parquet: Object-store locations to read footers from (``pk.store.uri("lake", "lab01")``);
            required when ``sources`` has ``parquet``.
        sources: Which of ``parquet``, ``spark``, ``clickhouse``, ``postgres`` to build (Spark
            starts a session: leave it out when the lab has none).
        spark_database: Spark database.
        clickhouse_database: ClickHouse database.
        postgres_schema: PostgreSQL schema.

    Raises:
        ConfigError: An unknown source, or ``parquet`` without locations.
    """
    unknown = sorted(set(sources) - set(_SOURCES))
    if unknown:
        raise ConfigError(f"unknown sources {unknown}", fix=f"use any of {list(_SOURCES)}")
    built: list[Any] = []
    for source in sources:
        if source == "parquet":
            if not parquet:
                raise ConfigError("the parquet source needs locations",
                                  fix="pass parquet=pk.store.uri('lake', '<prefix>')")
            built.append(HARVESTERS["parquet"](parquet, pk.store.filesystem()))
        elif source == "spark":
            built.append(HARVESTERS["spark"](pk.spark, spark_database))
        elif source == "clickhouse":
            built.append(HARVESTERS["clickhouse"](pk.olap, clickhouse_database))
        else:
            built.append(HARVESTERS["postgres"](pk.pg, postgres_schema))
    return built


def harvest_results_frame(results: Sequence[HarvestResult]) -> Any:
    """Harvest results as a DataFrame (one row per source) for display.

    Introduced in: Lab 1 (assessment).
    """
    import pandas as pd

    return pd.DataFrame(
        [{"source": r.source, "harvester": r.harvester, "datasets": r.datasets, "columns": r.columns,
          "seconds": round(r.seconds, 3), "ok": r.ok, "error": r.error, "warnings": len(r.warnings)}
         for r in results]
    )
