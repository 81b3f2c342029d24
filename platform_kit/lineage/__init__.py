"""Column-level lineage from SQL to model features.

Parse a pipeline's SQL with sqlglot into column edges (raw field -> staged column ->
feature, each with its transform kind), merge Lab 1's OpenLineage events, draw the graph,
and answer the two questions a feature owner asks::

    from platform_kit.lineage import LineageGraph, pipeline_lineage
    from platform_kit.lineage.examples import PIPELINE, SCHEMA

    graph = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA))
    graph.upstream("customer_features.avg_order_value")  # where does feature Y come from
    graph.downstream("orders.status")                     # which features depend on raw field X

:mod:`~platform_kit.lineage.impact` runs the same SQL on DuckDB and shuffles raw fields to
confirm the lineage on real data.

Introduced in: Lab 4 (data quality).
"""

from platform_kit.lineage import examples, impact
from platform_kit.lineage.graph import KIND_COLORS, LineageGraph, lake_table_names
from platform_kit.lineage.impact import perturbation_impact, plot_impact, run_pipeline
from platform_kit.lineage.sql import DIRECT_KINDS, KINDS, ColumnEdge, column_lineage, pipeline_lineage

__all__ = ["DIRECT_KINDS", "KINDS", "KIND_COLORS", "ColumnEdge", "LineageGraph", "column_lineage", "examples",
           "impact", "lake_table_names", "perturbation_impact", "pipeline_lineage", "plot_impact", "run_pipeline"]
