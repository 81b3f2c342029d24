"""``orders``, ``order_items`` and ``payments``: a year of consistent commerce.

Invariants (tested): every order's customer signed up before it; ``total_amount`` is
the sum of ``quantity * unit_price`` of its items to the cent; every payment attempt
comes after its order; a non-cancelled order has exactly one captured or refunded
payment for its total; returned orders are refunded; cancelled orders were either
never paid (only failed attempts) or refunded.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._common import END, START, US_PER_DAY, US_PER_HOUR, US_PER_S, seasonal_timestamps
from platform_kit.datasets._people import COUNTRIES, FX_PER_USD
from platform_kit.datasets._schema import conform

__all__ = ["PAYMENT_RETRY_FRACTION", "build_orders", "build_payments"]

logger = logging.getLogger(__name__)

_CHANNELS = np.array(["web", "mobile_app", "marketplace", "phone"])
_CHANNEL_P = [0.55, 0.33, 0.09, 0.03]
_METHODS = np.array(["card", "paypal", "apple_pay", "google_pay", "bank_transfer", "gift_card"])
_METHOD_P = [0.58, 0.2, 0.08, 0.05, 0.07, 0.02]
_DISCOUNTS = np.array([0.0, 0.10, 0.15, 0.25])
_DISCOUNT_P = [0.8, 0.1, 0.06, 0.04]
#: Share of orders whose first payment attempt fails and is retried.
PAYMENT_RETRY_FRACTION = 0.04


def _status(rng: np.random.Generator, order_ts: np.ndarray) -> np.ndarray:
    """Order status from its age at the end of the year (recent orders are still open)."""
    age_days = (END - order_ts) / US_PER_DAY
    u = rng.random(len(order_ts))
    settled = np.select(
        [u < 0.035, u < 0.035 + np.where(age_days > 7, 0.05, 0.0)], ["cancelled", "returned"], "delivered"
    )
    in_transit = np.where(u < 0.035, "cancelled", np.where(u < 0.6, "shipped", "delivered"))
    return np.select(
        [age_days < 1.5, age_days < 6], [np.where(u < 0.035, "cancelled", "processing"), in_transit], settled
    ).astype(object)


def _items(rng: np.random.Generator, n_orders: int, products: pd.DataFrame) -> tuple[np.ndarray, ...]:
    """Lines of every order: (order position, line_no, product position, quantity, discount)."""
    lines = np.minimum(1 + rng.poisson(1.4, n_orders), 8)
    order_pos = np.repeat(np.arange(n_orders), lines)
    n_products = len(products)
    popularity = 1.0 / (rng.permutation(n_products) + 1.0) ** 0.9
    product_pos = rng.choice(n_products, size=len(order_pos), p=popularity / popularity.sum())
    # One line per product and order: drop repeats, then renumber lines 1..k.
    key = order_pos.astype(np.int64) * n_products + product_pos
    _, first = np.unique(key, return_index=True)
    keep = np.sort(first)
    order_pos, product_pos = order_pos[keep], product_pos[keep]
    starts = np.flatnonzero(np.r_[True, order_pos[1:] != order_pos[:-1]])
    sizes = np.diff(np.r_[starts, len(order_pos)])
    line_no = np.arange(len(order_pos)) - np.repeat(starts, sizes) + 1
    # Cheap items sell by the handful, expensive ones (> 200 USD) almost always singly.
    pricey = products["price"].to_numpy()[product_pos] > 200
    quantity = np.where(
        pricey, 1 + (rng.random(len(order_pos)) < 0.04), np.minimum(rng.geometric(0.65, len(order_pos)), 10)
    )
    discount = rng.choice(_DISCOUNTS, size=len(order_pos), p=_DISCOUNT_P)
    return order_pos, line_no, product_pos, quantity, discount


def build_orders(
    rng: np.random.Generator, counts: dict[str, int], customers: pd.DataFrame, products: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Generate ``orders`` and ``order_items``.

    Args:
        rng: The ``orders`` family generator.
        counts: Row counts per table.
        customers: The ``customers`` table (ids in signup order).
        products: The ``products`` table.

    Returns:
        ``{"orders": DataFrame, "order_items": DataFrame}``.
    """
    n = counts["orders"]
    order_ts = np.sort(seasonal_timestamps(rng, n, START, END))
    signup = customers["signup_ts"].to_numpy().astype("datetime64[us]").view(np.int64)
    eligible = np.maximum(np.searchsorted(signup, order_ts, side="left"), 1)
    # u ** 1.3 leans to long-standing customers, giving a realistic repeat-buyer tail.
    cust_pos = np.minimum((rng.random(n) ** 1.3 * eligible).astype(np.int64), eligible - 1)
    country = customers["country"].to_numpy()[cust_pos]
    currency_of = {code: cur for code, (_, cur) in COUNTRIES.items()}
    codes = np.array(sorted(currency_of))
    currency = np.array([currency_of[c] for c in codes])[np.searchsorted(codes, country)]
    fx = np.array([FX_PER_USD[c] for c in sorted(FX_PER_USD)])[
        np.searchsorted(np.array(sorted(FX_PER_USD)), currency)
    ]

    order_pos, line_no, product_pos, quantity, discount = _items(rng, n, products)
    price_usd = products["price"].to_numpy()[product_pos]
    unit_cents = np.maximum(np.round(price_usd * fx[order_pos] * (1 - discount) * 100), 1).astype(np.int64)
    total_cents = np.bincount(order_pos, weights=quantity * unit_cents, minlength=n).astype(np.int64)
    order_id = np.arange(1, n + 1, dtype=np.int64)

    orders = conform(
        "orders",
        {
            "order_id": order_id,
            "customer_id": customers["customer_id"].to_numpy()[cust_pos],
            "order_ts": order_ts,
            "status": _status(rng, order_ts),
            "channel": rng.choice(_CHANNELS, size=n, p=_CHANNEL_P),
            "region": customers["region"].to_numpy()[cust_pos],
            "currency": currency,
            "total_amount": total_cents / 100.0,
        },
    )
    items = conform(
        "order_items",
        {
            "order_id": order_id[order_pos],
            "line_no": line_no,
            "product_id": products["product_id"].to_numpy()[product_pos],
            "quantity": quantity,
            "unit_price": unit_cents / 100.0,
        },
    )
    logger.debug("orders: %d rows, order_items: %d rows", len(orders), len(items))
    return {"orders": orders, "order_items": items}


