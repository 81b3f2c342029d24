"""A column-level lineage graph: where a feature comes from, which features a raw field feeds.

Nodes are ``table.column``; raw fields are nodes nothing writes, features are nodes
nothing reads. Edges come from :func:`~platform_kit.lineage.sql.pipeline_lineage` and,
optionally, from Lab 1's OpenLineage events (their ``columnLineage`` facet)::

    graph = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA))
    graph.merge_openlineage()                     # Lab 1's log, if it exists
    graph.upstream("customer_features.cancel_rate")          # {'orders.status'}
    graph.downstream("payments.amount")                      # features that change with it
    graph.plot()

Queries follow data-flow edges only unless ``include_filters=True`` (then a column used
in a WHERE or JOIN also counts). The graph is plain dicts; :meth:`LineageGraph.to_networkx`
converts it when you want networkx's algorithms.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import InputError, WorkbenchError
from platform_kit.lineage.sql import DIRECT_KINDS, KINDS, ColumnEdge

_log = logging.getLogger(__name__)

__all__ = ["KIND_COLORS", "LineageGraph", "lake_table_names"]

KIND_COLORS = {"direct": "#4c72b0", "expression": "#55a868", "case": "#8172b2", "aggregate": "#dd8452",
               "window": "#c44e52", "filter": "#b0b0b0"}
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}
_OPENLINEAGE_KINDS = (("INDIRECT", "filter"), ("WINDOW", "window"), ("AGGREGATION", "aggregate"),
                      ("CONDITIONAL", "case"), ("IDENTITY", "direct"), ("TRANSFORMATION", "expression"))


_FILE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json", ".orc", ".avro")


def lake_table_names(events: Iterable[str | bytes | Mapping[str, Any]], tables: Iterable[str]) -> dict[str, str]:
    """``dataset_names`` for :meth:`LineageGraph.merge_openlineage`: lake files of known tables -> table name.

    Lab 1 writes the company tables as files (``parquet://<store>/lab01/.../orders.parquet``);
    the SQL reads them as ``orders``. A dataset whose name is a path ending in
    ``<table>.<parquet|csv|json|jsonl|orc|avro>`` (or ``<table>/``) is mapped to ``<table>``, so both sources
    name the same node; topics and warehouse tables (no ``/`` in the name) are left alone.

    Args:
        events: OpenLineage RunEvents (dicts or JSON), e.g. from ``read_openlineage_log()``.
        tables: The table names the SQL uses (e.g. the keys of ``SCHEMA``).

    Returns:
        ``{dataset id: table}`` for every matching input or output dataset.

    Raises:
        InputError: An event is not a valid RunEvent.
    """
    from platform_kit.assessment._catalog_openlineage import openlineage_to_dataset, parse_run_event

    known = set(tables)
    names: dict[str, str] = {}
    for event in events:
        try:
            parsed, _ = parse_run_event(event)
        except WorkbenchError as exc:
            raise InputError(f"cannot read OpenLineage event: {exc.message}", fix=exc.fix) from None
        for dataset in (*parsed.inputs, *parsed.outputs):
            if "/" not in dataset.name:
                continue
            leaf = dataset.name.rstrip("/").rsplit("/", 1)[-1]
            stem = next((leaf[: -len(s)] for s in _FILE_SUFFIXES if leaf.endswith(s)), leaf)
            if stem in known:
                names[openlineage_to_dataset(dataset.namespace, dataset.name)] = stem
    return names


def _openlineage_kind(transformation: str | None) -> str:
    text = (transformation or "").upper()
    return next((kind for marker, kind in _OPENLINEAGE_KINDS if marker in text), "expression")


class LineageGraph:
    """Column-level lineage as a directed graph ``source column -> target column``.

    Args:
        edges: Initial edges (e.g. from :func:`~platform_kit.lineage.sql.pipeline_lineage`).
        feature_tables: Tables whose columns are the features; default: every column nothing reads
            (which also counts staged columns no later model uses).
    """

    def __init__(self, edges: Iterable[ColumnEdge] = (), *, feature_tables: Iterable[str] | None = None) -> None:
        self.feature_tables = None if feature_tables is None else frozenset(feature_tables)
        self._out: dict[str, dict[str, ColumnEdge]] = {}
        self._in: dict[str, dict[str, ColumnEdge]] = {}
        self._origin: dict[tuple[str, str], str] = {}
        self.add_edges(edges)

    def add_edges(self, edges: Iterable[ColumnEdge], *, origin: str = "sql") -> int:
        """Add edges; for a pair seen twice the data-flow (stronger) kind wins.

        Args:
            edges: Edges to add.
            origin: Where they come from (``sql``, ``openlineage``), shown in :meth:`edges_frame`.

        Returns:
            How many edges were new or changed.
        """
        changed = 0
        for edge in edges:
            if edge.kind not in _RANK:
                raise InputError(f"edge {edge.source} -> {edge.target} has unknown kind {edge.kind!r}",
                                 fix=f"use one of {list(KINDS)}")
            if edge.source == edge.target:
                continue
            old = self._out.get(edge.source, {}).get(edge.target)
            if old is not None and _RANK[old.kind] <= _RANK[edge.kind]:
                continue
            self._out.setdefault(edge.source, {})[edge.target] = edge
            self._in.setdefault(edge.target, {})[edge.source] = edge
            self._origin[(edge.source, edge.target)] = origin
            changed += 1
        return changed

    @property
    def nodes(self) -> set[str]:
        """Every ``table.column`` in the graph."""
        return set(self._out) | set(self._in)

    @property
    def raw_fields(self) -> set[str]:
        """Columns nothing in the graph writes (the raw source fields)."""
        return {n for n in self.nodes if not self._in.get(n)}

    @property
    def features(self) -> set[str]:
        """The final features: columns of ``feature_tables``, else columns nothing in the graph reads."""
        if self.feature_tables is not None:
            return {n for n in self.nodes if n.rsplit(".", 1)[0] in self.feature_tables}
        return {n for n in self.nodes if not self._out.get(n)}

    def resolve(self, name: str) -> str:
        """The node ``name`` refers to: exact ``table.column``, or a column name unique in the graph.

        Raises:
            InputError: Unknown or ambiguous name (the message lists close candidates).
        """
        if name in self.nodes:
            return name
        matches = sorted(n for n in self.nodes if n.rsplit(".", 1)[-1] == name)
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InputError(f"column {name!r} is ambiguous: {matches}", fix="name it as table.column")
        near = sorted(n for n in self.nodes if name.lower() in n.lower())[:8]
        raise InputError(f"no column {name!r} in the lineage graph" + (f" (did you mean {near}?)" if near else ""),
                         fix="use table.column as in graph.nodes, or add the model that creates it")

    def _step(self, links: Mapping[str, ColumnEdge], include_filters: bool) -> Iterator[tuple[str, ColumnEdge]]:
        for node, edge in sorted(links.items()):
            if include_filters or edge.kind in DIRECT_KINDS:
                yield node, edge

    def upstream_paths(self, feature: str, *, include_filters: bool = False) -> list[tuple[str, ...]]:
        """Every path from a raw field to ``feature``, raw field first ("where does feature Y come from").

        Args:
            feature: ``table.column`` (or a unique column name).
            include_filters: Also follow ``filter`` edges.
        """
        target = self.resolve(feature)
        paths: list[tuple[str, ...]] = []

        def visit(node: str, trail: tuple[str, ...]) -> None:
            parents = [p for p, _ in self._step(self._in.get(node, {}), include_filters) if p not in trail]
            if not self._in.get(node):
                paths.append(tuple(reversed(trail)))
            for parent in parents:
                visit(parent, (*trail, parent))

        visit(target, (target,))
        return sorted(p for p in paths if len(p) > 1)

    def upstream(self, feature: str, *, include_filters: bool = False) -> set[str]:
        """Raw fields ``feature`` is computed from ("where does feature Y come from").

        Args:
            feature: ``table.column`` (or a unique column name).
            include_filters: Also count columns that only filter, join or group its rows.
        """
        return {path[0] for path in self.upstream_paths(feature, include_filters=include_filters)}

    def upstream_kinds(self, feature: str, *, include_filters: bool = False) -> dict[str, str]:
        """Raw field -> strongest transform on any path to ``feature`` (``window`` > ``aggregate`` > ...)."""
        kinds: dict[str, str] = {}
        for path in self.upstream_paths(feature, include_filters=include_filters):
            steps = [self._out[a][b].kind for a, b in zip(path, path[1:], strict=False)]
            kind = min(steps, key=_RANK.__getitem__)
            if path[0] not in kinds or _RANK[kind] < _RANK[kinds[path[0]]]:
                kinds[path[0]] = kind
        return kinds

    def downstream(self, raw_field: str, *, include_filters: bool = False) -> set[str]:
        """Features that depend on ``raw_field`` ("which features depend on raw field X").

        Args:
            raw_field: ``table.column`` (or a unique column name); any column works, not only raw ones.
            include_filters: Also follow ``filter`` edges (features whose rows it selects).
        """
        start = self.resolve(raw_field)
        features = self.features
        seen, stack, found = {start}, [start], set()
        while stack:
            node = stack.pop()
            if node in features and node != start:
                found.add(node)
            for child, _ in self._step(self._out.get(node, {}), include_filters):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        return found

    def edges(self) -> list[ColumnEdge]:
        """All edges, sorted."""
        return sorted(edge for links in self._out.values() for edge in links.values())

    def edges_frame(self) -> Any:
        """Edges as a pandas DataFrame: source, target, kind, model, expression, origin."""
        import pandas as pd

        rows = [{"source": e.source, "target": e.target, "kind": e.kind, "model": e.model,
                 "expression": e.expression, "origin": self._origin[(e.source, e.target)]} for e in self.edges()]
        return pd.DataFrame(rows, columns=["source", "target", "kind", "model", "expression", "origin"])

    def merge_openlineage(self, events: Iterable[str | bytes | Mapping[str, Any]] | None = None, *,
                          dataset_names: Mapping[str, str] | None = None) -> int:
        """Add the column-level edges of OpenLineage RunEvents (their ``columnLineage`` facet).

        Args:
            events: RunEvents as dicts or JSON text; ``None`` reads Lab 1's log
                (``<state dir>/catalog/openlineage.jsonl``) and merges nothing if it does not exist.
            dataset_names: Dataset id (``kafka://lab01.orders``) -> table name used in the SQL
                (``orders``), so both sources name the same node; unmapped ids drop the scheme.

        Returns:
            How many edges were added or strengthened.

        Raises:
            InputError: An event is not valid JSON or not a RunEvent with a valid facet.
        """
        from platform_kit.assessment.lineage import edges_from_event, read_openlineage_log

        names = dict(dataset_names or {})
        try:
            batch = list(read_openlineage_log() if events is None else events)
            found = [edge for event in batch for edge in edges_from_event(event)]
        except WorkbenchError as exc:
            raise InputError(f"cannot merge OpenLineage events: {exc.message}", fix=exc.fix) from None
        if events is None and not batch:
            _log.info("no Lab 1 OpenLineage log; nothing merged")

        def node(dataset: str, column: str) -> str:
            return f"{names.get(dataset, dataset.split('://', 1)[-1])}.{column}"

        edges = [ColumnEdge(node(e.input_dataset, e.input_column), node(e.output_dataset, e.output_column),
                            _openlineage_kind(e.transformation), e.job, e.transformation or "") for e in found]
        return self.add_edges(edges, origin="openlineage")

    def layers(self) -> dict[str, int]:
        """Left-to-right layer of each node: 0 for raw fields, else 1 + the deepest parent (cycles go last)."""
        layer: dict[str, int] = {}
        pending = {n: len(self._in.get(n, {})) for n in self.nodes}
        ready = sorted(n for n, count in pending.items() if count == 0)
        for n in ready:
            layer[n] = 0
        while ready:
            node = ready.pop()
            for child in self._out.get(node, {}):
                layer[child] = max(layer.get(child, 0), layer[node] + 1)
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
        deepest = max(layer.values(), default=-1)
        return layer | {n: deepest + 1 for n in self.nodes if n not in layer}

    def plot(self, ax: Any = None, *, include_filters: bool = False) -> Any:
        """Draw the graph left to right (raw -> staged -> features), edges coloured by kind.

        Args:
            ax: A matplotlib Axes (a new figure when ``None``).
            include_filters: Also draw ``filter`` edges (dashed grey).

        Returns:
            The Axes.
        """
        plt = require("matplotlib.pyplot")
        layer = self.layers()
        columns: dict[int, list[str]] = {}
        for n in sorted(self.nodes):
            columns.setdefault(layer[n], []).append(n)
        tallest = max((len(v) for v in columns.values()), default=1)
        if ax is None:
            _, ax = plt.subplots(figsize=(4 * max(len(columns), 1), max(3.0, 0.45 * tallest)))
        pos = {n: (x, tallest - i * tallest / max(len(ns), 1)) for x, ns in columns.items() for i, n in enumerate(ns)}
        for edge in self.edges():
            if edge.kind == "filter" and not include_filters:
                continue
            (x0, y0), (x1, y1) = pos[edge.source], pos[edge.target]
            ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                        arrowprops={"arrowstyle": "->", "color": KIND_COLORS[edge.kind], "lw": 1.0,
                                    "linestyle": "--" if edge.kind == "filter" else "-"})
        for n, (x, y) in pos.items():
            role = "raw" if n in self.raw_fields else "feature" if n in self.features else "staged"
            ax.text(x, y, n, ha="center", va="center", fontsize=7,
                    bbox={"boxstyle": "round", "fc": {"raw": "#fff2cc", "feature": "#d9ead3"}.get(role, "#eeeeee")})
        for kind, color in KIND_COLORS.items():
            ax.plot([], [], color=color, label=kind)
        ax.legend(loc="upper left", fontsize=7, title="transform")
        ax.set_xlim(-0.6, max(columns, default=0) + 0.6)
        ax.set_ylim(-0.5, tallest + 0.8)
        ax.set_axis_off()
        ax.set_title("column lineage: raw -> staged -> features")
        return ax

    def to_networkx(self) -> Any:
        """The graph as a ``networkx.DiGraph`` (edge attributes: kind, model, expression)."""
        nx = require("networkx")
        graph = nx.DiGraph()
        graph.add_nodes_from(sorted(self.nodes))
        graph.add_edges_from((e.source, e.target, {"kind": e.kind, "model": e.model, "expression": e.expression})
                             for e in self.edges())
        return graph
