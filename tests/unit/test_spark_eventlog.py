"""Section 7's event log parser: a real (trimmed) Spark 4.3 log, Spark's file layouts, hostile input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from platform_kit.errors import InputError
from platform_kit.spark import eventlog as el
from platform_kit.spark.monitor import JobMetrics, StageMetrics

APP = "app-20261126064025-0000"
FIXTURE = Path(__file__).parent / "data" / "spark_eventlog" / f"eventlog_v2_{APP}"
UDF, GC = "measure-1-s7-python_udf", "measure-2-s7-gc_pressure"


def _lines() -> list[str]:
    raw = (FIXTURE / f"events_1_{APP}.zstd").read_bytes()
    return pa.CompressedInputStream(pa.BufferReader(raw), "zstd").read().decode().splitlines()


@pytest.fixture(scope="module")
def log() -> el.EventLog:
    return el.read_event_log(FIXTURE)


def _task_end(stage: int, task: int, run: float, *, reason: str = "Success", **metrics: float) -> str:
    event = {"Event": "SparkListenerTaskEnd", "Stage ID": stage, "Stage Attempt ID": 0, "Task Type": "ResultTask",
             "Task End Reason": {"Reason": reason},
             "Task Info": {"Task ID": task, "Index": task, "Launch Time": 1000, "Finish Time": 1000 + run,
                           "Executor ID": "0", "Host": "h"},
             "Task Metrics": {"Executor Run Time": run, "Executor CPU Time": run * 5e5, **metrics}}
    return json.dumps(event)


def _stage_events(stage: int, tasks: int, group: str = "g") -> list[str]:
    info = {"Stage ID": stage, "Stage Attempt ID": 0, "Stage Name": "collect", "Number of Tasks": tasks,
            "RDD Info": [], "Submission Time": 1000}
    return [json.dumps({"Event": "SparkListenerJobStart", "Job ID": stage, "Submission Time": 1000,
                        "Stage IDs": [stage], "Properties": {"spark.jobGroup.id": group, "spark.job.description": "d"}}),
            json.dumps({"Event": "SparkListenerStageSubmitted", "Stage Info": info}),
            json.dumps({"Event": "SparkListenerStageCompleted", "Stage Info": info | {"Completion Time": 3000}}),
            json.dumps({"Event": "SparkListenerJobEnd", "Job ID": stage, "Completion Time": 3000,
                        "Job Result": {"Result": "JobSucceeded"}})]


# --- a real Spark 4.3 log (rolling folder, zstd) --------------------------------------------------


def test_real_log_is_read_with_app_executors_and_groups(log: el.EventLog) -> None:
    assert log.app["spark_version"] == "4.3.0" and log.app["app_id"] == APP
    assert log.cores == 8  # four executors of two cores: two came from stale workers that re-registered
    assert log.groups() == [UDF, GC]
    assert log.report.bad_lines == 0 and not log.report.malformed and not log.report.truncated_tail
    assert log.report.ignored["SparkListenerTaskStart"] == 2 and log.report.events_per_s > 0
    assert list(log.stages.columns) == list(el.STAGE_COLUMNS)


def test_real_log_stage_rows_carry_operators_python_time_and_retries(log: el.EventLog) -> None:
    udf = log.for_group(UDF).stages.set_index("stage_id")
    assert "BatchEvalPython" in udf.loc[8, "operators"]
    assert udf.loc[8, "python_ms"] > 0.5 * udf.loc[8, "executor_run_ms"]
    assert udf.loc[8, "executor_cpu_ms"] < 0.1 * udf.loc[8, "executor_run_ms"]  # Python's time is not JVM CPU time
    gc = log.for_group(GC).stages
    retried = gc[gc["stage_id"] == 10].set_index("attempt")
    assert list(retried.index) == [0, 1] and retried.loc[0, "failed_tasks"] == 4  # ExecutorLostFailure
    assert (gc["status"] == "COMPLETE").all()
    assert set(log.tasks["reason"]) == {"Success", "ExecutorLostFailure"}


def test_stage_sums_equal_the_task_rows(log: el.EventLog) -> None:
    tasks = log.tasks.groupby(["stage_id", "attempt"])[["run_ms", "gc_ms", "shuffle_write_bytes"]].sum()
    stages = log.stages.set_index(["stage_id", "attempt"])
    assert (stages["executor_run_ms"] == tasks["run_ms"]).all()
    assert (stages["gc_ms"] == tasks["gc_ms"]).all()
    assert (stages["shuffle_write_bytes"] == tasks["shuffle_write_bytes"]).all()


def test_for_group_accepts_the_measure_label_and_rejects_unknown_groups(log: el.EventLog) -> None:
    by_label = log.for_group("s7-python_udf")
    assert list(by_label.stages["stage_id"]) == [8, 9] and len(by_label.jobs) == 1
    with pytest.raises(InputError, match="no stage of job group"):
        log.for_group("nope")


def test_groups_filter_skips_other_stages_without_changing_numbers(log: el.EventLog) -> None:
    filtered = el.read_event_log(FIXTURE, groups=["s7-python_udf"])
    assert list(filtered.stages["stage_id"]) == [8, 9] and filtered.report.filtered > 0
    pd.testing.assert_frame_equal(filtered.stages, log.for_group(UDF).stages)


def test_compare_with_rest_agrees_on_equal_numbers_and_flags_differences(log: el.EventLog) -> None:
    stages = log.for_group(UDF).stages
    fields = [f for f in StageMetrics.__dataclass_fields__]
    same = JobMetrics("udf", 1.0, tuple(StageMetrics(**{f: row[f] for f in fields}) for _, row in stages.iterrows()))
    assert el.compare_with_rest(stages, same)["agree"].all()
    first = same.stages[0]
    other = JobMetrics("udf", 1.0, (StageMetrics(**{**first.__dict__, "gc_ms": first.gc_ms + 500}), *same.stages[1:]))
    report = el.compare_with_rest(stages, other)
    assert list(report.loc[~report["agree"], "metric"]) == ["gc_ms"]
    missing = el.compare_with_rest(stages.iloc[1:], same)
    assert not missing[missing["stage_id"] == 8]["agree"].any()


# --- Spark's file layouts and codecs ------------------------------------------------------------


def test_event_log_path_finds_rolling_folders_and_spark3_files(tmp_path: Path) -> None:
    (tmp_path / "eventlog_v2_app-1").mkdir()
    assert el.event_log_path(directory=f"file://{tmp_path}", app_id="app-1").name == "eventlog_v2_app-1"
    (tmp_path / "app-2.zstd.inprogress").write_text("")
    assert el.event_log_path(directory=str(tmp_path), app_id="app-2").name == "app-2.zstd.inprogress"
    (tmp_path / "app-3").write_text("")
    assert el.event_log_path(directory=f"file:{tmp_path}", app_id="app-3").name == "app-3"
    with pytest.raises(InputError, match="no event log of application app-9"):
        el.event_log_path(directory=str(tmp_path), app_id="app-9")
    with pytest.raises(InputError, match="not on the local file system"):
        el.event_log_path(directory="hdfs://nn/logs", app_id="app-1")
    with pytest.raises(InputError, match="need an event log directory"):
        el.event_log_path()


def test_event_log_path_refuses_a_session_without_event_logging() -> None:
    class Conf:
        def get(self, key: str, default: str | None = None) -> str | None:
            return "false" if key == "spark.eventLog.enabled" else default

    class Context:
        applicationId = "app-1"

        def getConf(self) -> Conf:  # noqa: N802 - the SparkContext API
            return Conf()

    class Session:
        sparkContext = Context()

    with pytest.raises(InputError, match="does not write an event log"):
        el.event_log_path(Session())


def test_plain_spark3_file_reads_like_the_rolling_zstd_folder(tmp_path: Path, log: el.EventLog) -> None:
    plain = tmp_path / f"{APP}.inprogress"
    plain.write_text("\n".join(_lines()) + "\n")
    pd.testing.assert_frame_equal(el.read_event_log(plain).stages, log.stages)


def test_rolling_parts_are_read_in_numeric_order(tmp_path: Path, log: el.EventLog) -> None:
    folder = tmp_path / "eventlog_v2_app-x"
    folder.mkdir()
    lines = _lines()
    third = len(lines) // 3
    for number, chunk in ((1, lines[:third]), (2, lines[third:2 * third]), (10, lines[2 * third:])):
        (folder / f"events_{number}_app-x").write_text("\n".join(chunk) + "\n")
    (folder / "appstatus_app-x.inprogress").write_text("")
    assert [p.name for p in el.event_log_files(folder)] == ["events_1_app-x", "events_2_app-x", "events_10_app-x"]
    parsed = el.read_event_log(folder)
    assert parsed.report.files == 3
    pd.testing.assert_frame_equal(parsed.stages, log.stages)


def _spark_zstd(lines: list[str], per_flush: int = 10) -> bytes:
    """What Spark writes: one closed zstd frame per flush."""
    return b"".join(pa.compress(("\n".join(lines[i:i + per_flush]) + "\n").encode(), codec="zstd", asbytes=True)
                    for i in range(0, len(lines), per_flush))


def test_a_live_zstd_log_with_an_open_last_frame_yields_every_closed_frame(tmp_path: Path) -> None:
    lines = _lines()
    closed = _spark_zstd(lines[:50])
    open_frame = pa.compress(("\n".join(lines[50:]) + "\n").encode(), codec="zstd", asbytes=True)
    live = tmp_path / f"{APP}.zstd.inprogress"
    live.write_bytes(closed + open_frame[: len(open_frame) // 2])
    parsed = el.read_event_log(live)  # no exception: the frame being written ends early
    assert parsed.report.events == 50 and parsed.report.bad_lines == 0


def test_zstd_magic_bytes_inside_a_frame_do_not_split_it(tmp_path: Path) -> None:
    lines = _lines()
    def random_line() -> bytes:
        return bytes(b for b in os.urandom(300) if b != 10)

    noise = random_line() + b"\x28\xb5\x2f\xfd" + random_line()  # stored raw: the magic shows in the file
    blob = _spark_zstd(lines[:20]) + pa.compress(noise + b"\n" + ("\n".join(lines[20:]) + "\n").encode(),
                                                 codec="zstd", asbytes=True)
    path = tmp_path / f"{APP}.zstd"
    path.write_bytes(blob)
    parsed = el.read_event_log(path)
    assert parsed.report.events == len(lines) and parsed.report.bad_lines == 1


def test_a_zstd_name_on_plain_text_is_an_input_error(tmp_path: Path) -> None:
    fake = tmp_path / f"{APP}.zstd"
    fake.write_text("\n".join(_lines()))
    with pytest.raises(InputError, match="not zstd-compressed"):
        el.read_event_log(fake)


def test_unsupported_codecs_and_missing_paths_are_input_errors(tmp_path: Path) -> None:
    lz4 = tmp_path / f"{APP}.lz4"
    lz4.write_bytes(b"\x00\x01binary")
    with pytest.raises(InputError, match="lz4") as err:
        el.read_event_log(lz4)
    assert "spark.eventLog.compression.codec" in (err.value.fix or "")
    with pytest.raises(InputError, match="does not exist"):
        el.read_event_log(tmp_path / "nothing")
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(InputError, match="without events_"):
        el.read_event_log(tmp_path / "empty-folder")
    with pytest.raises(InputError, match="cannot read an event log from a int"):
        el.read_event_log(42)


# --- hostile input ------------------------------------------------------------------------------


def test_garbage_lines_are_counted_and_skipped_without_changing_results(log: el.EventLog) -> None:
    lines = _lines()
    noisy = [lines[0], "not json at all", "\x00\x01\x02 binary", "[1, 2, 3]", '{"no": "event"}', "{", "",
             *lines[1:20], '{"Event": 42}', *lines[20:]]
    parsed = el.parse_lines(noisy)
    assert parsed.report.bad_lines == 6 and parsed.report.blank_lines == 1
    pd.testing.assert_frame_equal(parsed.stages, log.stages)


def test_a_truncated_last_line_is_reported_not_counted_as_garbage() -> None:
    lines = [*_stage_events(1, 2), _task_end(1, 0, 100.0), _task_end(1, 1, 300.0)[:-40]]
    parsed = el.parse_lines(lines)
    assert parsed.report.truncated_tail and parsed.report.bad_lines == 0
    assert "cut off" in parsed.report.summary()
    assert parsed.stages.loc[0, "executor_run_ms"] == 100.0 and len(parsed.tasks) == 1


def test_malformed_events_are_counted_and_bad_numbers_read_as_zero() -> None:
    lines = [*_stage_events(1, 3),
             json.dumps({"Event": "SparkListenerTaskEnd", "Task Metrics": {"Executor Run Time": 5}}),  # no stage id
             json.dumps({"Event": "SparkListenerStageCompleted"}),  # no stage info
             json.dumps({"Event": "SparkListenerJobStart"}),  # no job id
             _task_end(1, 0, 100.0, **{"JVM GC Time": "lots"}),  # non-numeric metric
             json.dumps({"Event": "SparkListenerTaskEnd", "Stage ID": 1, "Task Info": {"Task ID": 7},
                         "Task End Reason": {"Reason": "TaskKilled"}}),  # no metrics at all
             json.dumps({"Event": "SparkListenerSomethingNew", "x": 1}),
             json.dumps({"Event": "SparkListenerTaskEnd", "Stage ID": "one"})]
    parsed = el.parse_lines(lines)
    assert sum(parsed.report.malformed.values()) == 4
    assert parsed.report.ignored == {"SparkListenerSomethingNew": 1}
    stage = parsed.stages.iloc[0]
    assert stage["gc_ms"] == 0 and stage["executor_run_ms"] == 100 and stage["failed_tasks"] == 1


def test_medians_follow_spark_task_summary_index_and_skip_failed_tasks() -> None:
    runs = [10.0, 20.0, 30.0, 40.0]
    lines = [*_stage_events(1, 5), *(_task_end(1, i, r) for i, r in enumerate(runs)),
             _task_end(1, 9, 999.0, reason="ExceptionFailure")]
    stage = el.parse_lines(lines).stages.iloc[0]
    assert stage["task_ms_median"] == 30.0 and stage["task_ms_max"] == 40.0  # index min(int(0.5 * 4), 3) = 2
    assert stage["skew_ratio"] == pytest.approx(40 / 30)


@pytest.mark.parametrize("content", [b"order_id,amount\n1,2.5\n3,4\n", os.urandom(4096), b"\n\n"])
def test_files_without_any_spark_event_are_input_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "app-1"
    path.write_bytes(content)
    with pytest.raises(InputError, match="not a Spark event log") as err:
        el.read_event_log(path)
    assert "eventlog_v2_" in (err.value.fix or "")


def test_wait_for_groups_times_out_with_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    running = el.parse_lines(_stage_events(1, 1)[:2])  # job started, stage submitted, nothing ended
    monkeypatch.setattr(el, "read_event_log", lambda *a, **k: running)
    with pytest.raises(InputError, match="has not recorded the end"):
        el.wait_for_groups(object(), ["g"], timeout=0.3)


# --- engine tier: the local session's own log ---------------------------------------------------


@pytest.mark.timeout(180)
def test_the_running_application_log_has_a_job_as_soon_as_it_ended() -> None:
    import platform_kit

    spark = platform_kit.connect().spark
    sc = spark.sparkContext
    sc.setJobGroup("t-eventlog", "eventlog test", interruptOnCancel=False)
    try:
        spark.range(0, 20000, numPartitions=2).selectExpr("id % 7 AS k").groupBy("k").count().collect()
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    log = el.wait_for_groups(spark, ["t-eventlog"], timeout=30)
    stages = log.for_group("t-eventlog").stages
    assert (stages["status"] == "COMPLETE").all() and stages["num_tasks"].sum() >= 2
    assert stages["executor_run_ms"].sum() >= 0 and len(log.tasks) == stages["num_tasks"].sum()
    assert el.event_log_path(spark).exists()
