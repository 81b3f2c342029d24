"""A small three-stage pipeline to validate at each stage: raw orders -> staged orders -> features.

Pure pandas functions, so every stage's output can be checked against its contract
(``orders_raw``, ``orders_staged``, ``customer_features``)::

    raw = generate_table("orders", "tiny", 42)
    staged = stage_orders(raw)
    features = build_customer_features(staged, generate_table("customers", "tiny", 42))

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging

import pandas as pd

from platform_kit.errors import InputError

_log = logging.getLogger(__name__)

__all__ = ["STAGED_COLUMNS", "build_customer_features", "stage_orders", "stage_orders_with_rejects"]

STAGED_COLUMNS = ("order_id", "customer_id", "order_ts", "order_date", "status", "channel", "region",
                  "currency", "total_amount")
_RAW_NEEDED = ("order_id", "customer_id", "order_ts", "status", "channel", "region", "currency", "total_amount")
_NOT_KEPT = ("cancelled", "returned")


def _require_columns(df: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{what} must be a pandas DataFrame, got {type(df).__name__}",
                         fix="convert first, e.g. spark_df.toPandas()")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks column(s) {missing}",
                         fix=f"pass the generated table (columns: {', '.join(needed)})")


def _to_naive_utc(values: pd.Series) -> pd.Series:
    """Parse timestamps to naive UTC ``datetime64[us]``; unparseable values become NaT.

    Offsets and tz-aware values (one zone, several, or mixed with naive ones) are converted to
    UTC first: a naive column is read as UTC already, so clean data is unchanged.
    """
    parsed = pd.to_datetime(values, errors="coerce", utc=True)
    return parsed.dt.tz_convert(None).astype("datetime64[us]")


def stage_orders(raw: pd.DataFrame) -> pd.DataFrame:
    """Typed, deduplicated, cleaned orders with their calendar date.

    Timestamps with an offset or zone are converted to naive UTC. Rows whose key, customer,
    timestamp or amount cannot be parsed are left out, text is trimmed
    (codes lower-cased, currency upper-cased), non-positive amounts are left out and a duplicated
    ``order_id`` keeps its latest row. :func:`stage_orders_with_rejects` returns the rows left
    out, each with its reason.

    Args:
        raw: Orders as landed (the generator's ``orders`` table or something shaped like it).

    Returns:
        A new frame with :data:`STAGED_COLUMNS`, sorted by ``order_id``.

    Raises:
        InputError: ``raw`` is not a DataFrame or lacks a needed column.
    """
    return stage_orders_with_rejects(raw)[0]


def _reject_reasons(out: pd.DataFrame) -> pd.Series:
    """The first reason each parsed row cannot be staged ("" when it can)."""
    reasons = pd.Series("", index=out.index, dtype=object)
    checks = [(out[col].isna(), f"{col} missing or unparseable") for col in _RAW_NEEDED]
    checks.append((out["total_amount"] <= 0, "total_amount not positive"))
    for failed, reason in reversed(checks):  # reversed: the first failing check wins
        reasons[failed.fillna(False).to_numpy(dtype=bool)] = reason
    return reasons


def stage_orders_with_rejects(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`stage_orders`, plus every raw row it did not stage and why: nothing is dropped unseen.

    Args:
        raw: Orders as landed.

    Returns:
        ``(staged, rejects)``: ``rejects`` holds the raw rows as landed, with ``reason``
        (``"<column> missing or unparseable"``, ``"total_amount not positive"`` or
        ``"superseded by a later row of the same order_id"``) and ``raw_index``.

    Raises:
        InputError: ``raw`` is not a DataFrame or lacks a needed column.
    """
    _require_columns(raw, _RAW_NEEDED, "raw orders")
    landed = raw.reset_index(drop=True)  # positions, so a repeated index label cannot mix rows up
    out = pd.DataFrame({
        "order_id": pd.to_numeric(landed["order_id"], errors="coerce"),
        "customer_id": pd.to_numeric(landed["customer_id"], errors="coerce"),
        "order_ts": _to_naive_utc(landed["order_ts"]),
        "total_amount": pd.to_numeric(landed["total_amount"], errors="coerce").astype("float64").round(2),
    })
    for col in ("status", "channel", "region"):
        out[col] = landed[col].astype("string").str.strip().str.lower()
    out["currency"] = landed["currency"].astype("string").str.strip().str.upper()
    reasons = _reject_reasons(out)
    keep = (reasons == "").to_numpy()
    out = out[keep].sort_values(["order_id", "order_ts"], kind="stable")
    superseded = out.index[out.duplicated("order_id", keep="last")]
    reasons[superseded] = "superseded by a later row of the same order_id"
    out = out.drop(index=superseded)
    out["order_date"] = out["order_ts"].dt.date  # datetime.date objects: a "date" column, DateType in Spark
    for col in ("order_id", "customer_id"):
        out[col] = out[col].astype("int64")
    for col in ("status", "channel", "region", "currency"):
        out[col] = out[col].astype(object)  # plain str values, like the raw table
    rejected = (reasons != "").to_numpy()
    rejects = landed[rejected].copy()
    rejects.insert(0, "reason", reasons[rejected].to_numpy())
    rejects.insert(1, "raw_index", raw.index[rejected])
    rejects = rejects.reset_index(drop=True)
    if len(rejects):
        _log.info("staged %d orders; %d rows rejected: %s", len(out), len(rejects),
                     rejects["reason"].value_counts().to_dict())
    return out[list(STAGED_COLUMNS)].reset_index(drop=True), rejects


def build_customer_features(orders: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: order count, spend, average order value, cancel rate and recency.

    Spend and average count orders that were neither cancelled nor returned; customers without
    orders get ``order_count`` 0, ``total_spend`` 0 and nulls for the ratios and recency.

    Args:
        orders: Staged (or raw) orders.
        customers: The generator's ``customers`` table.

    Returns:
        A new frame in ``customer_id`` order with the ``customer_features`` contract's columns.

    Raises:
        InputError: An input is not a DataFrame or lacks a needed column.
    """
    _require_columns(orders, ("customer_id", "order_ts", "status", "total_amount"), "orders")
    _require_columns(customers, ("customer_id", "segment", "region"), "customers")
    kept = ~orders["status"].isin(_NOT_KEPT)
    per = pd.DataFrame({
        "customer_id": orders["customer_id"].astype("int64"),
        "spend": orders["total_amount"].where(kept, 0.0),
        "kept": kept.astype("int64"),
        "dropped": (~kept).astype("int64"),
        "order_ts": _to_naive_utc(orders["order_ts"]),
    }).groupby("customer_id").agg(order_count=("kept", "size"), kept=("kept", "sum"), dropped=("dropped", "sum"),
                                  total_spend=("spend", "sum"), last_order_ts=("order_ts", "max"))
    out = customers[["customer_id", "segment", "region"]].astype({"customer_id": "int64"}).merge(
        per, how="left", left_on="customer_id", right_index=True)
    out["order_count"] = out["order_count"].fillna(0).astype("int64")
    out["total_spend"] = out["total_spend"].fillna(0.0).astype("float64").round(2)
    out["avg_order_value"] = (out["total_spend"] / out["kept"].where(out["kept"] > 0)).round(2)
    out["cancel_rate"] = out["dropped"] / out["order_count"].where(out["order_count"] > 0)
    out["last_order_ts"] = out["last_order_ts"].astype("datetime64[us]")
    out["has_orders"] = out["order_count"] > 0
    columns = ["customer_id", "segment", "region", "order_count", "total_spend", "avg_order_value",
               "cancel_rate", "last_order_ts", "has_orders"]
    return out.sort_values("customer_id").reset_index(drop=True)[columns]
