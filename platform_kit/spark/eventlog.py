"""The Spark event log parsed into per-task and per-stage metrics (pandas).

Every Spark application with ``spark.eventLog.enabled`` writes one JSON object per
listener event: jobs and stages starting and ending, and for every task its metrics
(run time, JVM CPU time, GC time, (de)serialisation, shuffle read/write with fetch wait
and write time, spill, input). The history server and the live UI are built from exactly
these events, so parsing them gives the Spark UI's numbers as DataFrames, plus what the
status REST API does not expose: the physical operators of each stage (its RDD scopes, e.g.
``BatchEvalPython``) and the Python workers' SQL metrics::

    log = read_event_log(spark)                 # the running application's log, flushed so far
    job = log.for_group(measured_group)         # the stages one ks.measure() ran
    job.stages[["stage_id", "executor_run_ms", "gc_ms", "shuffle_write_bytes", "operators"]]
    compare_with_rest(job.stages, measurement)  # the same numbers as the REST API?

Spark 4 rolls and zstd-compresses event logs by default (see
:mod:`~platform_kit.spark._eventlog_read`); the running application's log is readable up to
its last flush (Spark flushes at every job and stage end). Lines that are not JSON, events
without their identifying fields and a cut-off last line are skipped and counted in
:class:`ParseReport`; a file with no Spark event at all is an :class:`InputError`.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import InputError
from platform_kit.spark._eventlog_parse import PYTHON_OPERATORS, EventAccumulator
from platform_kit.spark._eventlog_read import event_log_files, event_log_path, iter_lines
from platform_kit.spark.monitor import JobMetrics, StageMetrics

_log = logging.getLogger(__name__)

__all__ = ["COMPARED", "PYTHON_OPERATORS", "STAGE_COLUMNS", "TASK_SUMS", "EventLog", "ParseReport", "compare_with_rest",
           "event_log_path", "parse_lines", "read_event_log", "wait_for_groups"]

#: Task metrics summed into stage rows (the same names as :class:`~platform_kit.spark.monitor.StageMetrics`).
TASK_SUMS = {"executor_run_ms": "run_ms", "executor_cpu_ms": "cpu_ms", "gc_ms": "gc_ms",
             "result_serialization_ms": "result_serialization_ms", "deserialize_ms": "deserialize_ms",
             "input_bytes": "input_bytes", "input_records": "input_records", "output_bytes": "output_bytes",
             "shuffle_read_bytes": "shuffle_read_bytes", "shuffle_remote_bytes": "shuffle_remote_bytes",
             "shuffle_local_bytes": "shuffle_local_bytes", "shuffle_fetch_wait_ms": "shuffle_fetch_wait_ms",
             "shuffle_write_bytes": "shuffle_write_bytes", "shuffle_write_time_ms": "shuffle_write_time_ms",
             "shuffle_records_read": "shuffle_records_read", "shuffle_records_written": "shuffle_records_written",
             "memory_spilled_bytes": "memory_spilled_bytes", "disk_spilled_bytes": "disk_spilled_bytes",
             "peak_execution_memory": "peak_execution_memory"}
_EXTRA = ("job_group", "operators", "python_ms", "python_bytes", "shuffle_local_bytes", "shuffle_write_time_ms",
          "shuffle_records_read", "shuffle_records_written", "failed_tasks", "failure_reason", "skew_ratio")
#: Columns of :attr:`EventLog.stages`: the REST measurements' fields, then what only the log has.
STAGE_COLUMNS = (*(f.name for f in fields(StageMetrics)), *_EXTRA)
_TASK_COLUMNS = ("stage_id", "attempt", "task_id", "index", "executor_id", "host", "task_type", "reason",
                 "launch_ms", "finish_ms", "duration_ms", *dict.fromkeys(TASK_SUMS.values()))


@dataclass(frozen=True)
class ParseReport:
    """What the parser read, used and skipped.

    Attributes:
        source: The file, folder or ``<lines>`` parsed.
        files: Files read (a rolling log has several parts).
        events: Lines that were Spark events (used or not).
        used: Events decoded into rows.
        ignored: Event types not needed for profiling (or unknown), with counts.
        bad_lines: Lines that are not a JSON event (garbage, binary, other JSON).
        malformed: Events lacking identifying fields, by reason.
        truncated_tail: The last line was cut off (an in-progress write or a truncated copy).
        seconds: Parse time.
    """

    source: str
    files: int
    events: int
    used: int
    ignored: dict[str, int]
    bad_lines: int
    malformed: dict[str, int]
    truncated_tail: bool
    seconds: float
    blank_lines: int = 0
    undecodable_lines: int = 0
    filtered: int = 0

    @property
    def events_per_s(self) -> float:
        """Parse rate (events per second of parse time)."""
        return self.events / self.seconds if self.seconds > 0 else float("inf")

    @property
    def skipped(self) -> int:
        """Lines or events that did not become rows for a reason other than not being needed."""
        return self.bad_lines + sum(self.malformed.values()) + int(self.truncated_tail)

    def summary(self) -> str:
        """One line for a notebook."""
        parts = [f"{self.events:,} events ({self.used:,} used) from {self.files} file(s) in {self.seconds:.2f} s "
                 f"({self.events_per_s:,.0f} events/s)"]
        if self.bad_lines:
            parts.append(f"{self.bad_lines} non-event line(s) skipped")
        if self.malformed:
            parts.append(f"{sum(self.malformed.values())} malformed event(s) skipped: "
                         + "; ".join(f"{k} x{v}" for k, v in sorted(self.malformed.items())[:3]))
        if self.truncated_tail:
            parts.append("last line cut off (write in progress)")
        return ", ".join(parts)


@dataclass(frozen=True)
class EventLog:
    """One application's log as DataFrames.

    Attributes:
        app: ``app_id``, ``app_name``, ``spark_version`` when the log has them.
        stages: One row per stage attempt (:data:`STAGE_COLUMNS`).
        tasks: One row per finished task attempt.
        jobs: One row per job: id, group, description, times, result, stage ids.
        executors: Executor id -> cores.
        report: What was skipped and why.
    """

    app: dict[str, str]
    stages: pd.DataFrame
    tasks: pd.DataFrame
    jobs: pd.DataFrame
    executors: dict[str, int] = field(default_factory=dict)
    report: ParseReport | None = None

    @property
    def cores(self) -> int:
        """Executor cores the application had (0 when the log names no executor: local mode)."""
        return int(sum(c for e, c in self.executors.items() if e != "driver"))

    def groups(self) -> list[str]:
        """Job groups in the log, in order of first appearance."""
        return list(dict.fromkeys(g for g in self.jobs.get("job_group", pd.Series(dtype=object)) if g))

    def for_group(self, group: str) -> EventLog:
        """Only the jobs, stages and tasks of one job group.

        Args:
            group: A job group id, or a job description: ``ks.measure(spark, work, label)``
                runs its work in a group of its own with ``label`` as the description; when
                several groups carry that description, the latest is taken.

        Raises:
            InputError: No stage of that group is in the log (yet).
        """
        jobs = self.jobs[self.jobs["job_group"] == group]
        if jobs.empty and "description" in self.jobs:
            described = self.jobs[self.jobs["description"] == group]
            if not described.empty:
                latest = described.sort_values("job_id")["job_group"].iloc[-1]
                jobs = self.jobs[self.jobs["job_group"] == latest] if latest else described
        ids = {int(s) for ids in jobs["stage_ids"] for s in ids}
        groups = set(jobs["job_group"].dropna())
        stages = self.stages[self.stages["stage_id"].isin(ids) | self.stages["job_group"].isin(groups | {group})]
        if stages.empty:
            known = ", ".join(self.groups()[-5:]) or "none"
            raise InputError(f"no stage of job group {group!r} in this event log (last groups: {known})",
                             fix="re-read the log after the job ended (Spark flushes it at job end)")
        keys = set(zip(stages["stage_id"], stages["attempt"], strict=True))
        tasks = self.tasks[[k in keys for k in zip(self.tasks["stage_id"], self.tasks["attempt"], strict=True)]]
        return EventLog(self.app, stages.reset_index(drop=True), tasks.reset_index(drop=True),
                        jobs.reset_index(drop=True), self.executors, self.report)


def _quantile_index(count: int, q: float) -> int:
    """The index Spark's task summary (and so the REST API) uses for quantile ``q``."""
    return min(int(q * count), count - 1)


