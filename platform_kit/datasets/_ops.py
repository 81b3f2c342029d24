"""The ``pipeline_metrics`` table: the run log of the company's data pipelines.

Eight pipelines run hourly, every six hours or daily; the log covers the last days of
the trading year (as many as the row count needs, ~83 runs a day). ``rows_in`` follows
a daily curve (hourly pipelines peak around 20:00 UTC), a weekly one (weekends are
busier) and slow growth; duration, CPU, memory and bytes follow from it.

About :data:`FAILURE_RATE` of the runs fail. ``OutOfMemoryError`` and ``Timeout``
failures (70%) are preceded by a ramp of 3-8 runs of the same pipeline whose duration
and memory rise steadily (up to 1.6-2.5x normal): the signal a failure-prediction lab
learns. ``SourceUnavailable``, ``SchemaMismatch`` and ``PermissionDenied`` failures
come without warning. Failed runs write nothing (``rows_out`` = ``bytes_written`` = 0).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._common import (
    END,
    START,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    US_PER_S,
    day_of_week,
)
from platform_kit.datasets._schema import conform

__all__ = ["ERROR_TYPES", "FAILURE_RATE", "PIPELINES", "build_pipeline_metrics"]

logger = logging.getLogger(__name__)

#: name -> (cadence h, base rows, bytes/row, rows/s, overhead s, base GiB, GiB per M rows, cores, minute)
PIPELINES: dict[str, tuple[int, int, int, float, float, float, float, int, int]] = {
    "orders_ingest": (1, 4_000, 220, 2_500.0, 20.0, 0.8, 2.0, 1, 5),
    "clickstream_enrich": (1, 180_000, 310, 20_000.0, 35.0, 3.0, 6.0, 4, 10),
    "customers_cdc": (1, 600, 400, 800.0, 15.0, 0.5, 1.0, 1, 20),
    "payments_reconcile": (6, 15_000, 160, 4_000.0, 30.0, 1.2, 3.0, 2, 40),
    "quality_checks": (6, 250_000, 48, 60_000.0, 25.0, 1.5, 2.5, 2, 50),
    "feature_build": (24, 2_000_000, 96, 30_000.0, 60.0, 8.0, 3.0, 8, 120),
    "embeddings_refresh": (24, 50_000, 3_072, 400.0, 90.0, 6.0, 20.0, 4, 180),
    "warehouse_export": (24, 1_200_000, 180, 50_000.0, 45.0, 4.0, 2.0, 4, 240),
}
#: Failure type -> share of failures; the first two are announced by a degradation ramp.
ERROR_TYPES: dict[str, float] = {
    "OutOfMemoryError": 0.4,
    "Timeout": 0.3,
    "SourceUnavailable": 0.15,
    "SchemaMismatch": 0.1,
    "PermissionDenied": 0.05,
}
#: Share of runs that fail.
FAILURE_RATE = 0.04

_WEEKLY = np.array([0.96, 0.95, 0.97, 1.0, 1.04, 1.14, 1.12])  # Monday first
_P = np.array(list(PIPELINES.values()), dtype=float)  # one row per pipeline


def _schedule(rng: np.random.Generator, n_runs: int) -> tuple[np.ndarray, np.ndarray]:
    """Start time and pipeline index of the last ``n_runs`` scheduled runs before END."""
    per_day = sum(24 / p[0] for p in PIPELINES.values())
    n_days = int(np.ceil(n_runs / per_day)) + 1
    first = END - n_days * US_PER_DAY
    starts, pipe = [], []
    for i, (cadence, *_rest, minute) in enumerate(PIPELINES.values()):  # 8 pipelines, not rows
        k = np.arange(n_days * 24 // cadence)
        starts.append(first + k * cadence * US_PER_HOUR + minute * US_PER_MINUTE)
        pipe.append(np.full(len(k), i))
    started, pipeline = np.concatenate(starts), np.concatenate(pipe)
    started = started + (
        (rng.exponential(20.0, len(started)) + rng.uniform(0, 5, len(started))) * US_PER_S
    ).astype(np.int64)
    keep = np.argsort(started, kind="stable")[-n_runs:]
    return started[keep], pipeline[keep]


def _ramp(
    rng: np.random.Generator, pipeline: np.ndarray, failed: np.ndarray, degrading: np.ndarray, amp: np.ndarray
) -> np.ndarray:
    """Degradation factor per run (runs sorted by pipeline, then time): >1 before a ramped failure."""
    n = len(pipeline)
    idx = np.arange(n)
    length = rng.integers(3, 9, n)
    next_fail = np.minimum.accumulate(np.where(failed, idx, n)[::-1])[::-1]
    nf = np.minimum(next_fail, n - 1)
    distance = next_fail - idx
    ahead = (
        (next_fail < n)
        & (pipeline[nf] == pipeline)
        & degrading[nf]
        & (distance >= 1)
        & (distance <= length[nf])
    )
    return np.where(ahead, 1.0 + amp[nf] * (length[nf] - distance + 1) / length[nf], 1.0)


def build_pipeline_metrics(rng: np.random.Generator, counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Generate the ``pipeline_metrics`` table (see the module docstring).

    Args:
        rng: The ``pipeline_metrics`` family generator.
        counts: Row counts per table.

    Returns:
        ``{"pipeline_metrics": DataFrame}`` sorted by ``started_ts``.
    """
    started, pipe = _schedule(rng, counts["pipeline_metrics"])
    by_pipe = np.lexsort((started, pipe))  # pipeline blocks, each in time order
    started, pipe = started[by_pipe], pipe[by_pipe]
    n = len(started)
    cadence, base, bpr, rate, overhead, mem0, mem_per_m, cores, _ = (_P[pipe, j] for j in range(9))

    hour = (started // US_PER_HOUR) % 24
    diurnal = np.where(cadence < 24, 1.0 + 0.45 * np.cos(2 * np.pi * (hour - 20) / 24), 1.0)
    growth = 1.0 + 0.3 * (started - START) / (366 * US_PER_DAY)
    rows_in = np.round(base * diurnal * _WEEKLY[day_of_week(started)] * growth * rng.lognormal(0, 0.12, n))
    duration = overhead + rows_in / rate * rng.lognormal(0, 0.1, n)
    memory = mem0 + rows_in / 1e6 * mem_per_m * rng.lognormal(0, 0.05, n)

    block_start = np.flatnonzero(np.r_[True, pipe[1:] != pipe[:-1]])
    position = np.arange(n) - np.repeat(block_start, np.diff(np.r_[block_start, n]))
    failed = (rng.random(n) < FAILURE_RATE) & (position >= 4)  # leave room for a ramp
    errors = np.array(list(ERROR_TYPES))
    error = errors[rng.choice(len(errors), size=n, p=list(ERROR_TYPES.values()))]
    oom, timeout = error == "OutOfMemoryError", error == "Timeout"
    amp = rng.uniform(0.6, 1.5, n)
    factor = _ramp(rng, pipe, failed, oom | timeout, amp)
    nominal = overhead + base / rate
    duration = duration * factor
    memory = memory * (1.0 + (factor - 1.0) * 0.9)

    # The failing run itself.
    peak = 1.0 + amp
    duration = np.select(
        [failed & oom, failed & timeout, failed],
        [duration * peak * rng.uniform(0.3, 0.9, n), 4.0 * nominal * peak, rng.uniform(3, 60, n)],
        duration,
    )
    memory = np.select(
        [failed & oom, failed & timeout, failed],
        [memory * (1.0 + amp * 1.3), memory * 1.1, mem0 * 0.4],
        memory,
    )
    rows_out = np.where(failed, 0, np.floor(rows_in * rng.uniform(0.97, 1.0, n)))
    bytes_written = np.where(failed, 0, np.round(rows_out * bpr * rng.uniform(0.9, 1.1, n)))
    cpu = duration * cores * rng.uniform(0.55, 0.95, n)

    order = np.argsort(started, kind="stable")
    df = conform(
        "pipeline_metrics",
        {
            "run_id": np.arange(1, n + 1, dtype=np.int64),
            "pipeline": np.array(list(PIPELINES))[pipe][order],
            "started_ts": started[order],
            "duration_s": np.round(duration, 3)[order],
            "rows_in": rows_in.astype(np.int64)[order],
            "rows_out": rows_out.astype(np.int64)[order],
            "bytes_written": bytes_written.astype(np.int64)[order],
            "cpu_s": np.round(cpu, 3)[order],
            "memory_gb": np.round(memory, 3)[order],
            "status": np.where(failed, "failed", "success")[order],
            "error_type": np.where(failed, error.astype(object), np.array(None, dtype=object))[order],
        },
    )
    logger.debug("pipeline_metrics: %d runs, %d failed", n, int(failed.sum()))
    return {"pipeline_metrics": df}
