"""Contract of the OLAP kind (ClickHouse SQL): chdb embedded, ClickHouse server in compose."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from platform_kit.services import OLAPQueryError
from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(params=PROFILES)
def olap(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return started_service(request, "olap")


def _table() -> str:
    return f"contract_{uuid.uuid4().hex[:8]}"


def _orders() -> pd.DataFrame:
    return pd.DataFrame({
        "order_id": [1, 2, 3, 4],
        "region": ["eu", "us", "eu", "ap"],
        "amount": [10.5, 20.0, 30.25, 5.0],
        "order_ts": pd.to_datetime(["2026-01-01 10:00:00.000001", "2026-01-01 11:00:00.000000",
                                    "2026-01-02 09:30:00.000000", "2026-01-03 00:00:00.000000"]).astype("datetime64[us]"),
    })


def test_olap_insert_df_and_aggregate(olap) -> None:  # type: ignore[no-untyped-def]
    table = _table()
    olap.execute(f"CREATE TABLE {table} (order_id Int64, region String, amount Float64, order_ts DateTime64(6)) "
                 "ENGINE = MergeTree ORDER BY order_id")
    assert olap.insert_df(table, _orders()) == 4
    totals = olap.query_df(f"SELECT region, sum(amount) AS total FROM {table} GROUP BY region ORDER BY region")
    assert totals["region"].tolist() == ["ap", "eu", "us"]
    assert totals["total"].tolist() == pytest.approx([5.0, 40.75, 20.0])
    first = olap.query_value(f"SELECT toString(min(order_ts)) FROM {table}")
    assert first == "2026-01-01 10:00:00.000001"  # microseconds survive the load


def test_olap_materialized_view_aggregates_new_inserts(olap) -> None:  # type: ignore[no-untyped-def]
    source, target = _table(), _table()
    olap.execute(f"CREATE TABLE {source} (region String, amount Float64) ENGINE = MergeTree ORDER BY region")
    olap.execute(f"CREATE MATERIALIZED VIEW {target} ENGINE = SummingMergeTree ORDER BY region AS "
                 f"SELECT region, sum(amount) AS amount FROM {source} GROUP BY region")
    olap.insert_df(source, pd.DataFrame({"region": ["eu", "us"], "amount": [1.0, 2.0]}))
    olap.insert_df(source, pd.DataFrame({"region": ["eu"], "amount": [3.0]}))
    result = olap.query_df(f"SELECT region, sum(amount) AS amount FROM {target} GROUP BY region ORDER BY region")
    assert dict(zip(result["region"], result["amount"], strict=True)) == {"eu": 4.0, "us": 2.0}


def test_olap_bad_sql_raises_wrapped_error(olap) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OLAPQueryError, match="query failed"):
        olap.query_df("SELEC 1")
    with pytest.raises(OLAPQueryError):
        olap.query_df(f"SELECT * FROM missing_{uuid.uuid4().hex[:6]}")


def test_olap_query_value_rejects_non_scalar(olap) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OLAPQueryError, match="expected one value"):
        olap.query_value("SELECT 1 AS a, 2 AS b")


def test_olap_tables_survive_a_new_session(olap) -> None:  # type: ignore[no-untyped-def]
    table = _table()
    olap.execute(f"CREATE TABLE {table} (x Int64) ENGINE = MergeTree ORDER BY x")
    olap.insert_df(table, pd.DataFrame({"x": [1, 2, 3]}))
    olap.stop()  # chdb closes its session; a server client disconnects
    olap.start()
    assert olap.query_value(f"SELECT sum(x) FROM {table}") == 6
    assert table in olap.tables()
