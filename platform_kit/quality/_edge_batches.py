"""Seeded edge-case batches behind :func:`platform_kit.quality.edge_cases.edge_case_batches`.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from platform_kit._deps import require

__all__ = ["ORDERS_NEEDED", "make_batches", "text_variants"]

ORDERS_NEEDED = ("order_id", "customer_id", "order_ts", "status", "channel", "region", "currency", "total_amount")
_TEXT = ("status", "channel", "region", "currency")
_LOCALES = ["ar_AA", "he_IL", "ja_JP", "hi_IN", "zh_CN", "el_GR"]
_AMOUNTS = (0.0, -0.0, -5.0, 0.001, 0.005, 1e6, 1e6 + 0.01, 1e300, math.nan, math.inf, -math.inf, 5e-324)
_FAR = (dt.datetime(2999, 1, 1), dt.datetime(2262, 4, 12), dt.datetime(9999, 12, 31), dt.datetime(1677, 9, 21),
        "2024-13-45", "2025-01-01T00:00:00")


def text_variants(value: str) -> list[str]:
    """Spellings of an allowed value that a person reads as the same word but ``==`` does not."""
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)
    return [value.upper(), value.title(), f" {value} ", f"\t{value}\n", f"\u00a0{value}", f"{value}\u200b",
            f"\ufeff{value}", f"\u200f{value}", f"{value[:1]}\u0301{value[1:]}", fullwidth, f"{value}\u3000"]


def _pick(rng: np.random.Generator, n: int, share: float) -> np.ndarray:
    """Row positions to touch: about ``share`` of ``n``, at least one."""
    return np.sort(rng.choice(n, size=max(1, round(n * share)), replace=False))


def _nulls(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    for col in ORDERS_NEEDED:
        hit = np.zeros(len(out), dtype=bool)
        hit[_pick(rng, len(out), 0.1)] = True
        if col == "order_ts":
            out[col] = out[col].mask(hit)
        else:  # object keeps ints as ints next to the gaps, like a JSON landing
            out[col] = out[col].astype(object).mask(hit, None)
    return out


def _extremes(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    rows = _pick(rng, len(out), 0.5)
    amounts = out["total_amount"].to_numpy(copy=True)
    amounts[rows] = [_AMOUNTS[i % len(_AMOUNTS)] for i in range(len(rows))]
    out["total_amount"] = amounts
    customers = out["customer_id"].astype(object).to_numpy(copy=True)
    for pos, value in zip(_pick(rng, len(out), 0.1), (0, -1, 2**62), strict=False):
        customers[pos] = value
    out["customer_id"] = customers
    return out


def _unicode(df: pd.DataFrame, rng: np.random.Generator, seed: int) -> pd.DataFrame:
    fake = require("faker").Faker(_LOCALES)
    fake.seed_instance(seed)
    out = df.astype({c: object for c in _TEXT})
    for pos in _pick(rng, len(out), 0.4):
        variants = text_variants(str(out.at[pos, "status"]))
        out.at[pos, "status"] = variants[int(rng.integers(4, len(variants)))]  # the non-ASCII spellings
    for pos in _pick(rng, len(out), 0.15):
        out.at[pos, "region"] = fake.city()  # RTL, CJK, Devanagari place names
    for pos, junk in zip(_pick(rng, len(out), 0.15), ("🛒", "web📱", "", "\u200b", "ｗｅｂ", "mobile_app\u0301"),
                         strict=False):
        out.at[pos, "channel"] = junk
    return out


def _whitespace_case(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.astype({c: object for c in _TEXT})
    spell = (str.upper, str.title, lambda v: f" {v} ", lambda v: f"\t{v}\n", lambda v: f"  {v.upper()}")
    for col in _TEXT:
        for pos in _pick(rng, len(out), 0.3):
            value = str(out.at[pos, col])
            out.at[pos, col] = spell[int(rng.integers(len(spell)))](value.lower() if col == "currency" else value)
    return out


def _duplicates(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = _pick(rng, len(df), 0.25)
    resent = df.iloc[rows].copy()
    resent["order_ts"] = resent["order_ts"] + pd.Timedelta(hours=1)  # the correction comes later
    resent["status"] = "cancelled"
    exact = df.iloc[rows[:2]]
    return pd.concat([df, resent, exact], ignore_index=True).sample(frac=1.0, random_state=int(rng.integers(2**31)))


def _late(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    late = _pick(rng, len(out), 0.2)
    days = rng.integers(3, 40, size=len(late))
    ts = out["order_ts"].to_numpy(copy=True)
    ts[late] = ts[late] - days.astype("timedelta64[D]")
    ts[late[:2]] = np.datetime64("2023-12-31T23:59:59")  # late enough to fall in the previous year
    ts[late[-1]] = np.datetime64("2025-01-01T00:00:00")  # exactly the exclusive upper bound
    out["order_ts"] = ts
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def _tz_mixed(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    values: list[object] = []
    for i, ts in enumerate(out["order_ts"]):
        stamp = pd.Timestamp(ts)
        values.append([stamp, stamp.tz_localize("Asia/Kolkata"), stamp.isoformat() + "+05:30",
                       stamp.tz_localize("UTC").isoformat()][i % 4])
    out["order_ts"] = pd.Series(values, dtype=object)
    return out


def _far_future(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    out = df.copy()
    out["order_ts"] = out["order_ts"].astype(object)
    for pos, value in zip(_pick(rng, len(out), 0.2), _FAR, strict=False):
        out.at[pos, "order_ts"] = value
    return out


def make_batches(sample: pd.DataFrame, rng: np.random.Generator, seed: int) -> dict[str, pd.DataFrame]:
    """Every kind of :data:`~platform_kit.quality.edge_cases.EDGE_KINDS`, in that order."""
    fake = require("faker").Faker()
    fake.seed_instance(seed)
    amount_text = sample.copy()
    amount_text["total_amount"] = [f"{v:.2f}".replace(".", ",") for v in sample["total_amount"]]
    extra = sample.copy()
    extra["coupon_code"] = [fake.bothify("??-####").upper() for _ in range(len(sample))]
    return {
        "clean": sample.copy(),
        "nulls": _nulls(sample, rng),
        "extremes": _extremes(sample, rng),
        "unicode": _unicode(sample, rng, seed),
        "whitespace_case": _whitespace_case(sample, rng),
        "duplicates": _duplicates(sample, rng),
        "late_out_of_order": _late(sample, rng),
        "tz_aware": sample.assign(order_ts=sample["order_ts"].dt.tz_localize("UTC").dt.tz_convert("Europe/Berlin")),
        "tz_mixed": _tz_mixed(sample),
        "far_future": _far_future(sample, rng),
        "drift_extra_column": extra,
        "drift_missing_column": sample.drop(columns="currency"),
        "drift_renamed_column": sample.rename(columns={"total_amount": "totalAmount"}),
        "drift_amount_as_text": amount_text,
    }