def build_payments(
    rng: np.random.Generator, counts: dict[str, int], orders: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Generate ``payments``: one final attempt per order, sometimes after a failed one.

    Args:
        rng: The ``payments`` family generator.
        counts: Row counts per table (unused: payments follow orders).
        orders: The ``orders`` table.

    Returns:
        ``{"payments": DataFrame}`` sorted by ``payment_ts``.
    """
    del counts
    n = len(orders)
    status = orders["status"].to_numpy()
    order_ts = orders["order_ts"].to_numpy().astype("datetime64[us]").view(np.int64)
    cancelled = status == "cancelled"
    never_paid = cancelled & (rng.random(n) < 0.5)  # cancelled because payment failed
    retried = ~never_paid & (rng.random(n) < PAYMENT_RETRY_FRACTION)

    first_delay = (1 + rng.exponential(40.0, n)) * US_PER_S
    method = rng.choice(_METHODS, size=n, p=_METHOD_P)
    bank = method == "bank_transfer"
    first_delay = np.where(bank & ~never_paid & ~retried, rng.uniform(1, 72, n) * US_PER_HOUR, first_delay)
    final_status = np.select(
        [never_paid, cancelled | (status == "returned")], ["failed", "refunded"], "captured"
    )

    # Retried orders: a failed card-ish attempt, then the final one minutes later.
    r = np.flatnonzero(retried)
    failed_ts = order_ts[r] + first_delay[r].astype(np.int64)
    retry_ts = failed_ts + ((5 + rng.exponential(180.0, len(r))) * US_PER_S).astype(np.int64)
    failed_method = rng.choice(_METHODS[:4], size=len(r), p=[0.82, 0.1, 0.05, 0.03])

    main_ts = order_ts + first_delay.astype(np.int64)
    main_ts[r] = retry_ts
    amount = orders["total_amount"].to_numpy()
    order_id = orders["order_id"].to_numpy()
    ts = np.concatenate([main_ts, failed_ts])
    sort = np.lexsort((np.concatenate([np.zeros(n), np.ones(len(r))]), ts))
    df = conform(
        "payments",
        {
            "payment_id": np.arange(1, n + len(r) + 1, dtype=np.int64),
            "order_id": np.concatenate([order_id, order_id[r]])[sort],
            "payment_ts": ts[sort],
            "method": np.concatenate([method, failed_method])[sort],
            "amount": np.concatenate([amount, amount[r]])[sort],
            "status": np.concatenate([final_status, np.full(len(r), "failed")])[sort],
        },
    )
    logger.debug("payments: %d rows (%d retried orders)", len(df), len(r))
    return {"payments": df}
