"""Turn the pipeline's raw timestamps into per-stage timings, a summary and flat metrics (pure).

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.assessment._sla_produce import ProduceStats
from platform_kit.assessment._sla_stats import summarize_stage, summary_frame

__all__ = ["build_timings"]

_log = logging.getLogger(__name__)


def _ns(column: pd.Series) -> np.ndarray:
    return column.astype("datetime64[ns]").astype("int64").to_numpy()


def _rate(count: int, start_ns: int | None, end_ns: int | None) -> float:
    if start_ns is None or end_ns is None:
        return float("nan")
    window = (end_ns - start_ns) / 1e9  # ints first: epoch nanoseconds overflow float precision
    return float(count / window) if count and window > 0 else float("nan")


def _window_s(start_ns: int | None, end_ns: int | None) -> float:
    return 0.0 if start_ns is None or end_ns is None else (end_ns - start_ns) / 1e9


def _stage_row(stage: str, latencies: np.ndarray, records: int, window_s: float) -> dict[str, Any]:
    if latencies.size == 0:
        return {
            "stage": stage,
            "count": 0,
            "p50_ms": np.nan,
            "p95_ms": np.nan,
            "p99_ms": np.nan,
            "mean_ms": np.nan,
            "max_ms": np.nan,
            "throughput_per_s": np.nan,
        }
    return summarize_stage(stage, latencies, records=records, window_s=window_s)


def build_timings(
    landed: Sequence[pd.DataFrame],
    serving: pd.DataFrame,
    produced: ProduceStats,
    *,
    records_in: int,
    dead_letters: int,
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, float]]:
    """Per-stage raw timings, the per-stage summary, and the flat metrics of a run.

    Args:
        landed: Landed micro-batches (``produced_at``, ``consumed_at`` columns plus ``landed_ns``).
        serving: One row per query execution with ``query`` and ``latency_ms``.
        produced: The producer's counts and time window.
        records_in: Records of the run consumed (landed + dead letters).
        dead_letters: Records routed to the dead-letter store.

    Returns:
        ``(timings, summary, metrics)``: ``timings[stage]`` has a ``latency_ms`` column; ``summary``
        is indexed by stage; ``metrics`` uses the names of ``sla.METRICS``.
    """
    rows = (
        pd.concat(list(landed), ignore_index=True)
        if landed
        else pd.DataFrame(
            {
                "order_id": [],
                "batch_id": [],
                "produced_at": pd.Series([], dtype="datetime64[us]"),
                "consumed_at": pd.Series([], dtype="datetime64[us]"),
                "landed_ns": [],
            }
        )
    )
    produced_ns = _ns(rows["produced_at"])
    consumed_ns = _ns(rows["consumed_at"])
    landed_ns = rows["landed_ns"].to_numpy(dtype="int64")
    spans = {
        "transport": (consumed_ns - produced_ns) / 1e6,
        "transform_load": (landed_ns - consumed_ns) / 1e6,
        "end_to_end": (landed_ns - produced_ns) / 1e6,
    }
    timings: dict[str, pd.DataFrame] = {}
    for stage, values in spans.items():
        if (values < 0).any():  # a wall-clock step between two stamps
            _log.warning(
                "%d negative %s latencies clipped to 0 (clock adjusted during the run?)",
                int((values < 0).sum()),
                stage,
            )
            values = np.clip(values, 0, None)
        timings[stage] = pd.DataFrame(
            {
                "order_id": rows["order_id"].to_numpy(),
                "batch_id": rows["batch_id"].to_numpy(),
                "latency_ms": values,
            }
        )
    timings["serving"] = serving.reset_index(drop=True)
    out = len(rows)
    first_ns = int(produced.first_ns)
    last_consumed = int(consumed_ns.max()) if out else None
    last_landed = int(landed_ns.max()) if out else None
    first_consumed = int(consumed_ns.min()) if out else None
    serving_ms = serving["latency_ms"].to_numpy(dtype=float)
    summary = summary_frame(
        [
            _stage_row(
                "transport",
                timings["transport"]["latency_ms"].to_numpy(),
                out,
                _window_s(first_ns, last_consumed),
            ),
            _stage_row(
                "transform_load",
                timings["transform_load"]["latency_ms"].to_numpy(),
                out,
                _window_s(first_consumed, last_landed),
            ),
            _stage_row(
                "end_to_end",
                timings["end_to_end"]["latency_ms"].to_numpy(),
                out,
                _window_s(first_ns, last_landed),
            ),
            _stage_row("serving", serving_ms, len(serving_ms), float(serving_ms.sum()) / 1e3),
        ]
    )
    metrics: dict[str, float] = {}
    for stage in summary.index:
        for q in (50, 95, 99):
            metrics[f"{stage}_p{q}_ms"] = float(summary.loc[stage, f"p{q}_ms"])
    metrics["freshness_s"] = float(summary.loc["end_to_end", "max_ms"]) / 1e3
    metrics["produce_rps"] = _rate(produced.records, produced.first_ns, produced.done_ns)
    metrics["consume_rps"] = _rate(records_in, first_ns, last_consumed)
    metrics["transform_load_rps"] = _rate(out, first_consumed, last_landed)
    metrics["end_to_end_rps"] = _rate(out, first_ns, last_landed)
    metrics["serving_qps"] = float(summary.loc["serving", "throughput_per_s"])
    metrics["dead_letter_pct"] = float(dead_letters / records_in * 100) if records_in else float("nan")
    return timings, summary, metrics
