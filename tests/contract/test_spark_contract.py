"""Contract of the Spark kind: one reused session, real jobs, microsecond Parquet, event logs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module", params=PROFILES)
def spark_service(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if request.param == "compose":
        pytest.skip("compose Spark needs the standalone master of docker-compose.yml (no Docker engine here)")
    return started_service(request, "spark")


def test_spark_session_is_reused(spark_service) -> None:  # type: ignore[no-untyped-def]
    assert spark_service.session() is spark_service.session()
    assert spark_service.workbench.spark is spark_service.session()


def test_spark_applies_configured_settings(spark_service) -> None:  # type: ignore[no-untyped-def]
    spark = spark_service.session()
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_spark_group_by_job_returns_correct_totals(spark_service) -> None:  # type: ignore[no-untyped-def]
    spark = spark_service.session()
    frame = spark.createDataFrame(
        pd.DataFrame({"region": ["eu", "us", "eu"], "amount": [1.0, 2.0, 3.0]})
    )
    totals = {r["region"]: r["total"] for r in frame.groupBy("region").agg({"amount": "sum"})
              .withColumnRenamed("sum(amount)", "total").collect()}
    assert totals == {"eu": 4.0, "us": 2.0}


def test_spark_reads_microsecond_parquet_written_by_pandas(spark_service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stamp = pd.Timestamp("2026-03-01 12:00:00.123456")
    path = tmp_path / "events.parquet"
    pd.DataFrame({"ts": pd.Series([stamp]).astype("datetime64[us]"), "n": [1]}).to_parquet(
        path, coerce_timestamps="us")
    row = spark_service.session().read.parquet(str(path)).collect()[0]
    assert row["ts"].replace(tzinfo=None) == dt.datetime(2026, 3, 1, 12, 0, 0, 123456)


def test_spark_writes_event_log(spark_service) -> None:  # type: ignore[no-untyped-def]
    spark = spark_service.session()
    spark.range(100).selectExpr("sum(id)").collect()
    logs = list(Path(spark_service.event_log_dir).iterdir())
    assert logs, "no Spark event log written"
