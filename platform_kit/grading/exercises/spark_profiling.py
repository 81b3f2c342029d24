"""Exercise of lab ``03_spark``, section 7 (profiling stages): name a job's bottleneck."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise
from platform_kit.spark.profiling import diagnose, name_bottleneck

LAB = "03_spark"
LABELS = ("python_udf", "gc_pressure", "wide_shuffle", "spill", "skew", "none")


def _stage(stage_id: int, *, tasks: int = 4, run: float = 4000.0, cpu: float | None = None, gc: float = 40.0,
           operators: str = "WholeStageCodegen (1), Scan parquet", median: float | None = None,
           longest: float | None = None, **extra: float) -> dict[str, Any]:
    median = run / tasks if median is None else median
    row = {"stage_id": stage_id, "attempt": 0, "name": f"collect at job.py:{stage_id}", "num_tasks": tasks,
           "executor_run_ms": run, "executor_cpu_ms": 0.8 * run if cpu is None else cpu, "gc_ms": gc,
           "deserialize_ms": 20.0 * tasks, "result_serialization_ms": 2.0, "input_bytes": 50e6, "input_records": 1e6,
           "shuffle_read_bytes": 0.0, "shuffle_write_bytes": 0.0, "shuffle_fetch_wait_ms": 0.0,
           "shuffle_write_time_ms": 0.0, "memory_spilled_bytes": 0.0, "disk_spilled_bytes": 0.0, "python_ms": 0.0,
           "operators": operators, "task_ms_median": median, "task_ms_max": median * 1.1 if longest is None else longest,
           "submitted_ms": 1.7e12 + stage_id * 5000.0, "completed_ms": 1.7e12 + stage_id * 5000.0 + run / 2}
    return row | extra


def hidden_variants(seed: int = 3) -> list[tuple[str, str, pd.DataFrame]]:
    """Fabricated jobs with one clear bottleneck each: (description, intended label, stage table)."""
    rng = np.random.default_rng(seed)

    def j(x: float) -> float:  # +-15 % jitter so that hard-coded numbers do not help
        return float(x * rng.uniform(0.85, 1.15))

    ops = "Exchange, WholeStageCodegen (1), Scan parquet"
    cases = [
        ("a row-at-a-time Python UDF (BatchEvalPython) feeding an aggregation", "python_udf", [
            _stage(1, run=j(30000), cpu=j(2500), gc=j(300), python_ms=j(24000), shuffle_write_bytes=2e5,
                   operators="Exchange, BatchEvalPython, WholeStageCodegen (1), Scan parquet"),
            _stage(2, tasks=1, run=j(200), shuffle_read_bytes=2e5)]),
        ("an Arrow UDF stage whose Python metrics were not recorded (run time >> JVM CPU time)", "python_udf", [
            _stage(1, run=j(20000), cpu=j(1800), gc=j(200), operators="ArrowEvalPython, WholeStageCodegen (1), Scan parquet"),
            _stage(2, tasks=1, run=j(150))]),
        ("a collect_list over a few huge groups on small executors", "gc_pressure", [
            _stage(1, run=j(40000), gc=j(16000), cpu=j(20000), shuffle_write_bytes=j(3e5),
                   operators="Exchange, ObjectHashAggregate, Scan parquet"),
            _stage(2, tasks=2, run=j(1500), gc=j(400), shuffle_read_bytes=j(3e5))]),
        ("a join of two large tables by sort-merge (every row shuffled)", "wide_shuffle", [
            _stage(1, run=j(3000), shuffle_write_bytes=j(4e8), shuffle_write_time_ms=j(900), operators=ops),
            _stage(2, run=j(2500), shuffle_write_bytes=j(3e8), shuffle_write_time_ms=j(700), operators=ops),
            _stage(3, tasks=200, run=j(60000), gc=j(900), shuffle_read_bytes=j(7e8), shuffle_fetch_wait_ms=j(15000),
                   operators="SortMergeJoin, Sort, WholeStageCodegen (3)")]),
        ("an aggregation whose reducers run out of execution memory", "spill", [
            _stage(1, run=j(5000), shuffle_write_bytes=j(5e5), shuffle_write_time_ms=40.0, operators=ops),
            _stage(2, run=j(20000), shuffle_read_bytes=j(5e5), memory_spilled_bytes=j(6e9), disk_spilled_bytes=j(1.5e9),
                   operators="HashAggregate, WholeStageCodegen (2)")]),
        ("a join where one key holds a third of the rows", "skew", [
            _stage(1, run=j(3000), shuffle_write_bytes=j(4e5), operators=ops),
            _stage(2, tasks=32, run=j(40000), median=j(300), longest=j(18000), shuffle_read_bytes=j(4e5),
                   operators="SortMergeJoin, WholeStageCodegen (2)")]),
        ("a healthy scan and filter", "none", [_stage(1, tasks=8, run=j(6000), gc=j(120))]),
        ("a small healthy aggregation", "none", [
            _stage(1, run=j(2500), gc=j(50), shuffle_write_bytes=j(2e4), operators=ops),
            _stage(2, tasks=1, run=j(60), shuffle_read_bytes=j(2e4))]),
    ]
    return [(text, label, pd.DataFrame(rows)) for text, label, rows in cases]


def _call(answer: Callable[[pd.DataFrame], Any], table: pd.DataFrame, label: str) -> str:
    got = answer(table.copy())
    if not isinstance(got, str):
        fail(f"return the bottleneck's name as a string, got {type(got).__name__} (on {label})")
    if got not in LABELS:
        fail(f"{got!r} is not one of {', '.join(LABELS)} (on {label})")
    return got


def _why(table: pd.DataFrame) -> str:
    findings = diagnose(table)
    return f" ({findings[0].evidence})" if findings else " (no rule reaches 10 % of the executor time)"


@exercise(
    id="spark.name_bottleneck",
    lab=LAB,
    kind="function",
    title="name the bottleneck of a job from its per-stage metrics",
    hint="estimate, per cause, the executor time it cost and pick the largest if it is >= 10 % of the summed "
    "executor_run_ms: python_udf = python_ms (or run - cpu - gc when a *EvalPython operator shows and python_ms is 0), "
    "gc_pressure = gc_ms of stages with gc_ms >= 10 % of their run, wide_shuffle = run - gc of stages reading "
    ">= 1 MB of shuffle plus shuffle_write_time_ms, spill = 2 x disk_spilled_bytes at 50 MB/s, skew = "
    "(task_ms_max - task_ms_median) x (min(num_tasks, 4) - 1) when max >= 3x median; else 'none'",
)
def _grade_name_bottleneck(answer: Any, context: dict[str, Any]) -> str:
    jobs: Mapping[str, Any] = (context or {}).get("jobs") or {}
    checked = 0
    for intended, table in jobs.items():
        if not isinstance(table, pd.DataFrame) or table.empty:
            continue
        expected = name_bottleneck(table)
        got = _call(answer, table, f"the notebook's {intended} job")
        if got not in (expected, intended):
            fail(f"on the notebook's {intended} job you answered {got!r}; its metrics point at {expected!r}{_why(table)}")
        checked += 1
    answers = set()
    for text, _intended, table in hidden_variants():
        expected = name_bottleneck(table)
        got = _call(answer, table, text)
        if got != expected:
            fail(f"on {text} you answered {got!r}, but the metrics point at {expected!r}{_why(table)}")
        answers.add(got)
    return (f"right on {checked} notebook job(s) and {len(hidden_variants())} hidden jobs "
            f"({len(answers)} different bottlenecks)")