def _stage_frame(acc: EventAccumulator, tasks: pd.DataFrame) -> pd.DataFrame:
    rows = {key: dict(row) for key, row in acc.stages.items()}
    if not tasks.empty:
        sums = tasks.groupby(["stage_id", "attempt"])[list(dict.fromkeys(TASK_SUMS.values()))].sum()
        for key in sums.index:
            rows.setdefault(key, {"stage_id": key[0], "attempt": key[1], "status": "UNKNOWN", "name": ""})
            stage_sums = sums.loc[key]
            rows[key].update({col: float(stage_sums[src]) for col, src in TASK_SUMS.items()})
        for key, group in tasks.groupby(["stage_id", "attempt"]):
            ok = np.sort(group.loc[group["reason"] == "Success", "run_ms"].to_numpy())
            rows[key]["task_ms_median"] = float(ok[_quantile_index(len(ok), 0.5)]) if len(ok) else 0.0
            rows[key]["task_ms_max"] = float(ok[-1]) if len(ok) else 0.0
            rows[key]["failed_tasks"] = int((group["reason"] != "Success").sum())
    jobs_of = {sid: job.get("job_group") for job in acc.jobs.values() for sid in job.get("stage_ids", [])}
    frame = pd.DataFrame(list(rows.values()), columns=list(STAGE_COLUMNS))
    if frame.empty:
        return frame
    frame["job_group"] = [g if isinstance(g, str) else jobs_of.get(s) for g, s in
                          zip(frame["job_group"], frame["stage_id"], strict=True)]
    numeric = [c for c in STAGE_COLUMNS if c not in ("name", "status", "job_group", "operators", "failure_reason")]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    for col in ("stage_id", "attempt", "num_tasks", "failed_tasks"):
        frame[col] = frame[col].astype(int)
    frame["operators"] = frame["operators"].fillna("")
    frame["name"] = frame["name"].fillna("")
    done = frame["completed_ms"] > 0
    frame["duration_ms"] = np.where(done, (frame["completed_ms"] - frame["submitted_ms"]).clip(lower=0), 0.0)
    median = frame["task_ms_median"]
    frame["skew_ratio"] = np.where(median > 0, frame["task_ms_max"] / median.where(median > 0, 1), 1.0)
    return frame.sort_values(["submitted_ms", "stage_id", "attempt"]).reset_index(drop=True)


