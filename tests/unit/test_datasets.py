"""Unit tests of platform_kit.datasets: determinism, integrity, quirks, I/O, errors."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from platform_kit.datasets import (
    DUPLICATE_EVENT_FRACTION,
    LATENESS,
    PII_COLUMNS,
    SCALES,
    TABLES,
    describe_tables,
    generate_company,
    generate_table,
    table_checksum,
    verify_company,
    write_company,
)
from platform_kit.datasets import __main__ as cli
from platform_kit.datasets._checksums import CHECKSUMS_PATH, record_checksums
from platform_kit.datasets._schema import SCHEMAS
from platform_kit.errors import DatasetError


@pytest.fixture(scope="module")
def tiny() -> dict[str, pd.DataFrame]:
    """The tiny company at the default seed (treat as read-only)."""
    return generate_company("tiny", seed=42)


def _checksums(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    return {name: table_checksum(df) for name, df in tables.items()}


# --- determinism and checksums -------------------------------------------------------


def test_generate_company_same_seed_gives_identical_checksums(tiny: dict[str, pd.DataFrame]) -> None:
    assert _checksums(generate_company("tiny", seed=42)) == _checksums(tiny)


def test_generate_company_different_seed_changes_every_table(tiny: dict[str, pd.DataFrame]) -> None:
    other = _checksums(generate_company("tiny", seed=7))
    assert all(other[name] != digest for name, digest in _checksums(tiny).items())


def test_generate_table_alone_equals_table_generated_with_company(tiny: dict[str, pd.DataFrame]) -> None:
    for name in ("payments", "clickstream", "support_tickets", "pipeline_metrics"):
        assert table_checksum(generate_table(name, "tiny", 42)) == table_checksum(tiny[name])


def test_generate_company_subset_returns_only_requested_tables_in_canonical_order() -> None:
    result = generate_company("tiny", tables=["payments", "customers"])
    assert list(result) == ["customers", "payments"]


def test_verify_company_tiny_matches_recorded_checksums(tiny: dict[str, pd.DataFrame]) -> None:
    verified = verify_company(tiny, "tiny", 42)
    recorded = json.loads(CHECKSUMS_PATH.read_text())["records"]["tiny"]["42"]
    assert set(verified) == set(TABLES)
    assert {name: entry["sha256"] for name, entry in recorded.items()} == verified


def test_verify_company_tampered_value_raises_naming_table_and_fix(tiny: dict[str, pd.DataFrame]) -> None:
    orders = tiny["orders"].copy()
    orders.loc[3, "total_amount"] += 0.01
    with pytest.raises(DatasetError) as info:
        verify_company({**tiny, "orders": orders}, "tiny", 42)
    message = str(info.value)
    assert "'orders'" in message and "expected sha256" in message and "got" in message
    assert "--record-checksums" in message and "same scale/seed" in message
    assert "'customers'" not in message


def test_verify_company_unrecorded_scale_raises_unless_not_strict(tiny: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DatasetError, match=r"no recorded checksums.*tiny/42"):
        verify_company(tiny, 3.5, 42)
    assert verify_company(tiny, "tiny", 999, strict=False) == {}


def test_verify_company_unknown_table_raises(tiny: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(DatasetError, match=r"unknown table.*'invoices'"):
        verify_company({"invoices": tiny["orders"]}, "tiny", 42)


def test_table_checksum_ignores_index_and_nullable_dtypes(tiny: dict[str, pd.DataFrame]) -> None:
    customers = tiny["customers"]
    shuffled_index = customers.set_axis(np.arange(len(customers))[::-1] + 100)
    assert table_checksum(shuffled_index) == table_checksum(customers)
    as_nullable = customers.astype({"customer_id": "Int64", "marketing_opt_in": "boolean", "city": "string"})
    assert table_checksum(as_nullable) == table_checksum(customers)
    nanoseconds = customers.astype({"signup_ts": "datetime64[ns]"})
    assert table_checksum(nanoseconds) == table_checksum(customers)


def test_table_checksum_changes_with_values_order_and_names(tiny: dict[str, pd.DataFrame]) -> None:
    products = tiny["products"]
    base = table_checksum(products)
    assert table_checksum(products.iloc[::-1]) != base
    assert table_checksum(products.rename(columns={"sku": "SKU"})) != base
    assert table_checksum(products[products.columns[::-1]]) != base
    edited = products.copy()
    edited.loc[0, "description"] += " "
    assert table_checksum(edited) != base


def test_record_checksums_writes_the_recorded_tiny_values(tmp_path: Path) -> None:
    document = record_checksums([("tiny", 42)], path=tmp_path / "c.json")
    stored = json.loads(CHECKSUMS_PATH.read_text())
    assert document["records"]["tiny"] == stored["records"]["tiny"]
    assert json.loads((tmp_path / "c.json").read_text()) == document


# --- integrity -----------------------------------------------------------------------


def test_generate_company_foreign_keys_are_valid(tiny: dict[str, pd.DataFrame]) -> None:
    for table, schema in SCHEMAS.items():
        for column, target in schema.foreign_keys.items():
            parent, key = target.split(".")
            values = tiny[table][column].dropna()
            assert values.isin(tiny[parent][key]).all(), f"{table}.{column} -> {target}"


def test_generate_company_primary_keys_are_unique(tiny: dict[str, pd.DataFrame]) -> None:
    for table, schema in SCHEMAS.items():
        df = tiny[table].drop_duplicates() if table == "clickstream" else tiny[table]  # duplicates on purpose
        assert not df.duplicated(list(schema.primary_key)).any(), table


def test_orders_total_amount_equals_sum_of_items_to_the_cent(tiny: dict[str, pd.DataFrame]) -> None:
    items = tiny["order_items"]
    line_cents = items["quantity"] * (items["unit_price"] * 100).round().astype("int64")
    per_order = line_cents.groupby(items["order_id"]).sum()
    totals = (tiny["orders"].set_index("order_id")["total_amount"] * 100).round().astype("int64")
    assert per_order.reindex(totals.index).tolist() == totals.tolist()
    assert (items["quantity"] >= 1).all() and (items["unit_price"] > 0).all()
    assert not items.duplicated(["order_id", "product_id"]).any()


def test_orders_and_payments_respect_time_order(tiny: dict[str, pd.DataFrame]) -> None:
    orders = tiny["orders"].merge(tiny["customers"][["customer_id", "signup_ts"]], on="customer_id")
    assert (orders["signup_ts"] < orders["order_ts"]).all()
    payments = tiny["payments"].merge(tiny["orders"][["order_id", "order_ts"]], on="order_id")
    assert (payments["payment_ts"] > payments["order_ts"]).all()
    tickets = tiny["support_tickets"]
    assert ((tickets["resolved_ts"] > tickets["created_ts"]) | tickets["resolved_ts"].isna()).all()


def test_payments_settle_each_order_exactly_once(tiny: dict[str, pd.DataFrame]) -> None:
    payments, orders = tiny["payments"], tiny["orders"].set_index("order_id")
    settled = payments[payments["status"] != "failed"]
    assert not settled["order_id"].duplicated().any()
    assert np.allclose(settled["amount"], orders.loc[settled["order_id"], "total_amount"])
    unpaid = orders.index.difference(settled["order_id"])
    assert (orders.loc[unpaid, "status"] == "cancelled").all()
    returned = orders.index[orders["status"] == "returned"]
    assert (settled.set_index("order_id").loc[returned, "status"] == "refunded").all()
    assert {"failed", "refunded", "captured"} <= set(payments["status"])


def test_generate_company_timestamps_are_microsecond_datetimes(tiny: dict[str, pd.DataFrame]) -> None:
    for table, df in tiny.items():
        for column in SCHEMAS[table].columns:
            if column.type == "timestamp[us]":
                assert df[column.name].dtype == np.dtype("datetime64[us]"), f"{table}.{column.name}"


def test_generate_company_columns_follow_describe_tables(tiny: dict[str, pd.DataFrame]) -> None:
    description = describe_tables()
    assert tuple(description) == TABLES
    for table, df in tiny.items():
        assert list(df.columns) == list(description[table]["columns"]), table
        assert all(text for text in (c["description"] for c in description[table]["columns"].values()))


def test_pii_columns_exist_and_are_filled(tiny: dict[str, pd.DataFrame]) -> None:
    assert set(PII_COLUMNS) == set(TABLES)
    assert {"full_name", "email", "phone", "national_id", "date_of_birth"} <= set(PII_COLUMNS["customers"])
    for table, columns in PII_COLUMNS.items():
        for column in columns:
            assert tiny[table][column].notna().all(), f"{table}.{column}"
    customers = tiny["customers"]
    assert customers["email"].is_unique and customers["national_id"].is_unique
    assert customers["national_id"].str.fullmatch(r"9\d\d-\d\d-\d{4}").all()
    bodies = tiny["support_tickets"]["body"]
    assert bodies.str.contains("@").any() and bodies.str.contains(r"\+\d+ \d{3} \d{7}").any()


def test_clickstream_has_late_out_of_order_and_duplicate_events(tiny: dict[str, pd.DataFrame]) -> None:
    events = tiny["clickstream"]
    assert events["ingest_ts"].is_monotonic_increasing
    assert not events["event_ts"].is_monotonic_increasing
    delay = events["ingest_ts"] - events["event_ts"]
    assert (delay >= pd.Timedelta(0)).all()
    late_share = (delay > pd.Timedelta(hours=1)).mean()
    assert abs(late_share - LATENESS["late"][0]) < 0.01
    out_of_order = (events["event_ts"] < events["event_ts"].cummax().shift()).mean()
    assert out_of_order > LATENESS["late"][0]
    duplicates = events["event_id"].duplicated()
    assert duplicates.sum() == round(len(events) * DUPLICATE_EVENT_FRACTION)
    assert len(events.drop_duplicates()) == len(events) - duplicates.sum()  # exact copies
    assert events["customer_id"].isna().any() and events["customer_id"].notna().any()


def test_products_near_duplicates_point_at_originals(tiny: dict[str, pd.DataFrame]) -> None:
    products = tiny["products"].set_index("product_id")
    dups = products[products["duplicate_of"].notna()]
    assert 0 < len(dups) < 0.1 * len(products)
    originals = products.loc[dups["duplicate_of"].astype("int64")]
    assert (originals["duplicate_of"].isna()).all()
    assert (originals["subcategory"].to_numpy() == dups["subcategory"].to_numpy()).all()
    assert (originals["description"].to_numpy() != dups["description"].to_numpy()).all()
    assert products["description"].str.count(r"\.").ge(3).all()


def test_pipeline_metrics_failures_follow_rising_duration(tiny: dict[str, pd.DataFrame]) -> None:
    runs = tiny["pipeline_metrics"].sort_values(["pipeline", "started_ts"]).reset_index(drop=True)
    failed = runs["status"] == "failed"
    assert failed.any() and runs.loc[failed, "error_type"].notna().all()
    assert runs.loc[~failed, "error_type"].isna().all()
    assert (runs.loc[failed, "rows_out"] == 0).all()
    relative = runs["duration_s"] / runs.groupby("pipeline")["duration_s"].transform("median")
    ramped = runs.index[failed & runs["error_type"].isin(["OutOfMemoryError", "Timeout"])] - 1
    ramped = ramped[runs.loc[ramped, "status"].eq("success").to_numpy()]
    assert relative.loc[ramped].median() > 1.3 > relative[~failed].median()


# --- scales and errors ---------------------------------------------------------------


def test_scales_row_counts_grow_monotonically() -> None:
    names = ["tiny", "small", "medium", "large"]
    assert list(SCALES) == names
    for smaller, larger in itertools.pairwise(names):
        assert all(SCALES[larger][t] > SCALES[smaller][t] for t in SCALES["tiny"])
    assert SCALES["tiny"]["customers"] == 200 and SCALES["tiny"]["clickstream"] == 5000
    assert SCALES["large"]["clickstream"] >= 1_000_000


def test_generate_company_float_factor_scales_rows(tiny: dict[str, pd.DataFrame]) -> None:
    half, double = generate_company(0.5), generate_company("2")
    for table in TABLES:
        assert len(half[table]) < len(tiny[table]) < len(double[table]), table
    assert _checksums(generate_company(1.0)) == _checksums(tiny)


@pytest.mark.parametrize("scale", ["huge", "", -1, 0, math.nan, math.inf, True, None, [1]])
def test_generate_company_invalid_scale_raises_naming_valid_scales(scale: object) -> None:
    with pytest.raises(DatasetError) as info:
        generate_company(scale)  # type: ignore[arg-type]
    assert "'tiny'" in str(info.value) and "'large'" in str(info.value)


def test_generate_company_unknown_table_raises_listing_valid_tables() -> None:
    with pytest.raises(DatasetError) as info:
        generate_company("tiny", tables=["orders", "invoices"])
    assert "'invoices'" in str(info.value) and all(t in str(info.value) for t in TABLES)
    with pytest.raises(DatasetError, match="clickstream"):
        generate_table("click_stream")


@pytest.mark.parametrize("seed", [-1, 1.5, "42", None])
def test_generate_company_invalid_seed_raises(seed: object) -> None:
    with pytest.raises(DatasetError, match="seed"):
        generate_company("tiny", seed=seed)  # type: ignore[arg-type]


# --- files ---------------------------------------------------------------------------


def test_write_company_parquet_round_trip_keeps_microseconds(
    tmp_path: Path, tiny: dict[str, pd.DataFrame]
) -> None:
    paths = write_company(tmp_path / "out", "tiny", 42, frames=tiny)
    assert set(paths) == set(TABLES)
    for name, path in paths.items():
        table = pq.read_table(path)
        for field in table.schema:
            if pa.types.is_timestamp(field.type):
                assert field.type == pa.timestamp("us"), f"{name}.{field.name}"
        assert table_checksum(table.to_pandas()) == table_checksum(tiny[name]), name
    assert pq.read_schema(paths["clickstream"]).field("customer_id").type == pa.int64()


def test_write_company_through_fsspec_filesystem(tiny: dict[str, pd.DataFrame]) -> None:
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    paths = write_company("/lake/northwind", filesystem=memory, tables=["customers"])
    assert paths == {"customers": "/lake/northwind/customers.parquet"}
    with memory.open(paths["customers"], "rb") as handle:
        assert table_checksum(pq.read_table(handle).to_pandas()) == table_checksum(tiny["customers"])
    url_paths = write_company("memory://lake/csv", tables=["orders"], format="csv")
    assert url_paths["orders"] == "memory://lake/csv/orders.csv"
    assert memory.exists("/lake/csv/orders.csv")


def test_write_company_unknown_format_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="parquet"):
        write_company(tmp_path, format="xlsx")


def test_cli_out_writes_parquet_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["--out", str(tmp_path), "--scale", "tiny", "--seed", "42", "--tables", "products"])
    assert status == 0 and (tmp_path / "products.parquet").is_file()
    assert "products" in capsys.readouterr().out
    assert cli.main(["--out", str(tmp_path), "--scale", "enormous"]) == 2
    assert "unknown dataset scale" in capsys.readouterr().err
