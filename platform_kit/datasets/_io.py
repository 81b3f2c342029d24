"""Writing the company to files: local folders or any fsspec filesystem (e.g. s3fs)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from platform_kit.datasets._api import generate_company
from platform_kit.datasets._scales import Scale
from platform_kit.datasets._schema import SCHEMAS, TABLES, arrow_schema, unknown_tables_error
from platform_kit.errors import DatasetError

__all__ = ["FORMATS", "write_company"]

logger = logging.getLogger(__name__)

#: Supported file formats -> file extension.
FORMATS: dict[str, str] = {"parquet": "parquet", "csv": "csv"}
_CSV_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def _to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """Arrow table with the canonical schema when the columns are the generated ones."""
    expected = [c.name for c in SCHEMAS[name].columns]
    if list(df.columns) == expected:
        return pa.Table.from_pandas(df, schema=arrow_schema(name), preserve_index=False)
    return pa.Table.from_pandas(df, preserve_index=False)  # a learner's modified table


def _write_one(df: pd.DataFrame, name: str, fmt: str, target: str, filesystem: Any | None) -> None:
    if fmt == "parquet":
        table = _to_arrow(name, df)
        options = {"coerce_timestamps": "us", "allow_truncated_timestamps": False}
        if filesystem is None:
            pq.write_table(table, target, **options)
        else:
            with filesystem.open(target, "wb") as handle:
                pq.write_table(table, handle, **options)
    elif filesystem is None:
        df.to_csv(target, index=False, date_format=_CSV_DATE_FORMAT)
    else:
        with filesystem.open(target, "w") as handle:
            df.to_csv(handle, index=False, date_format=_CSV_DATE_FORMAT)


def write_company(
    dest: str | Path,
    scale: Scale = "tiny",
    seed: int = 42,
    format: str = "parquet",  # the public name the labs use
    filesystem: Any | None = None,
    *,
    tables: Iterable[str] | None = None,
    frames: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, str]:
    """Write one file per table (``<dest>/<table>.parquet``) and return their paths.

    Parquet files carry microsecond timestamps (``coerce_timestamps="us"``), which
    Spark 4 reads natively. ``dest`` may be a local folder, a URL such as
    ``s3://lake/raw/northwind`` (resolved with fsspec), or a path inside
    ``filesystem`` (any fsspec filesystem, e.g. an ``s3fs.S3FileSystem`` pointed at
    the workbench object store).

    Introduced in: Lab 0 (welcome)

    Args:
        dest: Destination folder or URL (created if missing).
        scale: Scale to generate (ignored when ``frames`` is given).
        seed: Seed to generate with (ignored when ``frames`` is given).
        format: ``"parquet"`` (default) or ``"csv"``.
        filesystem: Optional fsspec filesystem to write through.
        tables: Subset of tables to write (default: all).
        frames: Already generated tables to write instead of generating them.

    Returns:
        Table name -> path of the written file (keeping ``dest``'s protocol, if any).

    Raises:
        DatasetError: On an unknown format or table, or when writing fails.
    """
    fmt = str(format).lower()
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {format!r}", fix=f"use one of: {', '.join(FORMATS)}")
    if frames is not None:
        unknown = [name for name in frames if name not in TABLES]
        if unknown:
            raise unknown_tables_error(unknown)
        data = dict(frames)
    else:
        data = generate_company(scale, seed, tables)
    dest_str = str(dest).rstrip("/")
    if filesystem is None and "://" in dest_str:
        import fsspec

        filesystem, _ = fsspec.core.url_to_fs(dest_str)
    paths: dict[str, str] = {}
    try:
        if filesystem is None:
            Path(dest_str).mkdir(parents=True, exist_ok=True)
        else:
            filesystem.makedirs(dest_str, exist_ok=True)
        for name, df in data.items():
            target = f"{dest_str}/{name}.{FORMATS[fmt]}"
            _write_one(df, name, fmt, target, filesystem)
            paths[name] = target
            logger.debug("wrote %s (%d rows) to %s", name, len(df), target)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise DatasetError(
            f"could not write table(s) to {dest_str}: {exc}",
            fix="check that the destination exists and is writable (for s3:// that the object store is up)",
        ) from exc
    logger.info("wrote %d table(s) as %s to %s", len(paths), fmt, dest_str)
    return paths
