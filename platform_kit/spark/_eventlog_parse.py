"""Spark listener events (JSON objects) into task, stage and job rows, tolerating bad input.

Only the events profiling needs are decoded (job/stage start and end, task end, executors,
the application's identity); every other event type is counted and skipped without being
parsed, which keeps the parser fast on logs dominated by TaskStart/accumulator updates.
Missing numeric fields read as 0; an event lacking its identifying fields (a TaskEnd
without a stage id...) is counted as malformed, never raised.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EventAccumulator", "PYTHON_OPERATORS"]

_EVENT = re.compile(r'^\{"Event":"([^"]{1,200})"')
_STAGE_ID = re.compile(r'"Stage ID":(\d+)')
_PER_STAGE = frozenset({"SparkListenerStageSubmitted", "SparkListenerStageCompleted", "SparkListenerTaskEnd"})
_WANTED = frozenset({
    "SparkListenerLogStart", "SparkListenerApplicationStart", "SparkListenerJobStart", "SparkListenerJobEnd",
    "SparkListenerStageSubmitted", "SparkListenerStageCompleted", "SparkListenerTaskEnd",
    "SparkListenerExecutorAdded",
})
#: Physical operators that run Python code in Python worker processes.
PYTHON_OPERATORS = ("BatchEvalPython", "ArrowEvalPython", "FlatMapGroupsInPandas", "FlatMapCoGroupsInPandas",
                    "MapInPandas", "MapInArrow", "AggregateInPandas", "WindowInPandas", "PythonMapInArrow",
                    "FlatMapGroupsInArrow", "PythonRDD", "PythonUDTF", "BatchEvalPythonUDTF", "ArrowEvalPythonUDTF")
#: SQL metrics (stage accumulables) of the Python operators, in ms summed over tasks.
_PYTHON_TIME = ("time to run Python workers", "time to execute Python code")
_PYTHON_BYTES = ("data sent to Python workers", "data returned from Python workers")


class _Malformed(Exception):
    """An event without the fields that identify it."""


def _num(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value) if value == value else 0.0  # NaN -> 0
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0.0
    return 0.0


def _get(doc: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, Mapping):
            return None
        doc = doc.get(key)
    return doc


def _need_int(doc: Any, *keys: str) -> int:
    value = _get(doc, *keys)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Malformed(f"missing {'/'.join(keys)}")
    try:
        return int(value)
    except ValueError as exc:
        raise _Malformed(f"non-numeric {'/'.join(keys)}") from exc


def _task_row(event: Mapping[str, Any]) -> dict[str, Any]:
    info = event.get("Task Info") if isinstance(event.get("Task Info"), Mapping) else {}
    metrics = event.get("Task Metrics") if isinstance(event.get("Task Metrics"), Mapping) else {}
    read = metrics.get("Shuffle Read Metrics") if isinstance(metrics.get("Shuffle Read Metrics"), Mapping) else {}
    write = metrics.get("Shuffle Write Metrics") if isinstance(metrics.get("Shuffle Write Metrics"), Mapping) else {}
    launch, finish = _num(info.get("Launch Time")), _num(info.get("Finish Time"))
    reason = _get(event, "Task End Reason", "Reason")
    remote, local = _num(read.get("Remote Bytes Read")), _num(read.get("Local Bytes Read"))
    return {
        "stage_id": _need_int(event, "Stage ID"), "attempt": int(_num(event.get("Stage Attempt ID"))),
        "task_id": int(_num(info.get("Task ID"))), "index": int(_num(info.get("Index"))),
        "executor_id": str(info.get("Executor ID", "")), "host": str(info.get("Host", "")),
        "task_type": str(event.get("Task Type", "")), "reason": str(reason) if reason else "Unknown",
        "launch_ms": launch, "finish_ms": finish, "duration_ms": max(0.0, finish - launch) if finish else 0.0,
        "run_ms": _num(metrics.get("Executor Run Time")), "cpu_ms": _num(metrics.get("Executor CPU Time")) / 1e6,
        "gc_ms": _num(metrics.get("JVM GC Time")), "deserialize_ms": _num(metrics.get("Executor Deserialize Time")),
        "result_serialization_ms": _num(metrics.get("Result Serialization Time")),
        "input_bytes": _num(_get(metrics, "Input Metrics", "Bytes Read")),
        "input_records": _num(_get(metrics, "Input Metrics", "Records Read")),
        "output_bytes": _num(_get(metrics, "Output Metrics", "Bytes Written")),
        "shuffle_read_bytes": remote + local, "shuffle_remote_bytes": remote, "shuffle_local_bytes": local,
        "shuffle_fetch_wait_ms": _num(read.get("Fetch Wait Time")),
        "shuffle_write_bytes": _num(write.get("Shuffle Bytes Written")),
        "shuffle_write_time_ms": _num(write.get("Shuffle Write Time")) / 1e6,
        "shuffle_records_read": _num(read.get("Total Records Read")),
        "shuffle_records_written": _num(write.get("Shuffle Records Written")),
        "memory_spilled_bytes": _num(metrics.get("Memory Bytes Spilled")),
        "disk_spilled_bytes": _num(metrics.get("Disk Bytes Spilled")),
        "peak_execution_memory": _num(metrics.get("Peak Execution Memory")),
    }


def _scopes(stage_info: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for rdd in stage_info.get("RDD Info") or []:
        if not isinstance(rdd, Mapping):
            continue
        scope = rdd.get("Scope")
        name = None
        if isinstance(scope, str) and scope.startswith("{"):
            try:
                name = json.loads(scope).get("name")
            except (ValueError, AttributeError):
                name = None
        label = str(name or rdd.get("Name") or "").strip()
        if label and label not in names:
            names.append(label)
    return names


@dataclass
class EventAccumulator:
    """Folds events into rows; counts what it skips and why.

    With ``groups``, only jobs of those job groups, or with those job descriptions (the label
    ``ks.measure`` gives its work), become rows (with their stages and tasks);
    the other stages' events are recognised by a regex and skipped without JSON decoding.
    """

    tasks: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    executors: dict[str, int] = field(default_factory=dict)
    app: dict[str, str] = field(default_factory=dict)
    events: int = 0
    used: int = 0
    bad_lines: int = 0
    blank_lines: int = 0
    truncated_tail: bool = False
    ignored: Counter[str] = field(default_factory=Counter)
    malformed: Counter[str] = field(default_factory=Counter)
    groups: frozenset[str] | None = None
    filtered: int = 0
    _wanted: set[int] = field(default_factory=set)

    def feed(self, lines: Iterable[str], *, last_line_may_be_cut: bool = False) -> None:
        """Parse lines (one JSON event each); the last one may be an unfinished write."""
        previous: str | None = None
        for line in lines:
            if previous is not None:
                self._line(previous, is_last=False)
            previous = line
        if previous is not None:
            self._line(previous, is_last=last_line_may_be_cut)

    def _line(self, line: str, *, is_last: bool) -> None:
        text = line.strip()
        if not text:
            self.blank_lines += 1
            return
        match = _EVENT.match(text)
        if match and match.group(1) not in _WANTED:
            self.events += 1
            self.ignored[match.group(1)] += 1
            return
        if match and self.groups is not None and match.group(1) in _PER_STAGE:
            stage = _STAGE_ID.search(text, 0, 400)
            if stage and int(stage.group(1)) not in self._wanted:
                self.events += 1
                self.filtered += 1
                return
        try:
            event = json.loads(text)
        except ValueError:
            if is_last:
                self.truncated_tail = True
            else:
                self.bad_lines += 1
            return
        if not isinstance(event, dict) or not isinstance(event.get("Event"), str):
            self.bad_lines += 1
            return
        self.events += 1
        kind = event["Event"]
        handler = getattr(self, "_on_" + kind.removeprefix("SparkListener"), None) if kind in _WANTED else None
        if handler is None:
            self.ignored[kind] += 1
            return
        if self.groups is not None and kind in _PER_STAGE and not self._is_wanted(event):
            self.filtered += 1
            return
        try:
            if handler(event) is not False:
                self.used += 1
        except _Malformed as exc:
            self.malformed[f"{kind}: {exc}"] += 1

    def _is_wanted(self, event: dict[str, Any]) -> bool:
        stage = event.get("Stage ID", _get(event, "Stage Info", "Stage ID"))
        return isinstance(stage, int) and stage in self._wanted

    # --- handlers -----------------------------------------------------------------------------

    def _on_LogStart(self, event: dict[str, Any]) -> None:  # noqa: N802 - named after the event
        self.app["spark_version"] = str(event.get("Spark Version", ""))

    def _on_ApplicationStart(self, event: dict[str, Any]) -> None:  # noqa: N802
        self.app |= {"app_name": str(event.get("App Name", "")), "app_id": str(event.get("App ID", "")),
                     "start_ms": str(event.get("Timestamp", ""))}

    def _on_ExecutorAdded(self, event: dict[str, Any]) -> None:  # noqa: N802
        executor = event.get("Executor ID")
        if executor is None:
            raise _Malformed("missing Executor ID")
        self.executors[str(executor)] = int(_num(_get(event, "Executor Info", "Total Cores")))

    def _on_JobStart(self, event: dict[str, Any]) -> bool | None:  # noqa: N802
        job_id = _need_int(event, "Job ID")
        props = event.get("Properties") if isinstance(event.get("Properties"), Mapping) else {}
        stage_ids = [int(_num(s)) for s in event.get("Stage IDs") or [] if isinstance(s, int | float | str)]
        if self.groups is not None:
            if props.get("spark.jobGroup.id") not in self.groups and props.get("spark.job.description") not in self.groups:
                self.filtered += 1
                return False
            self._wanted.update(stage_ids)
        self.jobs[job_id] = {"job_id": job_id, "job_group": props.get("spark.jobGroup.id"),
                             "description": props.get("spark.job.description"),
                             "sql_execution_id": props.get("spark.sql.execution.id"),
                             "submitted_ms": _num(event.get("Submission Time")), "completed_ms": 0.0,
                             "result": "RUNNING", "stage_ids": stage_ids}

    def _on_JobEnd(self, event: dict[str, Any]) -> bool | None:  # noqa: N802
        if self.groups is not None and _need_int(event, "Job ID") not in self.jobs:
            self.filtered += 1
            return False
        job = self.jobs.setdefault(_need_int(event, "Job ID"), {"job_id": _need_int(event, "Job ID"),
                                                                "job_group": None, "description": None,
                                                                "sql_execution_id": None, "submitted_ms": 0.0,
                                                                "stage_ids": []})
        job["completed_ms"] = _num(event.get("Completion Time"))
        job["result"] = str(_get(event, "Job Result", "Result") or "Unknown")

    def _stage(self, event: dict[str, Any]) -> dict[str, Any]:
        info = event.get("Stage Info")
        if not isinstance(info, Mapping):
            raise _Malformed("missing Stage Info")
        key = (_need_int(info, "Stage ID"), int(_num(info.get("Stage Attempt ID"))))
        row = self.stages.setdefault(key, {"stage_id": key[0], "attempt": key[1], "status": "ACTIVE",
                                           "job_group": None, "failure_reason": None})
        row["name"] = str(info.get("Stage Name", row.get("name", "")))
        row["num_tasks"] = int(_num(info.get("Number of Tasks")))
        row["submitted_ms"] = _num(info.get("Submission Time")) or row.get("submitted_ms", 0.0)
        operators = _scopes(info)
        if operators:
            row["operators"] = ", ".join(operators)
        props = event.get("Properties")
        if isinstance(props, Mapping) and props.get("spark.jobGroup.id"):
            row["job_group"] = props["spark.jobGroup.id"]
        return row

    def _on_StageSubmitted(self, event: dict[str, Any]) -> None:  # noqa: N802
        self._stage(event)

    def _on_StageCompleted(self, event: dict[str, Any]) -> None:  # noqa: N802
        row = self._stage(event)
        info = event["Stage Info"]
        row["completed_ms"] = _num(info.get("Completion Time"))
        reason = info.get("Failure Reason")
        row["status"] = "FAILED" if reason else "COMPLETE"
        row["failure_reason"] = str(reason)[:300] if reason else None
        accumulables = [a for a in info.get("Accumulables") or [] if isinstance(a, Mapping)]
        values: Counter[str] = Counter()
        for acc in accumulables:
            values[str(acc.get("Name", ""))] += _num(acc.get("Value"))
        row["python_ms"] = next((values[name] for name in _PYTHON_TIME if values.get(name)), 0.0)
        row["python_bytes"] = sum(values[name] for name in _PYTHON_BYTES)

    def _on_TaskEnd(self, event: dict[str, Any]) -> None:  # noqa: N802
        self.tasks.append(_task_row(event))
