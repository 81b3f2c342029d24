"""Exercises of lab ``00_welcome``: a first pandas aggregation and a data-driven decision."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "00_welcome"


def reference_revenue_by_status(orders: pd.DataFrame) -> pd.Series:
    """Sum of ``total_amount`` per ``status``, index sorted (NaN amounts skipped)."""
    return orders.groupby("status")["total_amount"].sum().sort_index()


def _edge_case_orders() -> pd.DataFrame:
    """Hand-made orders: a refund (negative amount), missing amounts, a status whose only
    amount is missing (pandas sums it to 0.0), statuses out of order."""
    return pd.DataFrame(
        {
            "order_id": range(1, 11),
            "customer_id": [3, 1, 2, 3, 2, 1, 3, 1, 2, 1],
            "status": [
                "shipped",
                "pending",
                "shipped",
                "refunded",
                "cancelled",
                "pending",
                "delivered",
                "shipped",
                "cancelled",
                "on_hold",
            ],
            "total_amount": [120.0, 35.5, np.nan, -40.0, np.nan, 4.5, 80.25, 19.75, 0.0, np.nan],
        }
    )


def _random_orders(seed: int = 7, rows: int = 200) -> pd.DataFrame:
    """Random orders, so a hard-coded answer cannot pass."""
    rng = np.random.default_rng(seed)
    amounts = rng.gamma(2.0, 40.0, rows).round(2)
    amounts[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "order_id": np.arange(rows),
            "customer_id": rng.integers(1, 30, rows),
            "status": rng.choice(["shipped", "pending", "delivered", "refunded", "cancelled"], rows),
            "total_amount": amounts,
        }
    )


def _check_revenue(result: Any, orders: pd.DataFrame) -> None:
    expected = reference_revenue_by_status(orders)
    if isinstance(result, pd.DataFrame):
        fail(
            "expected a pandas Series (one number per status), got a DataFrame with columns "
            f"{list(result.columns)}; select the total_amount column before summing: "
            "orders.groupby('status')['total_amount'].sum()"
        )
    if not isinstance(result, pd.Series):
        fail(f"expected a pandas Series indexed by status, got {type(result).__name__}")
    extra = set(result.index) - set(expected.index)
    if extra:
        fail(
            f"expected one value per status {sorted(expected.index)}, got index values such as "
            f"{sorted(map(str, extra))[:5]}; group by the status column"
        )
    missing = set(expected.index) - set(result.index)
    if missing:
        fail(
            f"no value for status {sorted(missing)}: every status needs a row, even one whose amounts "
            "are all missing or negative (pandas .sum() gives 0.0 for all-missing groups)"
        )
    if not result.index.is_monotonic_increasing:
        fail("the statuses are not in sorted order; call .sort_index() on the result")
    try:
        pd.testing.assert_series_equal(
            result, expected, check_names=False, check_dtype=False, check_index_type=False
        )
    except AssertionError as exc:
        raise AssertionError(
            "the sums differ from the expected ones (missing amounts count as 0, refunds are negative "
            f"and must be included): {str(exc).splitlines()[0]}"
        ) from None


@exercise(
    id="welcome.order_revenue",
    lab=LAB,
    kind="function",
    title="revenue per order status",
    hint="return orders.groupby('status')['total_amount'].sum() with its index sorted; "
    "keep refunds (negative amounts) and let pandas skip missing amounts",
)
def _grade_order_revenue(answer: Any) -> str:
    for orders in (_edge_case_orders(), _random_orders()):
        pristine = orders.copy()
        result = answer(orders)
        if not orders.equals(pristine):
            fail("your function changed the orders DataFrame it was given; work on a copy")
        _check_revenue(result, orders)
    return "revenue per status matches on the edge cases and on 200 random orders"


@exercise(
    id="welcome.top_customer",
    lab=LAB,
    title="the customer with the largest total spend",
    hint="sum total_amount per customer_id, then take the customer with the largest sum (.idxmax())",
)
def _grade_top_customer(answer: Any, context: dict[str, Any]) -> str:
    orders = context_value(context, "orders", pd.DataFrame, exercise_id="welcome.top_customer")
    if isinstance(answer, pd.Series | pd.DataFrame | pd.Index):
        fail(
            f"expected one customer_id, got a pandas {type(answer).__name__}; "
            "take .idxmax() of the per-customer totals"
        )
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        fail(f"expected a customer_id as an int, got {type(answer).__name__} {answer!r}")
    totals = orders.groupby("customer_id")["total_amount"].sum()
    if answer not in totals.index:
        fail(f"customer {answer} has no orders in the data")
    best = float(totals.max())
    spent = float(totals.loc[answer])
    if not np.isclose(spent, best):
        fail(
            f"customer {answer} spent {spent:,.2f} in total, but another customer spent more; "
            "compare the summed total_amount per customer, not single orders or order counts"
        )
    return f"customer {answer} spent {best:,.2f}, the most of {len(totals)} customers"
