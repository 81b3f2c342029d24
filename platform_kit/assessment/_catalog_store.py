"""The catalog's SQLite store: datasets, columns, lineage edges and the last harvest per source.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from platform_kit._state import state_dir
from platform_kit.assessment._catalog_model import ColumnRecord, DatasetRecord, HarvestResult, LineageEdge
from platform_kit.errors import CorruptStateError

__all__ = ["Catalog", "default_catalog_path", "open_catalog"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, name TEXT NOT NULL, row_count INTEGER,
    size_bytes INTEGER, partition_columns TEXT NOT NULL, owner TEXT, tags TEXT NOT NULL,
    description TEXT, properties TEXT NOT NULL, first_seen TEXT NOT NULL, harvested_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS columns (
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE, name TEXT NOT NULL,
    position INTEGER NOT NULL, type TEXT NOT NULL, nullable INTEGER, min TEXT, max TEXT,
    null_count INTEGER, distinct_count INTEGER, description TEXT, tags TEXT NOT NULL,
    PRIMARY KEY (dataset_id, name));
CREATE TABLE IF NOT EXISTS lineage (
    input_dataset TEXT NOT NULL, input_column TEXT NOT NULL, output_dataset TEXT NOT NULL,
    output_column TEXT NOT NULL, job TEXT NOT NULL, transformation TEXT, run_id TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (input_dataset, input_column, output_dataset, output_column, job));
CREATE TABLE IF NOT EXISTS harvests (
    source TEXT PRIMARY KEY, harvester TEXT NOT NULL, datasets INTEGER NOT NULL, columns INTEGER NOT NULL,
    seconds REAL NOT NULL, error TEXT, warnings TEXT NOT NULL, harvested_at TEXT NOT NULL);
"""

_DATASET_COLUMNS = ["id", "source", "name", "row_count", "size_bytes", "partition_columns", "owner", "tags",
                    "description", "properties", "first_seen", "harvested_at"]
_COLUMN_COLUMNS = ["dataset_id", "name", "position", "type", "nullable", "min", "max", "null_count",
                   "distinct_count", "description", "tags"]
_LINEAGE_COLUMNS = ["input_dataset", "input_column", "output_dataset", "output_column", "job",
                    "transformation", "run_id", "recorded_at"]


def default_catalog_path() -> Path:
    """``<state dir>/catalog/catalog.sqlite`` (wiped by ``workbench reset``).

    Introduced in: Lab 1 (assessment).
    """
    return state_dir() / "catalog" / "catalog.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json_list(values: Iterable[str]) -> str:
    return json.dumps(list(values))


