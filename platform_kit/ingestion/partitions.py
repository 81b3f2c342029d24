"""Partition counts against consumer throughput (Lab 2, section 7).

A partition is read by at most one consumer of a group, so partitions cap a group's parallelism:
past ``consumers == partitions`` extra consumers sit idle, and a hot key that puts most records on one
partition makes its consumer the bottleneck however many others there are. This module measures that
on the broker with real consumer *processes* (:class:`ConsumerPool`) and a handler of known cost, and
gives the formula for sizing a topic (:func:`partitions_needed`).

The handler defaults to ``time.sleep`` of a fixed cost per record: it models an I/O-bound sink
(a database write, an HTTP call), so consumer processes overlap their waits and parallelism is visible
even on a 2-core machine. ``handler="cpu"`` spins instead and saturates at the core count.

Partitions are handed to the consumer processes the way Kafka's range assignor would
(:func:`range_assignment`) rather than by joining a group per grid cell, because each new group costs
~3 s on the embedded broker; ``group=True`` joins a real group (used in the tests). Each process
fetches its records before a common start instant (``prefetch="all"``), so a cell measures how
handling parallelises, which is what the partition count limits, and stays steady on a busy machine;
``prefetch="first"`` keeps fetching inside the clock.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import ConfigError, ServiceError
from platform_kit.ingestion._partitions_model import find_knee, model_throughput, partitions_needed, skew_ratio
from platform_kit.ingestion._partitions_pool import ConsumerPool, range_assignment
from platform_kit.ingestion._retention_topics import client_config, create_topic_quietly

__all__ = [
    "ConsumerPool",
    "compare_keys",
    "find_knee",
    "measure_grid",
    "measure_topic",
    "model_throughput",
    "partitions_needed",
    "per_consumer_rate",
    "plot_throughput",
    "produce_keyed",
    "range_assignment",
    "skew_ratio",
]


def produce_keyed(broker: Any, topic: str, keys: Sequence[Any], values: Sequence[bytes] | None = None, *,
                  partitions: int, timeout_s: float = 60.0) -> dict[int, int]:
    """Create ``topic`` with ``partitions`` and write one record per key (Java's murmur2 partitioner).

    Returns:
        Records per partition (every partition present, zero included), from delivery reports.

    Raises:
        ServiceError: A record was not delivered.
    """
    if values is not None and len(values) != len(keys):
        raise ConfigError(f"{len(keys)} keys but {len(values)} values", fix="pass one value per key")
    create_topic_quietly(broker, topic, partitions, 1)
    producer = require("confluent_kafka").Producer(client_config(broker, linger_ms=10, acks="all",
                                                                 partitioner="murmur2_random"))
    counts = dict.fromkeys(range(partitions), 0)
    errors: list[str] = []

    def report(err: Any, msg: Any) -> None:
        if err is None:
            counts[msg.partition()] += 1
        else:
            errors.append(str(err))

    for i, key in enumerate(keys):
        key_bytes = None if key is None else str(key).encode()
        value = values[i] if values is not None else key_bytes
        while True:
            try:
                producer.produce(topic, key=key_bytes, value=value, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(timeout_s)
    if left:
        producer.purge()  # close() would otherwise wait out message.timeout.ms
    producer.close()
    if left or errors:
        raise ServiceError(f"{left} record(s) undelivered and {len(errors)} failed writing {topic!r}: "
                           f"{errors[:3]}", fix="check the broker (`workbench status broker`)")
    return counts


def measure_topic(pool: ConsumerPool, topic: str, counts: dict[int, int], consumers: int, *, cost_ms: float,
                  handler: str = "sleep", group: bool = False, prefetch: str = "all") -> dict[str, Any]:
    """One grid cell: ``consumers`` processes drain ``topic``, each handling records at ``cost_ms``.

    Returns:
        ``partitions``, ``consumers``, ``active_consumers`` (with at least one partition), ``records``,
        ``seconds``, ``throughput`` (records/s), ``ideal_throughput`` (the handler's bound:
        :func:`model_throughput` at 1000 / cost_ms per consumer), ``skew`` (max/mean partition),
        ``counts``, ``assignment`` and ``per_consumer`` (records each process handled).

    Raises:
        ServiceError: The consumers did not read every record produced.
    """
    cell = pool.run(topic, counts, consumers, cost_s=cost_ms / 1000, handler=handler, group=group,
                    prefetch=prefetch)
    total = sum(counts.values())
    if cell["records"] != total:
        raise ServiceError(f"consumers read {cell['records']} of {total} records of {topic!r}",
                           fix="check the broker; nothing may be lost between produce and consume")
    return {"partitions": len(counts), "consumers": consumers,
            "active_consumers": sum(1 for owned in cell["assignment"] if owned), "records": total,
            "seconds": cell["seconds"], "throughput": cell["throughput"],
            "ideal_throughput": model_throughput(counts, consumers, 1000.0 / cost_ms) if cost_ms > 0 else float("inf"),
            "skew": skew_ratio(counts), "counts": [counts[p] for p in sorted(counts)],
            "assignment": cell["assignment"], "per_consumer": cell["per_consumer"]}


def measure_grid(broker: Any, keys: Sequence[Any], *, partition_counts: Iterable[int] = (1, 2, 4, 8),
                 consumer_counts: Iterable[int] = (1, 2, 4), cost_ms: float = 1.0, handler: str = "sleep",
                 prefetch: str = "all", pool: ConsumerPool | None = None,
                 topic_prefix: str | None = None) -> pd.DataFrame:
    """Throughput for every (partitions, consumers) pair: one topic per partition count, read per cell.

    Args:
        keys: One record per key (uniformly spread keys give balanced partitions).
        pool: Reuse a pool (it must hold ``max(consumer_counts)`` processes); else one is started and
            closed here.

    Returns:
        One row per cell (see :func:`measure_topic`) plus ``per_consumer_throughput`` (throughput /
        active consumers) and ``model_throughput``: the model at the grid's measured
        :func:`per_consumer_rate`.
    """
    parts, cons = sorted(set(partition_counts)), sorted(set(consumer_counts))
    if not parts or not cons or min(parts) < 1 or min(cons) < 1 or cost_ms < 0:
        raise ConfigError(f"grid partitions={parts} consumers={cons} cost_ms={cost_ms}",
                          fix="use partition and consumer counts >= 1 and a cost >= 0")
    if not keys:
        raise ConfigError("no records to measure with", fix="pass at least one key")
    prefix = topic_prefix or f"lab02.partitions.{uuid.uuid4().hex[:6]}"
    topics = {p: (f"{prefix}.p{p}", produce_keyed(broker, f"{prefix}.p{p}", keys, partitions=p)) for p in parts}
    own = pool is None
    pool = pool or ConsumerPool(broker.consumer_config("unused"), max(cons))
    try:
        rows = [measure_topic(pool, topics[p][0], topics[p][1], c, cost_ms=cost_ms, handler=handler,
                              prefetch=prefetch)
                for p, c in itertools.product(parts, cons)]
    finally:
        if own:
            pool.close()
    grid = pd.DataFrame(rows)
    grid["per_consumer_throughput"] = grid["throughput"] / grid["active_consumers"]
    rate = per_consumer_rate(grid)
    grid["model_throughput"] = [model_throughput(c, n, rate) for c, n in zip(grid["counts"], grid["consumers"],
                                                                             strict=True)]
    return grid


def per_consumer_rate(grid: pd.DataFrame) -> float:
    """Median records/s one busy consumer sustained across balanced cells (skew <= 1.05)."""
    balanced = grid[grid["skew"] <= 1.05] if "skew" in grid else grid
    if balanced.empty:
        raise ConfigError("no balanced cell in the grid", fix="measure with evenly spread keys")
    return float((balanced["throughput"] / balanced["active_consumers"]).median())


def plot_throughput(grid: pd.DataFrame, *, skew: pd.DataFrame | None = None, ax: Any = None) -> Any:
    """Throughput against consumers, one line per partition count (model dashed); skew cells as stars."""
    plt = require("matplotlib.pyplot")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    for (parts, block), colour in zip(grid.groupby("partitions"), itertools.cycle(plt.rcParams["axes.prop_cycle"]
                                                                                 .by_key()["color"])):
        block = block.sort_values("consumers")
        ax.plot(block["consumers"], block["throughput"], "o-", color=colour, label=f"{parts} partition(s)")
        ax.plot(block["consumers"], block["model_throughput"], "--", color=colour, alpha=0.5, lw=1)
    if skew is not None:
        for row in skew.itertuples():
            ax.scatter([row.consumers], [row.throughput], marker="*", s=160, zorder=5,
                       color="tab:red" if row.skew > 2.0 else "tab:green",
                       label=f"{row.keyed_by} keys, {row.partitions} partitions (max/mean {row.skew:.1f})")
    ax.set_xlabel("consumer processes")
    ax.set_ylabel("group throughput (records/s)")
    ax.set_xticks(sorted(grid["consumers"].unique()))
    ax.set_title("Consumers beyond the partition count add nothing (dashed: model)")
    ax.legend(fontsize=7)
    return ax


def compare_keys(broker: Any, pool: ConsumerPool, keyings: dict[str, Sequence[Any]], *, partitions: int = 4,
                 consumers: int = 4, cost_ms: float = 1.0, handler: str = "sleep", prefetch: str = "all",
                 rate: float | None = None, topic_prefix: str | None = None) -> pd.DataFrame:
    """The same records keyed different ways (e.g. by session vs by event type) on one partition count.

    Args:
        rate: Per-consumer rate for ``model_throughput`` (default: the handler's 1000 / cost_ms).

    Returns:
        One row per keying: ``keyed_by``, ``counts`` (records per partition), ``skew`` (max/mean) and
        the cell's measured and model throughput.
    """
    prefix = topic_prefix or f"lab02.skew.{uuid.uuid4().hex[:6]}"
    rows = []
    for name, keys in keyings.items():
        topic = f"{prefix}.{''.join(c if c.isalnum() else '-' for c in name)}"
        counts = produce_keyed(broker, topic, keys, partitions=partitions)
        cell = measure_topic(pool, topic, counts, consumers, cost_ms=cost_ms, handler=handler, prefetch=prefetch)
        model_rate = rate if rate is not None else 1000.0 / cost_ms
        rows.append({"keyed_by": name, **cell, "model_throughput": model_throughput(counts, consumers, model_rate)})
    return pd.DataFrame(rows)
