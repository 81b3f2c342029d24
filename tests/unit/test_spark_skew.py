"""Skew detection and fixes (platform_kit.spark.skew) and the ``spark.skew_join`` exercise.

Pure tier: key statistics, task tables, projections and plots on fabricated data. Failure
tier: malformed and hostile inputs give ``InputError`` with a fix. Engine tier: a few small
jobs on the local session (planting, counting, salting, the grader).
"""

from __future__ import annotations

import math
from collections import Counter

import matplotlib
import numpy as np
import pandas as pd
import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.spark import skew
from platform_kit.spark.monitor import JobMetrics, StageMetrics

matplotlib.use("Agg")


def _stage(stage_id: int, shuffle_read: int, task_max: float = 10.0, tasks: int = 4) -> StageMetrics:
    return StageMetrics(
        stage_id=stage_id, attempt=0, name=f"stage {stage_id}", status="COMPLETE", num_tasks=tasks, duration_ms=100.0,
        executor_run_ms=90.0, executor_cpu_ms=80.0, gc_ms=0.0, result_serialization_ms=0.0, deserialize_ms=0.0,
        input_bytes=0, input_records=0, output_bytes=0, shuffle_read_bytes=shuffle_read, shuffle_remote_bytes=0,
        shuffle_fetch_wait_ms=0.0, shuffle_write_bytes=0, memory_spilled_bytes=0, disk_spilled_bytes=0,
        peak_execution_memory=0, task_ms_median=5.0, task_ms_max=task_max)


def _task_doc(index: int, run_ms: float, records: int, cpu_ms: float = 1.0, status: str = "SUCCESS") -> dict:
    return {"index": index, "executorId": str(index % 2), "status": status,
            "taskMetrics": {"executorRunTime": run_ms, "executorCpuTime": cpu_ms * 1e6, "jvmGcTime": 0,
                            "peakExecutionMemory": 1024,
                            "shuffleReadMetrics": {"recordsRead": records, "localBytesRead": records * 10,
                                                   "remoteBytesRead": records}}}


# --- pure tier: key statistics ---------------------------------------------------------------------------------
def test_gini_is_zero_when_equal_and_near_one_when_one_key_holds_everything() -> None:
    assert skew.gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert skew.gini([0, 0, 0, 100]) == pytest.approx(0.75)  # (n - 1) / n
    assert skew.gini([]) == 0.0
    assert 0 < skew.gini([1, 2, 3, 50]) < 0.75


def test_hot_keys_use_the_median_and_a_strict_threshold() -> None:
    counts = dict.fromkeys(range(20), 30) | {"reseller": 900, "edge": 150, "warm": 120}
    assert skew.hot_keys(counts, 5.0) == ["reseller"]  # 150 = 5 x 30 is not hot: strictly more
    assert skew.hot_keys(counts, 3.0) == ["reseller", "edge", "warm"]
    assert skew.hot_keys(dict.fromkeys(range(100), 1000), 1.0) == []  # uniform: nothing, however large
    assert skew.hot_keys({}, 5.0) == []


def test_skew_stats_summarises_shares_nulls_and_the_tail() -> None:
    counts = pd.Series({1: 10, 2: 10, 3: 10, 4: 970})
    stats = skew.skew_stats(counts, key="customer_id", null_rows=1000, threshold=5.0, top=2)
    assert stats.rows == 1000 and stats.keys == 4 and stats.null_share == pytest.approx(0.5)
    assert stats.top == ((4, 970), (1, 10)) and stats.top_share == pytest.approx(0.98)
    assert stats.max_share == pytest.approx(0.97) and stats.max_over_median == pytest.approx(97.0)
    assert stats.hot_keys == (4,) and isinstance(stats.hot_keys[0], int)
    row = stats.summary()
    assert row["top2_share"] == 0.98 and row["hot_keys"] == [4]


def test_as_counts_sorts_and_rejects_malformed_counts() -> None:
    assert list(skew.as_counts({"a": 1, "b": 3}).index) == ["b", "a"]
    for bad in ({None: 3}, {"a": -1}, {"a": 1.5}, {"a": float("nan")}, {"a": "many"}):
        with pytest.raises(InputError):
            skew.as_counts(bad)
    with pytest.raises(InputError, match="mapping"):
        skew.as_counts([("a", 1)])


