"""Per-format writers and readers of the format bake-off (Parquet, ORC via pyarrow; Avro via fastavro).

Each adapter writes one file and reads it three ways: everything, a column projection and
a range predicate. Timed reads use the plain library calls; a separate, untimed pass reads
through a byte-counting filesystem so the table can say how many bytes each read fetched.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import pyarrow as pa
import pyarrow.compute as pc

from platform_kit.errors import ConfigError

__all__ = ["ADAPTERS", "FormatAdapter", "RangePredicate", "ReadStats", "median_time"]

#: Codec labels of the bake-off -> each format's own name for it (``gzip`` is zlib/deflate).
NATIVE_CODECS: dict[str, dict[str, str]] = {
    "parquet": {"none": "none", "snappy": "snappy", "zstd": "zstd", "gzip": "gzip"},
    "orc": {"none": "uncompressed", "snappy": "snappy", "zstd": "zstd", "gzip": "zlib"},
    "avro": {"none": "null", "snappy": "snappy", "zstd": "zstandard", "gzip": "deflate"},
}


@dataclass(frozen=True)
class RangePredicate:
    """``low <= column < high``: the predicate of the filtered read.

    Attributes:
        column: Column compared.
        low: Inclusive lower bound (a number, a datetime or a pandas Timestamp).
        high: Exclusive upper bound.
    """

    column: str
    low: Any
    high: Any

    def bounds(self, schema: pa.Schema) -> tuple[pa.Scalar, pa.Scalar]:
        """Both bounds as Arrow scalars of the column's type.

        Raises:
            ConfigError: Unknown column, or bounds that do not convert to its type.
        """
        if self.column not in schema.names:
            raise ConfigError(f"predicate column {self.column!r} is not in the data ({', '.join(schema.names)})",
                              fix="filter on one of the frame's columns")
        arrow_type = schema.field(self.column).type
        try:
            low, high = (pa.scalar(_plain(v), type=arrow_type) for v in (self.low, self.high))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise ConfigError(f"predicate bounds {self.low!r}..{self.high!r} do not fit column "
                              f"{self.column!r} of type {arrow_type}: {exc}",
                              fix="give bounds of the column's type (datetimes for timestamps)") from None
        if not pc.less(low, high).as_py():
            raise ConfigError(f"empty predicate: low {self.low!r} is not below high {self.high!r}",
                              fix="the range is low <= value < high; give low < high")
        return low, high

    def expression(self, schema: pa.Schema) -> pc.Expression:
        """The predicate as a pyarrow dataset expression."""
        low, high = self.bounds(schema)
        return (pc.field(self.column) >= low) & (pc.field(self.column) < high)

    def python_test(self, schema: pa.Schema) -> Callable[[dict[str, Any]], bool]:
        """The predicate on one Python record (``None`` never matches)."""
        low, high = (b.as_py() for b in self.bounds(schema))
        column = self.column

        def test(record: dict[str, Any]) -> bool:
            value = record.get(column)
            return value is not None and low <= value < high

        return test


def _plain(value: Any) -> Any:
    """pandas/numpy scalars -> plain Python values Arrow converts without surprises."""
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return value.item()
    return value


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls of ``fn`` and the last call's result."""
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    times.sort()
    middle = len(times) // 2
    return (times[middle] if len(times) % 2 else (times[middle - 1] + times[middle]) / 2), result


@dataclass(frozen=True)
class ReadStats:
    """What the filtered read touched: storage units (row groups/stripes/blocks) and rows decoded."""

    units_total: int
    units_read: int
    rows_decoded: int


class _CountingFile:
    """A read-only file wrapper adding every byte read to ``counter[0]``."""

    def __init__(self, handle: IO[bytes], counter: list[int]) -> None:
        self._handle, self._counter = handle, counter

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._counter[0] += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def _counting_filesystem(counter: list[int]) -> Any:
    """A pyarrow filesystem over local files that counts the bytes readers fetch."""
    from fsspec.implementations.local import LocalFileSystem
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    class CountingLocal(LocalFileSystem):  # type: ignore[misc]
        cachable = False

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            handle = super()._open(path, mode, **kwargs)
            return _CountingFile(handle, counter) if "r" in mode else handle

    return PyFileSystem(FSSpecHandler(CountingLocal()))


class FormatAdapter:
    """Write/read one format; subclasses fill in the library calls."""

    name = ""
    extension = ""

    def native_codec(self, codec: str) -> str:
        """This format's name for the bake-off codec label ``codec``."""
        return NATIVE_CODECS[self.name][codec]

    def write(self, table: pa.Table, records: list[dict[str, Any]], path: Path, codec: str, group_rows: int) -> None:
        raise NotImplementedError

    def read_full(self, path: Path) -> int:
        raise NotImplementedError

    def read_projected(self, path: Path, columns: Sequence[str]) -> int:
        raise NotImplementedError

    def read_filtered(self, path: Path, predicate: RangePredicate, schema: pa.Schema) -> int:
        raise NotImplementedError

    def bytes_read(self, path: Path, mode: str, columns: Sequence[str], predicate: RangePredicate,
                   schema: pa.Schema) -> int:
        """Bytes fetched from storage by one read (``full``, ``projected`` or ``filtered``)."""
        import pyarrow.dataset as ds

        counter = [0]
        dataset = ds.dataset(str(path), format=self.name, filesystem=_counting_filesystem(counter))
        for fragment in dataset.get_fragments():  # footer read once, like a catalog that caches it
            if hasattr(fragment, "ensure_complete_metadata"):
                fragment.ensure_complete_metadata()
        counter[0] = 0
        if mode == "full":
            dataset.to_table()
        elif mode == "projected":
            dataset.to_table(columns=list(columns))
        else:
            dataset.to_table(filter=predicate.expression(schema))
        return counter[0]

    def filtered_stats(self, path: Path, predicate: RangePredicate, schema: pa.Schema, rows: int) -> ReadStats:
        raise NotImplementedError


