"""Metadata harvesting (Lab 1, section 7): records, the SQLite catalog, harvesters, search, the exercise.

Tiers: pure logic (records, annotation, footer statistics, system-table extracts), failure
(corrupt/vanished files, broken sources, hostile records), and engines (chdb, PostgreSQL,
the S3 object store) marked ``contract``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem
from pydantic import ValidationError

from platform_kit.assessment.catalog import (
    HARVESTERS,
    Catalog,
    ClickHouseHarvester,
    ColumnRecord,
    DatasetRecord,
    Harvester,
    ParquetFooterHarvester,
    PostgresHarvester,
    SparkCatalogHarvester,
    annotate_records,
    clickhouse_records,
    dataset_id,
    open_catalog,
    parse_describe,
    postgres_records,
    register_harvester,
    run_harvesters,
    search,
    spark_record,
    split_dataset_id,
    validate_records,
    workbench_harvesters,
)
from platform_kit.errors import ConfigError, CorruptStateError
from platform_kit.grading import check

# --- records ---------------------------------------------------------------------------------


def _record(identifier: str = "parquet://lake/x.parquet", name: str = "x", rows: int | None = 3,
            columns: tuple[str, ...] = ("a", "b")) -> DatasetRecord:
    return DatasetRecord(id=identifier, source="test", name=name, row_count=rows,
                         columns=tuple(ColumnRecord(name=c, type="int64") for c in columns))


def test_dataset_ids_split_and_build() -> None:
    assert split_dataset_id("clickhouse://default.t") == ("clickhouse", "default.t")
    assert dataset_id("spark", "default.t") == "spark://default.t"
    with pytest.raises(ConfigError, match="scheme://name"):
        split_dataset_id("default.t")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"id": "orders"}, "scheme://name"),
        ({"row_count": -1}, "greater than or equal"),
        ({"columns": (ColumnRecord(name="a", type="int"), ColumnRecord(name="a", type="int"))}, "duplicate"),
        ({"unexpected": 1}, "Extra inputs"),
    ],
)
def test_dataset_record_rejects_bad_fields(changes: dict[str, Any], words: str) -> None:
    fields = {"id": "csv:///x.csv", "source": "csv", "name": "x"} | changes
    with pytest.raises(ValidationError, match=words):
        DatasetRecord(**fields)


def test_annotate_records_tags_pii_and_documents_matched_tables() -> None:
    records = [
        _record("postgres://workbench.public.lab01_customers_pg", "lab01_customers_pg",
                columns=("email", "region")),
        _record("parquet://lake/order_items.parquet", "order_items", columns=("quantity",)),
        _record("csv:///copy.csv", "copy", columns=("national_id", "misc")),
    ]
    pg, items, copy = annotate_records(records)
    assert pg.tags == ("pii",) and pg.description.startswith("People who signed up")
    assert dict((c.name, c.tags) for c in pg.columns) == {"email": ("pii",), "region": ()}
    assert items.columns[0].description.startswith("Units bought")  # order_items, not orders
    assert copy.columns[0].tags == ("pii",) and copy.columns[1].description is None  # PII by column name


def test_validate_records_rejects_hostile_output() -> None:
    assert validate_records([], "x") == []
    with pytest.raises(ConfigError, match="not a list"):
        validate_records("orders", "x")
    with pytest.raises(ConfigError, match="item 0 is a int"):
        validate_records([1], "x")
    with pytest.raises(ConfigError, match="duplicate dataset ids"):
        validate_records([_record(), _record()], "x")
    with pytest.raises(ConfigError, match="record 0 is invalid"):
        validate_records([{"id": "nope", "source": "s", "name": "n"}], "x")


def test_registry_holds_the_four_harvesters_and_refuses_a_clash() -> None:
    shipped = {"parquet": ParquetFooterHarvester, "spark": SparkCatalogHarvester,
               "clickhouse": ClickHouseHarvester, "postgres": PostgresHarvester}
    assert shipped.items() <= HARVESTERS.items()

    with pytest.raises(ConfigError, match="already used"):
        @register_harvester("parquet")
        class Other:  # noqa: F811 - the clash is the point
            source = "other"

            def harvest(self) -> list[DatasetRecord]:
                return []


def test_workbench_harvesters_validates_sources() -> None:
    with pytest.raises(ConfigError, match="unknown sources"):
        workbench_harvesters(object(), sources=["mongo"])
    with pytest.raises(ConfigError, match="needs locations"):
        workbench_harvesters(object(), sources=["parquet"])


# --- the SQLite catalog ----------------------------------------------------------------------


def test_upsert_updates_in_place_and_keeps_first_seen(tmp_path: Path) -> None:
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        catalog.upsert([_record(rows=3, columns=("a", "b"))], harvested_at="2024-01-01T00:00:00")
        catalog.upsert([_record(rows=5, columns=("a", "c"))], harvested_at="2024-02-01T00:00:00")
        datasets = catalog.datasets()
        assert len(datasets) == 1
        row = datasets.iloc[0]
        assert (row["row_count"], row["first_seen"], row["harvested_at"]) == (5, "2024-01-01T00:00:00",
                                                                              "2024-02-01T00:00:00")
        assert catalog.columns()["name"].tolist() == ["a", "c"]  # the dropped column is gone
        assert catalog.dataset("parquet://lake/x.parquet").column_names == ["a", "c"]
        assert catalog.dataset("parquet://lake/none") is None
        assert catalog.forget("parquet://lake/x.parquet") and catalog.columns().empty


def test_catalog_default_path_is_under_the_state_dir_catalog_folder() -> None:
    from platform_kit._state import state_dir

    with open_catalog() as catalog:
        assert catalog.path == state_dir() / "catalog" / "catalog.sqlite"


def test_corrupt_catalog_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(CorruptStateError, match="workbench reset"):
        Catalog(path)


def test_search_matches_tags_exactly_and_names_by_substring(tmp_path: Path) -> None:
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        catalog.upsert(annotate_records([_record("parquet://lake/customers.parquet", "customers",
                                                 columns=("email", "shipping_city"))]))
        pii = search(catalog, "PII")
        assert set(pii["column"].dropna()) == {"email"} and "dataset" in set(pii["kind"])
        assert search(catalog, "city")["column"].tolist() == ["shipping_city"]
        assert search(catalog, "signed up")["kind"].tolist() == ["dataset"]  # description
        with pytest.raises(ConfigError, match="empty"):
            search(catalog, "  ")


# --- running harvesters ------------------------------------------------------------------------


class _Static:
    def __init__(self, source: str, records: Any) -> None:
        self.source = source
        self.records = records

    def harvest(self) -> Any:
        if isinstance(self.records, Exception):
            raise self.records
        return self.records


def test_a_failing_source_is_reported_and_the_others_are_stored(tmp_path: Path) -> None:
    harvesters = [
        _Static("good", [_record()]),
        _Static("down", ConnectionError("connection refused\nstack...")),
        _Static("empty", []),
        _Static("garbage", {"not": "a list"}),
        object(),
    ]
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        results = run_harvesters(catalog, harvesters)
        assert [r.ok for r in results] == [True, False, True, False, False]
        assert results[1].error == "ConnectionError: connection refused"
        assert "Harvester protocol" in results[4].error
        assert catalog.datasets()["id"].tolist() == ["parquet://lake/x.parquet"]
        assert catalog.harvests().set_index("source").loc["down", "error"].startswith("ConnectionError")
    assert isinstance(harvesters[0], Harvester) and not isinstance(object(), Harvester)


# --- Parquet footers ---------------------------------------------------------------------------


def _write(path: Path, table: pa.Table, **options: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)
    return path


def _numbers(rows: int) -> pa.Table:
    values = np.arange(rows)
    return pa.table({
        "id": values,
        "amount": pa.array([None if i % 5 == 0 else float(i) for i in values]),
        "label": [f"item-{i % 7}" for i in values],
        "ts": pa.array(values * 1_000_000 + 1_700_000_000_000_000, pa.timestamp("us")),
    })


def test_footer_statistics_merge_row_groups(tmp_path: Path) -> None:
    _write(tmp_path / "t.parquet", _numbers(1000), row_group_size=300)
    [record] = ParquetFooterHarvester(str(tmp_path)).harvest()
    assert record.id == f"parquet://{tmp_path.as_posix()}/t.parquet" and record.name == "t"
    assert (record.row_count, record.properties["row_groups"]) == (1000, "4")
    columns = {c.name: c for c in record.columns}
    assert (columns["id"].min, columns["id"].max, columns["id"].null_count) == ("0", "999", 0)
    amount = columns["amount"]
    assert (amount.min, amount.max, amount.null_count) == ("1.0", "999.0", 200)
    assert (columns["label"].min, columns["label"].max) == ("item-0", "item-6")
    assert columns["ts"].type == "timestamp[us]" and columns["ts"].min.startswith("2023-11-14T22:13:20")


def test_partitioned_and_spark_style_folders_are_one_dataset_each(tmp_path: Path) -> None:
    for region, rows in (("eu", 10), ("us", 15)):
        _write(tmp_path / "events" / f"region={region}" / "part-0.parquet", _numbers(rows))
    _write(tmp_path / "spark_out" / "part-00000-abc.snappy.parquet", _numbers(4))
    _write(tmp_path / "spark_out" / "part-00001-abc.snappy.parquet", _numbers(6))
    (tmp_path / "spark_out" / "_SUCCESS").write_text("")
    records = {r.name: r for r in ParquetFooterHarvester(str(tmp_path)).harvest()}
    assert set(records) == {"events", "spark_out"}
    events = records["events"]
    assert (events.row_count, events.partition_columns, events.properties["files"]) == (25, ("region",), "2")
    region = events.columns[-1]
    assert (region.name, region.tags, region.min, region.max, region.distinct_count) == (
        "region", ("partition",), "eu", "us", 2)
    assert records["spark_out"].row_count == 10


class _CountingFS(LocalFileSystem):
    """Local filesystem that counts the bytes ranged reads return."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.read_bytes = 0

    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        data = super().cat_file(path, start=start, end=end, **kwargs)
        self.read_bytes += len(data)
        return data


