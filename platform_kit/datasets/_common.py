"""Vectorised building blocks shared by the table generators.

Timestamps are handled as ``int64`` microseconds since the Unix epoch (naive UTC) and
only turned into ``datetime64[us]`` when a table is assembled.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa

__all__ = [
    "BLACK_FRIDAY",
    "CLICKSTREAM_END",
    "CLICKSTREAM_START",
    "COMPANY",
    "END",
    "START",
    "US_PER_DAY",
    "US_PER_HOUR",
    "US_PER_MINUTE",
    "US_PER_S",
    "choice_per_row",
    "day_of_week",
    "hex_ids",
    "join_words",
    "render",
    "seasonal_timestamps",
    "to_us",
    "us_of",
]

#: The fictional company every table describes.
COMPANY = "Northwind Outfitters"

US_PER_S = 1_000_000
US_PER_MINUTE = 60 * US_PER_S
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR


def us_of(text: str) -> int:
    """Return the ISO date/time ``text`` as microseconds since the epoch."""
    return int(np.datetime64(text, "us").astype(np.int64))


#: The trading year covered by orders, payments and tickets: [START, END).
START = us_of("2024-01-01T00:00:00")
END = us_of("2025-01-01T00:00:00")
#: Clickstream covers the Black Friday week (dense enough for windowed streaming labs).
CLICKSTREAM_START = us_of("2024-11-25T00:00:00")
CLICKSTREAM_END = us_of("2024-12-02T00:00:00")
BLACK_FRIDAY = us_of("2024-11-29T00:00:00")

#: Relative traffic per weekday, Monday first.
_WEEKLY = np.array([0.97, 0.93, 0.94, 0.98, 1.05, 1.18, 1.22])
#: Relative traffic per UTC hour (customers on three continents: a broad evening peak).
_HOURLY = np.array(
    [
        0.55,
        0.45,
        0.38,
        0.34,
        0.35,
        0.42,
        0.55,
        0.72,
        0.88,
        0.98,
        1.02,
        1.05,
        1.08,
        1.12,
        1.15,
        1.18,
        1.22,
        1.28,
        1.36,
        1.42,
        1.40,
        1.25,
        1.00,
        0.75,
    ]
)


def to_us(values: np.ndarray) -> np.ndarray:
    """Turn ``int64`` epoch microseconds into ``datetime64[us]`` (no copy where possible)."""
    return np.asarray(values, dtype=np.int64).view("datetime64[us]")


def day_of_week(ts_us: np.ndarray) -> np.ndarray:
    """Return the weekday (Monday = 0) of epoch-microsecond timestamps."""
    return (np.floor_divide(ts_us, US_PER_DAY) + 3) % 7  # 1970-01-01 was a Thursday


def _day_weights(first_day_us: int, n_days: int) -> np.ndarray:
    """Relative demand per calendar day: summer peak, growth, Black Friday, December."""
    day0 = (first_day_us - START) // US_PER_DAY
    d = day0 + np.arange(n_days)
    weights = 1.0 + 0.22 * np.sin(2 * np.pi * (d - 80) / 366)  # outdoor season peaks in June
    weights *= 1.0 + 0.35 * np.clip(d, 0, 366) / 366  # the company grows through the year
    bf = (BLACK_FRIDAY - START) // US_PER_DAY
    weights[(d >= bf - 4) & (d <= bf + 3)] *= 1.6  # Black Friday week through Cyber Monday
    weights[d == bf] *= 1.8
    weights[(d >= bf + 4) & (d <= bf + 24)] *= 1.35  # December gift season
    weights *= _WEEKLY[day_of_week(first_day_us + np.arange(n_days) * US_PER_DAY)]
    return weights


def seasonal_timestamps(rng: np.random.Generator, n: int, start_us: int, end_us: int) -> np.ndarray:
    """Draw ``n`` timestamps in [start, end) following the company's demand pattern.

    Days are weighted by season, weekday and promotions, hours by the diurnal curve, and
    the position within the hour is uniform.

    Args:
        rng: Random generator.
        n: Number of timestamps.
        start_us: Window start (epoch microseconds, a midnight).
        end_us: Window end (exclusive, a midnight).

    Returns:
        Unsorted ``int64`` epoch microseconds.
    """
    n_days = int((end_us - start_us) // US_PER_DAY)
    day_w = _day_weights(start_us, n_days)
    day = rng.choice(n_days, size=n, p=day_w / day_w.sum())
    hour = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    within = rng.integers(0, US_PER_HOUR, size=n)
    return start_us + day * US_PER_DAY + hour * US_PER_HOUR + within


def choice_per_row(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """Draw one category per row from a row-specific distribution.

    Args:
        rng: Random generator.
        probabilities: ``(n, k)`` array whose rows sum to 1.

    Returns:
        ``(n,)`` int array of chosen column indexes.
    """
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities)) * cumulative[:, -1]
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(prefix: str, counters: np.ndarray | int, key: int, width: int = 16) -> np.ndarray:
    """Return unique, random-looking ids ``prefix + width hex digits``, one per counter.

    Uniqueness is guaranteed: each counter goes through a bijection of 64-bit integers
    (multiply by odd constants, add the key, xor-shift) before formatting, so distinct
    counters give distinct ids (with ``width=16``).

    Args:
        prefix: Literal ASCII prefix, e.g. ``"ev_"``.
        counters: Non-negative integers, or ``n`` meaning ``0..n-1``.
        key: Stream-specific key (drawn from the table's generator).
        width: Number of hex digits kept (at most 16; fewer digits may collide).

    Returns:
        Object array of ``str``.
    """
    if isinstance(counters, np.ndarray):
        x = counters.astype(np.uint64)
    else:
        x = np.arange(int(counters), dtype=np.uint64)
    n = len(x)
    with np.errstate(over="ignore"):
        x = x * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key % 2**64)
        x ^= x >> np.uint64(31)
        x = x * np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(29)
    nibbles = x.astype(">u8").view(np.uint8).reshape(n, 8)
    digits = np.empty((n, 16), dtype=np.uint8)
    digits[:, 0::2] = _HEX[nibbles >> 4]
    digits[:, 1::2] = _HEX[nibbles & 15]
    head = np.broadcast_to(np.frombuffer(prefix.encode("ascii"), dtype=np.uint8), (n, len(prefix)))
    chars = np.concatenate([head, digits[:, 16 - width :]], axis=1)
    # Fixed-width ASCII rows -> Python str objects, converted in C by Arrow.
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(chars.shape[1]), n, [None, pa.py_buffer(chars.tobytes())]
    )
    return fixed.cast(pa.binary()).cast(pa.string()).to_numpy(zero_copy_only=False)


def join_words(*parts: np.ndarray | str, sep: str = " ") -> np.ndarray:
    """Join string arrays element-wise with ``sep``, skipping empty parts.

    Args:
        *parts: Arrays of equal length (or scalars, broadcast).
        sep: Separator put between non-empty parts.

    Returns:
        A numpy unicode array.
    """
    out: np.ndarray | None = None
    for part in parts:
        arr = np.asarray(part, dtype=str)
        if out is None:
            out = arr
            continue
        glue = np.where((np.char.str_len(out) > 0) & (np.char.str_len(arr) > 0), sep, "")
        out = np.char.add(np.char.add(out, glue), arr)
    assert out is not None, "join_words needs at least one part"
    return out


def _fill(template: str, slots: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    out = np.full(n, "", dtype="U1")
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        if literal:
            out = np.char.add(out, literal)
        if field is not None:
            out = np.char.add(out, np.asarray(slots[field], dtype=str))
    return out


def render(templates: Sequence[str], choice: np.ndarray, slots: Mapping[str, np.ndarray]) -> np.ndarray:
    """Fill ``templates[choice[i]]`` with ``slots[name][i]`` for every row.

    The loop runs over templates (a handful), never over rows.

    Args:
        templates: Format strings with named fields, e.g. ``"The {noun} is {adj}."``.
        choice: Template index per row.
        slots: Field name -> per-row values (same length as ``choice``).

    Returns:
        Object array of ``str``.
    """
    n = len(choice)
    out = np.empty(n, dtype=object)
    for t, template in enumerate(templates):
        idx = np.flatnonzero(choice == t)
        if idx.size:
            out[idx] = _fill(template, {k: np.asarray(v)[idx] for k, v in slots.items()}, idx.size)
    return out
