"""Lab 3's data: the Northwind Outfitters tables, replicated to a size Spark effects show at.

At the curriculum's ``tiny`` scale the clickstream has 5,000 rows: every Spark job
finishes in its fixed overhead and no optimisation is visible. :func:`prepare_lab_data`
therefore replicates the seeded lab tables ``copies`` times (ids offset per copy, so
keys stay unique and their distributions stay those of the lab data) and writes them as
Parquet under the state folder, where the standalone cluster's executors read them.
Files are written once per (scale, seed, copies) and reused.

Layout on disk (``LabData.paths``): ``clickstream/`` (events sorted by time, several
files, row groups with min/max statistics), ``orders/``, ``order_items/`` and the small
dimension tables ``customers/`` and ``products/``.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._state import state_dir
from platform_kit.errors import InputError

_log = logging.getLogger(__name__)

__all__ = ["LabData", "prepare_lab_data", "replicate"]

#: Tables replicated ``copies`` times (facts); the rest are written once (dimensions).
FACT_TABLES = ("clickstream", "orders", "order_items")
DIMENSION_TABLES = ("customers", "products")
_ID_COLUMNS = {"clickstream": ("event_id", "session_id"), "orders": ("order_id",), "order_items": ("order_id",)}


@dataclass(frozen=True)
class LabData:
    """Where the lab tables live and how big they are."""

    root: Path
    copies: int
    rows: dict[str, int]
    bytes: dict[str, int]

    def path(self, table: str) -> str:
        """Folder of ``table``'s Parquet files (a plain local path the executors can read)."""
        if table not in self.rows:
            raise InputError(f"unknown lab table {table!r}; have {', '.join(sorted(self.rows))}",
                             fix="use one of the listed tables")
        return str(self.root / table)

    def read(self, spark: Any, table: str) -> Any:
        """``spark.read.parquet`` of ``table``."""
        return spark.read.parquet(self.path(table))

    def describe(self) -> pd.DataFrame:
        """Rows and MB per table."""
        return pd.DataFrame({"rows": self.rows, "mb": {k: round(v / 1e6, 2) for k, v in self.bytes.items()}})


def replicate(frame: pd.DataFrame, table: str, copies: int) -> pd.DataFrame:
    """``copies`` copies of a fact table with ids offset per copy.

    Integer ids get ``copy * (max + 1)`` added; string ids get a ``-c<copy>`` suffix; all
    other columns (customer, product, timestamps...) are kept, so key and value
    distributions are those of the lab data.
    """
    if copies < 1:
        raise InputError(f"copies must be >= 1, got {copies}", fix="pass a positive number of copies")
    if copies == 1:
        return frame.reset_index(drop=True)
    parts = []
    for copy in range(copies):
        part = frame.copy()
        for column in _ID_COLUMNS.get(table, ()):
            if pd.api.types.is_integer_dtype(part[column]):
                part[column] = part[column] + copy * (int(frame[column].max()) + 1)
            else:
                part[column] = part[column].astype(str) + f"-c{copy}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    # tz-aware UTC timestamps are read by Spark as TIMESTAMP (not TIMESTAMP_NTZ), whose
    # Parquet row-group statistics Spark does use to skip row groups.
    for column in frame.columns:
        if pd.api.types.is_datetime64_dtype(frame[column]):
            frame[column] = frame[column].dt.tz_localize("UTC").astype("datetime64[us, UTC]")
    return frame


def _write(frame: pd.DataFrame, folder: Path, files: int, row_group_rows: int) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for index, chunk in enumerate(np.array_split(np.arange(len(frame)), max(1, files))):
        table = pa.Table.from_pandas(frame.iloc[chunk], preserve_index=False)
        path = folder / f"part-{index:05d}.parquet"
        pq.write_table(table, path, row_group_size=row_group_rows, compression="snappy")
        total += path.stat().st_size
    return total


def prepare_lab_data(scale: str | float = "tiny", seed: int = 42, *, copies: int = 40,
                     root: Path | None = None) -> LabData:
    """Write (once) the lab tables replicated ``copies`` times and return where they are.

    Args:
        scale: Scale of the generated company (see :mod:`platform_kit.datasets`).
        seed: Its seed.
        copies: Replication factor for the fact tables (40 at ``tiny``: 200k clicks).
        root: Folder to write under (default ``<state>/lab3/<scale>-s<seed>-x<copies>``).
    """
    from platform_kit.datasets import generate_company

    folder = root or state_dir() / "lab3" / f"{scale}-s{seed}-x{copies}"
    manifest = folder / "manifest.json"
    if manifest.is_file():
        doc = json.loads(manifest.read_text())
        return LabData(folder, copies, doc["rows"], doc["bytes"])
    shutil.rmtree(folder, ignore_errors=True)
    company = generate_company(scale, seed=seed, tables=(*FACT_TABLES, *DIMENSION_TABLES))
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}
    for table in (*FACT_TABLES, *DIMENSION_TABLES):
        frame = company[table]
        if table in FACT_TABLES:
            frame = replicate(frame, table, copies)
        if table == "clickstream":  # time-sorted, so min/max statistics of event_ts are selective
            frame = frame.sort_values("event_ts", kind="stable").reset_index(drop=True)
        frame = _utc(frame)
        files = 8 if table in FACT_TABLES else 1
        sizes[table] = _write(frame, folder / table, files, row_group_rows=max(1000, len(frame) // (files * 4)))
        rows[table] = len(frame)
    manifest.write_text(json.dumps({"rows": rows, "bytes": sizes, "scale": str(scale), "seed": seed}))
    _log.info("lab 3 data written to %s: %s", folder, rows)
    return LabData(folder, copies, rows, sizes)
