"""The Lab 4 feature pipeline as SQL constants: raw company tables -> staged orders -> customer features.

No data is read: :data:`SCHEMA` lists the columns (and DuckDB types) that
``platform_kit.datasets.generate_table`` produces for the tables the pipeline reads, so
lineage can be derived from the SQL alone (a test checks the two stay in step; use
:func:`schema_from_frames` to build one from real frames). :data:`FEATURE_LINEAGE` is the
hand-checked answer for every feature (direct dependencies only, no filters)::

    from platform_kit.lineage import LineageGraph, pipeline_lineage
    from platform_kit.lineage.examples import PIPELINE, SCHEMA
    graph = LineageGraph(pipeline_lineage(PIPELINE, schema=SCHEMA))
    graph.upstream("customer_features.total_spend")     # {'payments.amount'}

The exercise adds :data:`EXERCISE_MODEL` (items per order from ``order_items``) and asks
for its lineage. :func:`landing_events` are the OpenLineage events of the job that lands
``payments`` from the shop's operational database, so a merged graph reaches one hop
further upstream than the SQL.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["AS_OF", "EXERCISE_MODEL", "FEATURE_LINEAGE", "LANDING", "PIPELINE", "SCHEMA", "landing_events",
           "schema_from_frames"]

#: Fixed "today" for recency features, so runs are reproducible (the generated orders end in 2024).
AS_OF = "2025-01-01"

SCHEMA: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "BIGINT", "full_name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR",
        "street_address": "VARCHAR", "city": "VARCHAR", "country": "VARCHAR", "region": "VARCHAR",
        "date_of_birth": "TIMESTAMP", "national_id": "VARCHAR", "signup_ts": "TIMESTAMP", "segment": "VARCHAR",
        "marketing_opt_in": "BOOLEAN",
    },
    "orders": {
        "order_id": "BIGINT", "customer_id": "BIGINT", "order_ts": "TIMESTAMP", "status": "VARCHAR",
        "channel": "VARCHAR", "region": "VARCHAR", "currency": "VARCHAR", "total_amount": "DOUBLE",
    },
    "order_items": {
        "order_id": "BIGINT", "line_no": "BIGINT", "product_id": "BIGINT", "quantity": "BIGINT",
        "unit_price": "DOUBLE",
    },
    "payments": {
        "payment_id": "BIGINT", "order_id": "BIGINT", "payment_ts": "TIMESTAMP", "method": "VARCHAR",
        "amount": "DOUBLE", "status": "VARCHAR",
    },
}

STAGED_ORDERS = """
SELECT
    o.order_id,
    o.customer_id,
    o.order_ts,
    o.channel,
    o.total_amount AS order_amount,
    COALESCE(p.paid_amount, 0) AS paid_amount,
    CASE WHEN o.status = 'cancelled' THEN 1 ELSE 0 END AS is_cancelled
FROM orders AS o
LEFT JOIN (
    SELECT order_id, SUM(amount) AS paid_amount
    FROM payments
    WHERE status = 'captured'
    GROUP BY order_id
) AS p ON p.order_id = o.order_id
"""

CUSTOMER_FEATURES = f"""
WITH per_customer AS (
    SELECT
        customer_id,
        COUNT(order_id) AS order_count,
        SUM(paid_amount) AS total_spend,
        MAX(order_ts) AS last_order_ts,
        AVG(is_cancelled) AS cancel_rate
    FROM staged_orders
    GROUP BY customer_id
)
SELECT
    c.customer_id,
    c.segment,
    COALESCE(pc.order_count, 0) AS order_count,
    COALESCE(pc.total_spend, 0) AS total_spend,
    pc.total_spend / NULLIF(pc.order_count, 0) AS avg_order_value,
    DATE_DIFF('day', pc.last_order_ts, TIMESTAMP '{AS_OF}') AS days_since_last_order,
    pc.cancel_rate,
    pc.total_spend / NULLIF(SUM(pc.total_spend) OVER (PARTITION BY c.segment), 0) AS spend_share_of_segment
