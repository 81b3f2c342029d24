"""Schema evolution across Parquet, ORC and Avro, decided by trying: write v1, evolve to v2, read.

Each change writes a v1 file of a small orders table and a v2 file with the changed
schema, then reads the v1 rows through the v2 view with each reader:

* Parquet and ORC, ``pyarrow (unified v2 schema)``: ``pyarrow.dataset`` over both files
  with the v2 schema imposed;
* Parquet and ORC, ``spark (mergeSchema)``: ``spark.read.option("mergeSchema", "true")``;
* Avro, ``fastavro (reader schema)``: the v1 file read with the v2 reader schema, which
  declares a default for the new field and an alias for the renamed one;
* Avro, ``fastavro (no defaults/aliases)``: the same without them, to show what the
  declarations buy.

Outcomes: ``reads`` (v1 values intact), ``reads with default/null`` (the new column is
filled), ``breaks: <error>`` (an exception, or values silently lost: a renamed column
that comes back null for every v1 row is a break, not a read).

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

_log = logging.getLogger(__name__)

__all__ = ["EVOLUTION_CHANGES", "evolve_schemas"]

#: The schema changes tried, in display order.
EVOLUTION_CHANGES: tuple[str, ...] = ("add_column", "rename_column", "widen_int", "widen_float")

_V1 = {
    "order_id": pa.array([1, 2, 3, 4], pa.int64()),
    "amount": pa.array([19.5, 42.25, 7.0, 130.75], pa.float64()),
    "quantity": pa.array([1, 3, 2, 5], pa.int32()),
    "price": pa.array([19.5, 14.0, 3.5, 26.25], pa.float32()),  # exact in float32
}
_V2_IDS = [101, 102]


def _v1() -> pa.Table:
    return pa.table(dict(_V1))


def _v2(change: str) -> pa.Table:
    base = pa.table({name: column.take([0, 1]) for name, column in _V1.items()})
    base = base.set_column(0, "order_id", pa.array(_V2_IDS, pa.int64()))
    if change == "add_column":
        return base.append_column("discount", pa.array([0.1, 0.2], pa.float64()))
    if change == "rename_column":
        return base.rename_columns(["order_id", "total", "quantity", "price"])
    if change == "widen_int":
        return base.set_column(2, "quantity", base["quantity"].cast(pa.int64()))
    return base.set_column(3, "price", base["price"].cast(pa.float64()))


def _avro_schema(table: pa.Table) -> dict[str, Any]:
    from platform_kit.assessment._formats_avro import avro_schema_for

    return avro_schema_for(table, name="order")


def _avro_reader_schema(change: str, declared: bool) -> dict[str, Any]:
    schema = copy.deepcopy(_avro_schema(_v2(change)))
    for spec in schema["fields"]:
        if declared and spec["name"] == "discount":
            spec["default"] = 0.0
        if declared and spec["name"] == "total":
            spec["aliases"] = ["amount"]
    return schema


def _short_error(exc: BaseException) -> str:
    """``ExceptionClass: first line``; for Spark errors the JVM exception, not the Py4J wrapper."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    for line in lines:  # py4j: ": org.apache.spark.SparkException: [ERROR_CLASS] message"
        head, sep, message = line.lstrip(": ").partition(": ")
        if sep and head.endswith(("Exception", "Error")) and "." in head:
            return f"{head.rsplit('.', 1)[-1]}: {message}"[:160]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:160]


