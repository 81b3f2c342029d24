"""Generation entry points: which generator builds which table, and in what order."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

import pandas as pd

from platform_kit.datasets._catalog import build_products
from platform_kit.datasets._commerce import build_orders, build_payments
from platform_kit.datasets._events import build_clickstream
from platform_kit.datasets._ops import build_pipeline_metrics
from platform_kit.datasets._people import build_customers
from platform_kit.datasets._scales import (
    Scale,
    child_rng,
    counts_for,
    resolve_factor,
    scale_label,
    validate_seed,
)
from platform_kit.datasets._schema import TABLES, unknown_tables_error
from platform_kit.datasets._support import build_support_tickets
from platform_kit.errors import DatasetError

__all__ = ["generate_company", "generate_table", "resolve_tables"]

logger = logging.getLogger(__name__)

Builder = Callable[..., dict[str, pd.DataFrame]]

#: Generator family -> (builder, tables it needs). The family name seeds its generator,
#: so every family's output is independent of which other families run.
_FAMILIES: dict[str, tuple[Builder, tuple[str, ...]]] = {
    "customers": (build_customers, ()),
    "products": (build_products, ()),
    "orders": (build_orders, ("customers", "products")),
    "payments": (build_payments, ("orders",)),
    "clickstream": (build_clickstream, ("customers", "products")),
    "support_tickets": (build_support_tickets, ("customers", "orders", "order_items", "products")),
    "pipeline_metrics": (build_pipeline_metrics, ()),
}
#: Tables produced by a family of another name.
_FAMILY_OF: dict[str, str] = {"order_items": "orders"}


def resolve_tables(tables: Iterable[str] | str | None) -> tuple[str, ...]:
    """Validate requested table names; ``None`` means all, in :data:`TABLES` order.

    Raises:
        DatasetError: If a name is not in :data:`TABLES`.
    """
    if tables is None:
        return TABLES
    requested = [tables] if isinstance(tables, str) else list(tables)
    unknown = [t for t in requested if t not in TABLES]
    if unknown:
        raise unknown_tables_error(unknown)
    return tuple(t for t in TABLES if t in requested)


def _build(table: str, cache: dict[str, pd.DataFrame], counts: dict[str, int], seed: int) -> None:
    if table in cache:
        return
    family = _FAMILY_OF.get(table, table)
    builder, needs = _FAMILIES[family]
    for dependency in needs:
        _build(dependency, cache, counts, seed)
    started = time.perf_counter()
    produced = builder(child_rng(seed, family), counts, *(cache[d] for d in needs))
    cache.update(produced)
    logger.debug(
        "generated %s (%s) in %.3f s",
        ", ".join(produced),
        ", ".join(f"{len(df)} rows" for df in produced.values()),
        time.perf_counter() - started,
    )


def generate_company(
    scale: Scale = "tiny", seed: int = 42, tables: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Generate the Northwind Outfitters company: every table, or the ones named.

    The result is fully determined by ``scale`` and ``seed``; each table family draws
    from its own child seed, so a table is identical whether generated alone or with
    the others (tables a requested one depends on are generated but not returned).

    Introduced in: Lab 0 (welcome)

    Args:
        scale: A name from :data:`SCALES` (``"tiny"``, ``"small"``, ``"medium"``,
            ``"large"``) or a positive factor relative to ``tiny``.
        seed: Non-negative integer seed.
        tables: Table names to return (default: all of :data:`TABLES`).

    Returns:
        Table name -> DataFrame, in :data:`TABLES` order. Timestamps are naive UTC
        ``datetime64[us]``.

    Raises:
        DatasetError: If the scale, seed or a table name is invalid.
    """
    factor = resolve_factor(scale)
    seed = validate_seed(seed)
    wanted = resolve_tables(tables)
    counts = counts_for(factor)
    started = time.perf_counter()
    cache: dict[str, pd.DataFrame] = {}
    try:
        for table in wanted:
            _build(table, cache, counts, seed)
    except MemoryError as exc:
        raise DatasetError(
            f"not enough memory to generate scale {scale_label(scale)!r}", fix="use a smaller scale"
        ) from exc
    logger.info(
        "generated %d table(s) at scale %s, seed %d in %.2f s",
        len(wanted),
        scale_label(scale),
        seed,
        time.perf_counter() - started,
    )
    return {t: cache[t] for t in wanted}


def generate_table(name: str, scale: Scale = "tiny", seed: int = 42) -> pd.DataFrame:
    """Generate one table of the company (identical to the same table of :func:`generate_company`).

    Introduced in: Lab 0 (welcome)

    Args:
        name: A table name from :data:`TABLES`.
        scale: A scale name or a positive factor relative to ``tiny``.
        seed: Non-negative integer seed.

    Returns:
        The table as a DataFrame.

    Raises:
        DatasetError: If the name, scale or seed is invalid.
    """
    if not isinstance(name, str):
        raise DatasetError(
            f"table name must be a string, got {name!r}", fix=f"use one of: {', '.join(TABLES)}"
        )
    return generate_company(scale, seed, tables=[name])[name]
