"""A labelled metrics history of table loads: the ground truth for alert rules and their tuning.

Monitoring rules are only as good as the incidents they catch and the noise they ignore,
and judging that needs a history whose incidents are *known*.
:func:`synthetic_table_history` builds one: hourly loads of a table over ``days`` days
(load time, rows loaded, null rate of each key column) with a daily curve, quieter
weekends, slow growth and noise, plus injected, labelled events::

    hist = synthetic_table_history("orders", days=90, seed=42)
    hist.metrics      # table, load_time, rows, null_rate_customer_id, null_rate_total_amount
    hist.incidents    # table, kind, column, start, end, magnitude, benign

Real incidents (``benign=False``) are the ones on-call must see: ``late_load`` (hourly
loads missing for 3-8 hours, then one catch-up load carries the missed rows),
``volume_drop``/``volume_spike`` (rows x0.25-0.6 or x1.6-3 for 2-6 hours) and
``null_spike`` (a column's null rate at 4-30% for 2-8 hours). Benign events are the
noise that makes alerts fatiguing: ``holiday`` (a weekday with weekend-like volume),
``minor_delay`` (1-2 loads skipped, caught up within the hour) and ``null_blip`` (1-2
hours of a null rate 3-6x normal, still tiny).

Why not the company's ``pipeline_metrics`` table: it is a run log (duration, rows in/out,
failures) over about one month, with no null rates and no labelled incidents, so the
freshness/volume/null-rate rules of Lab 4 could not be scored against it. Volumes here
are on the same scale as its ``orders_ingest`` runs (a few thousand rows an hour).

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError

_log = logging.getLogger(__name__)

__all__ = ["BENIGN_KINDS", "INCIDENT_KINDS", "REAL_KINDS", "TABLE_PROFILES", "TableHistory",
           "synthetic_table_history"]

REAL_KINDS = ("late_load", "volume_drop", "volume_spike", "null_spike")
BENIGN_KINDS = ("holiday", "minor_delay", "null_blip")
INCIDENT_KINDS = REAL_KINDS + BENIGN_KINDS

#: table -> (rows per hour at the weekday peak, {key column: normal null rate})
TABLE_PROFILES: dict[str, tuple[int, dict[str, float]]] = {
    "orders": (3000, {"customer_id": 0.002, "total_amount": 0.01}),
    "payments": (2500, {"order_id": 0.001, "amount": 0.005}),
    "clickstream": (120_000, {"session_id": 0.001, "page": 0.02}),
    "customers": (500, {"email": 0.03, "country": 0.01}),
}
#: kind -> how many per 90 days in the default schedule
_DEFAULT_COUNTS = {"late_load": 3, "volume_drop": 2, "volume_spike": 2, "null_spike": 3,
                   "holiday": 2, "minor_delay": 3, "null_blip": 3}
_WEEKEND_FACTOR = 0.6
_NOISE_SIGMA = 0.07
_WARMUP_DAYS = 14  # no incidents while the seasonal baselines have under two weeks of history


@dataclass(frozen=True)
class TableHistory:
    """A table's load metrics and the incidents injected into them.

    Attributes:
        table: Table name (also the ``table`` column of both frames).
        metrics: One row per load: ``table``, ``load_time``, ``rows`` and
            ``null_rate_<column>`` per key column, sorted by ``load_time``.
        incidents: ``table``, ``kind``, ``column`` (null kinds only), ``start``, ``end``,
            ``magnitude`` and ``benign`` (True for noise that should not page anyone).
        columns: The key columns whose null rates are tracked.
    """

    table: str
    metrics: pd.DataFrame
    incidents: pd.DataFrame
    columns: tuple[str, ...]

    @property
    def real_incidents(self) -> pd.DataFrame:
        """The incidents an alerting setup should catch (``benign`` is False)."""
        return self.incidents[~self.incidents["benign"]].reset_index(drop=True)


def synthetic_table_history(table: str = "orders", days: int = 90, seed: int = 42,
                            incidents: Iterable[Mapping[str, Any]] | pd.DataFrame | None = None,
                            start: str | pd.Timestamp = "2024-10-01",
                            columns: Sequence[str] | None = None) -> TableHistory:
    """Hourly load metrics of ``table`` with labelled incidents (see the module docstring).

    Args:
        table: Table name; ``orders``, ``payments``, ``clickstream`` and ``customers`` have
            their own volume and key columns, any other name gets 1,000 rows/hour and ``id``.
        days: Length of the history in days (at least 21: baselines need history).
        seed: Seed of every random draw; the same arguments give the same history.
        incidents: None for the default seeded schedule (real incidents and benign noise,
            none in the first two weeks); otherwise exactly these events, each a mapping
            with ``kind``, ``start`` (timestamp), ``hours`` (or ``end``) and optionally
            ``column`` (null kinds; default the first key column) and ``magnitude``.
            An empty list gives a clean history.
        start: Midnight of the first day.
        columns: Key columns to track (default: the table's profile).

    Returns:
        The metrics and incidents.

    Raises:
        InputError: ``days`` is too short, or an incident has an unknown kind, a column
            that is not tracked, or falls outside the history.
    """
    if not isinstance(days, int | np.integer) or days < 21:
        raise InputError(f"days={days!r} is too short for seasonal baselines",
                         fix="use days >= 21 (three weeks); 90 gives the default incident schedule")
    peak, null_rates = TABLE_PROFILES.get(table, (1000, {"id": 0.005}))
    if columns is not None:
        null_rates = {c: null_rates.get(c, 0.005) for c in columns}
    if not null_rates:
        raise InputError("no key columns to track", fix="pass columns=('customer_id',) or leave columns=None")
    rng = np.random.default_rng([seed, zlib.crc32(table.encode())])
    t0 = pd.Timestamp(start).normalize()
    slots = pd.date_range(t0, periods=days * 24, freq="h")
    frame = _normal_loads(rng, slots, peak, null_rates)
    events = (_default_schedule(rng, t0, days, tuple(null_rates)) if incidents is None
              else _explicit_schedule(incidents, t0, days, tuple(null_rates)))
    for event in events.itertuples(index=False):
        _inject(rng, frame, event, slots, null_rates)
    metrics = frame[frame["loaded"]].drop(columns=["slot", "loaded"]).reset_index(drop=True)
    metrics.insert(0, "table", table)
    events.insert(0, "table", table)
    _log.debug("history of %s: %d loads, %d incidents (%d real)", table, len(metrics), len(events),
               int((~events["benign"]).sum()))
    return TableHistory(table, metrics, events, tuple(null_rates))


def _normal_loads(rng: np.random.Generator, slots: pd.DatetimeIndex, peak: int,
                  null_rates: dict[str, float]) -> pd.DataFrame:
    hour = slots.hour.to_numpy()
    # a daily curve that bottoms out at 04:00 and peaks at 16:00-ish, quieter weekends, +0.1%/day growth
    daily = 0.55 + 0.45 * np.sin(np.pi * ((hour - 4) % 24) / 24) ** 2
    weekly = np.where(slots.dayofweek.to_numpy() >= 5, _WEEKEND_FACTOR, 1.0)
    growth = 1.0 + 0.001 * np.arange(len(slots)) / 24
    rows = np.maximum(1, np.round(peak * daily * weekly * growth * rng.lognormal(0, _NOISE_SIGMA, len(slots))))
    offset = pd.to_timedelta(rng.uniform(5, 15, len(slots)), unit="min")
    frame = pd.DataFrame({"slot": slots, "load_time": slots + offset, "rows": rows.astype(np.int64),
                          "loaded": True})
    for col, rate in null_rates.items():
        frame[f"null_rate_{col}"] = rng.binomial(frame["rows"].to_numpy(), rate) / frame["rows"].to_numpy()
    return frame


def _default_schedule(rng: np.random.Generator, t0: pd.Timestamp, days: int,
                      columns: tuple[str, ...]) -> pd.DataFrame:
    kinds = [k for k, n in _DEFAULT_COUNTS.items() for _ in range(max(1, round(n * days / 90)))]
    # every other day, so that no two events overlap or share a baseline hour
    pool = np.arange(_WARMUP_DAYS, days - 1, 2)
    weekdays = pool[(t0 + pd.to_timedelta(pool, unit="D")).dayofweek < 5]
    chosen_days: list[int] = []
    specs = []
    # holidays first: they need a weekday, the rest can take any free day
    for kind in sorted(kinds, key=lambda k: k != "holiday"):
        free = np.setdiff1d(weekdays if kind == "holiday" else pool, chosen_days)
        if len(free):
            chosen_days.append(int(rng.choice(free)))
            specs.append(_random_event(rng, kind, t0 + pd.Timedelta(days=chosen_days[-1]), columns))
    return _as_frame(specs).sort_values("start", ignore_index=True)


def _random_event(rng: np.random.Generator, kind: str, day: pd.Timestamp, columns: tuple[str, ...]) -> dict[str, Any]:
    hours, magnitude, column = {
        "late_load": (int(rng.integers(3, 9)), np.nan, None),
        "volume_drop": (int(rng.integers(2, 7)), rng.uniform(0.25, 0.6), None),
        "volume_spike": (int(rng.integers(2, 7)), rng.uniform(1.6, 3.0), None),
        "null_spike": (int(rng.integers(2, 9)), rng.uniform(0.04, 0.3), str(rng.choice(columns))),
        "holiday": (24, rng.uniform(0.55, 0.75), None),
        "minor_delay": (int(rng.integers(1, 3)), np.nan, None),
        "null_blip": (int(rng.integers(1, 3)), rng.uniform(3.0, 6.0), str(rng.choice(columns))),
    }[kind]
    hour = 0 if kind == "holiday" else int(rng.integers(1, 24 - hours))
    begin = day + pd.Timedelta(hours=hour)
    return {"kind": kind, "column": column, "start": begin, "end": begin + pd.Timedelta(hours=hours),
            "magnitude": float(magnitude)}


def _explicit_schedule(incidents: Iterable[Mapping[str, Any]] | pd.DataFrame, t0: pd.Timestamp, days: int,
                       columns: tuple[str, ...]) -> pd.DataFrame:
    items = incidents.to_dict("records") if isinstance(incidents, pd.DataFrame) else list(incidents)
    defaults = {"late_load": np.nan, "volume_drop": 0.4, "volume_spike": 2.0, "null_spike": 0.15,
                "holiday": 0.65, "minor_delay": np.nan, "null_blip": 4.0}
    specs = []
    for i, item in enumerate(items):
        kind = item.get("kind")
        if kind not in INCIDENT_KINDS:
            raise InputError(f"incidents[{i}].kind={kind!r} is not a known kind",
                             fix=f"use one of {', '.join(INCIDENT_KINDS)}")
        begin = pd.Timestamp(item["start"]).floor("h")
        if "end" in item and pd.notna(item["end"]):
            end = pd.Timestamp(item["end"]).ceil("h")
        else:
            end = begin + pd.Timedelta(hours=float(item.get("hours", 24 if kind == "holiday" else 4)))
        if begin < t0 + pd.Timedelta(days=1) or end > t0 + pd.Timedelta(days=days) or end <= begin:
            raise InputError(f"incidents[{i}] ({kind}, {begin} to {end}) is outside the history or empty",
                             fix=f"start after {t0 + pd.Timedelta(days=1)} and end before {t0 + pd.Timedelta(days=days)}")
        column = None
        if kind in ("null_spike", "null_blip"):
            column = item.get("column") or columns[0]
            if column not in columns:
                raise InputError(f"incidents[{i}].column={column!r} is not a tracked column",
                                 fix=f"use one of {', '.join(columns)} or pass columns= to track it")
        magnitude = item.get("magnitude")
        specs.append({"kind": kind, "column": column, "start": begin, "end": end,
                      "magnitude": float(defaults[kind] if magnitude is None else magnitude)})
    return _as_frame(specs).sort_values("start", ignore_index=True)


def _as_frame(specs: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(specs, columns=["kind", "column", "start", "end", "magnitude"])
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    frame["magnitude"] = frame["magnitude"].astype(float)
    frame["benign"] = frame["kind"].isin(BENIGN_KINDS)
    return frame


def _inject(rng: np.random.Generator, frame: pd.DataFrame, event: Any, slots: pd.DatetimeIndex,
            null_rates: dict[str, float]) -> None:
    hit = ((frame["slot"] >= event.start) & (frame["slot"] < event.end)).to_numpy()
    idx = np.flatnonzero(hit)
    if event.kind in ("late_load", "minor_delay"):
        # the missed loads' rows arrive with the next (catch-up) load
        after = idx[-1] + 1 if len(idx) and idx[-1] + 1 < len(frame) else None
        if after is not None:
            frame.loc[after, "rows"] += int(frame.loc[idx, "rows"].sum())
        frame.loc[idx, "loaded"] = False
    elif event.kind in ("volume_drop", "volume_spike", "holiday"):
        scaled = np.maximum(1, np.round(frame.loc[idx, "rows"] * event.magnitude)).astype(np.int64)
        frame.loc[idx, "rows"] = scaled
    else:
        col = f"null_rate_{event.column}"
        rate = event.magnitude if event.kind == "null_spike" else null_rates[event.column] * event.magnitude
        rows = frame.loc[idx, "rows"].to_numpy()
        frame.loc[idx, col] = rng.binomial(rows, min(rate, 1.0)) / rows
