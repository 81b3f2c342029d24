"""Questions to the catalog: where a column comes from (transitively), and text search.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import pandas as pd

from platform_kit.assessment._catalog_model import split_dataset_id
from platform_kit.assessment._catalog_store import Catalog
from platform_kit.errors import ConfigError

__all__ = ["plot_lineage_graph", "search", "search_frames", "walk_lineage", "where_from"]

_WALK_COLUMNS = ["depth", "output_dataset", "output_column", "job", "input_dataset", "input_column",
                 "is_origin", "cycle"]


def walk_lineage(edges: pd.DataFrame, dataset: str, column: str, *, max_depth: int = 50) -> pd.DataFrame:
    """Walk lineage edges upstream from ``dataset.column``, breadth first (pure).

    Every edge reached is one row; ``depth`` 1 are the direct inputs. A node already
    visited is not expanded again (``cycle`` is True when an edge leads back to one), so
    cyclic lineage terminates.

    Introduced in: Lab 1 (assessment).

    Args:
        edges: Frame with ``input_dataset, input_column, output_dataset, output_column, job``.
        dataset: Dataset id of the column asked about.
        column: Column name.
        max_depth: Hops at most.

    Returns:
        Columns ``depth, output_dataset, output_column, job, input_dataset, input_column,
        is_origin, cycle``; ``is_origin`` marks inputs nothing feeds (the true sources).
    """
    required = {"input_dataset", "input_column", "output_dataset", "output_column", "job"}
    missing = required - set(edges.columns)
    if missing:
        raise ConfigError(f"lineage edges lack columns {sorted(missing)}",
                          fix="pass catalog.lineage() or a frame with the same columns")
    if max_depth < 1:
        raise ConfigError(f"max_depth must be >= 1, got {max_depth}", fix="use a positive number of hops")
    upstream: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for e in edges.itertuples(index=False):
        upstream.setdefault((e.output_dataset, e.output_column), []).append(
            (e.input_dataset, e.input_column, e.job))
    start = (dataset, column)
    seen = {start}
    queue = deque([(start, 0)])
    rows: list[dict[str, Any]] = []
    while queue:
        node, depth = queue.popleft()
        if depth >= max_depth:
            continue
        for in_ds, in_col, job in sorted(upstream.get(node, [])):
            target = (in_ds, in_col)
            cycle = target in seen
            rows.append({"depth": depth + 1, "output_dataset": node[0], "output_column": node[1], "job": job,
                         "input_dataset": in_ds, "input_column": in_col,
                         "is_origin": target not in upstream, "cycle": cycle})
            if not cycle:
                seen.add(target)
                queue.append((target, depth + 1))
    return pd.DataFrame(rows, columns=_WALK_COLUMNS)


def where_from(catalog: Catalog, dataset: str, column: str, *, max_depth: int = 50) -> pd.DataFrame:
    """Answer "where does ``dataset.column`` come from?" from the catalog's lineage edges.

    Introduced in: Lab 1 (assessment).

    Example:
        >>> where_from(catalog, "clickhouse://default.lab01_orders_enriched", "amount_usd")  # doctest: +SKIP

    Raises:
        ConfigError: ``dataset`` is not a dataset id.
    """
    split_dataset_id(dataset)
    return walk_lineage(catalog.lineage(), dataset, column, max_depth=max_depth)


def search_frames(datasets: pd.DataFrame, columns: pd.DataFrame, text: str) -> pd.DataFrame:
    """Case-insensitive search over dataset and column names, descriptions and tags (pure).

    A tag matches exactly (``pii`` finds PII columns, not "shipping"); names and
    descriptions match as substrings.

    Introduced in: Lab 1 (assessment).

    Returns:
        Columns ``kind`` (dataset/column), ``dataset_id``, ``column``, ``matched_on``, ``description``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("search text is empty", fix="search for a word, e.g. search(catalog, 'pii')")
    needle = text.strip().lower()
    hits: list[dict[str, Any]] = []

    def matched(name: str, description: Any, tags: Any) -> str | None:
        if needle in {str(t).lower() for t in tags or ()}:
            return "tag"
        if needle in str(name).lower():
            return "name"
        if isinstance(description, str) and needle in description.lower():
            return "description"
        return None

    for d in datasets.itertuples(index=False):
        on = matched(d.id, d.description, d.tags)
        if on:
            hits.append({"kind": "dataset", "dataset_id": d.id, "column": None, "matched_on": on,
                         "description": d.description})
    for c in columns.itertuples(index=False):
        on = matched(c.name, c.description, c.tags)
        if on:
            hits.append({"kind": "column", "dataset_id": c.dataset_id, "column": c.name, "matched_on": on,
                         "description": c.description})
    return pd.DataFrame(hits, columns=["kind", "dataset_id", "column", "matched_on", "description"])


def search(catalog: Catalog, text: str) -> pd.DataFrame:
    """Search the catalog's names, descriptions and tags (``search(catalog, "pii")``).

    Introduced in: Lab 1 (assessment).
    """
    return search_frames(catalog.datasets(), catalog.columns(), text)


def plot_lineage_graph(edges: pd.DataFrame, ax: Any = None, *, highlight: str | None = None) -> Any:
    """Draw datasets as nodes and jobs as labelled edges (matplotlib; networkx layout if present).

    Introduced in: Lab 1 (assessment).

    Args:
        edges: ``catalog.lineage()``.
        ax: Matplotlib axes (a new figure when None).
        highlight: Dataset id drawn in another colour.

    Returns:
        The axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4))
    pairs = edges.groupby(["input_dataset", "output_dataset"])["job"].agg(lambda j: ", ".join(sorted(set(j))))
    nodes = sorted(set(edges["input_dataset"]) | set(edges["output_dataset"]))
    positions = _layout(nodes, list(pairs.index))
    for (src, dst), jobs in pairs.items():
        (x0, y0), (x1, y1) = positions[src], positions[dst]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.45", "shrinkA": 18, "shrinkB": 18})
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, jobs, fontsize=7, color="tab:blue", ha="center")
    for node, (x, y) in positions.items():
        colour = "tab:orange" if node == highlight else "tab:green"
        ax.scatter([x], [y], s=260, color=colour, zorder=3)
        ax.text(x, y - 0.12, node.replace("://", "://\n"), ha="center", va="top", fontsize=7)
    ax.set_axis_off()
    ax.set_title("Lineage: datasets (nodes) and the jobs that connect them (edges)")
    return ax


def _layout(nodes: list[str], pairs: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Left-to-right layers by longest path from a source (cycles fall back to layer 0)."""
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes)):
        changed = False
        for src, dst in pairs:
            if src != dst and layer[dst] < layer[src] + 1 <= len(nodes):
                layer[dst] = layer[src] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = {}
    for node in nodes:
        columns.setdefault(layer[node], []).append(node)
    return {node: (float(x), float(i) - (len(members) - 1) / 2)
            for x, members in columns.items() for i, node in enumerate(members)}