def _build(acc: EventAccumulator, source: str, files: int, seconds: float, undecodable: int,
           blank: int) -> EventLog:
    report = ParseReport(source, files, acc.events, acc.used, dict(acc.ignored), acc.bad_lines,
                         dict(acc.malformed), acc.truncated_tail, seconds, blank, undecodable, acc.filtered)
    if acc.events == 0:
        raise InputError(f"{source} is not a Spark event log: none of its lines is a JSON listener event "
                         f"({acc.bad_lines} unreadable line(s))",
                         fix="point at <spark.eventLog.dir>/eventlog_v2_<app-id> (Spark 4) or <app-id>[.inprogress]; "
                             "event_log_path(spark) finds the running application's")
    if acc.bad_lines > acc.events:
        _log.warning("%s: %d of %d lines are not Spark events", source, acc.bad_lines, acc.bad_lines + acc.events)
    tasks = pd.DataFrame(acc.tasks, columns=list(_TASK_COLUMNS))
    jobs = pd.DataFrame(list(acc.jobs.values()), columns=["job_id", "job_group", "description", "sql_execution_id",
                                                          "submitted_ms", "completed_ms", "result", "stage_ids"])
    return EventLog(dict(acc.app), _stage_frame(acc, tasks), tasks, jobs, dict(acc.executors), report)


def _accumulator(groups: Iterable[str] | None) -> EventAccumulator:
    if isinstance(groups, str):
        groups = [groups]
    return EventAccumulator(groups=frozenset(groups) if groups is not None else None)


def parse_lines(lines: Iterable[str], *, source: str = "<lines>", groups: Iterable[str] | None = None,
                last_line_may_be_cut: bool = True) -> EventLog:
    """Parse event-log lines already in memory (tests, logs fetched elsewhere).

    Args:
        lines: One JSON event per line.
        source: Name used in messages.
        groups: Keep only the jobs of these job groups (and their stages and tasks).
        last_line_may_be_cut: Count an unparseable last line as a cut-off write, not garbage.

    Raises:
        InputError: No line is a Spark listener event.
    """
    began = time.perf_counter()
    acc = _accumulator(groups)
    acc.feed(lines, last_line_may_be_cut=last_line_may_be_cut)
    return _build(acc, source, 0, time.perf_counter() - began, 0, acc.blank_lines)


