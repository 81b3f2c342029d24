"""Buggy variants of :func:`~platform_kit.quality.pipeline.stage_orders` for the edge-case exercise.

Each one behaves exactly like ``stage_orders`` on clean generated orders, so only a generator that
produces the right edge case tells them apart (see :func:`platform_kit.quality.edge_cases.exposes_bug`).

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import pandas as pd

from platform_kit.quality.pipeline import stage_orders

__all__ = ["BUGGY_TRANSFORMS", "stage_orders_case_sensitive", "stage_orders_naive_timestamps"]

_CODES = ("status", "channel", "region")


def stage_orders_case_sensitive(raw: pd.DataFrame) -> pd.DataFrame:
    """Bug: filters on the codes *before* normalising them, so ``"Shipped"`` or ``" web "`` rows vanish."""
    text = raw[list(_CODES)].astype("string")
    tidy = (text == text.apply(lambda s: s.str.strip().str.lower())).fillna(True).all(axis=1)
    return stage_orders(raw[tidy])


def stage_orders_naive_timestamps(raw: pd.DataFrame) -> pd.DataFrame:
    """Bug (as ``stage_orders`` was before the tz fix): casts parsed timestamps straight to naive.

    Raises TypeError on a tz-aware ``order_ts`` column and ValueError on zones mixed in one column.
    """
    pd.to_datetime(raw["order_ts"], errors="coerce").astype("datetime64[us]")
    return stage_orders(raw)


#: name -> buggy transform, for the exercise
BUGGY_TRANSFORMS = {
    "case_sensitive": stage_orders_case_sensitive,
    "naive_timestamps": stage_orders_naive_timestamps,
}
