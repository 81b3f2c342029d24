"""Section 7's bottleneck rules, their ranking, the timeline plot and the spark.name_bottleneck grader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.grading.exercises.spark_profiling import LABELS, hidden_variants
from platform_kit.spark import eventlog as el
from platform_kit.spark import profiling as pr
from platform_kit.spark.monitor import JobMetrics, StageMetrics

matplotlib.use("Agg")

FIXTURE = Path(__file__).parent / "data" / "spark_eventlog" / "eventlog_v2_app-20261126064025-0000"


def _row(stage_id: int = 1, **values: Any) -> dict[str, Any]:
    base = {"stage_id": stage_id, "num_tasks": 4, "executor_run_ms": 10_000.0, "executor_cpu_ms": 8_000.0,
            "gc_ms": 100.0, "task_ms_median": 2_500.0, "task_ms_max": 2_600.0, "submitted_ms": 1e12 + stage_id * 1e4,
            "completed_ms": 1e12 + stage_id * 1e4 + 5e3}
    return base | values


def _kinds(*rows: dict[str, Any]) -> list[str]:
    return [f.bottleneck for f in pr.diagnose(pd.DataFrame(list(rows)))]


# --- rules ---------------------------------------------------------------------------------------


def test_python_udf_is_named_from_python_metrics_or_operator_plus_cpu_gap() -> None:
    assert _kinds(_row(python_ms=7_000.0, operators="BatchEvalPython")) == ["python_udf"]
    assert _kinds(_row(executor_cpu_ms=1_000.0, operators="ArrowEvalPython, Scan parquet")) == ["python_udf"]
    # A low CPU share alone (a REST table: no operators) is not evidence of Python: waiting on CPU looks the same.
    assert _kinds(_row(executor_cpu_ms=1_000.0)) == []
    # An operator with the JVM busy most of the time: Python is not where the time went.
    assert _kinds(_row(executor_cpu_ms=9_000.0, operators="ArrowEvalPython")) == []


def test_gc_pressure_starts_at_ten_percent_of_run_time() -> None:
    assert _kinds(_row(gc_ms=999.0)) == []
    findings = pr.diagnose(pd.DataFrame([_row(gc_ms=1_000.0)]))
    assert [f.bottleneck for f in findings] == ["gc_pressure"] and findings[0].share == pytest.approx(0.1)
    assert "10%" in findings[0].evidence and findings[0].fix == pr.FIXES["gc_pressure"]


def test_wide_shuffle_needs_a_megabyte_and_counts_the_stages_fed_by_it() -> None:
    assert _kinds(_row(shuffle_read_bytes=0.9e6)) == []
    findings = pr.diagnose(pd.DataFrame([_row(1, shuffle_write_bytes=5e6, shuffle_write_time_ms=300.0),
                                         _row(2, shuffle_read_bytes=5e6, gc_ms=500.0)]))
    assert [(f.bottleneck, f.stage_id, f.attributed_ms) for f in findings] == [
        ("wide_shuffle", 2, 9_500.0), ("wide_shuffle", 1, 300.0)]


def test_spill_skew_and_tiny_tasks() -> None:
    spill = pr.diagnose(pd.DataFrame([_row(disk_spilled_bytes=100e6, memory_spilled_bytes=400e6)]))
    assert spill[0].bottleneck == "spill" and spill[0].attributed_ms == 4_000.0  # 2 x 100 MB at 50 MB/s
    skew = pr.diagnose(pd.DataFrame([_row(task_ms_median=500.0, task_ms_max=2_000.0)]))
    assert skew[0].bottleneck == "skew" and skew[0].attributed_ms == 1_500.0 * 3
    capped = pr.diagnose(pd.DataFrame([_row(task_ms_median=500.0, task_ms_max=9_000.0, executor_run_ms=10_000.0)]))
    assert capped[0].attributed_ms == 10_000.0
    assert _kinds(_row(task_ms_median=10.0, task_ms_max=25.0)) == []  # 2.5x: under the ratio
    tiny = pr.diagnose(pd.DataFrame([_row(num_tasks=200, task_ms_median=20.0, task_ms_max=30.0, deserialize_ms=4_000.0)]))
    assert tiny[0].bottleneck == "tiny_tasks" and tiny[0].attributed_ms == 4_000.0


def test_ranking_sums_stages_and_names_the_costliest_cause_above_the_floor() -> None:
    table = pd.DataFrame([_row(1, gc_ms=2_000.0), _row(2, gc_ms=1_500.0),
                          _row(3, python_ms=3_000.0, operators="BatchEvalPython")])
    ranked = pr.rank_bottlenecks(table)
    assert list(ranked["bottleneck"]) == ["gc_pressure", "python_udf"]
    assert ranked.loc[0, "attributed_ms"] == 3_500.0 and ranked.loc[0, "stages"] == "1, 2"
    assert pr.name_bottleneck(table) == "gc_pressure"
    assert pr.name_bottleneck(table, pr.Thresholds(min_share=0.5)) == "none"
    assert pr.name_bottleneck(pd.DataFrame([_row()])) == "none"
    assert pr.stage_bottlenecks(table) == {1: "gc_pressure", 2: "gc_pressure", 3: "python_udf"}


def test_the_real_log_jobs_are_named_as_designed() -> None:
    log = el.read_event_log(FIXTURE)
    assert pr.name_bottleneck(log.for_group("s7-python_udf").stages) == "python_udf"
    assert pr.name_bottleneck(log.for_group("s7-gc_pressure")) == "gc_pressure"  # an EventLog is a stage source too


# --- inputs --------------------------------------------------------------------------------------


def test_stage_table_accepts_measurements_lists_and_fills_optional_columns() -> None:
    stage = StageMetrics(3, 0, "s", "COMPLETE", 4, 10.0, 100.0, 10.0, 50.0, 0.0, 0.0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0,
                         20.0, 30.0)
    for source in (JobMetrics("j", 1.0, (stage,)), [stage], [{"stage_id": 3, "num_tasks": 4, "executor_run_ms": 100,
                                                             "gc_ms": 50}]):
        table = pr.stage_table(source)
        assert table.loc[0, "stage_id"] == 3 and table.loc[0, "operators"] == "" and table.loc[0, "python_ms"] == 0
    assert pr.name_bottleneck(JobMetrics("j", 1.0, (stage,))) == "gc_pressure"


@pytest.mark.parametrize(("bad", "message"), [
    ("not a table", "expected a table"),
    (42, "expected a table"),
    (pd.DataFrame([{"stage_id": 1, "num_tasks": 2}]), "lacks column"),
    (pd.DataFrame([{"stage_id": 1, "num_tasks": 2, "executor_run_ms": "slow", "gc_ms": 1}]), "non-numeric"),
    (pd.DataFrame([{"stage_id": 1, "num_tasks": 2, "executor_run_ms": None, "gc_ms": 1}]), "non-numeric"),
    (pd.DataFrame([{"stage_id": 1, "num_tasks": 2, "executor_run_ms": -5, "gc_ms": 1}]), "negative"),
])
def test_malformed_stage_tables_are_input_errors(bad: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pr.diagnose(bad)


def test_an_empty_table_or_zero_run_time_names_nothing() -> None:
    empty = pd.DataFrame(columns=["stage_id", "num_tasks", "executor_run_ms", "gc_ms"])
    assert pr.diagnose(empty) == [] and pr.name_bottleneck(empty) == "none"
    assert pr.name_bottleneck(pd.DataFrame([_row(executor_run_ms=0.0, gc_ms=0.0)])) == "none"


def test_timeline_draws_one_bar_per_stage_and_rejects_tables_without_times() -> None:
    table = pd.DataFrame([_row(1, gc_ms=3_000.0), _row(2, python_ms=5_000.0, operators="BatchEvalPython")])
    ax = pr.plot_timeline(table.assign(job="j"))
    assert len(ax.patches) == 2 and {t.get_text().strip() for t in ax.texts} == {"gc_pressure", "python_udf"}
    with pytest.raises(InputError, match="lacks"):
        pr.plot_timeline(table.drop(columns=["submitted_ms"]))
    with pytest.raises(InputError, match="no completed stage"):
        pr.plot_timeline(table.assign(completed_ms=0.0))


# --- grader --------------------------------------------------------------------------------------


def _jobs() -> dict[str, pd.DataFrame]:
    log = el.read_event_log(FIXTURE)
    return {"python_udf": log.for_group("s7-python_udf").stages, "gc_pressure": log.for_group("s7-gc_pressure").stages}


def test_hidden_variants_cover_every_label_and_are_named_as_intended() -> None:
    for seed in range(3, 13):
        variants = hidden_variants(seed)
        assert {label for _, label, _ in variants} == set(LABELS)
        assert all(pr.name_bottleneck(table) == label for _, label, table in variants)


def test_grader_accepts_the_reference_rules() -> None:
    assert check("spark.name_bottleneck", pr.name_bottleneck, context={"jobs": _jobs()}, show=False).passed


@pytest.mark.parametrize("wrong", [
    lambda t: "gc_pressure",  # always the same answer
    lambda t: "python_udf" if (t["executor_cpu_ms"] < 0.5 * t["executor_run_ms"]).any() else "none",  # CPU gap only
    lambda t: "python_udf" if t["operators"].str.contains("Python").any() else "none",  # one rule
    lambda t: pr.name_bottleneck(t).upper(),  # not one of the labels
    lambda t: 3,  # not a string
])
def test_grader_rejects_wrong_rules(wrong: Any) -> None:
    result = check("spark.name_bottleneck", wrong, context={"jobs": _jobs()}, show=False)
    assert not result.passed


def test_grader_accepts_the_intended_label_on_the_notebook_jobs_but_not_a_third_one() -> None:
    jobs = _jobs()

    def intended_on_real_else_reference(t: pd.DataFrame) -> str:
        for label, table in jobs.items():
            if t.equals(table):
                return label
        return pr.name_bottleneck(t)

    assert check("spark.name_bottleneck", intended_on_real_else_reference, context={"jobs": jobs}, show=False).passed
    neither = check("spark.name_bottleneck", lambda t: "skew", context={"jobs": jobs}, show=False)
    assert not neither.passed and "notebook's python_udf job" in str(neither)


def test_name_bottleneck_check_rejects_a_value_instead_of_a_function() -> None:
    result = check("spark.name_bottleneck", "python_udf", context={"jobs": _jobs()}, show=False)
    assert not result.passed and result.attempted and "expected a function" in result.message