def test_zipf_weights_sum_to_one_and_decrease() -> None:
    weights = skew.zipf_weights(3, 4.0)
    assert weights.sum() == pytest.approx(1.0) and weights[0] > 0.9 and list(weights) == sorted(weights, reverse=True)
    assert np.allclose(skew.zipf_weights(4, 0.0), 0.25)


@pytest.mark.parametrize("call", [
    lambda: skew.zipf_weights(0),
    lambda: skew.zipf_weights(3, -1.0),
    lambda: skew.hot_keys({"a": 1}, 0.5),
    lambda: skew.hot_keys({"a": 1}, True),
    lambda: skew.hot_keys({"a": 1}, float("inf")),
    lambda: skew.skew_stats({"a": 1}, null_rows=-1),
    lambda: skew.skew_stats({"a": 1}, top=0),
    lambda: skew.gini([1, -1]),
    lambda: skew.aqe_skew_settings(0),
    lambda: skew.aqe_skew_settings(True),
])
def test_statistics_reject_hostile_parameters(call) -> None:
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.fix


# --- pure tier: tasks, stages, projection --------------------------------------------------------------------
def test_tasks_frame_and_task_skew_read_the_status_api_documents() -> None:
    docs = [_task_doc(0, 900, 9000, 800), _task_doc(1, 100, 1000), _task_doc(2, 110, 1100), _task_doc(3, 90, 900)]
    frame = skew.tasks_frame(docs)
    assert list(frame.columns) == list(skew.TASK_COLUMNS)
    assert frame.loc[0, "shuffle_bytes"] == 99000 and frame.loc[0, "cpu_ms"] == pytest.approx(800)
    stats = skew.task_skew(frame)
    assert stats.max_records == 9000 and stats.median_records == pytest.approx(1050)
    assert stats.time_ratio == pytest.approx(900 / 105) and stats.max_share == pytest.approx(9000 / 12000)
    assert skew.tasks_frame([]).empty


def test_join_stage_is_the_stage_that_read_most_shuffle_data() -> None:
    metrics = JobMetrics("j", 1.0, (_stage(1, 0), _stage(2, 5000), _stage(3, 200)))
    assert skew.join_stage(metrics).stage_id == 2
    with pytest.raises(InputError, match="no shuffle"):
        skew.join_stage(JobMetrics("broadcast", 1.0, (_stage(1, 0),)))
    with pytest.raises(InputError):
        skew.task_skew(pd.DataFrame(columns=list(skew.TASK_COLUMNS)))
    with pytest.raises(InputError):
        skew.task_skew(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError):
        skew.compare_runs(object(), {})


def test_makespan_is_bounded_by_the_longest_task() -> None:
    assert skew.makespan([10, 1, 1, 1], 1) == 13
    assert skew.makespan([10, 1, 1, 1], 2) == 10
    assert skew.makespan([4, 4, 4, 4], 2) == 8
    assert skew.makespan([3, 3, 2, 2, 2], 2) == 7  # greedy longest-first, as a scheduler does (optimum 6)
    assert skew.makespan([], 4) == 0.0
    for bad in ((([1.0], 0)), (([1.0], True)), (([-1.0], 2)), (([math.nan], 2))):
        with pytest.raises(InputError):
            skew.makespan(*bad)


def test_projection_and_plot_from_fabricated_tasks() -> None:
    tasks = {"before": skew.tasks_frame([_task_doc(0, 900, 9000, 900)] + [_task_doc(i, 50, 500, 50) for i in range(1, 8)]),
             "salted": skew.tasks_frame([_task_doc(i, 160, 1600, 160) for i in range(8)])}
    projection = skew.projected_stage_times(tasks)
    assert projection.loc[16, "before"] == pytest.approx(0.9) and projection.loc[16, "salted"] == pytest.approx(0.16)
    assert projection.loc[1, "before"] == pytest.approx(1.25)
    table = pd.DataFrame({"wall_s": [2.0, 1.0], "max_task_ms": [900.0, 160.0]}, index=["before", "salted"])
    axes = skew.plot_skew(table, tasks, title="t")
    assert len(axes) == 3
    with pytest.raises(InputError, match="differ"):
        skew.plot_skew(table.iloc[:1], tasks)
    with pytest.raises(InputError):
        skew.projected_stage_times({"x": pd.DataFrame({"records": [1]})})


