"""Measured compression ratios of the company's tables as CSV and as Parquet.

What a replication link carries is the files as stored. Raw CSV compresses several-fold;
Parquet is already encoded (dictionaries, run lengths) and compressed column by column, so a
second pass on the wire gains much less: some for the fast, light snappy codec ``pk.store``
writes with, almost nothing for Parquet written with zstd. These functions measure all three
with gzip (Python's stdlib) and zstd (pyarrow's codec).

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Mapping, Sequence

import pandas as pd

from platform_kit.errors import ConfigError

__all__ = [
    "CODECS",
    "FORMATS",
    "compress_bytes",
    "compression_summary",
    "measure_compression",
    "serialise_tables",
]

#: Codecs :func:`compress_bytes` knows, with the level used.
CODECS: dict[str, int] = {"gzip": 6, "zstd": 3}


#: Formats :func:`serialise_tables` writes: raw CSV, Parquet as the lake stores it
#: (``pk.store.write_parquet``: snappy) and Parquet compressed with zstd at write time.
FORMATS = ("csv", "parquet-snappy", "parquet-zstd")


def serialise_tables(
    tables: Mapping[str, pd.DataFrame], formats: Sequence[str] = FORMATS
) -> dict[tuple[str, str], bytes]:
    """Each table as bytes in each of ``formats`` (see :data:`FORMATS`; microsecond timestamps, no index).

    Returns:
        ``(table, format) -> bytes``.

    Raises:
        ConfigError: Unknown format.

    Introduced in: Lab 1 (assessment).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ConfigError(f"unknown formats {unknown}", fix=f"use some of {list(FORMATS)}")
    payloads: dict[tuple[str, str], bytes] = {}
    for name, frame in tables.items():
        for fmt in formats:
            if fmt == "csv":
                payloads[(name, fmt)] = frame.to_csv(index=False).encode("utf-8")
                continue
            buffer = io.BytesIO()
            frame.to_parquet(
                buffer,
                index=False,
                coerce_timestamps="us",
                allow_truncated_timestamps=True,
                compression=fmt.split("-", 1)[1],
            )
            payloads[(name, fmt)] = buffer.getvalue()
    return payloads


def compress_bytes(data: bytes, codec: str) -> bytes:
    """Compress ``data`` with ``gzip`` (stdlib, level 6) or ``zstd`` (pyarrow, level 3).

    Raises:
        ConfigError: Unknown codec.

    Introduced in: Lab 1 (assessment).
    """
    if codec == "gzip":
        return gzip.compress(data, compresslevel=CODECS["gzip"], mtime=0)
    if codec == "zstd":
        import pyarrow as pa

        return pa.Codec("zstd", compression_level=CODECS["zstd"]).compress(data, asbytes=True)
    raise ConfigError(f"unknown codec {codec!r}", fix=f"use one of {sorted(CODECS)}")


def measure_compression(
    payloads: Mapping[tuple[str, str], bytes], codecs: Sequence[str] = ("gzip", "zstd")
) -> pd.DataFrame:
    """Compress every payload with every codec and measure the ratio.

    Args:
        payloads: ``(table, format) -> bytes`` (from :func:`serialise_tables`).
        codecs: Codec names (see :data:`CODECS`).

    Returns:
        ``table, format, codec, raw_bytes, compressed_bytes, ratio, seconds`` where
        ``ratio = raw_bytes / compressed_bytes`` (1.0 means no gain, below 1 it grew).

    Introduced in: Lab 1 (assessment).
    """
    unknown = [c for c in codecs if c not in CODECS]
    if unknown or not codecs:
        raise ConfigError(
            f"unknown or no codecs {unknown or list(codecs)}", fix=f"use some of {sorted(CODECS)}"
        )
    rows = []
    for (table, fmt), data in payloads.items():
        if len(data) == 0:
            raise ConfigError(f"payload {table}/{fmt} is empty", fix="serialise tables that have rows")
        for codec in codecs:
            began = time.perf_counter()
            packed = compress_bytes(data, codec)
            seconds = time.perf_counter() - began
            rows.append(
                {
                    "table": table,
                    "format": fmt,
                    "codec": codec,
                    "raw_bytes": len(data),
                    "compressed_bytes": len(packed),
                    "ratio": len(data) / len(packed),
                    "seconds": seconds,
                }
            )
    return pd.DataFrame(rows)


def compression_summary(measured: pd.DataFrame) -> pd.DataFrame:
    """Whole-company ratio per (format, codec): total raw bytes over total compressed bytes.

    Returns:
        ``format, codec, raw_bytes, compressed_bytes, ratio, wire_vs_csv`` where
        ``wire_vs_csv`` is the raw CSV bytes over this format's compressed bytes (what is
        saved on the wire compared with shipping plain CSV).

    Introduced in: Lab 1 (assessment).
    """
    totals = measured.groupby(["format", "codec"], as_index=False)[["raw_bytes", "compressed_bytes"]].sum()
    totals["ratio"] = totals["raw_bytes"] / totals["compressed_bytes"]
    csv_raw = measured[measured["format"] == "csv"].groupby("codec")["raw_bytes"].sum()
    totals["wire_vs_csv"] = totals["codec"].map(csv_raw) / totals["compressed_bytes"]
    return totals
