"""The schema of every table: column order, logical types, nullability, PII and docs.

The schema is the single source for :func:`describe_tables`, for the dtype every
generated column gets (:func:`conform`) and for the Arrow schema written to Parquet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from platform_kit.errors import DatasetError

__all__ = [
    "PII_COLUMNS",
    "SCHEMAS",
    "TABLES",
    "Column",
    "TableSchema",
    "arrow_schema",
    "conform",
    "describe_tables",
    "unknown_tables_error",
]

INT, FLOAT, STR, BOOL, TS = "int64", "float64", "string", "bool", "timestamp[us]"


@dataclass(frozen=True)
class Column:
    """One column: name, logical type, nullability, PII flag and description."""

    name: str
    type: str
    description: str
    nullable: bool = False
    pii: bool = False


@dataclass(frozen=True)
class TableSchema:
    """One table: description, primary key, foreign keys and columns."""

    name: str
    description: str
    primary_key: tuple[str, ...]
    foreign_keys: dict[str, str]
    columns: tuple[Column, ...]


def _c(name: str, type_: str, description: str, *, nullable: bool = False, pii: bool = False) -> Column:
    return Column(name, type_, description, nullable, pii)


SCHEMAS: dict[str, TableSchema] = {
    s.name: s
    for s in (
        TableSchema(
            "customers",
            "People who signed up at Northwind Outfitters; ids follow signup order.",
            ("customer_id",),
            {},
            (
                _c("customer_id", INT, "Surrogate key, 1.. in signup order."),
                _c("full_name", STR, "First and last name.", pii=True),
                _c("email", STR, "Login e-mail (reserved example domains, unique).", pii=True),
                _c("phone", STR, "Phone number with the country calling code.", pii=True),
                _c("street_address", STR, "House number and street.", pii=True),
                _c("city", STR, "City."),
                _c("country", STR, "ISO 3166-1 alpha-2 country code."),
                _c(
                    "region",
                    STR,
                    "Serving cloud region (eu-west, eu-central, us-east, us-west, ap-south, ap-southeast).",
                ),
                _c(
                    "date_of_birth",
                    TS,
                    "Birth date (midnight, datetime64[us]); customers are 18-85.",
                    pii=True,
                ),
                _c(
                    "national_id",
                    STR,
                    "Fake SSN-style id 9DD-DD-DDDD (area 9xx is never issued), unique.",
                    pii=True,
                ),
                _c("signup_ts", TS, "Account creation time (2021-2024)."),
                _c("segment", STR, "consumer, premium or business."),
                _c("marketing_opt_in", BOOL, "Consented to marketing e-mail."),
            ),
        ),
        TableSchema(
            "products",
            "Catalogue of outdoor gear; ~6% are reworded near-duplicate listings.",
            ("product_id",),
            {"duplicate_of": "products.product_id"},
            (
                _c("product_id", INT, "Surrogate key."),
                _c("sku", STR, "Stock keeping unit NWO-<CAT>-<id>."),
                _c("name", STR, "Display name: brand, adjective, noun."),
                _c("category", STR, "camping, hiking, apparel, climbing, cycling or water_sports."),
                _c("subcategory", STR, "Subcategory within the category."),
                _c("price", FLOAT, "List price in USD."),
                _c("cost", FLOAT, "Unit cost in USD (35-65% of price)."),
                _c("description", STR, "Three-sentence marketing text with category-specific vocabulary."),
                _c(
                    "duplicate_of",
                    INT,
                    "Ground truth: product_id this listing duplicates, else null.",
                    nullable=True,
                ),
            ),
        ),
        TableSchema(
            "orders",
            "Web, app, marketplace and phone orders during 2024.",
            ("order_id",),
            {"customer_id": "customers.customer_id"},
            (
                _c("order_id", INT, "Surrogate key, increasing with order_ts."),
                _c("customer_id", INT, "Buyer; always signed up before order_ts."),
                _c("order_ts", TS, "Checkout time."),
                _c("status", STR, "processing, shipped, delivered, cancelled or returned."),
                _c("channel", STR, "web, mobile_app, marketplace or phone."),
                _c("region", STR, "The customer's region."),
                _c("currency", STR, "ISO 4217 currency of the customer's country."),
                _c(
                    "total_amount", FLOAT, "Sum of quantity * unit_price over the order's items, in currency."
                ),
            ),
        ),
        TableSchema(
            "order_items",
            "Lines of each order (one product per line).",
            ("order_id", "line_no"),
            {"order_id": "orders.order_id", "product_id": "products.product_id"},
            (
                _c("order_id", INT, "The order."),
                _c("line_no", INT, "1.. within the order."),
                _c("product_id", INT, "The product (unique within an order)."),
                _c("quantity", INT, "Units bought (>= 1)."),
                _c("unit_price", FLOAT, "Price per unit in the order currency after discount."),
            ),
        ),
        TableSchema(
            "payments",
            "Payment attempts; failed attempts are retried, returns are refunded.",
            ("payment_id",),
            {"order_id": "orders.order_id"},
            (
                _c("payment_id", INT, "Surrogate key, increasing with payment_ts."),
                _c("order_id", INT, "The order paid."),
                _c("payment_ts", TS, "Attempt time, always after order_ts."),
                _c("method", STR, "card, paypal, apple_pay, google_pay, bank_transfer or gift_card."),
                _c("amount", FLOAT, "Amount in the order currency (the order total)."),
                _c("status", STR, "captured, failed or refunded (current state of the attempt)."),
            ),
        ),
        TableSchema(
            "clickstream",
            "Web/app events of Black Friday week 2024, in arrival (ingest_ts) order; "
            "includes late, out-of-order and duplicated (same event_id) events.",
            ("event_id",),
            {"customer_id": "customers.customer_id", "product_id": "products.product_id"},
            (
                _c("event_id", STR, "Event key ev_<16 hex>; ~1% of rows are exact duplicates."),
                _c("session_id", STR, "Visit key s_<12 hex>."),
                _c("customer_id", INT, "Logged-in customer, null for anonymous visitors.", nullable=True),
                _c(
                    "event_type",
                    STR,
                    "page_view, product_view, search, add_to_cart, remove_from_cart, checkout, purchase.",
                ),
                _c("page", STR, "URL path of the event."),
                _c(
                    "product_id",
                    INT,
                    "Product of product_view/add_to_cart/remove_from_cart, else null.",
                    nullable=True,
                ),
                _c("event_ts", TS, "When the event happened on the device."),
                _c("ingest_ts", TS, "When the platform received it (rows are sorted by it)."),
            ),
        ),
        TableSchema(
            "support_tickets",
            "Customer-service tickets with free-text bodies that sometimes leak PII.",
            ("ticket_id",),
            {"customer_id": "customers.customer_id", "order_id": "orders.order_id"},
            (
                _c("ticket_id", INT, "Surrogate key, increasing with created_ts."),
                _c("customer_id", INT, "Customer who wrote in."),
                _c("created_ts", TS, "Ticket creation time, after the related order."),
                _c("channel", STR, "email, chat, web_form or phone."),
                _c("priority", STR, "low, medium, high or urgent."),
                _c("subject", STR, "Short subject line."),
                _c(
                    "body",
                    STR,
                    "Free text; may contain e-mails, phone numbers, names and national ids.",
                    pii=True,
                ),
                _c("resolved_ts", TS, "Resolution time, null while the ticket is open.", nullable=True),
                _c(
                    "order_id",
                    INT,
                    "Order the ticket is about, null for account/product questions.",
                    nullable=True,
                ),
                _c(
                    "theme",
                    STR,
                    "Ground-truth topic (delivery_delay, refund_request, damaged_item, wrong_item, "
                    "account_access, billing_question, product_question).",
                ),
            ),
        ),
        TableSchema(
            "pipeline_metrics",
            "Runs of the company's data pipelines; failures of type "
            "OutOfMemoryError/Timeout follow a few runs of rising duration and memory.",
            ("run_id",),
            {},
            (
                _c("run_id", INT, "Surrogate key, increasing with started_ts."),
                _c(
                    "pipeline",
                    STR,
                    "orders_ingest, clickstream_enrich, customers_cdc, payments_reconcile, "
                    "quality_checks, feature_build, embeddings_refresh or warehouse_export.",
                ),
                _c("started_ts", TS, "Scheduled start plus scheduler jitter."),
                _c("duration_s", FLOAT, "Wall-clock seconds."),
                _c("rows_in", INT, "Rows read (daily and weekly seasonality, growth)."),
                _c("rows_out", INT, "Rows written (0 for failed runs)."),
                _c("bytes_written", INT, "Bytes written (0 for failed runs)."),
                _c("cpu_s", FLOAT, "CPU seconds over all cores."),
                _c("memory_gb", FLOAT, "Peak memory in GiB."),
                _c("status", STR, "success or failed."),
                _c("error_type", STR, "Error class of a failed run, else null.", nullable=True),
            ),
        ),
    )
}

#: Every table, in generation order.
TABLES: tuple[str, ...] = tuple(SCHEMAS)

#: Columns holding personal data, per table (``body`` is free text that may contain PII).
PII_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in schema.columns if c.pii) for name, schema in SCHEMAS.items()
}

_ARROW = {INT: pa.int64(), FLOAT: pa.float64(), STR: pa.string(), BOOL: pa.bool_(), TS: pa.timestamp("us")}


def unknown_tables_error(names: list[str]) -> DatasetError:
    """Return the error for table names that are not in :data:`TABLES`."""
    return DatasetError(
        f"unknown table(s) {', '.join(repr(n) for n in names)}",
        fix=f"use one of: {', '.join(TABLES)}",
    )


def describe_tables() -> dict[str, dict[str, Any]]:
    """Describe every table and column of the synthetic company (for catalogs and docs).

    Introduced in: Lab 0 (welcome)

    Returns:
        Table name -> ``{"description", "primary_key", "foreign_keys", "pii_columns",
        "columns"}`` where ``columns`` maps each column name to ``{"type", "nullable",
        "pii", "description"}``. Types are ``int64``, ``float64``, ``string``, ``bool``
        and ``timestamp[us]``.
    """
    return {
        name: {
            "description": s.description,
            "primary_key": list(s.primary_key),
            "foreign_keys": dict(s.foreign_keys),
            "pii_columns": list(PII_COLUMNS[name]),
            "columns": {
                c.name: {"type": c.type, "nullable": c.nullable, "pii": c.pii, "description": c.description}
                for c in s.columns
            },
        }
        for name, s in SCHEMAS.items()
    }


def arrow_schema(table: str) -> pa.Schema:
    """Return the Arrow schema a table is written with (timestamps in microseconds)."""
    return pa.schema([pa.field(c.name, _ARROW[c.type], nullable=c.nullable) for c in SCHEMAS[table].columns])


def _pandas_dtype(column: Column) -> Any:
    if column.type == INT:
        return "Int64" if column.nullable else np.int64
    if column.type == TS:
        return "datetime64[us]"
    if column.type == STR:
        return object
    return {FLOAT: np.float64, BOOL: np.bool_}[column.type]


def conform(table: str, data: dict[str, Any]) -> pd.DataFrame:
    """Build the DataFrame of ``table`` from column arrays, in schema order and dtypes.

    ``timestamp[us]`` columns are given as ``int64`` epoch microseconds or as
    ``datetime64``; nullable integer columns as floats with NaN for nulls (exact
    below 2**53).

    Args:
        table: Table name.
        data: Column name -> values; must hold exactly the schema's columns.

    Returns:
        The DataFrame with a fresh RangeIndex.
    """
    schema = SCHEMAS[table]
    expected = [c.name for c in schema.columns]
    if sorted(data) != sorted(expected):
        raise DatasetError(f"generator for {table!r} produced columns {sorted(data)}, expected {expected}")
    columns: dict[str, Any] = {}
    for col in schema.columns:
        values = data[col.name]
        if col.type == TS:
            arr = np.asarray(values)
            if arr.dtype.kind in "iu":
                arr = arr.astype(np.int64).view("datetime64[us]")
            columns[col.name] = pd.Series(arr.astype("datetime64[us]"), copy=False)
        elif col.type == STR:
            columns[col.name] = pd.Series(np.asarray(values, dtype=object), dtype=object)
        elif col.type == INT and col.nullable:
            arr = np.asarray(values, dtype=np.float64)  # NaN marks nulls
            mask = np.isnan(arr)
            ints = np.where(mask, 0, arr).astype(np.int64)
            columns[col.name] = pd.Series(pd.arrays.IntegerArray(ints, mask), copy=False)
        else:
            columns[col.name] = pd.Series(values).astype(_pandas_dtype(col))
    return pd.DataFrame(columns)