class Catalog:
    """A metadata catalog in one SQLite file.

    Introduced in: Lab 1 (assessment).

    Re-harvesting a dataset replaces its row (``first_seen`` is kept, ``harvested_at``
    moves) and its columns (a dropped column disappears); lineage edges are keyed by
    input column, output column and job, so re-emitting a run updates them in place.

    Args:
        path: SQLite file (created with its folder when missing).

    Raises:
        CorruptStateError: The file exists but is not a usable SQLite database.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CorruptStateError(
                f"catalog {self.path} is not a usable SQLite database: {exc}",
                fix="delete the file (or run `workbench reset`) and harvest again",
            ) from exc

    def __repr__(self) -> str:
        return f"<Catalog {self.path}>"

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the SQLite connection."""
        self._conn.close()

    # writes -------------------------------------------------------------------------------
    def upsert(self, records: Iterable[DatasetRecord], harvested_at: str | None = None) -> int:
        """Insert or update datasets with their columns; returns how many were written."""
        stamp = harvested_at or _now()
        count = 0
        with self._conn:
            for record in records:
                self._conn.execute(
                    "INSERT INTO datasets VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                    "source=excluded.source, name=excluded.name, row_count=excluded.row_count, "
                    "size_bytes=excluded.size_bytes, partition_columns=excluded.partition_columns, "
                    "owner=excluded.owner, tags=excluded.tags, description=excluded.description, "
                    "properties=excluded.properties, harvested_at=excluded.harvested_at",
                    (record.id, record.source, record.name, record.row_count, record.size_bytes,
                     _json_list(record.partition_columns), record.owner, _json_list(record.tags),
                     record.description, json.dumps(record.properties, sort_keys=True), stamp, stamp),
                )
                self._conn.execute("DELETE FROM columns WHERE dataset_id = ?", (record.id,))
                self._conn.executemany(
                    "INSERT INTO columns VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [(record.id, c.name, i, c.type, None if c.nullable is None else int(c.nullable), c.min,
                      c.max, c.null_count, c.distinct_count, c.description, _json_list(c.tags))
                     for i, c in enumerate(record.columns)],
                )
                count += 1
        return count

    def ensure_dataset(self, record: DatasetRecord) -> bool:
        """Store ``record`` only if its id is unknown (lineage mentions datasets nobody harvested).

        Returns:
            True when it was added.
        """
        exists = self._conn.execute("SELECT 1 FROM datasets WHERE id = ?", (record.id,)).fetchone()
        if exists:
            return False
        self.upsert([record])
        return True

    def add_lineage(self, edges: Iterable[LineageEdge], recorded_at: str | None = None) -> int:
        """Insert or refresh column-level lineage edges; returns how many were written."""
        stamp = recorded_at or _now()
        rows = [(e.input_dataset, e.input_column, e.output_dataset, e.output_column, e.job, e.transformation,
                 e.run_id, stamp) for e in edges]
        with self._conn:
            self._conn.executemany(
                "INSERT INTO lineage VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET "
                "transformation=excluded.transformation, run_id=excluded.run_id, "
                "recorded_at=excluded.recorded_at",
                rows,
            )
        return len(rows)

    def record_harvest(self, result: HarvestResult) -> None:
        """Keep the latest harvest outcome of ``result.source`` (one row per source)."""
        with self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO harvests VALUES (?,?,?,?,?,?,?,?)",
                (result.source, result.harvester, result.datasets, result.columns, result.seconds,
                 result.error, _json_list(result.warnings), _now()),
            )

    def forget(self, dataset: str) -> bool:
        """Remove a dataset, its columns and the lineage edges touching it; True when it existed."""
        with self._conn:
            self._conn.execute("DELETE FROM lineage WHERE input_dataset = ? OR output_dataset = ?",
                               (dataset, dataset))
            return self._conn.execute("DELETE FROM datasets WHERE id = ?", (dataset,)).rowcount > 0

    # reads --------------------------------------------------------------------------------
    def _frame(self, sql: str, params: tuple[object, ...], columns: list[str]) -> pd.DataFrame:
        rows = self._conn.execute(sql, params).fetchall()
        return pd.DataFrame(rows, columns=columns)

    def datasets(self, source: str | None = None) -> pd.DataFrame:
        """Datasets (one row each; list-valued fields decoded), optionally of one source."""
        where, params = ("WHERE source = ?", (source,)) if source else ("", ())
        frame = self._frame(f"SELECT * FROM datasets {where} ORDER BY id", params, _DATASET_COLUMNS)
        for name in ("partition_columns", "tags"):
            frame[name] = frame[name].map(lambda text: tuple(json.loads(text)))
        frame["properties"] = frame["properties"].map(json.loads)
        for name in ("row_count", "size_bytes"):
            frame[name] = frame[name].astype("Int64")
        return frame

    def columns(self, dataset: str | None = None) -> pd.DataFrame:
        """Columns of every dataset (or of ``dataset``), in dataset then column order."""
        where, params = ("WHERE dataset_id = ?", (dataset,)) if dataset else ("", ())
        frame = self._frame(f"SELECT * FROM columns {where} ORDER BY dataset_id, position", params,
                            _COLUMN_COLUMNS)
        frame["tags"] = frame["tags"].map(lambda text: tuple(json.loads(text)))
        frame["nullable"] = frame["nullable"].map(lambda v: None if pd.isna(v) else bool(v))
        for name in ("null_count", "distinct_count"):
            frame[name] = frame[name].astype("Int64")
        return frame

    def lineage(self) -> pd.DataFrame:
        """Every column-level lineage edge."""
        return self._frame("SELECT * FROM lineage ORDER BY output_dataset, output_column, input_dataset, "
                           "input_column", (), _LINEAGE_COLUMNS)

    def harvests(self) -> pd.DataFrame:
        """Latest harvest outcome per source."""
        frame = self._frame("SELECT * FROM harvests ORDER BY source", (),
                            ["source", "harvester", "datasets", "columns", "seconds", "error", "warnings",
                             "harvested_at"])
        frame["warnings"] = frame["warnings"].map(lambda text: tuple(json.loads(text)))
        return frame

    def dataset(self, dataset: str) -> DatasetRecord | None:
        """The stored record of ``dataset`` (None when unknown)."""
        found = self.datasets()
        found = found[found["id"] == dataset]
        if found.empty:
            return None
        row = found.iloc[0]
        cols = self.columns(dataset)
        columns = tuple(
            ColumnRecord(name=c.name, type=c.type, nullable=c.nullable, min=c.min, max=c.max,
                         null_count=None if pd.isna(c.null_count) else int(c.null_count),
                         distinct_count=None if pd.isna(c.distinct_count) else int(c.distinct_count),
                         description=c.description, tags=c.tags)
            for c in cols.itertuples(index=False)
        )
        return DatasetRecord(
            id=row["id"], source=row["source"], name=row["name"],
            row_count=None if pd.isna(row["row_count"]) else int(row["row_count"]),
            size_bytes=None if pd.isna(row["size_bytes"]) else int(row["size_bytes"]),
            partition_columns=row["partition_columns"], owner=row["owner"], tags=row["tags"],
            description=row["description"], columns=columns, properties=row["properties"],
        )


def open_catalog(path: str | Path | None = None) -> Catalog:
    """Open (creating if needed) the catalog at ``path``, default :func:`default_catalog_path`.

    Introduced in: Lab 1 (assessment).
    """
    return Catalog(path or default_catalog_path())
