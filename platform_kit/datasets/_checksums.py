"""Stable content checksums of tables, and verification against ``checksums.json``.

The checksum hashes canonical bytes per column, not a pickle or Parquet file, so it
does not change with pandas/pyarrow internals, nullable vs plain dtypes, the index,
or the process:

* integers (plain or nullable): little-endian int64, nulls as 0, plus a null mask;
* floats: rounded to 6 decimals, little-endian float64, nulls as 0, plus a null mask;
* booleans: one byte each, plus a null mask;
* timestamps (any unit, tz-aware converted to UTC): int64 microseconds, plus a mask;
* strings: UTF-8 lengths (int64) and bytes taken from an Arrow ``large_string``
  array per the Arrow columnar format specification, plus a null mask.

Column names, their logical kinds, their order and the row count are part of the hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from platform_kit.datasets._scales import Scale, scale_label, validate_seed
from platform_kit.datasets._schema import TABLES, unknown_tables_error
from platform_kit.errors import DatasetError

__all__ = [
    "CHECKSUMS_PATH",
    "RECORDED",
    "load_checksums",
    "record_checksums",
    "table_checksum",
    "verify_company",
]

logger = logging.getLogger(__name__)

#: Where recorded checksums live (shipped next to this module).
CHECKSUMS_PATH = Path(__file__).with_name("checksums.json")
#: The (scale, seed) pairs ``--record-checksums`` records.
RECORDED: tuple[tuple[str, int], ...] = (("tiny", 42), ("small", 42))
_VERSION = "platform_kit.datasets/checksum-v1"
_RECORD_FIX = (
    "regenerate with the same scale/seed, or if you changed the generator on purpose run "
    "`python -m platform_kit.datasets --record-checksums`"
)


def _mask(series: pd.Series) -> np.ndarray:
    return series.isna().to_numpy(dtype=np.bool_)


def _canonical(series: pd.Series, name: str) -> tuple[str, np.ndarray, list[bytes]]:
    """Logical kind, null mask and canonical byte chunks of one column."""
    dtype = series.dtype
    mask = _mask(series)
    if pd.api.types.is_bool_dtype(dtype):
        values = series.to_numpy(dtype=object, na_value=False).astype(np.bool_)
        return "bool", mask, [values.astype(np.uint8).tobytes()]
    if pd.api.types.is_integer_dtype(dtype):
        values = series.astype("Int64").fillna(0).to_numpy(dtype=np.int64)
        return "int64", mask, [values.astype("<i8").tobytes()]
    if pd.api.types.is_float_dtype(dtype):
        values = np.round(series.to_numpy(dtype=np.float64, na_value=0.0), 6) + 0.0  # -0.0 -> 0.0
        values[mask] = 0.0
        return "float64", mask, [values.astype("<f8").tobytes()]
    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        dtype = series.dtype
    if pd.api.types.is_datetime64_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        kind = "timestamp[us]" if pd.api.types.is_datetime64_dtype(dtype) else "duration[us]"
        unit = "datetime64[us]" if kind.startswith("timestamp") else "timedelta64[us]"
        values = series.to_numpy().astype(unit).view(np.int64).copy()
        values[mask] = 0
        return kind, mask, [values.astype("<i8").tobytes()]
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
    try:
        arr = pa.array(series.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    except (pa.ArrowException, TypeError) as exc:
        raise DatasetError(
            f"cannot checksum column {name!r} of dtype {series.dtype}: {exc}",
            fix="convert it to strings, numbers, booleans or timestamps first",
        ) from exc
    arr = arr.fill_null("")
    offsets = np.frombuffer(arr.buffers()[1], dtype="<i8", count=len(arr) + 1, offset=arr.offset * 8)
    data = arr.buffers()[2]
    payload = b"" if data is None else data.to_pybytes()[offsets[0] : offsets[-1]]
    return "string", mask, [np.diff(offsets).astype("<i8").tobytes(), payload]


def table_checksum(df: pd.DataFrame) -> str:
    """Return a stable sha256 of a table's content (column names, kinds, order and values).

    The index is ignored. The value is identical across runs, processes and pandas
    versions for the same content (see the module docstring for the canonical form).

    Introduced in: Lab 0 (welcome)

    Args:
        df: The table.

    Returns:
        64 lowercase hex digits.

    Raises:
        DatasetError: If a column holds values that are neither strings, numbers,
            booleans nor timestamps.
    """
    digest = hashlib.sha256(f"{_VERSION}|{df.shape[1]}|{len(df)}\n".encode())
    for position, name in enumerate(df.columns):
        kind, mask, chunks = _canonical(df.iloc[:, position], str(name))
        digest.update(f"{str(name)!r}|{kind}\n".encode())
        digest.update(hashlib.sha256(np.packbits(mask).tobytes()).digest())
        column = hashlib.sha256()
        for chunk in chunks:
            column.update(chunk)
        digest.update(column.digest())
    return digest.hexdigest()


def load_checksums(path: Path | None = None) -> dict[str, Any]:
    """Load the recorded checksums file (``{"records": {scale: {seed: {table: {...}}}}}``)."""
    path = path or CHECKSUMS_PATH
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DatasetError(
            f"no recorded checksums at {path}", fix="run `python -m platform_kit.datasets --record-checksums`"
        ) from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise DatasetError(
            f"cannot read recorded checksums at {path}: {exc}",
            fix="restore it with git or run `python -m platform_kit.datasets --record-checksums`",
        ) from exc


def record_checksums(
    targets: Iterable[tuple[Scale, int]] = RECORDED, path: Path | None = None
) -> dict[str, Any]:
    """Regenerate the company for each (scale, seed) and write their checksums to ``path``.

    Args:
        targets: (scale, seed) pairs to record.
        path: Output file (default :data:`CHECKSUMS_PATH`).

    Returns:
        The document written.
    """
    from platform_kit.datasets._api import generate_company

    records: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for scale, seed in targets:
        tables = generate_company(scale, seed)
        records.setdefault(scale_label(scale), {})[str(seed)] = {
            name: {"rows": len(df), "sha256": table_checksum(df)} for name, df in tables.items()
        }
    document = {"format": _VERSION, "records": records}
    path = path or CHECKSUMS_PATH
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("recorded checksums for %s in %s", ", ".join(f"{s}/{d}" for s, d in targets), path)
    return document


def verify_company(
    tables: Mapping[str, pd.DataFrame],
    scale: Scale = "tiny",
    seed: int = 42,
    *,
    strict: bool = True,
    path: Path | None = None,
) -> dict[str, str]:
    """Check generated tables against the checksums recorded for ``scale``/``seed``.

    Introduced in: Lab 0 (welcome)

    Args:
        tables: Table name -> DataFrame (all tables or a subset), e.g. from
            :func:`generate_company`.
        scale: The scale they were generated at.
        seed: The seed they were generated with.
        strict: If True (default) a (scale, seed) without recorded checksums is an
            error; if False it only logs a warning and verifies nothing.
        path: Checksums file (default: the ``checksums.json`` shipped with the package).

    Returns:
        Table name -> verified checksum (empty when nothing was recorded and not strict).

    Raises:
        DatasetError: On an unknown table name, a missing record (when strict), or a
            mismatch; the message names each table with its expected and actual values.
    """
    label, seed = scale_label(scale), validate_seed(seed)
    unknown = [name for name in tables if name not in TABLES]
    if unknown:
        raise unknown_tables_error(unknown)
    if not tables:
        raise DatasetError("no tables given to verify", fix="pass the dict returned by generate_company()")
    document = load_checksums(path)
    if document.get("format") != _VERSION:
        raise DatasetError(
            f"checksums file format {document.get('format')!r} is not {_VERSION!r}",
            fix="run `python -m platform_kit.datasets --record-checksums`",
        )
    recorded = document.get("records", {}).get(label, {}).get(str(seed))
    if recorded is None:
        known = sorted(f"{s}/{d}" for s, seeds in document.get("records", {}).items() for d in seeds)
        message = f"no recorded checksums for scale={label!r}, seed={seed} (recorded: {', '.join(known)})"
        if strict:
            raise DatasetError(message, fix="verify a recorded scale/seed, or pass strict=False to skip")
        logger.warning("%s; skipping verification", message)
        return {}
    verified: dict[str, str] = {}
    problems: list[str] = []
    for name in (t for t in TABLES if t in tables):
        actual = table_checksum(tables[name])
        expected = recorded.get(name)
        if expected is None:
            problems.append(f"table {name!r}: no recorded checksum")
        elif actual != expected["sha256"]:
            problems.append(
                f"table {name!r}: expected sha256 {expected['sha256']}, got {actual} "
                f"(rows expected {expected['rows']}, got {len(tables[name])})"
            )
        else:
            verified[name] = actual
    if problems:
        raise DatasetError(
            f"checksum mismatch at scale={label!r}, seed={seed}: " + "; ".join(problems), fix=_RECORD_FIX
        )
    logger.info("verified %d table(s) at scale %s, seed %d", len(verified), label, seed)
    return verified
