"""Column-level lineage of SQL models with sqlglot: raw source fields through transforms to features.

:func:`column_lineage` qualifies one ``SELECT`` (CTEs, aliases, subqueries, joins and
``SELECT *`` expanded against a schema) and walks ``sqlglot.lineage`` from every output
column down to the physical table columns it reads. Each edge says *how* the column is
used on the way (the strongest transform on the path wins)::

    window > aggregate > case > expression > direct

Columns that only shape the row set (``WHERE``, ``JOIN ... ON``, ``GROUP BY``,
``HAVING``, ``QUALIFY``) become ``filter`` edges to every output column of the model:
they change which rows a feature is computed over, not its formula.
:func:`pipeline_lineage` chains models: a model's output table is a source of later ones::

    edges = pipeline_lineage({"staged_orders": sql1, "customer_features": sql2}, schema=SCHEMA)

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from platform_kit._deps import require
from platform_kit.errors import InputError

_log = logging.getLogger(__name__)

__all__ = ["DIRECT_KINDS", "KINDS", "ColumnEdge", "column_lineage", "pipeline_lineage"]

#: Transform kinds, strongest first; ``filter`` is the only indirect one.
DIRECT_KINDS = ("window", "aggregate", "case", "expression", "direct")
KINDS = (*DIRECT_KINDS, "filter")
_RANK = {kind: rank for rank, kind in enumerate(DIRECT_KINDS)}
_FILTER_CLAUSES = ("where", "having", "qualify", "group")
Schema = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True, order=True)
class ColumnEdge:
    """One dependency of an output column on a source column.

    Attributes:
        source: ``table.column`` read (a raw table, or an earlier model's output).
        target: ``model.column`` written.
        kind: One of :data:`KINDS`.
        model: The model (SQL statement) that creates the edge.
        expression: SQL of the output column's top-level expression (or the filter clause column).
    """

    source: str
    target: str
    kind: str
    model: str
    expression: str = ""


def _sqlglot() -> tuple[Any, Any, Any, Any]:
    sqlglot = require("sqlglot")
    lineage_mod = require("sqlglot.lineage")
    optimizer = require("sqlglot.optimizer")
    return sqlglot, sqlglot.exp, lineage_mod, optimizer


def _parse(sql: str, model: str, dialect: str) -> Any:
    sqlglot, exp, _, _ = _sqlglot()
    if not isinstance(sql, str) or not sql.strip():
        raise InputError(f"model {model!r}: SQL is empty or not text", fix="pass one SELECT statement as a string")
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except sqlglot.errors.ParseError as exc:
        where = exc.errors[0] if exc.errors else {}
        description = re.sub(r"<Token token_type: TokenType\.\w+, text: ([^,]*),[^>]*>", r"'\1'",
                             str(where.get("description")))
        first = (f"{description} at line {where.get('line')}, col {where.get('col')}"
                 if where else str(exc).splitlines()[0])
        raise InputError(f"model {model!r}: SQL does not parse ({dialect}): {first}",
                         fix=f"fix the SQL of {model!r} at the position sqlglot names, or set dialect=") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise InputError(f"model {model!r}: expected exactly one SELECT query, got {len(statements)} statement(s)",
                         fix="give one SELECT per model; chain models with pipeline_lineage({...})")
    return statements[0]


def _kind(expression: Any, exp: Any) -> str:
    node = expression.this if isinstance(expression, exp.Alias) else expression
    if isinstance(node, exp.Column):
        return "direct"
    if node.find(exp.Window):
        return "window"
    if node.find(exp.AggFunc):
        return "aggregate"
    if node.find(exp.Case, exp.If):
        return "case"
    return "expression"


def _leaf_column(node: Any, exp: Any) -> str:
    try:
        return exp.to_column(node.name).name
    except Exception:  # noqa: BLE001 - odd quoting: fall back to the last dotted part
        return node.name.rsplit(".", 1)[-1].strip('"`')


def _walk(node: Any, exp: Any, kind: str, model: str, seen: frozenset[int]) -> Iterator[tuple[str, str]]:
    """Yield ``(table.column, strongest kind on the path)`` for every physical leaf under ``node``."""
    if id(node) in seen:  # defensive: sqlglot caches nodes, a cycle would recurse forever
        return
    seen = seen | {id(node)}
    if isinstance(node.expression, exp.Table):
        yield f"{exp.table_name(node.expression)}.{_leaf_column(node, exp)}", kind
        return
    if isinstance(node.expression, exp.Placeholder):
        raise InputError(f"model {model!r}: cannot tell which table column {node.name!r} comes from",
                         fix="qualify the column (alias.column) or pass schema= with every table's columns")
    if isinstance(node.expression, exp.Star):
        return
    here = _kind(node.expression, exp) if not isinstance(node.expression, exp.Query) else "expression"
    if _RANK[here] < _RANK[kind]:
        kind = here
    for child in node.downstream:
        yield from _walk(child, exp, kind, model, seen)


def _check_tables(expression: Any, schema: Schema | None, model: str, exp: Any) -> None:
    if schema is None:
        return
    known = {str(name).lower() for name in schema}
    ctes = {cte.alias_or_name.lower() for cte in expression.find_all(exp.CTE)}
    for table in expression.find_all(exp.Table):
        name = exp.table_name(table).lower()
        if name and name not in known and name not in ctes:
            raise InputError(f"model {model!r}: unknown table {name!r} (schema has {sorted(known)})",
                             fix="add the table to schema=, or list the model that creates it earlier in the pipeline")


def _check_stars(scope_root: Any, model: str, exp: Any) -> None:
    for scope in scope_root.traverse():
        select = scope.expression
        if isinstance(select, exp.Select) and any(isinstance(s, exp.Star) or (isinstance(s, exp.Column)
                                                  and isinstance(s.this, exp.Star)) for s in select.selects):
            raise InputError(f"model {model!r}: SELECT * cannot be expanded without the source's columns",
                             fix="pass schema={'table': {'column': 'TYPE', ...}} or list the columns explicitly")


def _filter_sources(scope_root: Any, schema: Any, dialect: str, model: str, lineage_mod: Any, exp: Any
                    ) -> list[tuple[str, str]]:
    """``(table.column, clause SQL)`` of the columns that only filter, join or group rows."""
    found: list[tuple[str, str]] = []
    for scope in scope_root.traverse():
        select = scope.expression
        if not isinstance(select, exp.Select):
            continue
        clauses = [select.args.get(name) for name in _FILTER_CLAUSES]
        clauses += [join.args.get("on") for join in select.args.get("joins") or []]
        for clause in (c for c in clauses if c is not None):
            for column in clause.find_all(exp.Column):
                source = scope.sources.get(column.table)
                text = clause.sql(dialect=dialect)
                if isinstance(source, exp.Table):
                    found.append((f"{exp.table_name(source)}.{column.name}", text))
                elif source is not None:
                    node = lineage_mod.to_node(column.name, scope=source, dialect=dialect, schema=schema)
                    found.extend((leaf, text) for leaf, _ in _walk(node, exp, "direct", model, frozenset()))
    return found


def column_lineage(sql: str, *, target: str = "query", dialect: str = "duckdb", schema: Schema | None = None,
                   sources: Mapping[str, str] | None = None, include_filters: bool = True) -> list[ColumnEdge]:
    """Column-level lineage of one SELECT: which source columns each output column is computed from.

    Args:
        sql: One SELECT (CTEs, joins, subqueries, window functions allowed).
        target: Name of the table this query writes (edge targets are ``target.column``).
        dialect: sqlglot dialect of the SQL (``duckdb``, ``spark``, ``postgres``...).
        schema: ``{table: {column: type}}`` of the physical tables; needed for ``SELECT *``
            and to attribute unqualified columns in joins. With it, unknown tables and columns are errors.
        sources: ``{view name: SELECT}`` inlined before the walk, so lineage goes through views.
        include_filters: Also return ``filter`` edges (WHERE/JOIN ON/GROUP BY/HAVING/QUALIFY columns).

    Returns:
        Sorted, de-duplicated edges; one per (source, target, kind).

    Raises:
        InputError: The SQL does not parse, is not one query, reads an unknown table or column,
            or uses ``SELECT *`` without a schema.
    """
    sqlglot, exp, lineage_mod, optimizer = _sqlglot()
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.schema import ensure_schema

    expression = _parse(sql, target, dialect)
    try:
        if sources:
            expression = exp.expand(expression, {k: _parse(v, k, dialect) for k, v in sources.items()},
                                    dialect=dialect)
        _check_tables(expression, schema, target, exp)
        glot_schema = ensure_schema(dict(schema or {}), dialect=dialect)
        qualified = qualify(expression, dialect=dialect, schema=glot_schema,
                            validate_qualify_columns=schema is not None, identify=False)
        root = optimizer.build_scope(qualified)
    except InputError:
        raise
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"model {target!r}: {first}",
                         fix="check the column and table names against schema= (or qualify them as alias.column)"
                         ) from None
    if root is None:
        raise InputError(f"model {target!r}: not a query sqlglot can scope", fix="pass a SELECT statement")
    _check_stars(root, target, exp)
    try:
        outputs = lineage_mod.lineage(None, qualified, glot_schema, dialect=dialect, scope=root)
    except sqlglot.errors.SqlglotError as exc:
        raise InputError(f"model {target!r}: lineage failed: {str(exc).splitlines()[0]}",
                         fix="name every output column (expr AS name)") from None
    edges: set[ColumnEdge] = set()
    for column, node in outputs.items():
        out = f"{target}.{column}"
        text = node.expression.sql(dialect=dialect)
        best: dict[str, str] = {}
        for leaf, kind in _walk(node, exp, "direct", target, frozenset()):
            if leaf not in best or _RANK[kind] < _RANK[best[leaf]]:
                best[leaf] = kind
        edges.update(ColumnEdge(leaf, out, kind, target, text) for leaf, kind in best.items())
    if include_filters:
        linked = {(e.source, e.target) for e in edges}
        for leaf, text in _filter_sources(root, glot_schema, dialect, target, lineage_mod, exp):
            for col in outputs:
                if (leaf, f"{target}.{col}") not in linked:  # one edge per pair: first clause names it
                    linked.add((leaf, f"{target}.{col}"))
                    edges.add(ColumnEdge(leaf, f"{target}.{col}", "filter", target, text))
    _log.debug("model %s: %d lineage edges", target, len(edges))
    return sorted(edges)


def pipeline_lineage(models: Mapping[str, str], *, schema: Schema | None = None, dialect: str = "duckdb",
                     include_filters: bool = True) -> list[ColumnEdge]:
    """Lineage of a multi-model pipeline: each model's output table is a source of the later ones.

    Args:
        models: ``{output table: SELECT}`` in run order (a model may read any earlier one).
        schema: ``{table: {column: type}}`` of the raw tables.
        dialect: sqlglot dialect of every model.
        include_filters: Also return ``filter`` edges.

    Returns:
        The edges of every model, in model order.

    Raises:
        InputError: Empty pipeline, or a model fails as in :func:`column_lineage` (named in the message).
    """
    if not models:
        raise InputError("pipeline has no models", fix="pass {'output_table': 'SELECT ...', ...} in run order")
    known: dict[str, dict[str, str]] = {k: dict(v) for k, v in (schema or {}).items()}
    edges: list[ColumnEdge] = []
    for name, sql in models.items():
        if name in (schema or {}):
            raise InputError(f"model {name!r} has the name of a raw table in schema=",
                             fix="give the model's output table a name of its own, e.g. stg_<table>")
        found = column_lineage(sql, target=name, dialect=dialect, schema=known if schema is not None else None,
                               include_filters=include_filters)
        # Types do not matter for lineage; the columns do (constant columns have no edge, so ask the query).
        known[name] = {col: "UNKNOWN" for col in _output_columns(sql, dialect, known, name)}
        edges.extend(found)
    return edges


def _output_columns(sql: str, dialect: str, schema: Mapping[str, Mapping[str, str]], model: str) -> list[str]:
    """Output column names, including constant columns that have no lineage edge."""
    _, exp, _, _ = _sqlglot()
    from sqlglot.optimizer.qualify import qualify

    query = qualify(_parse(sql, model, dialect), dialect=dialect, schema=dict(schema), identify=False,
                    validate_qualify_columns=False)
    return [name for name in query.named_selects if name and name != "*"]
