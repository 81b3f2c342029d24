"""Engine wiring of the order pipeline: start engines, create tables, read topic metadata, serve.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.assessment._sla_events import OUTPUT_COLUMNS
from platform_kit.errors import ConfigError, ServiceError

__all__ = [
    "SERVING_QUERIES",
    "create_tables",
    "partition_count",
    "serve_queries",
    "start_engines",
    "validate_args",
]

#: Serving queries (ClickHouse SQL; ``{table}`` and ``{customer_id}`` are filled in per run).
SERVING_QUERIES: dict[str, str] = {
    "revenue_by_region": (
        "SELECT region, round(sum(amount_usd), 2) AS revenue_usd FROM {table} "
        "GROUP BY region ORDER BY revenue_usd DESC"
    ),
    "top_segments": (
        "SELECT segment, count() AS orders, round(sum(amount_usd), 2) AS revenue_usd FROM {table} "
        "GROUP BY segment ORDER BY revenue_usd DESC LIMIT 3"
    ),
    "customer_features": (
        "SELECT count() AS orders, round(sum(amount_usd), 2) AS spend_usd, max(order_ts) AS last_order "
        "FROM {table} WHERE customer_id = {customer_id}"
    ),
}


def start_engines(pk: Any) -> None:
    """Open chdb in a thread while the broker (and its object store) starts here: they overlap.

    Servers are started on the calling thread, chdb (in-process) on the helper thread.
    """
    errors: list[BaseException] = []

    def open_olap() -> None:
        try:
            pk.olap  # noqa: B018 - the property opens the engine
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=open_olap, name="lab01-olap-open", daemon=True)
    thread.start()
    try:
        pk.broker  # noqa: B018
    finally:
        thread.join()
    if errors:
        raise errors[0]


def partition_count(producer: Any, topic: str) -> int:
    """Partitions the topic really has (it may predate this run with another count)."""
    try:
        meta = producer.list_topics(topic, timeout=10).topics[topic]
    except Exception as exc:
        raise ServiceError(
            f"cannot read the metadata of topic {topic!r}: {exc}",
            fix="check the broker (`workbench status broker`)",
        ) from exc
    if meta.error is not None or not meta.partitions:
        raise ServiceError(
            f"topic {topic!r} is not usable: {meta.error or 'no partitions'}",
            fix="check the broker (`workbench status broker`)",
        )
    return len(meta.partitions)


def create_tables(olap: Any, table: str, dead_table: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in OUTPUT_COLUMNS.items())
    olap.execute(f"DROP TABLE IF EXISTS {table}")
    olap.execute(f"CREATE TABLE {table} ({columns}) ENGINE = MergeTree ORDER BY (region, order_ts)")
    olap.execute(f"DROP TABLE IF EXISTS {dead_table}")
    olap.execute(
        f"CREATE TABLE {dead_table} (partition Int32, offset Int64, key Nullable(String), value String, "
        "reason String, stage String, run_id String) ENGINE = MergeTree ORDER BY (partition, offset)"
    )


def serve_queries(olap: Any, table: str, customer_ids: Sequence[int], repeats: int) -> pd.DataFrame:
    """Time ``repeats`` executions of each serving query, after one untimed warm-up execution each
    (the first query on a fresh table pays one-off costs that are not steady-state serving)."""
    for template in SERVING_QUERIES.values():
        olap.query_df(template.format(table=table, customer_id=int(customer_ids[0])))
    rows = []
    for repeat in range(repeats):
        for name, template in SERVING_QUERIES.items():
            sql = template.format(table=table, customer_id=int(customer_ids[repeat % len(customer_ids)]))
            began = time.perf_counter()
            result = olap.query_df(sql)
            rows.append(
                {
                    "query": name,
                    "repeat": repeat,
                    "latency_ms": (time.perf_counter() - began) * 1e3,
                    "rows": len(result),
                }
            )
    return pd.DataFrame(rows)


def validate_args(
    batch_size: int,
    batch_wait_ms: float,
    rate_per_s: float | None,
    query_repeats: int,
    timeout_s: float,
    partitions: int,
    table: str,
) -> None:
    problems = []
    if batch_size < 1:
        problems.append(f"batch_size must be >= 1, got {batch_size}")
    if batch_wait_ms <= 0:
        problems.append(f"batch_wait_ms must be > 0, got {batch_wait_ms}")
    if rate_per_s is not None and rate_per_s <= 0:
        problems.append(f"rate_per_s must be > 0 or None (as fast as possible), got {rate_per_s}")
    if query_repeats < 1:
        problems.append(f"query_repeats must be >= 1, got {query_repeats}")
    if timeout_s <= 0:
        problems.append(f"timeout_s must be > 0, got {timeout_s}")
    if partitions < 1:
        problems.append(f"partitions must be >= 1, got {partitions}")
    if not table.replace("_", "").isalnum():
        problems.append(f"table {table!r} must be letters, digits and underscores")
    if problems:
        raise ConfigError("; ".join(problems), fix="fix the arguments of run_order_pipeline")