def test_only_the_footer_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path / "big.parquet", _numbers(200_000), row_group_size=50_000, compression="none")
    fs = _CountingFS(skip_instance_cache=True)
    harvester = ParquetFooterHarvester(str(path), fs)
    [record] = harvester.harvest()
    assert record.row_count == 200_000
    assert fs.read_bytes == harvester.bytes_read == int(record.properties["footer_bytes_read"])
    assert harvester.bytes_read < path.stat().st_size / 100  # kilobytes of a multi-megabyte file


def test_corrupt_data_pages_do_not_matter_to_a_footer_harvest(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.parquet", _numbers(50_000), compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 200_000] = b"\xff" * 200_000  # smash data pages, keep the footer
    path.write_bytes(bytes(data))
    with pytest.raises(Exception):  # noqa: B017 - reading the data must fail: the pages are garbage
        pq.read_table(path).to_pandas()
    [record] = ParquetFooterHarvester(str(path)).harvest()
    assert record.row_count == 50_000
    assert {c.name: c.max for c in record.columns}["id"] == "49999"


def test_bad_and_vanished_files_become_warnings(tmp_path: Path) -> None:
    _write(tmp_path / "good.parquet", _numbers(5))
    (tmp_path / "text.parquet").write_bytes(b"hello world, not parquet at all")
    (tmp_path / "tiny.parquet").write_bytes(b"PAR1")
    whole = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "truncated.parquet").write_bytes(whole[: len(whole) // 2] + b"\x00\x10\x00\x00PAR1")

    class Ghostly(LocalFileSystem):
        def find(self, path: str, **kwargs: Any) -> Any:
            found = super().find(path, **kwargs)
            found[f"{path}/ghost.parquet"] = {"type": "file", "size": 100}
            return found

    harvester = ParquetFooterHarvester(str(tmp_path), Ghostly(skip_instance_cache=True))
    records = harvester.harvest()
    assert [r.name for r in records] == ["good"]
    text = "\n".join(harvester.warnings)
    assert "ghost.parquet: vanished" in text and "magic bytes" in text and "too few" in text
    assert "declares a" in text


def test_empty_or_missing_locations_harvest_nothing(tmp_path: Path) -> None:
    assert ParquetFooterHarvester(str(tmp_path)).harvest() == []
    assert ParquetFooterHarvester(str(tmp_path / "missing")).harvest() == []
    with pytest.raises(ConfigError, match="at least one location"):
        ParquetFooterHarvester([])


def test_arrow_filesystem_is_accepted(tmp_path: Path) -> None:
    from pyarrow.fs import LocalFileSystem as ArrowLocal

    _write(tmp_path / "t.parquet", _numbers(7))
    [record] = ParquetFooterHarvester(str(tmp_path), ArrowLocal()).harvest()
    assert record.row_count == 7


# --- system-table extracts (pure) --------------------------------------------------------------


def test_clickhouse_records_skip_a_vanished_table() -> None:
    tables = pd.DataFrame({"name": ["gone", "t"], "engine": ["MergeTree"] * 2, "partition_key": ["", "d"],
                           "sorting_key": ["a", "a"], "comment": ["", "orders"], "total_rows": [None, 9],
                           "total_bytes": [None, 99]})
    columns = pd.DataFrame({"table": ["t", "t"], "name": ["a", "d"], "type": ["Int64", "Nullable(Date)"],
                            "position": [1, 2], "comment": ["", "day"], "is_in_partition_key": [0, 1],
                            "is_in_sorting_key": [1, 0]})
    parts = pd.DataFrame({"table": ["t"], "rows": [10], "bytes": [123]})
    records, warnings = clickhouse_records("default", tables, columns, parts)
    assert warnings == ["default.gone: vanished while being harvested"]
    [t] = records
    assert (t.id, t.row_count, t.size_bytes, t.partition_columns, t.description) == (
        "clickhouse://default.t", 10, 123, ("d",), "orders")
    assert [(c.nullable, c.tags) for c in t.columns] == [(False, ("sorting_key",)), (True, ("partition",))]


def test_postgres_records_turn_estimates_into_counts() -> None:
    tables = [("t", "alice", 100, 8192, "a table", "r", None), ("never", "bob", -1, 0, None, "r", None),
              ("p", "alice", 0, 0, None, "p", "RANGE (created_at, region)")]
    columns = [("t", "id", "bigint", False, 1, None), ("t", "email", "text", True, 2, "login"),
               ("never", "x", "integer", True, 1, None), ("p", "created_at", "date", False, 1, None)]
    stats = [("t", "id", 0.0, -1.0), ("t", "email", 0.1, 42.0)]
    records, warnings = postgres_records("db", "public", tables, columns, [("t", "id")], stats)
    assert warnings == []
    t, never, p = records
    assert (t.id, t.row_count, t.owner) == ("postgres://db.public.t", 100, "alice")
    assert t.properties["primary_key"] == "id"
    assert [(c.tags, c.null_count, c.distinct_count) for c in t.columns] == [
        (("primary_key",), 0, 100), ((), 10, 42)]
    assert never.row_count is None and never.columns[0].null_count is None
    assert p.partition_columns == ("created_at", "region")


def test_spark_describe_parsing_and_record() -> None:
    rows = [("id", "bigint", None), ("# Partition Information", "", ""),
            ("# col_name", "data_type", "comment"),
            ("seg", "string", None), ("", "", ""), ("# Detailed Table Information", "", ""),
            ("Owner", "ada", ""), ("Provider", "parquet", ""), ("Statistics", "2048 bytes, 12 rows", ""),
            ("# Storage Information", "", ""), ("Owner", "not this one", "")]
    details = parse_describe(rows)
    assert details == {"Owner": "ada", "Provider": "parquet", "Statistics": "2048 bytes, 12 rows"}
    columns = [{"name": "id", "dataType": "bigint", "nullable": False},
               {"name": "seg", "dataType": "string", "nullable": True, "isPartition": True}]
    record = spark_record("default", "t", columns, details, footer_rows=999)
    assert (record.row_count, record.size_bytes, record.owner, record.partition_columns) == (12, 2048, "ada",
                                                                                             ("seg",))
    fallback = spark_record("default", "t", columns, {"Provider": "parquet"}, footer_rows=7, footer_bytes=70)
    assert (fallback.row_count, fallback.size_bytes) == (7, 70)
    assert fallback.properties["row_count_from"] == "footers"


class _FakeCatalog:
    """Duck-typed ``spark.catalog`` where ``gone`` is listed but dropped before it is described."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def listTables(self, database: str) -> list[Any]:  # noqa: N802 - Spark's spelling
        from types import SimpleNamespace

        return [SimpleNamespace(name=n, isTemporary=n.startswith("tmp")) for n in self.names]

    def listColumns(self, qualified: str) -> list[Any]:  # noqa: N802
        from types import SimpleNamespace

        if qualified.endswith(".gone"):
            raise RuntimeError("[TABLE_OR_VIEW_NOT_FOUND] The table or view `default`.`gone` "
                               "cannot be found.")
        return [SimpleNamespace(name="id", dataType="bigint", nullable=False, description=None,
                                isPartition=False, isBucket=False)]


class _FakeSpark:
    def __init__(self, names: list[str]) -> None:
        self.catalog = _FakeCatalog(names)

    def sql(self, text: str) -> Any:
        from types import SimpleNamespace

        rows = [("id", "bigint", None), ("# Detailed Table Information", "", ""), ("Provider", "delta", "")]
        return SimpleNamespace(collect=lambda: rows)


def test_spark_harvester_skips_vanished_and_temporary_tables() -> None:
    harvester = SparkCatalogHarvester(_FakeSpark(["kept", "gone", "tmp_view"]))
    records = harvester.harvest()
    assert [r.id for r in records] == ["spark://default.kept"]
    assert harvester.warnings == ["default.gone: vanished while being harvested"]
    assert SparkCatalogHarvester(_FakeSpark([])).harvest() == []
    with pytest.raises(ConfigError, match="plain Spark database"):
        SparkCatalogHarvester(_FakeSpark([]), database="x; DROP")


# --- the exercise --------------------------------------------------------------------------------


class CsvHarvester:
    source = "csv"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def harvest(self) -> list[DatasetRecord]:
        records = []
        for path in sorted(self.root.glob("*.csv")):
            frame = pd.read_csv(path)
            records.append(DatasetRecord(
                id=f"csv://{path.resolve().as_posix()}", source="csv", name=path.stem, row_count=len(frame),
                size_bytes=path.stat().st_size,
                columns=tuple(ColumnRecord(name=str(c), type=str(t)) for c, t in frame.dtypes.items())))
        return records


class _CountsLines(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        return [r.model_copy(update={"row_count": len(Path(r.id[6:]).read_text().splitlines()) - 1})
                for r in super().harvest()]


class _CountsHeader(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        return [r.model_copy(update={"row_count": r.row_count + 1}) for r in super().harvest()]


class _DropsLastColumn(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        return [r.model_copy(update={"columns": r.columns[:-1]}) for r in super().harvest()]


class _AllStrings(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        return [r.model_copy(update={"columns": tuple(c.model_copy(update={"type": "string"})
                                                      for c in r.columns)})
                for r in super().harvest()]


class _RelativeIds(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        return [r.model_copy(update={"id": f"csv://{r.name}.csv"}) for r in super().harvest()]


class _EveryFile(CsvHarvester):
    def harvest(self) -> list[DatasetRecord]:
        extra = DatasetRecord(id=f"csv://{(self.root / 'notes.txt').resolve().as_posix()}", source="csv",
                              name="notes")
        return [*super().harvest(), extra]


class _NoSource:
    def __init__(self, root: str) -> None:
        self.root = root

    def harvest(self) -> list[DatasetRecord]:
        return []


@pytest.fixture()
def company_orders() -> pd.DataFrame:
    from platform_kit.datasets import generate_table

    return generate_table("orders", "tiny", 42)


def test_harvest_source_accepts_a_right_harvester(company_orders: pd.DataFrame) -> None:
    assert check("assessment.harvest_source", CsvHarvester, context={}, show=False).passed
    context = {"orders": company_orders}
    assert check("assessment.harvest_source", CsvHarvester, context=context, show=False).passed


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_CountsLines, "quoted field spans several lines"),
        (_CountsHeader, "header line is not a row"),
        (_DropsLastColumn, "missing"),
        (_AllStrings, "the dtype pandas.read_csv infers"),
        (_RelativeIds, "absolute path"),
        (_EveryFile, "notes.txt is not a CSV"),
        (_NoSource, "`source` attribute"),
        (CsvHarvester("."), "expected a function"),
    ],
)
def test_harvest_source_rejects_wrong_harvesters(wrong: Any, words: str) -> None:
    result = check("assessment.harvest_source", wrong, context={}, show=False)
    assert not result.passed and result.attempted
    assert words in result.message


def test_harvest_source_stub_counts_as_not_attempted() -> None:
    class Stub(CsvHarvester):
        def harvest(self) -> list[DatasetRecord]:
            raise NotImplementedError("write me")

    result = check("assessment.harvest_source", Stub, context={}, show=False)
    assert not result.passed and not result.attempted


# --- engines -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def workbench() -> Iterator[Any]:
    """The process's embedded workbench (temp WORKBENCH_HOME from conftest), stopped at the end."""
    import platform_kit

    bench = platform_kit.connect("embedded")
    yield bench
    bench.close()


@pytest.mark.contract
def test_clickhouse_harvester_on_chdb(workbench: Any, tmp_path: Path) -> None:
    olap = workbench.olap
    olap.execute("CREATE DATABASE IF NOT EXISTS catalog_test")
    olap.execute("CREATE DATABASE IF NOT EXISTS catalog_empty")
    olap.execute("DROP TABLE IF EXISTS catalog_test.orders")
    olap.execute("CREATE TABLE catalog_test.orders (id Int64, note Nullable(String) COMMENT 'free text', "
                 "d Date) ENGINE = MergeTree PARTITION BY toYYYYMM(d) ORDER BY id COMMENT 'test orders'")
    olap.execute("INSERT INTO catalog_test.orders SELECT number, toString(number), "
                 "toDate('2024-01-01') + number FROM numbers(100)")
    harvester = ClickHouseHarvester(olap, "catalog_test", tables=["orders", "dropped_meanwhile"])
    [record] = harvester.harvest()
    assert (record.id, record.row_count) == ("clickhouse://catalog_test.orders", 100)
    assert record.partition_columns == ("d",)
    assert record.size_bytes > 0 and record.description == "test orders"
    assert [c.nullable for c in record.columns] == [False, True, False]
    assert harvester.warnings == ["missing table catalog_test.dropped_meanwhile"]
    assert ClickHouseHarvester(olap, "catalog_empty").harvest() == []
    olap.execute("DROP TABLE catalog_test.orders")
    assert ClickHouseHarvester(olap, "catalog_test").harvest() == []
    with pytest.raises(ConfigError, match="plain ClickHouse identifier"):
        ClickHouseHarvester(olap, "x'; DROP TABLE y")


@pytest.mark.contract
def test_postgres_harvester_on_postgres(workbench: Any) -> None:
    pg = workbench.pg
    pg.query("DROP SCHEMA IF EXISTS catalog_test CASCADE")
    pg.query("DROP SCHEMA IF EXISTS catalog_empty CASCADE")
    pg.query("CREATE SCHEMA catalog_test")
    pg.query("CREATE SCHEMA catalog_empty")
    pg.query("CREATE TABLE catalog_test.customers (id bigint PRIMARY KEY, email text NOT NULL, region text)")
    pg.query("COMMENT ON COLUMN catalog_test.customers.email IS 'login'")
    pg.query("INSERT INTO catalog_test.customers SELECT g, 'u' || g || '@example.org', "
             "CASE WHEN g % 4 = 0 THEN NULL ELSE 'eu' END FROM generate_series(1, 200) g")
    pg.query("CREATE TABLE catalog_test.fresh (x int)")
    pg.query("INSERT INTO catalog_test.fresh VALUES (1), (2), (3)")
    pg.query("ANALYZE catalog_test.customers")
    harvester = PostgresHarvester(pg, "catalog_test")
    records = {r.name: r for r in harvester.harvest()}
    customers = records["customers"]
    assert customers.id.startswith("postgres://") and customers.id.endswith(".catalog_test.customers")
    assert customers.row_count == 200 and customers.size_bytes > 0 and customers.owner
    columns = {c.name: c for c in customers.columns}
    assert columns["id"].tags == ("primary_key",) and columns["email"].description == "login"
    assert columns["email"].nullable is False and columns["region"].null_count == 50
    assert records["fresh"].row_count is None  # never analysed: unknown, not a guess
    exact = PostgresHarvester(pg, "catalog_test", tables=["fresh", "gone"], exact_counts=True)
    [fresh] = exact.harvest()
    assert fresh.row_count == 3 and exact.warnings == ["missing table catalog_test.gone"]
    assert PostgresHarvester(pg, "catalog_empty").harvest() == []


@pytest.mark.contract
def test_parquet_harvester_through_the_object_store(workbench: Any) -> None:
    store = workbench.store
    frame = pd.DataFrame({"id": np.arange(30), "email": [f"u{i}@example.org" for i in range(30)]})
    store.write_parquet(frame, "lake", "catalog_test/customers.parquet")
    location = store.uri("lake", "catalog_test")
    for filesystem in (store.filesystem(), store.arrow_filesystem()):
        [record] = ParquetFooterHarvester(location, filesystem).harvest()
        assert record.id == "parquet://lake/catalog_test/customers.parquet" and record.row_count == 30
    with open_catalog(workbench.state_dir / "catalog" / "contract.sqlite") as catalog:
        harvesters = workbench_harvesters(workbench, parquet=location, sources=["parquet"])
        [result] = run_harvesters(catalog, harvesters)
        assert result.ok and result.datasets == 1
        assert search(catalog, "pii")["column"].dropna().tolist() == ["email"]


def test_sqlite_catalog_is_plain_sqlite(tmp_path: Path) -> None:
    with open_catalog(tmp_path / "c.sqlite") as catalog:
        catalog.upsert([_record()])
    tables = {r[0] for r in sqlite3.connect(tmp_path / "c.sqlite").execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"datasets", "columns", "lineage", "harvests"}
