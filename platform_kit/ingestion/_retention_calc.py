"""Storage cost against durability for a Kafka topic: the pure calculator behind section 1.

Cost (units: GB = 10^9 bytes, prices per GB-month)::

    per partition, per replica:  min(rate_pp * record_bytes * retention_s, retention.bytes)
                                 + one segment of slack (Kafka deletes whole, closed segments only)
    stored bytes = partitions * RF * (retained + slack) * (1 + index overhead)
    monthly cost = stored GB * usd_per_gb_month

The slack is ``min(segment.bytes, rate_pp * record_bytes * segment.ms)``: a segment is deleted only
once its *newest* record is older than the retention, and the active segment never, so a partition
can hold up to one segment beyond its retention. The index overhead is Kafka's offset (8 B) and time
(12 B) index entries every ``index.interval.bytes`` (4096 B): 20 / 4096, about 0.5 %.

Durability of an acknowledged write (unclean leader election off, Kafka's default):

* ``acks=all``: the write is on every in-sync replica, at least ``min.insync.replicas`` of them, so
  it survives ``min_isr - 1`` broker losses; producers can write while ``RF - min_isr`` brokers are
  down (below ``min.insync.replicas`` in-sync replicas, writes fail with NOT_ENOUGH_REPLICAS);
* ``acks=1``: only the leader has it when acknowledged: losing that broker can lose it (0); writable
  while one replica is left (``RF - 1``);
* ``acks=0``: nothing is acknowledged; records can be lost with no broker failure at all (-1).

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError

__all__ = [
    "ACKS",
    "DurabilityTarget",
    "RetentionSettings",
    "Workload",
    "cheapest_settings",
    "durability",
    "evaluate_settings",
    "normalise_acks",
    "pareto_front",
    "settings_grid",
    "storage_bytes",
]

#: Kafka's defaults: 1 GiB segments rolled at least weekly; 20 B of index per 4096 B of log.
DEFAULT_SEGMENT_BYTES = 1 << 30
DEFAULT_SEGMENT_MS = 7 * 24 * 3600 * 1000
INDEX_OVERHEAD = 20 / 4096
#: Illustrative block-storage list price (gp3-class volume, 2025-01), not a quote.
USD_PER_GB_MONTH = 0.08
ACKS = ("0", "1", "all")
SETTINGS_KEYS = ("replication_factor", "min_insync_replicas", "acks", "retention_hours")


def normalise_acks(acks: Any) -> str:
    """``"all"``, ``"1"`` or ``"0"`` from any spelling a client accepts (``-1``, ``"all"``, ``1``...).

    Raises:
        ConfigError: Anything else.
    """
    text = str(acks).strip().lower()
    if text in ("all", "-1"):
        return "all"
    if text in ("0", "1"):
        return text
    raise ConfigError(f"acks must be 0, 1 or 'all' (or -1), got {acks!r}",
                      fix="use acks='all' for writes that must survive a broker loss")


def _positive(name: str, value: Any, *, integer: bool = False, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {value!r}", fix=f"pass a number for {name}")
    if integer and int(value) != value:
        raise ConfigError(f"{name} must be a whole number, got {value!r}", fix=f"round {name}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}",
                          fix=f"use a positive {name}")


@dataclass(frozen=True)
class Workload:
    """What a topic must absorb and what storage costs.

    Attributes:
        write_rate_per_s: Records per second written to the topic (all partitions).
        record_bytes: Average stored bytes per record (after compression, with batch overhead).
        partitions: Partition count (each keeps a segment of slack per replica).
        segment_bytes: ``segment.bytes``.
        segment_ms: ``segment.ms``.
        usd_per_gb_month: Storage price (default: :data:`USD_PER_GB_MONTH`, illustrative).
    """

    write_rate_per_s: float
    record_bytes: float
    partitions: int = 6
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    segment_ms: int = DEFAULT_SEGMENT_MS
    usd_per_gb_month: float = USD_PER_GB_MONTH

    def __post_init__(self) -> None:
        _positive("write_rate_per_s", self.write_rate_per_s, allow_zero=True)
        _positive("record_bytes", self.record_bytes)
        _positive("partitions", self.partitions, integer=True)
        _positive("segment_bytes", self.segment_bytes, integer=True)
        _positive("segment_ms", self.segment_ms, integer=True)
        _positive("usd_per_gb_month", self.usd_per_gb_month, allow_zero=True)


@dataclass(frozen=True)
class RetentionSettings:
    """The knobs a topic owner picks: replication, ISR floor, producer acks, retention.

    ``retention_bytes`` is per partition (Kafka's ``retention.bytes``); -1 means no size limit.
    """

    replication_factor: int
    min_insync_replicas: int
    acks: str
    retention_hours: float
    retention_bytes: int = -1

    def __post_init__(self) -> None:
        _positive("replication_factor", self.replication_factor, integer=True)
        _positive("min_insync_replicas", self.min_insync_replicas, integer=True)
        _positive("retention_hours", self.retention_hours)
        object.__setattr__(self, "acks", normalise_acks(self.acks))
        if not isinstance(self.retention_bytes, int) or self.retention_bytes == 0 or self.retention_bytes < -1:
            raise ConfigError(f"retention_bytes must be -1 (no limit) or a positive int, got {self.retention_bytes!r}",
                              fix="use -1 for time-only retention")
        if self.min_insync_replicas > self.replication_factor:
            raise ConfigError(
                f"min.insync.replicas {self.min_insync_replicas} > replication factor {self.replication_factor}: "
                "every acks=all write would fail with NOT_ENOUGH_REPLICAS",
                fix="keep min.insync.replicas <= replication factor (RF=3, min.insync=2 is the usual pair)",
            )

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any]) -> RetentionSettings:
        """Build from a dict with :data:`SETTINGS_KEYS` (and optionally ``retention_bytes``).

        Raises:
            ConfigError: Not a mapping, a key missing or unknown, or a value out of range.
        """
        if not isinstance(settings, Mapping):
            raise ConfigError(f"settings must be a dict, got {type(settings).__name__}",
                              fix=f"return a dict with keys {', '.join(SETTINGS_KEYS)}")
        allowed = (*SETTINGS_KEYS, "retention_bytes")
        unknown = sorted(set(settings) - set(allowed))
        missing = [k for k in SETTINGS_KEYS if k not in settings]
        if unknown or missing:
            raise ConfigError(
                f"settings keys: missing {missing}, unknown {unknown}",
                fix=f"use exactly {', '.join(SETTINGS_KEYS)} (plus optional retention_bytes), with underscores",
            )
        return cls(**{k: settings[k] for k in allowed if k in settings})


@dataclass(frozen=True)
class DurabilityTarget:
    """Survive ``broker_failures`` simultaneous broker losses without losing an acknowledged write,
    and (``stay_writable``) keep accepting writes meanwhile."""

    broker_failures: int = 1
    stay_writable: bool = True

    def __post_init__(self) -> None:
        _positive("broker_failures", self.broker_failures, integer=True, allow_zero=True)


def durability(replication_factor: int, min_insync_replicas: int, acks: Any) -> dict[str, int]:
    """Broker losses an acknowledged write survives, and losses during which writes still succeed.

    Returns:
        ``lossless_failures`` (-1 for acks=0: loss possible with no failure) and
        ``writable_failures``.
    """
    settings = RetentionSettings(replication_factor, min_insync_replicas, acks, 1.0)
    rf, isr = settings.replication_factor, settings.min_insync_replicas
    if settings.acks == "all":
        return {"lossless_failures": isr - 1, "writable_failures": rf - isr}
    return {"lossless_failures": 0 if settings.acks == "1" else -1, "writable_failures": rf - 1}


def storage_bytes(workload: Workload, settings: RetentionSettings) -> dict[str, float]:
    """Bytes kept on disk by all replicas: retained data, segment slack and index overhead."""
    per_partition_rate = workload.write_rate_per_s * workload.record_bytes / workload.partitions
    retained = per_partition_rate * settings.retention_hours * 3600
    if settings.retention_bytes > 0:
        retained = min(retained, float(settings.retention_bytes))
    slack = min(float(workload.segment_bytes), per_partition_rate * workload.segment_ms / 1000)
    replicas = workload.partitions * settings.replication_factor
    data = retained * replicas
    segment = slack * replicas
    index = (data + segment) * INDEX_OVERHEAD
    return {"data_bytes": data, "segment_slack_bytes": segment, "index_bytes": index,
            "total_bytes": data + segment + index}


def evaluate_settings(workload: Workload, settings: RetentionSettings | Mapping[str, Any],
                      target: DurabilityTarget | None = None, budget_usd_month: float | None = None,
                      brokers: int | None = None) -> dict[str, Any]:
    """Cost, durability and (when given) whether ``target``, ``budget_usd_month`` and ``brokers`` are met.

    Returns:
        A flat dict: the settings, ``stored_gb``, ``usd_month``, ``lossless_failures``,
        ``writable_failures`` and, when a target/budget/broker count is given,
        ``meets_durability``, ``within_budget``, ``fits_cluster`` and ``problems`` (reasons, in words).
    """
    if not isinstance(settings, RetentionSettings):
        settings = RetentionSettings.from_mapping(settings)
    sizes = storage_bytes(workload, settings)
    dur = durability(settings.replication_factor, settings.min_insync_replicas, settings.acks)
    row: dict[str, Any] = {**asdict(settings), **dur, "stored_gb": sizes["total_bytes"] / 1e9,
                           "slack_gb": sizes["segment_slack_bytes"] / 1e9}
    row["usd_month"] = row["stored_gb"] * workload.usd_per_gb_month
    problems: list[str] = []
    if target is not None:
        k = target.broker_failures
        if dur["lossless_failures"] < k:
            problems.append(_loss_reason(settings, k))
        if target.stay_writable and dur["writable_failures"] < k:
            problems.append(
                f"with RF={settings.replication_factor} and min.insync.replicas={settings.min_insync_replicas}, "
                f"{k} broker loss(es) leave fewer in-sync replicas than required: acks=all writes are refused "
                f"(writable through {dur['writable_failures']} loss(es))")
        row["meets_durability"] = not problems
    if budget_usd_month is not None:
        row["within_budget"] = row["usd_month"] <= budget_usd_month
        if not row["within_budget"]:
            problems.append(f"storage costs {row['usd_month']:,.2f} USD/month, over the budget of "
                            f"{budget_usd_month:,.2f}")
    if brokers is not None:
        row["fits_cluster"] = settings.replication_factor <= brokers
        if not row["fits_cluster"]:
            problems.append(f"RF={settings.replication_factor} needs {settings.replication_factor} brokers; "
                            f"the cluster has {brokers}")
    row["problems"] = problems
    return row


def _loss_reason(settings: RetentionSettings, k: int) -> str:
    if settings.acks == "0":
        return "acks=0 never waits for the broker: records can vanish with no failure at all"
    if settings.acks == "1":
        return "acks=1 acknowledges once the leader alone has the record: losing that broker loses it"
    if settings.min_insync_replicas <= k:
        return (f"min.insync.replicas={settings.min_insync_replicas}: an acks=all write may sit on only "
                f"{settings.min_insync_replicas} replica(s), so {k} broker loss(es) can lose it")
    return f"durability below {k} broker loss(es)"


def settings_grid(workload: Workload, *, replication_factors: Iterable[int] = (1, 2, 3, 4, 5),
                  acks: Iterable[Any] = ("all", "1", "0"), retention_hours: Iterable[float] = (168,),
                  brokers: int | None = None) -> pd.DataFrame:
    """Every valid (RF, min.insync.replicas <= RF, acks, retention) combination, evaluated.

    Adds ``tolerated_failures`` = min(lossless, writable): broker losses through which no acknowledged
    write is lost *and* producers can still write; and ``pareto`` per retention (nothing as cheap or
    cheaper tolerates as many failures). min.insync.replicas only matters with acks=all, so acks 0/1
    rows use min.insync=1.
    """
    rows = []
    for rf in replication_factors:
        if brokers is not None and rf > brokers:
            continue
        for ack in acks:
            ack = normalise_acks(ack)
            for isr in range(1, rf + 1) if ack == "all" else (1,):
                for hours in retention_hours:
                    rows.append(evaluate_settings(workload, RetentionSettings(rf, isr, ack, float(hours))))
    if not rows:
        raise ConfigError("the grid is empty", fix="allow at least one replication factor <= brokers")
    frame = pd.DataFrame(rows).drop(columns=["problems"])
    frame["tolerated_failures"] = frame[["lossless_failures", "writable_failures"]].min(axis=1)
    frame["label"] = [f"RF{r.replication_factor}/isr{r.min_insync_replicas}/acks={r.acks}"
                      for r in frame.itertuples()]
    frame["pareto"] = False
    for _, part in frame.groupby("retention_hours"):
        frame.loc[part.index, "pareto"] = pareto_front(part)
    return frame


def pareto_front(frame: pd.DataFrame, cost: str = "usd_month",
                 benefits: tuple[str, ...] = ("tolerated_failures",)) -> pd.Series:
    """True for rows no other row beats (as cheap or cheaper, at least as good, better in one).

    Of rows with identical cost and benefits only the first is marked.
    """
    costs = frame[cost].to_numpy(dtype=float)
    gains = frame[list(benefits)].to_numpy(dtype=float)
    keep: list[bool] = []
    for i in range(len(frame)):
        no_worse = (costs <= costs[i] + 1e-9) & (gains >= gains[i]).all(axis=1)
        better = (costs < costs[i] - 1e-9) | (gains > gains[i]).any(axis=1)
        same = ~better & no_worse
        same[i:] = False  # an identical earlier row takes the mark
        keep.append(not bool((no_worse & better).any() or same.any()))
    return pd.Series(keep, index=frame.index, name="pareto")


def cheapest_settings(workload: Workload, target: DurabilityTarget, *, min_retention_hours: float,
                      budget_usd_month: float | None = None, brokers: int | None = None,
                      max_replication_factor: int = 7) -> RetentionSettings | None:
    """The cheapest settings meeting ``target`` with at least ``min_retention_hours``; None if none fits.

    acks=all with min.insync.replicas = k + 1 and RF = k + 1 (+ k more when the topic must stay
    writable) is the smallest RF meeting the target; cost grows with RF and retention only.
    """
    _positive("min_retention_hours", min_retention_hours)
    k = target.broker_failures
    isr = k + 1
    rf = isr + (k if target.stay_writable else 0)
    if rf > (brokers if brokers is not None else max_replication_factor):
        return None
    settings = RetentionSettings(rf, isr, "all", float(min_retention_hours))
    row = evaluate_settings(workload, settings, target, budget_usd_month, brokers)
    return settings if not row["problems"] else None
