"""A good and a broken "v2" of the orders staging transform, for the quality-gate section.

Version 2 keeps only orders that have at least one payment. The broken version does it with an
inner join against ``payments``; a payment that failed and was retried is a second row for the same
order, so those orders come out twice and the ``orders_staged`` primary key
(``expect_column_values_to_be_unique`` on ``order_id``) fails. The fixed version filters with a
semi-join (``isin``), which can never add rows::

    raw, payments = generate_table("orders"), generate_table("payments")
    len(stage_orders_v2_broken(raw, payments)) > len(stage_orders_v2(raw, payments))   # True

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging

import pandas as pd

from platform_kit.errors import InputError
from platform_kit.quality.pipeline import STAGED_COLUMNS, stage_orders

_log = logging.getLogger(__name__)

__all__ = ["stage_orders_v2", "stage_orders_v2_broken"]


def _payment_ids(payments: pd.DataFrame) -> pd.Series:
    if not isinstance(payments, pd.DataFrame) or "order_id" not in payments.columns:
        raise InputError("payments must be a pandas DataFrame with an order_id column",
                         fix="pass the generated table: generate_table('payments', scale, seed)")
    return payments["order_id"]


def stage_orders_v2(raw: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Staged orders that have at least one payment (the correct version 2).

    Args:
        raw: Orders as landed.
        payments: The generator's ``payments`` table (one row per payment attempt).

    Returns:
        :func:`~platform_kit.quality.pipeline.stage_orders` output restricted to paid orders.

    Raises:
        InputError: An input is not a DataFrame or lacks a needed column.
    """
    staged = stage_orders(raw)
    paid = staged["order_id"].isin(_payment_ids(payments))  # semi-join: filters, never multiplies
    return staged[paid].reset_index(drop=True)


def stage_orders_v2_broken(raw: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """Staged orders that have a payment, with the bug: an inner join that duplicates retried orders.

    Args:
        raw: Orders as landed.
        payments: The generator's ``payments`` table (one row per payment attempt).

    Returns:
        Staged orders, one row per *payment attempt* -- duplicated ``order_id`` values included.

    Raises:
        InputError: An input is not a DataFrame or lacks a needed column.
    """
    staged = stage_orders(raw)
    paid = _payment_ids(payments).to_frame()
    # BUG (on purpose): payments holds one row per attempt, so a retried payment repeats its order
    out = staged.merge(paid, on="order_id", how="inner")
    _log.info("v2 (broken) staged %d rows for %d orders", len(out), out["order_id"].nunique())
    return out[list(STAGED_COLUMNS)]
