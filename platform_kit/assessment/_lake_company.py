"""Filling the lake model from the company's data: measured Parquet bytes per row, residency.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from platform_kit.assessment._lake_inputs import Dataset
from platform_kit.errors import ConfigError, ServiceError

log = logging.getLogger(__name__)

__all__ = [
    "PRODUCTION_GROWTH_PCT",
    "PRODUCTION_ROWS",
    "company_datasets",
    "measure_bytes_per_row",
    "parquet_bytes",
]

#: Illustrative production row counts of Northwind Outfitters (20 M customers, five years of
#: history; the clickstream keeps every raw event, bots and impressions included).
PRODUCTION_ROWS: dict[str, float] = {
    "customers": 20e6,
    "products": 200e3,
    "orders": 400e6,
    "order_items": 920e6,
    "payments": 416e6,
    "clickstream": 5e12,
    "support_tickets": 10e6,
    "pipeline_metrics": 20e6,
}
#: Illustrative yearly growth in percent per table (unlisted tables: 15 %).
PRODUCTION_GROWTH_PCT: dict[str, float] = {
    "clickstream": 40.0,
    "orders": 25.0,
    "order_items": 25.0,
    "payments": 25.0,
    "products": 5.0,
}
#: Tables holding personal data (whole rows tie to a customer); the rest is ``internal``.
_PII_TABLES = {"customers": "customer_id", "support_tickets": "customer_id"}


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as Parquet exactly as ``pk.store.write_parquet`` writes it (snappy, us, no index)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    return buffer.getvalue()


def measure_bytes_per_row(
    store: Any,
    tables: Mapping[str, pd.DataFrame],
    *,
    bucket: str = "lake",
    prefix: str = "assessment/lake_sizing",
) -> pd.DataFrame:
    """Land each table as Parquet in the object store and measure its stored bytes per row.

    The files are encoded like ``store.write_parquet`` encodes them, uploaded in one batch
    through ``store.filesystem()`` (one client instead of one per file), and their sizes
    are read back from the store's own listing.

    Args:
        store: ``pk.store`` (anything with ``uri`` and ``filesystem``).
        tables: Table name -> DataFrame (the ``company`` dict).
        bucket: Bucket to write to.
        prefix: Key prefix of the files.

    Returns:
        One row per table: ``table, rows, parquet_bytes, bytes_per_row, uri``.

    Raises:
        ConfigError: A table is empty (no bytes per row to measure).
        ServiceError: The store does not list a file that was written.

    Introduced in: Lab 1 (assessment).
    """
    for name, frame in tables.items():
        if len(frame) == 0:
            raise ConfigError(
                f"table {name!r} is empty: bytes per row cannot be measured",
                fix="generate the company with a scale that gives every table rows",
            )
    fs = store.filesystem()
    folder = store.uri(bucket, prefix.strip("/"))
    fs.makedirs(folder, exist_ok=True)  # a no-op on S3, needed for local folders
    uris = {name: store.uri(bucket, f"{prefix.strip('/')}/{name}.parquet") for name in tables}
    fs.pipe({uris[name]: parquet_bytes(frame) for name, frame in tables.items()})
    listed = {fs._strip_protocol(item["name"]): int(item["size"]) for item in fs.ls(folder, detail=True)}
    rows = []
    for name, frame in tables.items():
        size = listed.get(fs._strip_protocol(uris[name]))
        if size is None:
            raise ServiceError(
                f"{uris[name]} was written but the store does not list it",
                fix="check the object store (`workbench status`)",
            )
        rows.append(
            {
                "table": name,
                "rows": len(frame),
                "parquet_bytes": size,
                "bytes_per_row": size / len(frame),
                "uri": uris[name],
            }
        )
        log.debug("%s: %d rows, %d bytes", name, len(frame), size)
    return pd.DataFrame(rows)


def _eu_share(company: Mapping[str, pd.DataFrame], table: str, key: str) -> float:
    """Fraction of ``table``'s rows that belong to customers served from an EU region."""
    customers = company["customers"]
    eu_ids = set(customers.loc[customers["region"].str.startswith("eu"), "customer_id"])
    frame = company[table]
    if len(frame) == 0:
        return 0.0
    return float(frame[key].isin(eu_ids).mean())


def company_datasets(
    company: Mapping[str, pd.DataFrame],
    bytes_per_row: Mapping[str, float],
    *,
    production_rows: Mapping[str, float] | None = None,
    growth_pct: Mapping[str, float] | None = None,
) -> tuple[Dataset, ...]:
    """Datasets of the production lake, sized from measured bytes per row.

    Tables with personal data (``customers``, ``support_tickets``) are split into the part
    belonging to EU customers (``residency="EU-only"``, ``sensitivity="pii"``) and the rest
    (``"any"``, ``pii``); the EU share comes from the customers' ``region``. Other tables are
    ``internal`` with no residency rule. Size = bytes per row x production rows / 10^12.

    Args:
        company: The generated tables (``customers`` is required).
        bytes_per_row: Table -> measured Parquet bytes per row.
        production_rows: Table -> production row count (default :data:`PRODUCTION_ROWS`).
        growth_pct: Table -> yearly growth in percent (default :data:`PRODUCTION_GROWTH_PCT`).

    Returns:
        The datasets, in table order.

    Raises:
        ConfigError: ``customers`` is missing or a table has no bytes per row.

    Introduced in: Lab 1 (assessment).
    """
    rows = dict(PRODUCTION_ROWS if production_rows is None else production_rows)
    growth = dict(PRODUCTION_GROWTH_PCT if growth_pct is None else growth_pct)
    if "customers" not in company:
        raise ConfigError(
            "company has no customers table: residency comes from customer regions",
            fix="pass the dict returned by generate_company(scale, seed)",
        )
    datasets: list[Dataset] = []
    for table, count in rows.items():
        if table not in bytes_per_row:
            raise ConfigError(
                f"no measured bytes per row for table {table!r}",
                fix="measure every table with measure_bytes_per_row(pk.store, company)",
            )
        size_tb = bytes_per_row[table] * count / 1e12
        g = growth.get(table, 15.0)
        if table in _PII_TABLES and table in company:
            eu = _eu_share(company, table, _PII_TABLES[table])
            datasets.append(
                Dataset(
                    name=f"{table}_eu",
                    size_tb=size_tb * eu,
                    growth_pct_per_year=g,
                    residency="EU-only",
                    sensitivity="pii",
                )
            )
            datasets.append(
                Dataset(
                    name=f"{table}_other",
                    size_tb=size_tb * (1 - eu),
                    growth_pct_per_year=g,
                    residency="any",
                    sensitivity="pii",
                )
            )
        else:
            datasets.append(Dataset(name=table, size_tb=size_tb, growth_pct_per_year=g))
    return tuple(datasets)
