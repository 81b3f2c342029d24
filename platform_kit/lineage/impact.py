"""Run a pipeline's SQL on DuckDB and test its lineage by shuffling one raw field at a time.

Static lineage says which features *can* change when a raw field changes; running the SQL
says which ones *do*. :func:`perturbation_impact` shuffles one raw column (a seeded
permutation keeps its values, type and nulls and breaks only which row holds which value),
reruns the pipeline and compares the feature table with the unshuffled one::

    tables = run_pipeline(PIPELINE, {t: company[t] for t in SCHEMA})   # {model: DataFrame}
    impact = perturbation_impact(graph, PIPELINE, frames, feature_table="customer_features",
                                 key="customer_id")
    impact["unexplained"]    # features that changed but lineage (with filters) did not predict: empty

A feature that changed must be downstream of the field once filter edges count (a shuffled
WHERE or JOIN column changes which rows a feature sums). The converse does not hold: a
permutation leaves per-key counts and global totals unchanged, so a feature predicted by
value lineage may not move (``not_changed``). Lineage is the sound over-approximation;
the shuffle confirms it on real data.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError

_log = logging.getLogger(__name__)

__all__ = ["IMPACT_COLUMNS", "changed_columns", "perturbation_impact", "plot_impact", "run_pipeline"]

IMPACT_COLUMNS = ["field", "changed", "value_lineage", "filter_lineage", "unexplained", "not_changed"]


def run_pipeline(models: Mapping[str, str], frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Run the models' SQL on an in-memory DuckDB over pandas frames, in order.

    Args:
        models: ``{output table: SELECT}`` in run order (DuckDB SQL), as for
            :func:`~platform_kit.lineage.sql.pipeline_lineage`.
        frames: ``{raw table: DataFrame}`` the models read.

    Returns:
        ``{model: its output as a DataFrame}``.

    Raises:
        InputError: No models, a frame is not a DataFrame, or DuckDB rejects a model (named).
    """
    duckdb = require("duckdb")
    if not models:
        raise InputError("pipeline has no models", fix="pass {'output_table': 'SELECT ...', ...} in run order")
    con = duckdb.connect()
    out: dict[str, pd.DataFrame] = {}
    try:
        for name, frame in frames.items():
            if not isinstance(frame, pd.DataFrame):
                raise InputError(f"frames[{name!r}] is a {type(frame).__name__}, not a DataFrame",
                                 fix="pass {table: pandas DataFrame}")
            con.register(name, frame)
        for name, sql in models.items():
            try:
                con.execute(f'CREATE TABLE "{name}" AS {sql}')
                out[name] = con.execute(f'SELECT * FROM "{name}"').df()
            except duckdb.Error as exc:
                first = str(exc).splitlines()[0]
                raise InputError(f"model {name!r} failed on DuckDB: {first}",
                                 fix="check the SQL against the frames' columns (and the run order)") from None
    finally:
        con.close()
    return out


def changed_columns(before: pd.DataFrame, after: pd.DataFrame, key: str, *, rtol: float = 1e-9) -> list[str]:
    """Columns whose values differ between two versions of a table, rows matched on ``key``.

    Nulls equal nulls; floats compare with relative tolerance ``rtol``. When the key sets
    differ every column counts as changed.

    Raises:
        InputError: ``key`` is missing from either frame or not unique.
    """
    for label, frame in (("before", before), ("after", after)):
        if key not in frame:
            raise InputError(f"{label} has no key column {key!r}", fix="pass the feature table's key column")
        if frame[key].duplicated().any():
            raise InputError(f"{label}[{key!r}] is not unique", fix="pass a key that identifies one row")
    left = before.set_index(key).sort_index()
    right = after.set_index(key).sort_index()
    if not left.index.equals(right.index):
        return sorted(set(left.columns) | set(right.columns))
    changed = []
    for column in left.columns:
        if column not in right:
            changed.append(column)
            continue
        a, b = left[column], right[column]
        nulls = a.isna().to_numpy() & b.isna().to_numpy()
        if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
            same = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=rtol, atol=0.0) | nulls
        else:
            same = a.eq(b).astype("boolean").fillna(False).to_numpy(dtype=bool) | nulls
        if not bool(np.all(same)):
            changed.append(column)
    return changed


