"""Reading file scans out of Spark physical plans: as text (``explain``) or as the live tree.

Two ways in, one result (:class:`ScanInfo`):

* :func:`parse_file_scans` parses the text of a physical plan (``df.explain()`` output or
  ``str(executedPlan)``): pure Python, used on plans saved as text and in tests. Spark
  abbreviates long values there (``spark.sql.maxMetadataStringLength``, 100 characters), so
  a value ending in ``...`` is marked ``truncated``.
* :func:`scan_nodes` walks ``df._jdf.queryExecution().executedPlan()`` through py4j, through
  adaptive (AQE) plans and their query stages, and reads each ``FileSourceScanExec``'s
  untruncated metadata, the columns it reads and its SQL metrics. Metrics are filled in only
  once the *same* DataFrame ran an action (``collect``/``toPandas``): ``count()`` plans a new
  query whose metrics are not this one's.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from platform_kit.errors import InputError
from platform_kit.spark import _plan_tree as plan_tree

__all__ = ["ScanInfo", "parse_file_scans", "plan_node_names", "scan_nodes", "split_top_level", "walk_plan"]

#: SQL metric names of a file scan, renamed for tables.
METRIC_NAMES = {"numFiles": "files_read", "filesSize": "file_bytes", "numOutputRows": "rows_scanned",
                "scanTime": "scan_time_ms", "metadataTime": "metadata_time_ms", "numPartitions": "partitions_read",
                "pruningTime": "pruning_time_ms"}
_KEYS = ("Batched", "DataFilters", "Format", "Location", "PartitionFilters", "PushedFilters", "ReadSchema")
_SCAN_LINE = re.compile(r"(?:FileScan|Scan) (\w+) ?(?:\S+ )?\[([^\]]*)\] (.*)$")


@dataclass(frozen=True)
class ScanInfo:
    """One file scan of a physical plan.

    Attributes:
        format: ``parquet``, ``orc``, ``csv``...
        location: The files or folder it lists.
        columns: Columns it reads (the ``ReadSchema``: column pruning shows here).
        pushed_filters: Filters handed to the reader (``PushedFilters``): Parquet can skip row
            groups with them, using each row group's min/max statistics and dictionaries.
        data_filters: Every filter on data columns Spark knows about (``DataFilters``), pushed or not.
        partition_filters: Filters on partition columns (prune whole folders).
        metrics: SQL metrics by :data:`METRIC_NAMES` name (empty before the plan ran).
        truncated: Some value was abbreviated by Spark in the plan text.
    """

    format: str
    location: str
    columns: tuple[str, ...]
    pushed_filters: tuple[str, ...]
    data_filters: tuple[str, ...]
    partition_filters: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    truncated: bool = False

    @property
    def pushes(self) -> tuple[str, ...]:
        """Pushed filters that can skip data (``IsNotNull`` alone skips nothing in practice)."""
        return tuple(f for f in self.pushed_filters if not f.startswith("IsNotNull("))

    @property
    def blocked(self) -> tuple[str, ...]:
        """Data filters left for Spark to evaluate row by row after the scan (not pushed)."""
        return tuple(f for f in self.data_filters if not f.startswith("isnotnull(") and not _pushed_form(f, self))

    def pushes_on(self, column: str) -> bool:
        """True when a filter on ``column`` (other than ``IsNotNull``) reached the reader."""
        pattern = re.compile(rf"\(\s*`?{re.escape(column)}`?\s*[,)]")
        return any(pattern.search(f) for f in self.pushes)


def _pushed_form(data_filter: str, info: ScanInfo) -> bool:
    # A data filter such as "(event_ts#6 >= 2024-12-01 00:00:00)" was pushed when a pushed filter
    # names the same column with a comparison: compare on the column name only (the reliable part).
    match = re.match(r"\(?([A-Za-z_][\w.]*)#\d+L? ", data_filter)
    return bool(match) and info.pushes_on(match.group(1))


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep`` outside (), [] and <> brackets; items are stripped."""
    depth, items, current = 0, [], []
    for char in text:
        if char in "([<":
            depth += 1
        elif char in ")]>":
            depth = max(0, depth - 1)
        if char == sep and depth == 0:
            items.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    tail = "".join(current).strip()
    if tail:
        items.append(tail)
    return items


def _list_value(value: str) -> tuple[tuple[str, ...], bool]:
    value = value.strip()
    truncated = value.endswith("...")
    if value.startswith("["):
        inner = value[1:-1] if value.endswith("]") else value[1:].removesuffix("...")
        return tuple(split_top_level(inner)), truncated
    return ((value,) if value else ()), truncated