FROM customers AS c
LEFT JOIN per_customer AS pc ON pc.customer_id = c.customer_id
"""

#: Run order matters: a model reads only raw tables and models listed before it.
PIPELINE: dict[str, str] = {"staged_orders": STAGED_ORDERS, "customer_features": CUSTOMER_FEATURES}

#: Feature -> {raw field: strongest transform on the way}; direct dependencies (no filters).
FEATURE_LINEAGE: dict[str, dict[str, str]] = {
    "customer_features.customer_id": {"customers.customer_id": "direct"},
    "customer_features.segment": {"customers.segment": "direct"},
    "customer_features.order_count": {"orders.order_id": "aggregate"},
    "customer_features.total_spend": {"payments.amount": "aggregate"},
    "customer_features.avg_order_value": {"payments.amount": "aggregate", "orders.order_id": "aggregate"},
    "customer_features.days_since_last_order": {"orders.order_ts": "aggregate"},
    "customer_features.cancel_rate": {"orders.status": "aggregate"},
    "customer_features.spend_share_of_segment": {"payments.amount": "window", "customers.segment": "window"},
}

#: Exercise: a new feature model. Work out its lineage by hand, then check with pipeline_lineage.
EXERCISE_MODEL: dict[str, str] = {"customer_item_features": """
SELECT
    s.customer_id,
    SUM(i.quantity) * 1.0 / COUNT(DISTINCT s.order_id) AS items_per_order,
    MAX(i.unit_price) AS max_unit_price
FROM staged_orders AS s
JOIN order_items AS i ON i.order_id = s.order_id
WHERE s.is_cancelled = 0
GROUP BY s.customer_id
"""}

#: The landing job of ``payments``: source table, lake file, and lake column -> source column.
LANDING: dict[str, Any] = {
    "job": "lab04.land_payments",
    "source": "postgres://shop.public.payments",
    "target": "parquet://lake/raw/payments.parquet",
    "columns": {"payment_id": "id", "order_id": "order_id", "payment_ts": "created_at", "method": "method",
                "amount": "amount_cents", "status": "state"},
}


def landing_events(*, started_at: str = f"{AS_OF}T02:00:00+00:00",
                   finished_at: str = f"{AS_OF}T02:00:40+00:00") -> list[dict[str, Any]]:
    """OpenLineage START and COMPLETE events (as JSON dicts) of the run that lands ``payments``.

    Built with Lab 1's :func:`~platform_kit.assessment.lineage.build_run_events` from
    :data:`LANDING`: the lake's ``payments.amount`` comes from the source's ``amount_cents``,
    ``status`` from ``state`` and so on. Merge them with ``dataset_names`` from
    :func:`~platform_kit.lineage.graph.lake_table_names` so the lake file is the ``payments`` node.
    """
    import json

    from openlineage.client.serde import Serde

    from platform_kit.assessment.lineage import build_run_events

    events = build_run_events(job_name=LANDING["job"], inputs={"src": LANDING["source"]}, output=LANDING["target"],
                              column_lineage={lake: [f"src.{src}"] for lake, src in LANDING["columns"].items()},
                              started_at=started_at, finished_at=finished_at, namespace="lab04")
    return [json.loads(Serde.to_json(event)) for event in events]


_DUCKDB_TYPES = {"int": "BIGINT", "Int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMP"}


def schema_from_frames(frames: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``{table: {column: DuckDB type}}`` of pandas frames (e.g. from ``generate_table``).

    Args:
        frames: Table name -> pandas DataFrame.

    Returns:
        A schema usable as ``schema=`` of :func:`~platform_kit.lineage.sql.column_lineage`.
    """
    schema: dict[str, dict[str, str]] = {}
    for table, frame in frames.items():
        schema[table] = {}
        for column, dtype in frame.dtypes.items():
            text = str(dtype)
            kind = next((sql for prefix, sql in _DUCKDB_TYPES.items() if text.startswith(prefix)), "VARCHAR")
            schema[table][str(column)] = kind
    return schema