class ParquetAdapter(FormatAdapter):
    """Parquet via ``pyarrow.parquet``; the filtered read skips row groups by their min/max statistics."""

    name, extension = "parquet", "parquet"

    def write(self, table: pa.Table, records: list[dict[str, Any]], path: Path, codec: str, group_rows: int) -> None:
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression=self.native_codec(codec), row_group_size=group_rows,
                       coerce_timestamps="us")

    def read_full(self, path: Path) -> int:
        import pyarrow.parquet as pq

        return pq.read_table(path).num_rows

    def read_projected(self, path: Path, columns: Sequence[str]) -> int:
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=list(columns)).num_rows

    def read_filtered(self, path: Path, predicate: RangePredicate, schema: pa.Schema) -> int:
        import pyarrow.parquet as pq

        return pq.read_table(path, filters=predicate.expression(schema)).num_rows

    def filtered_stats(self, path: Path, predicate: RangePredicate, schema: pa.Schema, rows: int) -> ReadStats:
        import pyarrow.dataset as ds

        fragment = next(iter(ds.dataset(str(path), format="parquet").get_fragments()))
        kept = fragment.split_by_row_group(filter=predicate.expression(schema))
        decoded = sum(group.num_rows for piece in kept for group in piece.row_groups)
        return ReadStats(fragment.metadata.num_row_groups, len(kept), decoded)


class OrcAdapter(FormatAdapter):
    """ORC via ``pyarrow.orc``; pyarrow applies no stripe statistics, so a filter reads every stripe."""

    name, extension = "orc", "orc"

    def write(self, table: pa.Table, records: list[dict[str, Any]], path: Path, codec: str, group_rows: int) -> None:
        from pyarrow import orc

        orc.write_table(table, path, compression=self.native_codec(codec), row_index_stride=max(1000, group_rows))

    def read_full(self, path: Path) -> int:
        from pyarrow import orc

        return orc.read_table(path).num_rows

    def read_projected(self, path: Path, columns: Sequence[str]) -> int:
        from pyarrow import orc

        return orc.read_table(path, columns=list(columns)).num_rows

    def read_filtered(self, path: Path, predicate: RangePredicate, schema: pa.Schema) -> int:
        import pyarrow.dataset as ds

        return ds.dataset(str(path), format="orc").to_table(filter=predicate.expression(schema)).num_rows

    def filtered_stats(self, path: Path, predicate: RangePredicate, schema: pa.Schema, rows: int) -> ReadStats:
        from pyarrow import orc

        stripes = orc.ORCFile(str(path)).nstripes
        return ReadStats(stripes, stripes, rows)


class AvroAdapter(FormatAdapter):
    """Avro via fastavro: row-oriented blocks, every read decodes every record."""

    name, extension = "avro", "avro"

    def __init__(self) -> None:
        self._schemas: dict[str, Any] = {}

    def write(self, table: pa.Table, records: list[dict[str, Any]], path: Path, codec: str, group_rows: int) -> None:
        import fastavro

        from platform_kit.assessment._formats_avro import avro_schema_for

        key = str(table.schema)
        if key not in self._schemas:
            self._schemas[key] = fastavro.parse_schema(avro_schema_for(table))
        with open(path, "wb") as handle:
            fastavro.writer(handle, self._schemas[key], records, codec=self.native_codec(codec))

    def _records(self, handle: Any, reader_schema: Any = None) -> Any:
        import fastavro

        return fastavro.reader(handle, reader_schema=reader_schema)

    def read_full(self, path: Path) -> int:
        with open(path, "rb") as handle:
            return len(list(self._records(handle)))

    def read_projected(self, path: Path, columns: Sequence[str]) -> int:
        import fastavro

        with open(path, "rb") as handle:
            writer_schema: dict[str, Any] = fastavro.reader(handle).writer_schema  # type: ignore[assignment]
            handle.seek(0)
            wanted = {"type": "record", "name": writer_schema["name"],
                      "fields": [f for f in writer_schema["fields"] if f["name"] in set(columns)]}
            return len(list(self._records(handle, wanted)))

    def read_filtered(self, path: Path, predicate: RangePredicate, schema: pa.Schema) -> int:
        test = predicate.python_test(schema)
        with open(path, "rb") as handle:
            return sum(1 for record in self._records(handle) if test(record))

    def bytes_read(self, path: Path, mode: str, columns: Sequence[str], predicate: RangePredicate,
                   schema: pa.Schema) -> int:
        counter = [0]
        with _CountingFile(open(path, "rb"), counter) as handle:
            for _ in self._records(handle):  # rows are framed in blocks: any read decodes them all
                pass
        return counter[0]

    def filtered_stats(self, path: Path, predicate: RangePredicate, schema: pa.Schema, rows: int) -> ReadStats:
        import fastavro

        with open(path, "rb") as handle:
            blocks = sum(1 for _ in fastavro.block_reader(handle))
        return ReadStats(blocks, blocks, rows)


ADAPTERS: dict[str, Callable[[], FormatAdapter]] = {
    "parquet": ParquetAdapter, "orc": OrcAdapter, "avro": AvroAdapter,
}


def default_group_rows(rows: int) -> int:
    """Rows per Parquet row group / ORC index stride: about 16 groups, at least 1,000 rows."""
    return max(1000, math.ceil(rows / 16))