def _judge(change: str, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """Outcome of reading the v1 rows through the v2 view."""
    v1 = _v1().to_pylist()
    got = sorted((r for r in rows if r.get("order_id") in {1, 2, 3, 4}), key=lambda r: r["order_id"])
    if len(got) != len(v1):
        return f"breaks: {len(got)} of {len(v1)} v1 rows came back", "rows lost"
    for kept in ("order_id", "quantity", "price"):
        for before, after in zip(v1, got, strict=True):
            value: Any = after.get(kept)
            if value is None or not math.isclose(float(value), float(before[kept]), rel_tol=1e-6):
                return f"breaks: v1 column {kept!r} changed ({before[kept]!r} -> {value!r})", "values differ"
    if change == "rename_column":
        values: list[Any] = [r.get("total") for r in got]
        nulls = sum(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)
        if nulls == len(values):
            return ("breaks: silent nulls: 'total' is null for every v1 row",
                    "columns resolve by name; the old values stay under 'amount'")
        if nulls:
            return f"breaks: silent nulls: 'total' is null for {nulls} of {len(values)} v1 rows", "values lost"
        if all(math.isclose(float(v), r["amount"], rel_tol=1e-9) for v, r in zip(values, v1, strict=True)):
            return "reads", "the alias maps 'amount' to 'total'"
        return "breaks: 'total' holds other values", "values differ"
    if any(a.get("amount") is None or not math.isclose(float(a["amount"]), b["amount"])
           for a, b in zip(got, v1, strict=True)):
        return "breaks: v1 'amount' changed", "values differ"
    if change == "add_column":
        filled = {r.get("discount") for r in got}
        filled = {None if isinstance(v, float) and math.isnan(v) else v for v in filled}
        return "reads with default/null", f"v1 rows get discount = {', '.join(map(repr, sorted(filled, key=str)))}"
    return "reads", "the narrow v1 values are promoted to the wide type"


def _try(change: str, read: Callable[[], list[dict[str, Any]]]) -> tuple[str, str]:
    try:
        rows = read()
    except Exception as exc:  # noqa: BLE001 - the point of the matrix: record what breaks and how
        return f"breaks: {_short_error(exc)}", "the reader refused the evolved schema"
    return _judge(change, rows)


def _write_columnar(fmt: str, table: pa.Table, path: Path) -> None:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    else:
        from pyarrow import orc

        orc.write_table(table, path)


def _columnar_rows(fmt: str, folder: Path, change: str, spark: Any | None) -> list[tuple[str, str, str, str]]:
    import pyarrow.dataset as ds

    folder.mkdir(parents=True)
    v2 = _v2(change)
    _write_columnar(fmt, _v1(), folder / f"part-0-v1.{fmt}")
    _write_columnar(fmt, v2, folder / f"part-1-v2.{fmt}")
    files = sorted(str(p) for p in folder.iterdir())
    out = [("pyarrow (unified v2 schema)",
            *_try(change, lambda: ds.dataset(files, format=fmt, schema=v2.schema).to_table().to_pylist()))]
    if spark is not None:
        def spark_read() -> list[dict[str, Any]]:
            frame = spark.read.option("mergeSchema", "true").format(fmt).load(str(folder))
            return [row.asDict() for row in frame.collect()]

        out.append(("spark (mergeSchema)", *_try(change, spark_read)))
    return [(fmt, reader, outcome, detail) for reader, outcome, detail in out]


def _avro_rows(folder: Path, change: str) -> list[tuple[str, str, str, str]]:
    import fastavro

    folder.mkdir(parents=True)
    path = folder / "v1.avro"
    with open(path, "wb") as handle:
        fastavro.writer(handle, fastavro.parse_schema(_avro_schema(_v1())), _v1().to_pylist())
    out = []
    for reader, declared in (("fastavro (reader schema)", True), ("fastavro (no defaults/aliases)", False)):
        schema = fastavro.parse_schema(_avro_reader_schema(change, declared))

        def read(schema: Any = schema) -> list[dict[str, Any]]:
            with open(path, "rb") as handle:
                return [dict(r) for r in fastavro.reader(handle, reader_schema=schema)]  # type: ignore[arg-type]

        out.append(("avro", reader, *_try(change, read)))
    return out


def evolve_schemas(workdir: Path, spark: Any | None = None) -> Any:
    """Try every schema change on every format and reader; one row per (format, reader, change).

    Args:
        workdir: Scratch folder (its ``evolution/`` subfolder is replaced).
        spark: A SparkSession to add the ``spark (mergeSchema)`` reader; ``None`` skips it.

    Returns:
        A DataFrame with columns ``format``, ``reader``, ``change``, ``outcome``, ``detail``.

    Introduced in: Lab 1 (assessment).
    """
    import pandas as pd

    root = Path(workdir) / "evolution"
    shutil.rmtree(root, ignore_errors=True)
    rows: list[dict[str, str]] = []
    for change in EVOLUTION_CHANGES:
        found = [*_columnar_rows("parquet", root / "parquet" / change, change, spark),
                 *_columnar_rows("orc", root / "orc" / change, change, spark),
                 *_avro_rows(root / "avro" / change, change)]
        rows += [{"format": f, "reader": r, "change": change, "outcome": o, "detail": d} for f, r, o, d in found]
    _log.info("schema evolution: %d outcomes", len(rows))
    return pd.DataFrame(rows, columns=["format", "reader", "change", "outcome", "detail"])