def _schema_columns(schema: str) -> tuple[tuple[str, ...], bool]:
    truncated = schema.endswith("...")
    body = schema.strip().removesuffix("...")
    if body.startswith("struct<"):
        body = body[len("struct<"):]
        body = body[:-1] if body.endswith(">") and not truncated else body
    names = [item.split(":", 1)[0].strip("` ") for item in split_top_level(body)]
    return tuple(n for n in names if n), truncated


def _key_values(rest: str) -> dict[str, str]:
    """``Batched: true, DataFilters: [...], Format: Parquet, ...`` into a dict (bracket-aware)."""
    positions = [(m.start(), m.group(1)) for m in re.finditer(r"(?:^|, )(" + "|".join(_KEYS) + r"): ", rest)]
    out: dict[str, str] = {}
    for index, (start, key) in enumerate(positions):
        begin = rest.index(": ", start) + 2
        end = positions[index + 1][0] if index + 1 < len(positions) else len(rest)
        out[key] = rest[begin:end].strip()
    return out


def parse_file_scans(plan_text: str) -> list[ScanInfo]:
    """Every file scan (``FileScan parquet [...] ...`` line) of a physical plan's text.

    Args:
        plan_text: ``df.explain()`` output (simple or extended) or ``executedPlan().toString()``.

    Returns:
        One :class:`ScanInfo` per scan line, in plan order (no metrics: text plans carry none).

    Raises:
        InputError: ``plan_text`` is not a string.
    """
    if not isinstance(plan_text, str):
        raise InputError(f"expected the text of a physical plan, got {type(plan_text).__name__}",
                         fix="pass df._jdf.queryExecution().executedPlan().toString() or captured explain() output")
    if "== Physical Plan ==" in plan_text:
        plan_text = plan_text.split("== Physical Plan ==", 1)[1]
    scans = []
    for line in plan_text.splitlines():
        body = line.lstrip(" +-:*()0123456789")
        if not body.startswith("FileScan "):
            continue
        match = _SCAN_LINE.match(body)
        if match is None:
            continue
        fields = _key_values(match.group(3))
        pushed, t1 = _list_value(fields.get("PushedFilters", "[]"))
        data, t2 = _list_value(fields.get("DataFilters", "[]"))
        partition, t3 = _list_value(fields.get("PartitionFilters", "[]"))
        columns, t4 = _schema_columns(fields.get("ReadSchema", ""))
        location = fields.get("Location", "")
        scans.append(ScanInfo(match.group(1).lower(), location, columns, pushed, data, partition,
                              truncated=any((t1, t2, t3, t4)) or location.endswith("...")))
    return scans


# --- the live tree, through py4j -------------------------------------------------------------


def walk_plan(plan: Any) -> Iterator[Any]:
    """Every node of a physical plan (a py4j ``SparkPlan``), parents first, through AQE stages and
    scalar subqueries (a reused exchange is not entered: its scans are met where it was built)."""
    return (node for _, node in plan_tree.walk_plan(plan, subqueries=True))


#: The py4j executed plan of a DataFrame (``df._jdf.queryExecution().executedPlan()``).
executed_plan = plan_tree.jvm_plan


def plan_node_names(df: Any) -> list[str]:
    """Node names of a DataFrame's executed plan (``Filter``, ``Scan parquet``, ``BatchEvalPython``...)."""
    return [str(node.nodeName()).strip() for node in walk_plan(executed_plan(df))]


def _metrics(node: Any) -> dict[str, float]:
    out = {}
    for pair in plan_tree.scala_items(node.metrics()):
        out[METRIC_NAMES.get(pair._1(), pair._1())] = float(pair._2().value())
    return out


def _metadata(node: Any) -> dict[str, str]:
    return {pair._1(): pair._2() for pair in plan_tree.scala_items(node.metadata())}


def scan_nodes(df: Any) -> list[ScanInfo]:
    """The file scans of ``df``'s executed plan, with untruncated filters and their SQL metrics.

    Run an action on the *same* DataFrame first (``df.collect()``), or the metrics are zero.
    """
    scans = []
    for node in walk_plan(executed_plan(df)):
        if node.getClass().getSimpleName() != "FileSourceScanExec":
            continue
        meta = _metadata(node)
        pushed, _ = _list_value(meta.get("PushedFilters", "[]"))
        data, _ = _list_value(meta.get("DataFilters", "[]"))
        partition, _ = _list_value(meta.get("PartitionFilters", "[]"))
        columns = tuple(str(n) for n in node.requiredSchema().fieldNames())
        scans.append(ScanInfo(str(meta.get("Format", "")).lower(), str(meta.get("Location", "")), columns,
                              pushed, data, partition, _metrics(node)))
    return scans
