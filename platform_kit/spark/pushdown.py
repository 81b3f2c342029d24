"""Predicate pushdown and column pruning, read from physical plans and measured scans.

A Parquet scan is cheap when Spark can hand it two things: the columns the query needs
(*pruning*: the ``ReadSchema`` of the scan) and the predicates it can test against each row
group's min/max statistics (*pushdown*: ``PushedFilters``), so whole row groups are never
read. Both are decided by the optimizer from the query's shape: a comparison of a raw column
with a literal pushes; a function of the column (``date_format``, a cast to string), a
Python UDF or a filter above a non-deterministic column (``rand()``) does not, and the scan
reads everything and filters row by row.

This module measures it: :func:`measure_scan` runs an action on a DataFrame under
:func:`platform_kit.spark.measure` (stage input bytes and records from the status API), then
reads that same DataFrame's executed plan (:func:`scan_nodes`: pushed/data filters, read
columns, and the scan's SQL metrics: files read, size of files read, rows output).
:func:`row_groups` / :func:`footprint` give, from the Parquet footers, what a scan must read
at least, and :func:`run_day_variants` measures the lab's six ways of asking for one day.

Measuring bytes: Spark 4's Parquet reader uses Hadoop *vectored* reads, which the task's
input-bytes metric does not see (it then counts little more than the footers), so
:func:`exact_input_bytes` turns them off while measuring. On a local disk Hadoop reads
through a 64 KB buffer, so at tiny scale each row group touched costs about one buffer
whatever its columns weigh: the footers' numbers are the floor, the measured ones what the
disk delivered.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._apis_workers import use_this_python
from platform_kit.spark._plan_tree import override_conf
from platform_kit.spark._pushdown_footer import Footprint, footprint, row_groups
from platform_kit.spark._pushdown_jobs import DayVariant, day_bounds, day_variants, fast_day_summary, slow_day_summary
from platform_kit.spark._pushdown_plan import ScanInfo, executed_plan, parse_file_scans, plan_node_names, scan_nodes

_log = logging.getLogger(__name__)

__all__ = [
    "EXACT_BYTES_CONF",
    "DayVariant",
    "Footprint",
    "ScanInfo",
    "ScanReport",
    "compare_scans",
    "day_bounds",
    "day_variants",
    "exact_input_bytes",
    "executed_plan",
    "fast_day_summary",
    "footprint",
    "measure_scan",
    "parse_file_scans",
    "plan_node_names",
    "plot_scans",
    "row_groups",
    "run_day_variants",
    "scan_nodes",
    "slow_day_summary",
]

#: Runtime settings under which a scan's input bytes are what it read (copied into the Hadoop conf).
EXACT_BYTES_CONF = {"parquet.hadoop.vectored.io.enabled": "false"}
_ACTIONS = ("collect", "toPandas")


@contextmanager
def exact_input_bytes(spark: Any) -> Iterator[None]:
    """Within the block, Parquet reads are synchronous, so stage input bytes count them all.

    The runtime settings are restored (or unset) on exit. Run the query *and* its action
    inside the block: the reader's settings are fixed when the plan first executes.
    """
    with override_conf(spark, EXACT_BYTES_CONF):
        yield


@dataclass(frozen=True)
class ScanReport:
    """One measured query: what its scans read (plan + SQL metrics) and what its stages report.

    Attributes:
        label: Name in tables and plots.
        wall_s: Wall time of the action.
        input_bytes: Bytes the stages read from files (status API; 0 when not measured).
        input_records: Records the stages read.
        result_rows: Rows the action returned.
        scans: The file scans of the executed plan, with their metrics.
        bytes_measured: False when the status API gave no stages (no UI): ``input_bytes`` is unknown.
        nodes: Node names of the executed plan, parents first (``Scan parquet`` last).
        plan_text: The executed plan as Spark prints it (values abbreviated after 100 characters).
    """

    label: str
    wall_s: float
    input_bytes: int
    input_records: int
    result_rows: int
    scans: tuple[ScanInfo, ...]
    bytes_measured: bool = True
    nodes: tuple[str, ...] = ()
    plan_text: str = ""

    def _metric(self, name: str) -> int:
        return int(sum(scan.metrics.get(name, 0.0) for scan in self.scans))

    @property
    def rows_scanned(self) -> int:
        """Rows the scans handed on ("number of output rows"): whole row groups that were not skipped."""
        return self._metric("rows_scanned")

    @property
    def files_read(self) -> int:
        """Files the scans opened ("number of files read": row-group skipping happens inside files)."""
        return self._metric("files_read")

    @property
    def file_bytes(self) -> int:
        """Size of the files read ("size of files read"): whole files, not the bytes fetched."""
        return self._metric("file_bytes")

    def pushes_on(self, column: str) -> bool:
        """True when a predicate on ``column`` reached a reader."""
        return any(scan.pushes_on(column) for scan in self.scans)

    def row(self) -> dict[str, Any]:
        """A flat row for tables."""
        scan = self.scans[0] if self.scans else None
        return {"label": self.label, "wall_s": round(self.wall_s, 3), "input_bytes": self.input_bytes,
                "input_records": self.input_records, "rows_scanned": self.rows_scanned,
                "files_read": self.files_read, "file_bytes": self.file_bytes, "result_rows": self.result_rows,
                "columns_read": len(scan.columns) if scan else 0,
                "pushed": "; ".join(scan.pushes) if scan else "",
                "not_pushed": "; ".join(scan.blocked) if scan else ""}


def measure_scan(spark: Any, df: Any, label: str = "", *, action: str = "collect", exact_bytes: bool = True) -> ScanReport:
    """Run ``action`` on ``df`` (measured) and read its scans' plan and SQL metrics.

    Args:
        spark: The session ``df`` belongs to (its UI feeds the stage metrics).
        df: A DataFrame that has not run yet (metrics of an earlier run would be mixed in).
        label: Name in tables and plots.
        action: ``collect`` or ``toPandas``.
        exact_bytes: Measure inside :func:`exact_input_bytes`.

    Raises:
        InputError: Unknown action, or ``df`` is not a DataFrame.
    """
    from platform_kit.spark.monitor import measure

    if action not in _ACTIONS:
        raise InputError(f"action must be one of {_ACTIONS}, got {action!r}", fix="use 'collect' or 'toPandas'")
    if not hasattr(df, "_jdf") or not hasattr(df, action):
        raise InputError(f"expected a pyspark DataFrame, got {type(df).__name__}", fix="pass the DataFrame itself")
    run = getattr(df, action)
    if exact_bytes:
        with exact_input_bytes(spark):
            metrics = measure(spark, run, label)
    else:
        metrics = measure(spark, run, label)
    result = metrics.result
    return ScanReport(label, metrics.wall_s, int(metrics.total("input_bytes")), int(metrics.total("input_records")),
                      len(result), tuple(scan_nodes(df)), bytes_measured=bool(metrics.stages),
                      nodes=tuple(plan_node_names(df)), plan_text=str(executed_plan(df).toString()))


def compare_scans(reports: Sequence[ScanReport], baseline: str | None = None) -> pd.DataFrame:
    """A table of reports with bytes, rows and time relative to ``baseline`` (default: the first).

    Raises:
        InputError: No reports, or ``baseline`` is not one of their labels.
    """
    if not reports:
        raise InputError("no scan reports to compare", fix="pass the ScanReports of measure_scan")
    frame = pd.DataFrame([r.row() for r in reports])
    base_label = reports[0].label if baseline is None else baseline
    if base_label not in set(frame["label"]):
        raise InputError(f"baseline {base_label!r} is not a report label; have {list(frame['label'])}",
                         fix="name one of the measured labels")
    base = frame[frame["label"] == base_label].iloc[0]
    for column, ratio in (("input_bytes", "bytes_vs_base"), ("rows_scanned", "rows_vs_base"), ("wall_s", "time_vs_base")):
        frame[ratio] = (frame[column] / base[column]).round(3) if base[column] else float("nan")
    return frame


def run_day_variants(spark: Any, path: str, day: str, *, labels: Sequence[str] | None = None,
                     column: str = "event_ts") -> tuple[pd.DataFrame, dict[str, ScanReport]]:
    """Measure :func:`day_variants` on the clickstream at ``path``: the lab's demo in one call.

    Returns:
        (table, reports): :func:`compare_scans` of the variants against the first one, with
        ``pushes`` (a predicate on ``column`` reached the reader, from the plan), ``expected``
        (what the variant is meant to show) and ``needed_bytes`` / ``row_groups_read`` from the
        footers; and the reports by label.
    """
    use_this_python(spark)
    variants = [v for v in day_variants(day) if labels is None or v.label in labels]
    groups = row_groups(path, column)
    low, high = day_bounds(day)
    reports: dict[str, ScanReport] = {}
    for variant in variants:
        df = variant.build(spark.read.parquet(path))
        action = "toPandas" if variant.label.endswith("select *") else "collect"
        reports[variant.label] = measure_scan(spark, df, variant.label, action=action)
    table = compare_scans(list(reports.values()))
    table["expected"] = ["pushes" if v.pushes else "blocked" for v in variants]
    table["pushes"] = [reports[v.label].pushes_on(column) for v in variants]
    table["expression"] = [v.expression for v in variants]
    rows_per_group = max(1, int(groups["rows"].mean()))
    table["row_groups_read"] = (table["rows_scanned"] / rows_per_group).round().astype(int)
    needed = []
    for v in variants:
        cols = reports[v.label].scans[0].columns if reports[v.label].scans else None
        bounds = (low, high) if reports[v.label].pushes_on(column) else (None, None)
        needed.append(footprint(groups, cols, low=bounds[0], high=bounds[1]).bytes)
    table["needed_bytes"] = needed
    return table, reports


def plot_scans(table: pd.DataFrame, *, groups: pd.DataFrame | None = None, window: tuple[str, str] | None = None) -> Any:
    """Bars of measured input bytes (with the footers' floor) and rows scanned per variant.

    Args:
        table: :func:`run_day_variants` / :func:`compare_scans` output (``pushes`` colours bars).
        groups: :func:`row_groups` output with min/max: adds a panel of row-group time ranges.
        window: The queried ``(low, high)``, shaded on that panel.

    Returns:
        The matplotlib axes.
    """
    import matplotlib.pyplot as plt

    panels = 3 if groups is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.6))
    labels = list(table["label"])
    colours = ["tab:green" if p else "tab:red" for p in table.get("pushes", [True] * len(table))]
    y = range(len(labels))
    axes[0].barh(y, table["input_bytes"] / 1e3, color=colours)
    if "needed_bytes" in table:
        axes[0].scatter(table["needed_bytes"] / 1e3, y, marker="|", s=300, color="black", label="footers: needed")
        axes[0].legend(loc="lower right", fontsize=8)
    axes[0].set(yticks=list(y), yticklabels=labels, xlabel="input bytes read (KB, measured)")
    axes[0].invert_yaxis()
    axes[1].barh(y, table["rows_scanned"] / 1e3, color=colours)
    axes[1].set(yticks=list(y), yticklabels=[], xlabel="rows scanned (thousands)")
    axes[1].invert_yaxis()
    axes[1].set_title("green: predicate pushed, red: not", fontsize=9)
    if groups is not None:
        ax = axes[2]
        for index, row in groups.reset_index(drop=True).iterrows():
            ax.plot([row["min"], row["max"]], [index, index], color="tab:blue", lw=3)
        if window is not None:
            ax.axvspan(pd.Timestamp(window[0], tz="UTC"), pd.Timestamp(window[1], tz="UTC"), color="orange", alpha=0.3)
        ax.set(xlabel="event_ts range per row group", ylabel="row group")
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.invert_yaxis()
    fig.tight_layout()
    return axes