def perturbation_impact(graph: Any, models: Mapping[str, str], frames: Mapping[str, pd.DataFrame], *,
                        feature_table: str, key: str, fields: Iterable[str] | None = None,
                        seed: int = 0) -> pd.DataFrame:
    """Shuffle each raw field, rerun the pipeline, and compare the features that moved with the lineage.

    Args:
        graph: A :class:`~platform_kit.lineage.graph.LineageGraph` of ``models``.
        models: The pipeline's SQL, as for :func:`run_pipeline`.
        frames: The raw tables.
        feature_table: The model whose columns are the features.
        key: Its key column (rows are matched on it).
        fields: ``table.column`` to shuffle; default every graph node whose table is in ``frames``.
        seed: Seed of the permutations.

    Returns:
        One row per field with :data:`IMPACT_COLUMNS`: the features that ``changed``, those
        predicted by ``value_lineage`` and those reached only through filter edges
        (``filter_lineage``), ``unexplained`` (changed but not predicted at all; empty when the
        lineage is sound) and ``not_changed`` (predicted by value lineage, unmoved by the
        shuffle), each a sorted tuple of column names.

    Raises:
        InputError: ``feature_table`` is not a model, a field's table is not in ``frames`` or has no
            such column, or a run fails.
    """
    if feature_table not in models:
        raise InputError(f"feature_table {feature_table!r} is not one of the models {list(models)}",
                         fix="name the model whose columns are the features")
    chosen = sorted(fields) if fields is not None else sorted(n for n in graph.nodes if n.rsplit(".", 1)[0] in frames)
    base = run_pipeline(models, frames)[feature_table]
    rows = []
    for field in chosen:
        table, _, column = field.rpartition(".")
        if table not in frames or column not in frames[table]:
            raise InputError(f"cannot shuffle {field!r}: no such column in the frames",
                             fix="pass fields as table.column of the raw frames")
        shuffled = frames[table].copy()
        order = np.random.default_rng([seed, len(rows)]).permutation(len(shuffled))
        shuffled[column] = shuffled[column].to_numpy()[order]
        after = run_pipeline(models, {**frames, table: shuffled})[feature_table]
        changed = set(changed_columns(base, after, key))
        value = _columns_of(graph.downstream(field), feature_table)
        reach = _columns_of(graph.downstream(field, include_filters=True), feature_table)
        rows.append({"field": field, "changed": tuple(sorted(changed)), "value_lineage": tuple(sorted(value)),
                     "filter_lineage": tuple(sorted(reach - value)), "unexplained": tuple(sorted(changed - reach)),
                     "not_changed": tuple(sorted(value - changed))})
    impact = pd.DataFrame(rows, columns=IMPACT_COLUMNS)
    bad = impact[impact["unexplained"].map(len) > 0]
    if len(bad):
        _log.warning("lineage missed dependencies: %s", dict(zip(bad["field"], bad["unexplained"], strict=True)))
    return impact


def _columns_of(nodes: Iterable[str], table: str) -> set[str]:
    return {node.rsplit(".", 1)[1] for node in nodes if node.rsplit(".", 1)[0] == table}


def plot_impact(impact: pd.DataFrame, ax: Any = None) -> Any:
    """Raw fields x features: lineage as colour (value, filter only, none), a dot where the shuffle changed it.

    Args:
        impact: The frame of :func:`perturbation_impact`.
        ax: A matplotlib Axes (a new figure when ``None``).

    Returns:
        The Axes.

    Raises:
        InputError: ``impact`` lacks the columns of :data:`IMPACT_COLUMNS`.
    """
    missing = [c for c in IMPACT_COLUMNS if c not in getattr(impact, "columns", ())]
    if missing:
        raise InputError(f"not an impact table: missing columns {missing}", fix="pass perturbation_impact(...)")
    plt = require("matplotlib.pyplot")
    colors = require("matplotlib.colors")
    features = sorted({f for col in ("changed", "value_lineage", "filter_lineage") for t in impact[col] for f in t})
    grid = np.zeros((len(impact), len(features)))
    for i, row in enumerate(impact.itertuples()):
        for j, feature in enumerate(features):
            grid[i, j] = 2 if feature in row.value_lineage else 1 if feature in row.filter_lineage else 0
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * len(features) + 3, 0.4 * len(impact) + 1.6))
    cmap = colors.ListedColormap(["#f4f4f4", "#c6dbef", "#2171b5"])
    ax.imshow(grid, cmap=cmap, vmin=0, vmax=2, aspect="auto")
    for i, row in enumerate(impact.itertuples()):
        for j, feature in enumerate(features):
            if feature in row.changed:
                ax.plot(j, i, "o", color="#e6550d" if grid[i, j] == 0 else "white", ms=6, mec="black", mew=0.5)
    ax.set_xticks(range(len(features)), features, rotation=35, ha="right", fontsize=8)
    ax.set_yticks(range(len(impact)), list(impact["field"]), fontsize=8)
    for label, color in (("value lineage", "#2171b5"), ("filter/join only", "#c6dbef")):
        ax.plot([], [], "s", color=color, label=label)
    ax.plot([], [], "o", color="white", mec="black", label="changed when shuffled")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    ax.set_title("which features move when one raw field is shuffled")
    return ax
