"""What a Parquet scan *needs* to read, from the files' footers (pyarrow, no Spark).

Every Parquet file ends with a footer listing its row groups and, per column chunk, the
compressed size and min/max statistics. A reader given a pushed predicate skips the row
groups whose [min, max] cannot match, and a pruned read fetches only the chunks of the
columns it needs. :func:`row_groups` lays those footers out as a table and
:func:`footprint` adds up the bytes and rows a given scan cannot avoid: the floor against
which Spark's measured input bytes are read.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from platform_kit.errors import InputError

__all__ = ["Footprint", "footprint", "row_groups"]


def _files(path: str | Path) -> list[Path]:
    root = Path(path)
    files = sorted(root.glob("*.parquet")) if root.is_dir() else [root]
    files = [f for f in files if f.is_file()]
    if not files:
        raise InputError(f"no Parquet files at {root}", fix="pass a Parquet file or a folder of *.parquet files")
    return files


def row_groups(path: str | Path, stats_column: str | None = None) -> pd.DataFrame:
    """One row per row group: file, index, rows, bytes per column and ``stats_column``'s min/max.

    Args:
        path: A Parquet file or a folder of them.
        stats_column: Column whose statistics to report (``min``/``max`` columns).

    Raises:
        InputError: No Parquet files, or ``stats_column`` is not a column of them.
    """
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = []
    for file in _files(path):
        meta = pq.ParquetFile(file).metadata
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if stats_column is not None and stats_column not in names:
            raise InputError(f"{file.name} has no column {stats_column!r}; it has {', '.join(names)}",
                             fix="pass one of the listed columns")
        for index in range(meta.num_row_groups):
            group = meta.row_group(index)
            row: dict[str, Any] = {"file": file.name, "row_group": index, "rows": group.num_rows,
                                   "footer_bytes": meta.serialized_size if index == 0 else 0}
            for col in range(group.num_columns):
                chunk = group.column(col)
                row[f"bytes.{chunk.path_in_schema}"] = chunk.total_compressed_size
                if chunk.path_in_schema == stats_column:
                    stats = chunk.statistics
                    has = stats is not None and stats.has_min_max
                    row["min"], row["max"] = (stats.min, stats.max) if has else (None, None)
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class Footprint:
    """What a scan must read: row groups, rows and bytes of the needed column chunks (+ footers)."""

    row_groups: int
    row_groups_total: int
    rows: int
    rows_total: int
    bytes: int
    bytes_total: int

    @property
    def skipped_row_groups(self) -> int:
        """Row groups the statistics rule out."""
        return self.row_groups_total - self.row_groups

    def as_dict(self) -> dict[str, int]:
        """A flat row for tables."""
        return {"row_groups": self.row_groups, "row_groups_total": self.row_groups_total, "rows": self.rows,
                "rows_total": self.rows_total, "bytes": self.bytes, "bytes_total": self.bytes_total}


def _comparable(value: Any, like: Any) -> Any:
    """``value`` in a form comparable with the statistic ``like`` (naive bounds are UTC for tz-aware stats)."""
    if isinstance(like, pd.Timestamp | _dt.datetime | _dt.date) or isinstance(value, str):
        value = pd.Timestamp(value)
        like_tz = getattr(pd.Timestamp(like), "tzinfo", None) if like is not None else None
        if like_tz is not None and value.tzinfo is None:
            value = value.tz_localize("UTC")
        elif like_tz is None and value.tzinfo is not None:
            value = value.tz_convert("UTC").tz_localize(None)
    return value


def footprint(groups: pd.DataFrame, columns: Sequence[str] | None = None, *, low: Any = None,
              high: Any = None) -> Footprint:
    """Row groups, rows and bytes a scan of ``columns`` with ``low <= x < high`` cannot skip.

    Args:
        groups: :func:`row_groups` output (with ``min``/``max`` of the filtered column when
            ``low``/``high`` are given).
        columns: Columns read (None: all of them, ``select *``).
        low: Inclusive lower bound (None: unbounded); timestamps as ``pd.Timestamp`` or strings.
        high: Exclusive upper bound (None: unbounded).

    Raises:
        InputError: Unknown columns, or bounds without min/max statistics in ``groups``.
    """
    available = [c.removeprefix("bytes.") for c in groups.columns if c.startswith("bytes.")]
    wanted = available if columns is None else list(columns)
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise InputError(f"unknown column(s) {unknown}; the files have {', '.join(available)}",
                         fix="name columns of the table")
    keep = pd.Series(True, index=groups.index)
    if low is not None or high is not None:
        if "min" not in groups or "max" not in groups:
            raise InputError("bounds given but the row groups carry no min/max statistics",
                             fix="call row_groups(path, stats_column=<the filtered column>)")
        mins, maxs = groups["min"], groups["max"]
        sample = next((v for v in mins if v is not None and not pd.isna(v)), None)
        lo = None if low is None else _comparable(low, sample)
        hi = None if high is None else _comparable(high, sample)
        unknown_stats = mins.isna() | maxs.isna()  # no statistics: the reader cannot skip it
        if lo is not None:
            keep &= unknown_stats | maxs.map(lambda v: bool(v >= lo))
        if hi is not None:
            keep &= unknown_stats | mins.map(lambda v: bool(v < hi))
    chunk_bytes = groups[[f"bytes.{c}" for c in wanted]].sum(axis=1)
    footers = int(groups["footer_bytes"].sum())
    all_bytes = groups[[f"bytes.{c}" for c in available]].sum(axis=1)
    return Footprint(int(keep.sum()), len(groups), int(groups.loc[keep, "rows"].sum()), int(groups["rows"].sum()),
                     int(chunk_bytes[keep].sum()) + footers, int(all_bytes.sum()) + footers)