def test_aqe_skew_settings_fit_the_thresholds_and_keep_the_join_shuffled() -> None:
    settings = skew.aqe_skew_settings(256 * 1024)
    assert settings["spark.sql.adaptive.skewJoin.enabled"] == "true"
    assert settings["spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes"] == str(256 * 1024)
    assert settings["spark.sql.adaptive.advisoryPartitionSizeInBytes"] == str(64 * 1024)
    assert settings["spark.sql.autoBroadcastJoinThreshold"] == "-1"
    assert skew.AQE_SKEW_OFF["spark.sql.adaptive.enabled"] == "false"


# --- failure tier: hostile DataFrame arguments ------------------------------------------------------------------
class _FakeFrame:
    columns = ["customer_id", "event_id", "__salt"]


@pytest.mark.parametrize("call, match", [
    (lambda: skew.plant_hot_keys(object(), "k", [1], 0.5, id_col="id"), "DataFrame"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "nope", [1], 0.5, id_col="event_id"), "no column"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "customer_id", [], 0.5, id_col="event_id"), "at least one"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "customer_id", [None], 0.5, id_col="event_id"), "non-null"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "customer_id", [1], 0.0, id_col="event_id"), "share"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "customer_id", [1], 1.5, id_col="event_id"), "share"),
    (lambda: skew.plant_hot_keys(_FakeFrame(), "customer_id", [1], True, id_col="event_id"), "share"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), ["customer_id"]), "one column"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id", buckets=1), "buckets"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id", buckets=True), "buckets"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id", how="full"), "inner and left"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id", how="right"), "inner and left"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id", salt_from=["x"]), "no column"),
    (lambda: skew.salted_join(_FakeFrame(), _FakeFrame(), "customer_id"), "__salt"),
    (lambda: skew.key_counts(object(), "k"), "DataFrame"),
])
def test_spark_helpers_reject_bad_arguments_before_running_anything(call, match) -> None:
    with pytest.raises(InputError, match=match) as caught:
        call()
    assert caught.value.fix


# --- engine tier: local Spark -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def frames(spark) -> tuple[object, object]:
    from pyspark.sql import functions as F

    events = spark.range(2000).select(F.col("id").cast("string").alias("event_id"),
                                      F.when(F.col("id") % 50 == 0, None).otherwise(F.col("id") % 40).alias("k"),
                                      (F.col("id") % 7).alias("v"))
    dims = spark.createDataFrame([(k, f"c{k}") for k in range(35)] + [(3, "dup"), (99, "orphan")], ["k", "name"])
    return events, dims


def _rows(df) -> Counter:
    return Counter(map(tuple, df.collect()))


def test_planted_keys_get_their_zipf_shares_deterministically(spark, frames) -> None:
    events, _ = frames
    planted = skew.plant_hot_keys(events, "k", [7, 11], share=0.6, zipf_s=1.0, id_col="event_id", seed=3)
    counts, nulls = skew.key_counts(planted, "k")
    assert counts.index[0] == 7 and counts[7] / 2000 == pytest.approx(0.4, abs=0.05)
    assert counts[11] / 2000 == pytest.approx(0.2, abs=0.04)
    assert nulls < 40 and _rows(planted) == _rows(planted)  # same rows re-keyed in every job
    found = skew.key_skew(planted, "k")
    assert set(found.hot_keys) == {7, 11} and found.null_rows == nulls
    assert skew.key_skew(events, "k").hot_keys == ()
    with pytest.raises(InputError, match="distinct"):
        skew.key_counts(events, "event_id", max_keys=100)


@pytest.mark.parametrize("how, hot", [("inner", None), ("left", [7])])
def test_salted_join_returns_exactly_the_plain_join(spark, frames, how, hot) -> None:
    events, dims = frames
    planted = skew.plant_hot_keys(events, "k", [7], share=0.5, id_col="event_id")
    from platform_kit.spark.joins import plan_summary, sql_conf

    with sql_conf(spark, skew.AQE_SKEW_OFF):
        salted = skew.salted_join(planted, dims, "k", buckets=8, hot_keys=hot, how=how)
        plain = planted.join(dims, "k", how)
        assert salted.columns == plain.columns
        summary = plan_summary(salted)
        assert summary.strategy == "sort_merge" and len(summary.joins[0].left_keys) == 2
        assert _rows(salted) == _rows(plain)
        assert not skew.skew_split(salted)


