"""Hypothesis strategies behind :func:`platform_kit.quality.edge_cases.frames_for` (imports hypothesis).

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from platform_kit.quality._edge_batches import text_variants
from platform_kit.quality.contract import ColumnSpec, DataContract

__all__ = ["DRIFT_KINDS", "TIMESTAMP_MODES", "build_frames"]

#: how a timestamp column is landed: naive datetimes, one zone, zones mixed with naive values, ISO text
TIMESTAMP_MODES = ("naive", "aware", "mixed", "text")
DRIFT_KINDS = ("extra_column", "missing_column", "renamed_column", "type_changed")

_ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati")
_JUNK_TEXT = ("", " ", "NULL", "null", "N/A", "-", "🛒", "🇺🇸", "طلب", "הזמנה", "注文", "e\u0301", "\u200b",
              "\u202eabc", "a" * 300)
_FAR = (dt.datetime(1970, 1, 1), dt.datetime(1677, 9, 21), dt.datetime(2262, 4, 12), dt.datetime(2999, 12, 31),
        dt.datetime(9999, 12, 31, 23, 59, 59))
_FLOAT_EDGES = (0.0, -0.0, -1.0, 0.001, 0.005, 1e-300, 5e-324, 1e308, -1e308, math.nan, math.inf, -math.inf)
_INT_EDGES = (0, -1, 2**31, 2**53 + 1, 2**63 - 1, -(2**63))


def _nullable(base: st.SearchStrategy[Any], spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    # clean data keeps a non-null column non-null; edge data nulls any column (NaN keys included)
    return st.one_of(st.none(), base) if spec.nullable or edge else base


def _integers(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    lo = int(spec.min) if spec.min is not None else -(10**6)
    hi = int(spec.max) if spec.max is not None else lo + 10**6
    clean = st.integers(lo, hi)
    if not edge:
        return clean
    bounds = {lo, lo - 1, hi, hi + 1, *_INT_EDGES}
    return st.one_of(clean, st.sampled_from(sorted(bounds)))


def _floats(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    lo = float(spec.min) if spec.min is not None else -1e6
    hi = float(spec.max) if spec.max is not None else lo + 2e6
    clean = st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 2))
    if not edge:
        return clean
    bounds = [lo, hi, lo - 0.01, hi + 0.01, *_FLOAT_EDGES]
    return st.one_of(clean, st.sampled_from(bounds), st.floats())


def _strings(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    if spec.allowed_values:
        clean: st.SearchStrategy[Any] = st.sampled_from([str(v) for v in spec.allowed_values])
    elif spec.regex:
        clean = st.from_regex(spec.regex, fullmatch=True)
    else:
        clean = st.text(max_size=spec.max_length or 20)
    if spec.max_length:
        clean = clean.filter(lambda s: len(s) <= spec.max_length)
    if not edge:
        return clean
    variants = clean.flatmap(lambda v: st.sampled_from(text_variants(v) or [v]))
    return st.one_of(clean, variants, st.sampled_from(_JUNK_TEXT), st.text(max_size=8))


def _instants(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    lo = dt.datetime.fromisoformat(spec.min) if spec.min else dt.datetime(2000, 1, 1)
    hi = dt.datetime.fromisoformat(spec.max) if spec.max else dt.datetime(2030, 1, 1)
    one_us = dt.timedelta(microseconds=1)
    clean = st.datetimes(lo, hi - one_us)
    if not edge:
        return clean
    return st.one_of(clean, st.sampled_from([lo, hi, lo - one_us, hi + dt.timedelta(days=1), *_FAR]))


def _dates(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    lo = dt.date.fromisoformat(spec.min) if spec.min else dt.date(2000, 1, 1)
    hi = dt.date.fromisoformat(spec.max) if spec.max else dt.date(2030, 1, 1)
    clean = st.dates(lo, hi)
    if not edge:
        return clean
    day = dt.timedelta(days=1)
    return st.one_of(clean, st.sampled_from([lo, hi, lo - day, hi + day, dt.date(9999, 12, 31)]))


def _booleans(spec: ColumnSpec, edge: bool) -> st.SearchStrategy[Any]:
    return st.one_of(st.booleans(), st.sampled_from(["true", "N", 1, 0])) if edge else st.booleans()


_BY_TYPE = {"integer": _integers, "float": _floats, "string": _strings, "timestamp": _instants,
            "date": _dates, "boolean": _booleans}


def _land_timestamps(values: list[Any], mode: str, zones: list[str]) -> pd.Series:
    """Land naive datetimes the way ``mode`` says (zones: one per value, drawn by the caller)."""
    if mode == "naive":
        try:
            return pd.Series(values, dtype="datetime64[us]")
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            return pd.Series(values, dtype=object)  # a year pandas cannot hold stays a Python datetime
    landed: list[Any] = []
    for value, zone in zip(values, zones, strict=True):
        if value is None:
            landed.append(None)
            continue
        try:
            aware = pd.Timestamp(value).tz_localize(zone, ambiguous=False, nonexistent="shift_forward")
        except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
            landed.append(value)
            continue
        if mode == "aware":
            landed.append(aware.tz_convert(zones[0]))
        elif mode == "mixed":
            landed.append(aware if zone != "UTC" else value)
        else:
            landed.append(aware.isoformat())
    series = pd.Series(landed, dtype=object)
    if mode == "aware":
        try:  # one zone for the whole column: a real tz-aware dtype, as a parquet reader hands it over
            return pd.to_datetime(series)
        except (OverflowError, ValueError, TypeError):
            return series
    return series


def _drift(draw: st.DrawFn, frame: pd.DataFrame, contract: DataContract) -> pd.DataFrame:
    kind = draw(st.sampled_from(DRIFT_KINDS))
    column = draw(st.sampled_from(list(frame.columns)))
    out = frame.copy()
    if kind == "extra_column":
        out["_ingest_note"] = draw(st.lists(st.text(max_size=5), min_size=len(out), max_size=len(out)))
    elif kind == "missing_column":
        out = out.drop(columns=column)
    elif kind == "renamed_column":
        parts = column.split("_")
        out = out.rename(columns={column: parts[0] + "".join(p.title() for p in parts[1:]) + "V2"})
    else:
        numeric = [c.name for c in contract.columns if c.type in ("integer", "float")] or [column]
        target = draw(st.sampled_from(numeric))
        out[target] = [None if pd.isna(v) else f"{v:.2f}".replace(".", ",") if isinstance(v, float) else f"{v:04d}"
                       for v in out[target]]
    out.attrs["drift"] = kind
    return out


def build_frames(contract: DataContract, *, edge: bool, min_rows: int, max_rows: int, drift: bool,
                 timestamp_modes: tuple[str, ...]) -> st.SearchStrategy[pd.DataFrame]:
    """The strategy :func:`~platform_kit.quality.edge_cases.frames_for` documents."""

    @st.composite
    def frames(draw: st.DrawFn) -> pd.DataFrame:
        n = draw(st.integers(min_rows, max_rows))
        data: dict[str, Any] = {}
        for spec in contract.columns:
            values = draw(st.lists(_nullable(_BY_TYPE[spec.type](spec, edge), spec, edge), min_size=n, max_size=n))
            if spec.type == "timestamp":
                mode = draw(st.sampled_from(timestamp_modes))
                zones = draw(st.lists(st.sampled_from(_ZONES), min_size=n, max_size=n))
                data[spec.name] = _land_timestamps(values, mode, zones or ["UTC"])
            else:
                data[spec.name] = pd.Series(values, dtype=object) if edge else pd.Series(values)
        frame = pd.DataFrame(data)
        for spec in contract.columns:  # clean integer/float columns as the landing tables type them
            if not edge and spec.type in ("integer", "float") and not frame[spec.name].isna().any():
                frame[spec.name] = frame[spec.name].astype("int64" if spec.type == "integer" else "float64")
        if edge and contract.primary_key and n >= 2 and draw(st.booleans()):
            # a re-sent row: another row's key, the rest of the row as drawn (often an earlier timestamp)
            src, dst = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            for key in contract.primary_key:
                frame.loc[dst, key] = frame.loc[src, key]
        if drift:
            frame = _drift(draw, frame, contract)
        return frame

    return frames()
