"""Pure statistics of latency samples: percentiles and per-stage summaries.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import SampleError

__all__ = ["SampleError", "as_samples", "latency_percentiles", "percentile_key", "summarize_stage"]


def percentile_key(q: float) -> str:
    """The dict key of percentile ``q``: ``50 -> "p50"``, ``99.9 -> "p99.9"``."""
    return f"p{float(q):g}"


def as_samples(
    samples: Iterable[float] | np.ndarray | pd.Series, *, what: str = "latency samples"
) -> np.ndarray:
    """Validate ``samples`` and return them as a 1-D float array (a copy; the input is untouched).

    Raises:
        SampleError: Empty input, a non-numeric value, NaN, infinity or a negative value.
    """
    try:
        values = np.array(
            list(samples) if not isinstance(samples, np.ndarray | pd.Series) else samples, dtype=float
        ).ravel()
    except (TypeError, ValueError) as exc:
        raise SampleError(
            f"{what} must be numbers: {exc}",
            fix="pass a list, numpy array or pandas Series of floats (milliseconds)",
        ) from exc
    if values.size == 0:
        raise SampleError(
            f"{what} are empty: a percentile of nothing is undefined",
            fix="measure at least one record before computing percentiles",
        )
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SampleError(
            f"{what} contain {int(bad.sum())} NaN/infinite value(s) (first at position {first}): "
            "a missing timing is not a sample",
            fix="drop records that were never measured (and count them separately) before summarising",
        )
    if (values < 0).any():
        raise SampleError(
            f"{what} contain negative durations (min {values.min():.3f})",
            fix="check that start and end timestamps come from the same clock and order",
        )
    return values


def latency_percentiles(
    samples: Iterable[float] | np.ndarray | pd.Series, percentiles: Sequence[float] = (50, 95, 99)
) -> dict[str, float]:
    """Percentiles of latency samples, by linear interpolation (numpy's default ``linear`` method).

    With ``n`` sorted samples ``x[0..n-1]``, percentile ``q`` sits at rank ``h = (n - 1) * q / 100``
    and is ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``: it can fall between
    two measured values (nearest-rank would always return a measured value, and reads higher on
    small samples: with 5 samples, nearest-rank p99 is the maximum).

    Args:
        samples: Durations (any unit, usually milliseconds), in any order.
        percentiles: Percentiles to compute, each in [0, 100].

    Returns:
        ``{"p50": ..., "p95": ..., "p99": ...}`` (keys from :func:`percentile_key`).

    Raises:
        SampleError: Empty samples, NaN/infinite/negative values, or a percentile outside [0, 100].

    Example:
        >>> latency_percentiles([10, 20, 30, 40, 1000], (50, 99))
        {'p50': 30.0, 'p99': 961.6}

    Introduced in: Lab 1 (assessment).
    """
    values = as_samples(samples)
    qs = [float(q) for q in percentiles]
    if not qs:
        raise SampleError("no percentiles requested", fix="pass e.g. percentiles=(50, 95, 99)")
    for q in qs:
        if not (0.0 <= q <= 100.0) or math.isnan(q):
            raise SampleError(
                f"percentile {q} is outside [0, 100]", fix="use values such as 50, 95, 99, 99.9"
            )
    result = np.percentile(values, qs, method="linear")
    return {percentile_key(q): round(float(v), 9) for q, v in zip(qs, result, strict=True)}


def summarize_stage(
    stage: str,
    latencies_ms: Iterable[float] | np.ndarray | pd.Series,
    *,
    records: int,
    window_s: float,
    percentiles: Sequence[float] = (50, 95, 99),
) -> dict[str, Any]:
    """One summary row of a pipeline stage: count, percentiles, mean, max and throughput.

    Args:
        stage: Stage name (``transport``, ``transform_load``, ``end_to_end``, ``serving``).
        latencies_ms: Per-record (or per-query) durations in milliseconds.
        records: Items the stage handled (records, or queries for serving).
        window_s: Wall-clock seconds from the stage's first start to its last completion.
        percentiles: Percentiles to report.

    Returns:
        A dict with ``stage``, ``count``, ``p50_ms``..., ``mean_ms``, ``max_ms`` and
        ``throughput_per_s`` (``records / window_s``; NaN when the window is zero).
    """
    values = as_samples(latencies_ms, what=f"{stage} latencies")
    row: dict[str, Any] = {"stage": stage, "count": int(values.size)}
    for key, value in latency_percentiles(values, percentiles).items():
        row[f"{key}_ms"] = value
    row["mean_ms"] = float(values.mean())
    row["max_ms"] = float(values.max())
    row["throughput_per_s"] = float(records / window_s) if window_s > 0 else float("nan")
    return row


def summary_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows of :func:`summarize_stage` as a DataFrame indexed by stage."""
    return pd.DataFrame(list(rows)).set_index("stage")
