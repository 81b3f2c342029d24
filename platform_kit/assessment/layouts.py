"""Partitioning and bucketing, measured: what each layout makes Spark scan, for each query pattern.

The same events are written with several layouts (:data:`DEFAULT_LAYOUTS`): one plain
folder, partitioned by date, by date and region, bucketed by customer, and an
over-partitioned one that shows the small-file penalty. Each query pattern
(:data:`QUERIES`) then runs on each layout, and the executed plan says how many files and
bytes the scan opened, how many partitions it kept (``PartitionFilters``), and whether the
join needed a shuffle (an ``Exchange`` below the join)::

    frame = prepare_layout_frame(company["clickstream"], company["customers"])
    written = write_layouts(pk.spark, frame, root, DEFAULT_LAYOUTS, dimension=customers)
    scans = measure_layouts(pk.spark, written, pick_query_params(frame))
    choose_layout(scans, {"point_lookup": 0.7, "one_day": 0.3})

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from platform_kit.assessment._layouts_choice import (
    acceptable_layouts,
    choose_layout,
    validate_mix,
    weighted_bytes,
)
from platform_kit.assessment._layouts_plan import (
    PlanMetrics,
    ScanMetrics,
    bucket_id_of,
    measure_query,
    plan_metrics,
    scan_bytes,
)
from platform_kit.assessment._layouts_write import LayoutSpec, list_data_files, local_path, write_layouts
from platform_kit.errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_LAYOUTS",
    "QUERIES",
    "LayoutSpec",
    "PlanMetrics",
    "QueryParams",
    "ScanMetrics",
    "acceptable_layouts",
    "choose_layout",
    "measure_layouts",
    "pick_query_params",
    "plan_metrics",
    "plot_layouts",
    "prepare_layout_frame",
    "validate_mix",
    "weighted_bytes",
    "write_layouts",
]

#: The layouts of the lab, from no layout to too much of one.
DEFAULT_LAYOUTS: tuple[LayoutSpec, ...] = (
    LayoutSpec(name="none"),
    LayoutSpec(name="by_date", partition_by=("event_date",)),
    LayoutSpec(name="by_date_region", partition_by=("event_date", "region")),
    LayoutSpec(name="bucketed_customer", bucket_by="customer_id", buckets=8),
    LayoutSpec(name="over_partitioned", partition_by=("event_date", "event_hour")),
)

#: Query patterns: name -> Spark SQL with ``{src}``, ``{dim}`` and the parameters of :class:`QueryParams`.
QUERIES: dict[str, str] = {
    "point_lookup": "SELECT * FROM {src} WHERE customer_id = {customer_id}",
    "one_day": "SELECT event_type, count(*) AS n FROM {src} WHERE event_date = DATE'{day}' GROUP BY event_type",
    "day_region": "SELECT event_type, count(*) AS n FROM {src} "
                  "WHERE event_date = DATE'{day}' AND region = '{region}' GROUP BY event_type",
    "full_aggregation": "SELECT region, event_type, count(*) AS n FROM {src} GROUP BY region, event_type",
    "join_customers": "SELECT d.segment, count(*) AS n FROM {src} e JOIN {dim} d "
                      "ON e.customer_id = d.customer_id GROUP BY d.segment",
}


class QueryParams(BaseModel):
    """Literals of the query patterns (validated: they are pasted into SQL)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer_id: int = Field(ge=0)
    day: dt.date
    region: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")