def test_sql_conf_restores_session_values_and_rejects_core_settings(spark) -> None:
    key, unset_key = "spark.sql.shuffle.partitions", "spark.sql.adaptive.skewJoin.skewedPartitionFactor"
    before = spark.conf.get(key)
    with skew.sql_conf(spark, {key: 3, unset_key: 2.0, "spark.sql.adaptive.enabled": False}):
        assert spark.conf.get(key) == "3" and spark.conf.get("spark.sql.adaptive.enabled") == "false"
    assert spark.conf.get(key) == before and spark.conf.get(unset_key, None) is None
    with pytest.raises(InputError, match="runtime"):
        with skew.sql_conf(spark, {"spark.executor.memory": "2g"}):
            pass


# --- the exercise ------------------------------------------------------------------------------------------------
def _reference_answer() -> dict:
    from pyspark.sql import functions as F

    def hot_keys(df, key, threshold=5.0):
        counts = {r[key]: r["count"] for r in df.groupBy(key).count().collect() if r[key] is not None}
        median = float(np.median(list(counts.values()))) if counts else 0.0
        return [k for k, n in counts.items() if n > threshold * median]

    def salted_join(left, right, on, buckets):
        salted_left = left.withColumn("salt", F.pmod(F.xxhash64(*left.columns), F.lit(buckets)))
        salted_right = right.withColumn("salt", F.explode(F.sequence(F.lit(0), F.lit(buckets - 1))))
        return salted_left.join(salted_right, [on, "salt"]).drop("salt")

    return {"hot_keys": hot_keys, "salted_join": salted_join}


def test_skew_join_exercise_accepts_the_reference_and_checks_the_lab_data(spark, frames) -> None:
    events, _ = frames
    planted = skew.plant_hot_keys(events, "k", [7, 11], share=0.6, id_col="event_id")
    context = {"spark": spark, "skewed": planted, "key": "k", "planted": [7, 11], "hot_keys": [7, 11]}
    result = check("spark.skew_join", _reference_answer(), context=context, show=False)
    assert result.passed, result.message
    assert "[7, 11]" in result.message


def test_skew_join_exercise_rejects_wrong_detectors_and_joins(spark) -> None:
    from pyspark.sql import functions as F

    answer = _reference_answer()

    def by_mean(df, key, threshold=5.0):
        counts = {r[key]: r["count"] for r in df.groupBy(key).count().collect() if r[key] is not None}
        mean = float(np.mean(list(counts.values())))
        return [k for k, n in counts.items() if n > threshold * mean]

    def at_edge(df, key, threshold=5.0):
        counts = {r[key]: r["count"] for r in df.groupBy(key).count().collect() if r[key] is not None}
        median = float(np.median(list(counts.values())))
        return [k for k, n in counts.items() if n >= threshold * median]

    def with_nulls(df, key, threshold=5.0):
        return [*answer["hot_keys"](df, key, threshold), None]

    def unsalted(left, right, on, buckets):
        return left.join(right, on)

    def salt_kept(left, right, on, buckets):
        salted_left = left.withColumn("salt", F.pmod(F.xxhash64(*left.columns), F.lit(buckets)))
        return salted_left.join(right.withColumn("salt", F.explode(F.sequence(F.lit(0), F.lit(buckets - 1)))),
                                [on, "salt"])

    def one_copy(left, right, on, buckets):
        salted_left = left.withColumn("salt", F.pmod(F.xxhash64(*left.columns), F.lit(buckets)))
        return salted_left.join(right.withColumn("salt", F.lit(0)), [on, "salt"]).drop("salt")

    cases = [({**answer, "hot_keys": by_mean}, "median"), ({**answer, "hot_keys": with_nulls}, "null"),
             ({**answer, "hot_keys": at_edge}, "strictly"),
             ({**answer, "salted_join": unsalted}, "salt"), ({**answer, "salted_join": salt_kept}, "columns"),
             ({**answer, "salted_join": one_copy}, "missing"), ({"hot_keys": answer["hot_keys"]}, "dict"),
             (answer["hot_keys"], "TypeError")]
    for wrong, needle in cases:
        result = check("spark.skew_join", wrong, context={"spark": spark}, show=False)
        assert not result.passed and result.attempted and needle in result.message, result.message


def test_skew_join_exercise_stub_is_not_attempted(spark) -> None:
    def stub(*args, **kwargs):
        raise NotImplementedError("write your solution here")

    result = check("spark.skew_join", {"hot_keys": stub, "salted_join": stub}, context={"spark": spark}, show=False)
    assert not result.passed and not result.attempted
