"""Skew fixes and broadcast joins on the standalone cluster, read back through the status REST API.

One application for the module (its start is most of the cost); small replicated lab data.
"""

from __future__ import annotations

import shutil

import pytest

from platform_kit import spark as ks

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java")


@pytest.fixture(scope="module")
def session(embedded):
    spark, target = ks.cluster_session(embedded, app_name="test-joins")
    data = ks.prepare_lab_data("tiny", 42, copies=8)
    spark.range(10).count()  # executors up and warm enough
    return spark, target, data


def _report(joined):
    from pyspark.sql import functions as F

    return joined.groupBy("country", "segment").agg(F.count(F.lit(1)).alias("events"),
                                                    F.approx_count_distinct("session_id").alias("sessions"))


def test_salting_and_aqe_split_the_hot_key_of_a_measured_join(session) -> None:
    spark, target, data = session
    clicks, customers = data.read(spark, "clickstream"), data.read(spark, "customers")
    skewed = ks.skew.plant_hot_keys(clicks, "customer_id", [131, 18], share=0.9, zipf_s=3.0, id_col="event_id")
    hot = ks.skew.key_skew(skewed, "customer_id")
    assert {131, 18} <= set(hot.hot_keys)
    runs, frames = {}, {}
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    with ks.skew.sql_conf(spark, {**ks.skew.AQE_SKEW_OFF, "spark.sql.shuffle.partitions": 8}):
        for name, make in {"before": lambda: skewed.join(customers, "customer_id"),
                           "salted": lambda: ks.skew.salted_join(skewed, customers, "customer_id", buckets=32,
                                                                 hot_keys=hot.hot_keys)}.items():
            frames[name] = _report(make())
            runs[name] = ks.measure(spark, frames[name].collect, name)
        threshold = int(2 * ks.skew.join_stage(runs["before"]).shuffle_read_bytes / 8)
        frames["aqe"] = _report(skewed.join(customers, "customer_id"))
        with ks.skew.sql_conf(spark, ks.skew.aqe_skew_settings(threshold)):
            runs["aqe"] = ks.measure(spark, frames["aqe"].collect, "aqe")
    assert spark.conf.get("spark.sql.shuffle.partitions") == partitions  # restored
    table, tasks = ks.skew.compare_runs(spark, runs)
    assert table.loc["before", "join_tasks"] == 8 and table.loc["before", "max_task_share"] > 0.6
    assert table.loc["salted", "max_task_records"] < 0.5 * table.loc["before", "max_task_records"]
    assert table.loc["aqe", "join_tasks"] > 8 and ks.skew.skew_split(frames["aqe"])
    assert (tasks["before"]["cpu_ms"] > 0).all() and (tasks["before"]["records"] > 0).any()
    assert sorted(runs["before"].result) == sorted(runs["salted"].result) == sorted(runs["aqe"].result)


def test_broadcast_vs_sort_merge_and_the_wrong_side(session) -> None:
    from pyspark.sql import functions as F

    spark, target, data = session
    clicks, customers = data.read(spark, "clickstream"), data.read(spark, "customers")
    with ks.joins.sql_conf(spark, {"spark.sql.adaptive.enabled": "false"}):
        memory_before = ks.joins.storage_memory(spark)
        bhj_df = _report(clicks.join(F.broadcast(customers), "customer_id"))
        bhj = ks.measure(spark, bhj_df.collect, "bhj")
        with ks.joins.sql_conf(spark, {"spark.sql.autoBroadcastJoinThreshold": -1}):
            smj_df = _report(clicks.join(customers, "customer_id"))
            smj = ks.measure(spark, smj_df.collect, "smj")
        with ks.joins.sql_conf(spark, {"spark.sql.maxBroadcastTableSize": 256 * 1024}):
            failed = ks.joins.attempt(spark, _report(F.broadcast(clicks).join(customers, "customer_id")).collect,
                                      "wrong side")
    assert "driver" in memory_before and (len(memory_before) > 1) == target.on_cluster
    assert ks.joins.join_strategy(bhj_df) == "broadcast_hash" and ks.joins.join_strategy(smj_df) == "sort_merge"
    assert bhj.shuffle_bytes * 3 < smj.shuffle_bytes and sorted(bhj.result) == sorted(smj.result)
    assert ks.joins.broadcast_metrics(bhj_df)[0]["rows"] == data.rows["customers"]
    assert failed.failure is not None and failed.failure.kind == "size_limit"