def prepare_layout_frame(clickstream: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Clickstream events with the customer's ``region`` (``anonymous`` without a customer),
    ``event_date`` (a date) and ``event_hour`` (0-23) columns.

    Raises:
        ConfigError: A required column is missing.

    Introduced in: Lab 1 (assessment).
    """
    for name, frame, needed in (("clickstream", clickstream, ("customer_id", "event_ts")),
                                ("customers", customers, ("customer_id", "region"))):
        missing = [c for c in needed if not isinstance(frame, pd.DataFrame) or c not in frame.columns]
        if missing:
            raise ConfigError(f"{name} lacks column(s) {missing}", fix=f"pass company[{name!r}]")
    regions = customers.drop_duplicates("customer_id").set_index("customer_id")["region"]
    out = clickstream.copy()
    out["region"] = out["customer_id"].map(regions).astype(object).where(out["customer_id"].notna(), None)
    out["region"] = out["region"].fillna("anonymous").astype(str)
    out["event_date"] = out["event_ts"].dt.date
    out["event_hour"] = out["event_ts"].dt.hour.astype("int32")
    return out.reset_index(drop=True)


def pick_query_params(frame: pd.DataFrame) -> QueryParams:
    """The busiest identified customer, the busiest day, and that day's busiest named region.

    Introduced in: Lab 1 (assessment).
    """
    known = frame[frame["customer_id"].notna()]
    if known.empty:
        raise ConfigError("no event has a customer_id", fix="use clickstream rows of signed-in customers")
    counts = known["customer_id"].value_counts()
    customer = int(min(counts[counts == counts.max()].index))
    day_counts = frame["event_date"].value_counts()
    day = min(day_counts[day_counts == day_counts.max()].index)
    regions = frame.loc[(frame["event_date"] == day) & (frame["region"] != "anonymous"), "region"].value_counts()
    region = str(min(regions[regions == regions.max()].index)) if len(regions) else "anonymous"
    return QueryParams(customer_id=customer, day=day, region=region)


def _fact_scans(metrics: PlanMetrics, location: str) -> list[ScanMetrics]:
    target = Path(location).resolve()
    found = []
    for scan in metrics.scans:
        root = local_path(scan.root).resolve()
        if root == target or target in root.parents:
            found.append(scan)
    return found


def _open_views(spark: Any, layout: Any) -> tuple[str, str, float]:
    """Register the layout (and its dimension) as temp views; seconds spent listing files."""
    import time

    began = time.perf_counter()
    view = f"lab01_layout_{layout.layout}"
    fact = spark.table(layout.table) if layout.table else spark.read.parquet(layout.location)
    fact.createOrReplaceTempView(view)
    seconds = time.perf_counter() - began
    dim = ""
    if layout.dimension_table or layout.dimension_location:
        dim = f"{view}_dim"
        source = spark.table(layout.dimension_table) if layout.dimension_table \
            else spark.read.parquet(layout.dimension_location)
        source.createOrReplaceTempView(dim)
    return view, dim, seconds


def _row(layout: Any, name: str, files: list[Path], metrics: PlanMetrics, times: list[float],
         rows_out: int, open_s: float) -> dict[str, Any]:
    import statistics

    facts = _fact_scans(metrics, layout.location)
    pruned = [s for s in facts if s.bucket_ids is not None]
    chosen = {b for s in pruned for b in (s.bucket_ids or ())}
    partitioned = bool(layout.partition_by)
    return {
        "layout": layout.layout, "query": name,
        "files_read": sum(sum(1 for f in files if bucket_id_of(f) in chosen) if s.bucket_ids is not None
                          else s.files for s in facts),
        "bytes_scanned": sum(scan_bytes(s, files) for s in facts),
        "rows_scanned": sum(s.rows for s in facts),
        "partitions_read": sum(s.partitions_read or 0 for s in facts) if partitioned else None,
        "partitions_total": int(layout.partitions) if partitioned else None,
        "partition_filters": " | ".join(s.partition_filters for s in facts if s.partition_filters),
        "buckets_read": len(chosen) if pruned else None,
        "join_shuffles": metrics.join_exchanges, "shuffles": metrics.exchanges,
        "seconds": statistics.median(times), "open_s": open_s, "rows_out": rows_out,
    }


def measure_layouts(spark: Any, written: pd.DataFrame, params: QueryParams, *,
                    queries: dict[str, str] | None = None, repeats: int = 1) -> pd.DataFrame:
    """Run every query on every written layout; what the scans of the layout's data did.

    Each layout is opened once (``spark.read.parquet`` lists its files, or the bucketed
    table), timed as ``open_s``, and registered as a temp view the queries read. Joins run
    with broadcast joins off (``spark.sql.autoBroadcastJoinThreshold=-1``), as for a
    dimension too big to broadcast, so the plan shows whether the layout spares the
    shuffle; the session's settings are restored afterwards.

    Args:
        spark: The SparkSession.
        written: :func:`write_layouts` output.
        params: Literals of the queries.
        queries: Name -> SQL with ``{src}``/``{dim}`` (default :data:`QUERIES`).
        repeats: Runs per (layout, query); the median time is reported.

    Returns:
        One row per (layout, query): ``files_read``, ``bytes_scanned`` (bytes of the files the
        scan opened after partition and bucket pruning), ``rows_scanned`` (rows the scan
        produced), ``partitions_read``/``partitions_total``, ``partition_filters``,
        ``buckets_read``, ``join_shuffles`` (exchanges below the join), ``shuffles``,
        ``seconds`` (median query time), ``open_s`` (listing the layout), ``rows_out``.

    Raises:
        ConfigError: No queries, bad repeats, or a join without a written dimension.

    Introduced in: Lab 1 (assessment).
    """
    queries = dict(QUERIES if queries is None else queries)
    if not queries or isinstance(repeats, bool) or not isinstance(repeats, int) or not 1 <= repeats <= 20:
        raise ConfigError(f"need at least one query and repeats in 1..20 (got {len(queries)}, {repeats!r})",
                          fix="leave the defaults")
    literals = {"customer_id": params.customer_id, "day": params.day.isoformat(), "region": params.region}
    saved = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    rows = []
    try:
        for layout in written.itertuples(index=False):
            files = list_data_files(Path(layout.location))
            view, dim, open_s = _open_views(spark, layout)
            for name, template in queries.items():
                if "{dim}" in template and not dim:
                    raise ConfigError(f"query {name!r} joins a dimension, but none was written",
                                      fix="pass dimension=customers to write_layouts()")
                spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1" if "{dim}" in template else saved)
                times: list[float] = []
                for _ in range(repeats):
                    result, seconds, metrics = measure_query(spark.sql(template.format(src=view, dim=dim,
                                                                                        **literals)))
                    times.append(seconds)
                rows.append(_row(layout, name, files, metrics, times, len(result), open_s))
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", saved)
    out = pd.DataFrame(rows)
    for column in ("partitions_read", "partitions_total", "buckets_read"):
        out[column] = out[column].astype("Int64")
    return out


def plot_layouts(scans: pd.DataFrame, written: pd.DataFrame | None = None) -> Any:
    """Grouped bars: bytes scanned per query for each layout (and files per layout when given).

    Returns:
        The matplotlib Figure.

    Introduced in: Lab 1 (assessment).
    """
    import matplotlib.pyplot as plt

    order = list(dict.fromkeys(scans["layout"]))
    pivot = scans.pivot(index="query", columns="layout", values="bytes_scanned").astype(float) / 1024
    pivot = pivot.loc[list(dict.fromkeys(scans["query"])), order]
    panels = 2 if written is not None else 1
    figure, axes = plt.subplots(1, panels, figsize=(14 if panels == 2 else 10, 3.8),
                                gridspec_kw={"width_ratios": [3, 1]} if panels == 2 else None, squeeze=False)
    pivot.plot.bar(ax=axes[0][0], rot=0)
    axes[0][0].set_ylabel("KiB scanned")
    axes[0][0].set_title("Bytes Spark opened per query and layout (lower is better)")
    if written is not None:
        files = written.set_index("layout").loc[order, "files"]
        files.plot.barh(ax=axes[0][1], color=[f"C{i}" for i in range(len(order))])
        axes[0][1].set_xscale("log")
        axes[0][1].set_title("data files per layout (log)")
        axes[0][1].set_ylabel("")
    figure.tight_layout()
    return figure
