"""Parquet vs ORC vs Avro, measured: size per codec, write and read times, pruning, schema evolution.

The bake-off writes one table in every (format, codec) pair and reads it back three ways
(everything; two columns; a range predicate), timing each as the median of ``repeats``
runs and counting the bytes each read fetched. Parquet and ORC go through pyarrow, Avro
through fastavro (Spark's Avro module is not bundled with pyspark and cannot be fetched
offline). :func:`spark_format_parity` reads the Parquet and ORC files with Spark too, and
:func:`evolve_schemas` tries schema changes on each format. The decision logic
(:func:`choose_format`) is pure and lives in ``_formats_choice``::

    results = measure_formats(frame, workdir=tmp)
    evolution = evolve_schemas(tmp, spark=pk.spark)
    choose_format(attach_evolution(results, evolution), "archive")   # -> ("orc", "zstd")

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from platform_kit.assessment._formats_choice import (
    WORKLOADS,
    acceptable_formats,
    attach_evolution,
    choose_format,
    evolution_matrix,
    evolution_verdicts,
)
from platform_kit.assessment._formats_evolution import EVOLUTION_CHANGES, evolve_schemas
from platform_kit.assessment._formats_io import ADAPTERS, RangePredicate, default_group_rows, median_time
from platform_kit.errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = [
    "CODECS",
    "EVOLUTION_CHANGES",
    "FORMATS",
    "WORKLOADS",
    "RangePredicate",
    "acceptable_formats",
    "attach_evolution",
    "choose_format",
    "default_predicate",
    "evolution_matrix",
    "evolution_verdicts",
    "evolve_schemas",
    "measure_formats",
    "plot_formats",
    "spark_format_parity",
]

#: Formats of the bake-off.
FORMATS: tuple[str, ...] = ("parquet", "orc", "avro")
#: Codec labels (``none`` is the uncompressed reference; ``gzip`` is zlib/deflate in ORC/Avro).
CODECS: tuple[str, ...] = ("none", "snappy", "zstd", "gzip")

COLUMNS: tuple[str, ...] = (
    "format", "codec", "native_codec", "status", "rows", "file_bytes", "size_vs_baseline", "write_s",
    "full_read_s", "projected_read_s", "filtered_read_s", "full_bytes_read", "projected_bytes_read",
    "filtered_bytes_read", "units_total", "units_read", "rows_decoded", "rows_matched",
)


def default_predicate(frame: pd.DataFrame) -> RangePredicate:
    """A selective range predicate for ``frame``: the day holding the median of its first timestamp
    column, else the 45th-55th percentile of its first numeric column.

    Raises:
        ConfigError: The frame has no timestamp or numeric column.

    Introduced in: Lab 1 (assessment).
    """
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]) and frame[name].notna().any():
            day = pd.Timestamp(frame[name].dropna().sort_values().iloc[frame[name].notna().sum() // 2]).normalize()
            return RangePredicate(str(name), day, day + pd.Timedelta(days=1))
    for name in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name]):
            low, high = frame[name].quantile([0.45, 0.55]).tolist()
            if low < high:
                return RangePredicate(str(name), low, high)
    raise ConfigError("the frame has no timestamp or numeric column to filter on",
                      fix="pass predicate=RangePredicate(column, low, high) explicitly")


def _validate(frame: Any, codecs: Sequence[str], formats: Sequence[str], repeats: Any,
              projection: Sequence[str] | None) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"frame must be a pandas DataFrame, got {type(frame).__name__}",
                          fix="pass a table of the lab data, e.g. company['clickstream']")
    if frame.empty or frame.shape[1] < 2:
        raise ConfigError(f"frame has {len(frame)} rows and {frame.shape[1]} columns; the bake-off needs "
                          "rows and at least 2 columns", fix="pass a non-empty table with several columns")
    for label, given, valid in (("codec", codecs, CODECS), ("format", formats, FORMATS)):
        if isinstance(given, str) or not given or any(g not in valid for g in given):
            raise ConfigError(f"{label}s {given!r} are not a non-empty list drawn from {valid}",
                              fix=f"use e.g. {label}s={list(valid)!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or not 1 <= int(repeats) <= 50:
        raise ConfigError(f"repeats must be an int from 1 to 50, got {repeats!r}",
                          fix="use 3 (the median of three runs)")
    columns = list(projection) if projection is not None else [str(c) for c in frame.columns[:2]]
    unknown = [c for c in columns if c not in frame.columns]
    if isinstance(projection, str) or not columns or unknown:
        raise ConfigError(f"projection {projection!r} must list columns of the frame (unknown: {unknown})",
                          fix=f"pick 2 of: {', '.join(map(str, frame.columns))}")
    return columns


def measure_formats(
    frame: pd.DataFrame,
    *,
    workdir: Path,
    codecs: Sequence[str] = CODECS,
    formats: Sequence[str] = FORMATS,
    repeats: int = 3,
    projection: Sequence[str] | None = None,
    predicate: RangePredicate | None = None,
    group_rows: int | None = None,
) -> pd.DataFrame:
    """Write ``frame`` in every (format, codec) and time writes and three kinds of reads.

    Args:
        frame: The data (timestamps must be datetime64; they are written in microseconds).
        workdir: Folder for the files (created; files are overwritten).
        codecs: Codec labels from :data:`CODECS`.
        formats: Formats from :data:`FORMATS`.
        repeats: Runs per timing; the median is reported.
        projection: Columns of the projected read (default: the first two).
        predicate: Range of the filtered read (default: :func:`default_predicate`).
        group_rows: Rows per Parquet row group and ORC row-index stride (default: ~16 groups).

    Returns:
        One row per (format, codec) with the columns of :data:`COLUMNS`: sizes in bytes,
        times in seconds; ``units_*`` are row groups (Parquet), stripes (ORC) or blocks
        (Avro) in the file and touched by the filtered read; ``rows_decoded`` are the rows
        the filtered read decoded before filtering; ``size_vs_baseline`` divides by the
        uncompressed Parquet file. A codec the Avro library cannot run has status
        ``unavailable: ...`` and no numbers.

    Raises:
        ConfigError: Bad frame, codecs, formats, repeats, projection or predicate.

    Introduced in: Lab 1 (assessment).
    """
    import pyarrow as pa

    columns = _validate(frame, codecs, formats, repeats, projection)
    predicate = predicate or default_predicate(frame)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    predicate.bounds(table.schema)  # fail early on a bad predicate
    group = int(group_rows) if group_rows else default_group_rows(len(frame))
    if group < 1:
        raise ConfigError(f"group_rows must be positive, got {group_rows!r}", fix="leave it unset")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    records: list[dict[str, Any]] = []
    availability: dict[str, str] = {}
    if "avro" in formats:
        from platform_kit.assessment._formats_avro import enable_avro_codecs, records_for

        records, availability = records_for(table), enable_avro_codecs()
    rows = []
    for fmt in formats:
        adapter = ADAPTERS[fmt]()
        for codec in codecs:
            row: dict[str, Any] = {"format": fmt, "codec": codec, "native_codec": adapter.native_codec(codec),
                                   "rows": len(frame), "status": "ok"}
            state = availability.get(row["native_codec"], "native") if fmt == "avro" else "native"
            if state.startswith("unavailable"):
                rows.append(row | {"status": state})
                continue
            path = workdir / f"{fmt}_{codec}.{adapter.extension}"
            row["write_s"], _ = median_time(partial(adapter.write, table, records, path, codec, group), repeats)
            row["file_bytes"] = path.stat().st_size
            row["full_read_s"], _ = median_time(partial(adapter.read_full, path), repeats)
            row["projected_read_s"], _ = median_time(partial(adapter.read_projected, path, columns), repeats)
            row["filtered_read_s"], matched = median_time(
                partial(adapter.read_filtered, path, predicate, table.schema), repeats)
            for mode in ("full", "projected", "filtered"):
                row[f"{mode}_bytes_read"] = adapter.bytes_read(path, mode, columns, predicate, table.schema)
            stats = adapter.filtered_stats(path, predicate, table.schema, len(frame))
            row |= {"units_total": stats.units_total, "units_read": stats.units_read,
                    "rows_decoded": stats.rows_decoded, "rows_matched": matched}
            rows.append(row)
            _log.info("%s/%s: %s bytes, write %.3f s", fmt, codec, row["file_bytes"], row["write_s"])
    out = pd.DataFrame(rows).reindex(columns=list(COLUMNS))
    base = out.loc[(out["format"] == "parquet") & (out["codec"] == "none"), "file_bytes"]
    out["size_vs_baseline"] = out["file_bytes"] / float(base.iloc[0]) if len(base) else float("nan")
    for name in ("rows", "file_bytes", "full_bytes_read", "projected_bytes_read", "filtered_bytes_read",
                 "units_total", "units_read", "rows_decoded", "rows_matched"):
        out[name] = out[name].astype("Int64")
    return out


def spark_format_parity(spark: Any, files: Mapping[str, Path], predicate: RangePredicate) -> pd.DataFrame:
    """Read Parquet/ORC files with Spark under ``predicate``; what Spark's scan reports.

    The predicate is pushed down: Spark skips Parquet row groups and ORC row-index groups
    whose statistics exclude it, so ``scan_rows`` (rows the scan produced) drops below
    the file's row count for both formats. The session time zone is UTC during the read, so
    timestamp bounds mean the same instants as in pyarrow.

    Args:
        spark: A SparkSession (``pk.spark``).
        files: Label (``parquet``/``orc``, or ``parquet/zstd``...) -> file written by
            :func:`measure_formats`; the format is the label's part before ``/``.
        predicate: The filtered read's range.

    Returns:
        One row per file: ``label``, ``format``, ``spark_s`` (filtered count), ``files``,
        ``file_bytes`` (Spark's ``filesSize``), ``scan_rows`` (rows the scan produced after
        statistics skipping) and ``rows_matched``.

    Introduced in: Lab 1 (assessment).
    """
    import time

    from pyspark.sql import functions as F

    from platform_kit.assessment._layouts_plan import plan_metrics

    rows = []
    saved_tz = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    try:
        for label, path in files.items():
            fmt = label.split("/")[0]
            if fmt not in ("parquet", "orc"):
                raise ConfigError(f"Spark reads Parquet and ORC here, not {fmt!r}",
                                  fix="Spark's Avro module is not bundled with pyspark; read Avro with fastavro")
            frame = spark.read.format(fmt).load(str(path))
            column = F.col(predicate.column)
            data_type = frame.schema[predicate.column].dataType
            low, high = (F.lit(str(v)).cast(data_type) for v in (predicate.low, predicate.high))
            # DataFrame.count() plans a new query; aggregate explicitly to keep this plan's metrics
            query = frame.where((column >= low) & (column < high)).agg(F.count(F.lit(1)).alias("n"))
            began = time.perf_counter()
            matched = int(query.collect()[0]["n"])
            seconds = time.perf_counter() - began
            scans = plan_metrics(query).scans
            rows.append({"label": label, "format": fmt, "spark_s": seconds,
                         "files": sum(s.files for s in scans), "file_bytes": sum(s.bytes for s in scans),
                         "scan_rows": sum(s.rows for s in scans), "rows_matched": matched})
    finally:
        spark.conf.set("spark.sql.session.timeZone", saved_tz)
    return pd.DataFrame(rows)


def plot_formats(results: pd.DataFrame) -> Any:
    """Bar charts per format and codec: file size, write time, full and projected read time.

    Returns:
        The matplotlib Figure.

    Introduced in: Lab 1 (assessment).
    """
    import matplotlib.pyplot as plt

    table = results[results["status"] == "ok"] if "status" in results.columns else results
    panels = [("file_bytes", "file size (KiB)", 1 / 1024), ("write_s", "write (ms)", 1000),
              ("full_read_s", "full read (ms)", 1000), ("projected_read_s", "2-column read (ms)", 1000)]
    figure, axes = plt.subplots(1, len(panels), figsize=(15, 3.6))
    for axis, (column, title, factor) in zip(axes, panels, strict=True):
        pivot = table.pivot(index="format", columns="codec", values=column).astype(float) * factor
        pivot = pivot.reindex([f for f in FORMATS if f in pivot.index])[[c for c in CODECS if c in pivot.columns]]
        pivot.plot.bar(ax=axis, rot=0, legend=axis is axes[-1])
        axis.set_title(title)
        axis.set_xlabel("")
    figure.suptitle(f"{int(table['rows'].iloc[0]):,} rows per file; times are medians")
    figure.tight_layout()
    return figure
