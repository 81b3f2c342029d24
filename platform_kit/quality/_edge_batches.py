"""Seeded edge-case batches behind :func:`platform_kit.quality.edge_cases.edge_case_batches`, the per-column
rule checks behind :func:`~platform_kit.quality.edge_cases.contract_problems` and the outcome plot.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.quality.contract import ColumnSpec

__all__ = ["ORDERS_NEEDED", "column_problems", "draw_outcomes", "make_batches", "text_variants"]

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


# --- contract rules in pandas -------------------------------------------------------------------------------


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(v) for v in list(dict.fromkeys(values.tolist()))[:3])


def _typed(present: pd.Series, spec: ColumnSpec) -> tuple[pd.Series, pd.Series]:
    """(values comparable with the column's bounds, mask of values that are not of its type)."""
    dtype = present.dtype
    if spec.type in ("integer", "float") and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        numbers = present.astype("float64")  # typed already: only fractions can break an integer column
        return numbers, (numbers % 1 != 0) if spec.type == "integer" else pd.Series(False, index=present.index)
    if spec.type == "timestamp" and pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = present.dt.tz_convert(None) if getattr(present.dt, "tz", None) is not None else present
        return stamps, pd.Series(False, index=present.index)
    if spec.type in ("integer", "float"):
        is_flag = present.map(lambda v: isinstance(v, bool | np.bool_))
        numbers = pd.to_numeric(present.where(~is_flag), errors="coerce")
        bad = numbers.isna() | is_flag
        if spec.type == "integer":
            bad |= (numbers % 1 != 0) & numbers.notna()
        return numbers.astype("float64"), bad
    if spec.type in ("timestamp", "date"):
        try:
            stamps = pd.to_datetime(present, errors="coerce")
        except (TypeError, ValueError):  # zones mixed with naive values: not one timestamp column
            return pd.Series(dtype="float64"), pd.Series(True, index=present.index)
        if getattr(stamps.dt, "tz", None) is not None:
            stamps = stamps.dt.tz_convert(None)
        return stamps, stamps.isna()
    if spec.type == "boolean":
        return present, ~present.map(lambda v: isinstance(v, bool | np.bool_))
    return present, ~present.map(lambda v: isinstance(v, str))


def _bound(spec: ColumnSpec, value: Any) -> Any:
    return pd.Timestamp(value) if spec.type in ("timestamp", "date") else value


def column_problems(values: pd.Series, spec: ColumnSpec) -> list[str]:
    """The rules of ``spec`` that ``values`` break, one short line each."""
    out = []
    nulls = pd.Series(pd.isna(values.to_numpy()), index=values.index)
    if not spec.nullable and nulls.any():
        out.append(f"{int(nulls.sum())} null(s)")
    present = values[~nulls]
    if present.empty:
        return out
    typed, bad = _typed(present, spec)
    if bad.any():
        out.append(f"{int(bad.sum())} value(s) not of type {spec.type}, e.g. {_examples(present[bad])}")
    typed = typed[~bad]
    if (spec.min is not None or spec.max is not None) and not typed.empty:
        outside = pd.Series(False, index=typed.index)
        if spec.min is not None:
            outside |= typed < _bound(spec, spec.min)
        if spec.max is not None:
            outside |= typed > _bound(spec, spec.max)
        if outside.any():
            out.append(f"{int(outside.sum())} value(s) outside [{spec.min}, {spec.max}], "
                       f"e.g. {_examples(present[typed.index[outside]])}")
    text = present[~bad].astype(str) if spec.type == "string" else None
    if spec.allowed_values is not None:
        unknown = ~present.isin(spec.allowed_values)
        if unknown.any():
            out.append(f"{int(unknown.sum())} value(s) not in allowed_values, e.g. {_examples(present[unknown])}")
    if text is not None and spec.regex is not None:
        mismatch = ~text.str.contains(spec.regex, regex=True)
        if mismatch.any():
            out.append(f"{int(mismatch.sum())} value(s) not matching {spec.regex}, e.g. {_examples(text[mismatch])}")
    if text is not None and spec.max_length is not None:
        long = text.str.len() > spec.max_length
        if long.any():
            out.append(f"{int(long.sum())} value(s) longer than {spec.max_length}, e.g. {_examples(text[long])}")
    return out


# --- the outcome plot ---------------------------------------------------------------------------------------

_COLOURS = {"ok": "tab:green", "contract_failed": "tab:orange", "crashed": "tab:red", "validation_error": "tab:purple"}


def draw_outcomes(tables: dict[str, pd.DataFrame], ax: Any = None) -> Any:
    """One horizontal bar panel per table: rows in (grey), rows out (coloured by outcome), crash labels."""
    plt = require("matplotlib.pyplot")
    rows = max(len(t) for t in tables.values())
    if ax is None:
        _, grid = plt.subplots(1, len(tables), figsize=(4.6 * len(tables) + 1.6, 0.3 * rows + 1.6), sharey=True,
                               squeeze=False)
        axes = grid[0]
    else:
        axes = np.atleast_1d(ax)
    for panel, (title, table) in zip(axes, tables.items(), strict=False):
        y = np.arange(len(table))
        panel.barh(y, table["rows_in"], color="0.85", height=0.8)
        panel.barh(y, table["rows_out"].fillna(0).astype(float), height=0.45,
                   color=[_COLOURS.get(o, "0.5") for o in table["outcome"]])
        for i, (outcome, error, out) in enumerate(zip(table["outcome"], table["error"], table["rows_out"],
                                                      strict=True)):
            if outcome == "crashed" and isinstance(error, str):
                panel.text(1, i, error.split(":")[0], va="center", fontsize=7, color="tab:red")
            elif out == 0:  # everything dropped: no bar to see
                panel.text(1, i, "0 rows out", va="center", fontsize=7, color=_COLOURS.get(outcome, "0.3"))
        panel.set_yticks(y, table["batch"], fontsize=8)
        panel.set_title(title, fontsize=10)
        panel.set_xlabel("rows in (grey) / rows out")
    axes[0].invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    axes[-1].legend(handles, list(_COLOURS), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return axes