def read_event_log(source: Any, *, groups: Iterable[str] | None = None) -> EventLog:
    """Read an application's event log: a SparkSession (its running app), a file or a rolling folder.

    Args:
        source: A SparkSession, or the path of a log file / ``eventlog_v2_<app>`` folder.
        groups: Keep only the jobs of these job groups; the other tasks are skipped without
            being decoded, which makes reading a long-running application's log much faster.

    Returns:
        The parsed log; ``report`` says what was skipped.

    Raises:
        InputError: The path does not exist, is not an event log, or uses an unreadable codec.
    """
    if hasattr(source, "sparkContext"):
        source = event_log_path(source)
    if not isinstance(source, str | Path):
        raise InputError(f"cannot read an event log from a {type(source).__name__}",
                         fix="pass a SparkSession or the path of an event log file or folder")
    files = event_log_files(source)
    began = time.perf_counter()
    acc = _accumulator(groups)
    stats: dict[str, int] = {}
    for position, path in enumerate(files):
        last = position == len(files) - 1
        acc.feed(iter_lines(path, stats), last_line_may_be_cut=last)
    return _build(acc, str(source), len(files), time.perf_counter() - began, stats.get("undecodable", 0),
                  acc.blank_lines)


def wait_for_groups(spark: Any, groups: Iterable[str], *, timeout: float = 15.0) -> EventLog:
    """Read the running application's log until every job of ``groups`` has ended in it.

    The event log is written by its own listener queue, so right after an action returns
    (even after the REST API shows it finished) its last events may not be flushed yet.

    Raises:
        InputError: A group's jobs are not all in the log after ``timeout`` seconds.
    """
    wanted = [groups] if isinstance(groups, str) else list(groups)
    deadline = time.monotonic() + timeout
    while True:
        log = read_event_log(spark, groups=wanted)
        seen = set(log.jobs["job_group"]) | set(log.jobs["description"])
        ended = bool(len(log.jobs)) and bool((log.jobs["result"] != "RUNNING").all())
        settled = not (log.stages["status"] == "ACTIVE").any() if len(log.stages) else False
        if ended and settled and seen >= set(wanted):
            return log
        if time.monotonic() > deadline:
            missing = sorted(set(wanted) - seen) or sorted(wanted)
            raise InputError(f"the event log has not recorded the end of job group(s) {missing} "
                             f"after {timeout:.0f} s", fix="check that the work ran in that job group (ks.measure does)")
        time.sleep(0.2)


#: Fields compared by :func:`compare_with_rest` (both sources count them the same way).
COMPARED = ("num_tasks", "executor_run_ms", "executor_cpu_ms", "gc_ms", "deserialize_ms", "input_records",
            "shuffle_read_bytes", "shuffle_write_bytes", "shuffle_fetch_wait_ms", "disk_spilled_bytes",
            "task_ms_median", "task_ms_max")


def compare_with_rest(log_stages: pd.DataFrame, measured: JobMetrics, *, rel_tol: float = 0.01) -> pd.DataFrame:
    """Stage by stage and metric by metric: the event log's numbers against the REST API's.

    Args:
        log_stages: :attr:`EventLog.stages` (usually ``for_group(...)`` of the measured work).
        measured: The :class:`~platform_kit.spark.monitor.JobMetrics` of the same work.
        rel_tol: Relative difference still counted as agreeing (CPU time is rounded differently).

    Returns:
        Long table: stage_id, metric, event_log, rest_api, agree.
    """
    by_key = {(int(r.stage_id), int(r.attempt)): r for r in log_stages.itertuples(index=False)}
    rows = []
    for stage in measured.stages:
        row = by_key.get((stage.stage_id, stage.attempt))
        for metric in COMPARED:
            rest = float(getattr(stage, metric))
            log = float(getattr(row, metric)) if row is not None else float("nan")
            agree = row is not None and abs(log - rest) <= max(rel_tol * max(abs(rest), abs(log)), 1.0)
            rows.append({"stage_id": stage.stage_id, "metric": metric, "event_log": log, "rest_api": rest,
                         "agree": bool(agree)})
    return pd.DataFrame(rows, columns=["stage_id", "metric", "event_log", "rest_api", "agree"])
