"""Run lab notebooks headlessly with papermill and write a report.

Each notebook runs in its own worker process (:mod:`platform_kit.notebooks._worker`) with
its own environment; ``jobs`` workers run at once. A cell error, a cell timeout or a dead
kernel is recorded with its cause and the run goes on to the next notebook.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platform_kit._state import find_project_root
from platform_kit.errors import LabError
from platform_kit.notebooks._nbio import read_notebook
from platform_kit.notebooks._registry import Lab
from platform_kit.notebooks._report import ErrorInfo, LabResult, RunReport, read_check_log
from platform_kit.notebooks._widgets import HEADLESS_ENV

log = logging.getLogger(__name__)

#: environment variable the grading module appends check results to
CHECK_LOG_ENV = "WORKBENCH_CHECK_LOG"
KERNEL_NAME = "python3"
#: extra seconds a worker gets beyond (code cells x per-cell timeout) before it is killed
_WORKER_SLACK_S = 120
#: the worker script, run by path so the child does not import platform_kit
_WORKER = Path(__file__).with_name("_worker.py")

Callback = Callable[[LabResult], None]


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute.

    Attributes:
        name: File-safe name used for the executed copy and the check log.
        notebook: The notebook to execute.
        cwd: Working folder of the kernel.
        env: Extra environment variables for this notebook.
    """

    name: str
    notebook: Path
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def new_run_dir(root: Path | None = None, prefix: str = "") -> Path:
    """Create and return a fresh ``runs/<prefix><UTC timestamp>/`` folder under the project root."""
    base = (root or find_project_root() or Path.cwd()) / "runs"
    stamp = prefix + _utc_now().strftime("%Y%m%dT%H%M%SZ")
    for attempt in range(1000):
        folder = base / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise LabError(f"cannot create a new run folder under {base}", fix="delete old folders in runs/")


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``._-`` replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "notebook"


def job_env(job: NotebookJob, run_dir: Path, profile: str, scale: str, seed: int) -> dict[str, str]:
    """The environment a notebook's worker and kernel run with."""
    import platform_kit

    env = {**os.environ, **job.env}
    env["WORKBENCH_PROFILE"] = profile
    env["WORKBENCH__DATA__SCALE"] = scale
    env["WORKBENCH__DATA__SEED"] = str(seed)
    env[CHECK_LOG_ENV] = str(run_dir / "checks" / f"{job.name}.jsonl")
    env[HEADLESS_ENV] = "1"  # widget cells run their default once (see platform_kit.notebooks._widgets)
    env.setdefault("IPYTHONDIR", str(run_dir / ".ipython"))
    env.setdefault("JUPYTER_RUNTIME_DIR", str(run_dir / ".jupyter-runtime"))
    # The kernel must import the same platform_kit as this process, installed or not.
    package_root = str(Path(platform_kit.__file__).resolve().parent.parent)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([package_root, *[p for p in paths if p != package_root]])
    return env


def _worker_limit(notebook: Path, timeout_per_cell: float) -> float:
    code_cells = sum(c.cell_type == "code" for c in read_notebook(notebook).cells)
    return float((code_cells + 1) * timeout_per_cell + _WORKER_SLACK_S)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def execute_job(
    job: NotebookJob,
    run_dir: Path,
    *,
    profile: str,
    scale: str,
    seed: int,
    timeout_per_cell: float,
    kernel_name: str = KERNEL_NAME,
) -> LabResult:
    """Execute one notebook in a worker process and collect its result and checks.

    Never raises for a failing notebook: the failure is the result's ``status`` and ``error``.
    """
    output = run_dir / f"{job.name}.ipynb"
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (run_dir / "checks").mkdir(exist_ok=True)
    spec_path, result_path, log_path = (
        logs / f"{job.name}.{ext}" for ext in ("spec.json", "result.json", "log")
    )
    spec: dict[str, Any] = {
        "input": str(job.notebook),
        "output": str(output),
        "cwd": str(job.cwd),
        "kernel_name": kernel_name,
        "parameters": {"profile": profile, "scale": scale, "seed": seed},
        "timeout_per_cell": math.ceil(timeout_per_cell),
        "result": str(result_path),  # nbclient wants an int
    }
    spec_path.write_text(json.dumps(spec, indent=2), encoding="utf-8")
    env = job_env(job, run_dir, profile, scale, seed)
    for stale in (result_path, Path(env[CHECK_LOG_ENV])):  # a reused run folder must not leak results
        stale.unlink(missing_ok=True)
    limit = _worker_limit(job.notebook, timeout_per_cell)
    started = time.monotonic()
    outcome: dict[str, Any]
    with log_path.open("w", encoding="utf-8") as log_file:
        try:
            proc = subprocess.run(
                [sys.executable, "-P", str(_WORKER), str(spec_path)],
                env=env,
                cwd=job.cwd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=limit,
                check=False,
            )
            returncode: int | None = proc.returncode
        except subprocess.TimeoutExpired:
            returncode = None
    try:
        outcome = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if returncode is None:
            error = {"ename": "LabTimeout", "evalue": f"the notebook ran past {limit:.0f} s in total"}
            outcome = {"status": "timeout", "error": error}
        else:
            detail = _tail(log_path) or "no output"
            error = {"ename": "WorkerCrashed", "evalue": f"exit status {returncode}; log tail:\n{detail}"}
            outcome = {"status": "error", "error": error}
    checks = read_check_log(Path(env[CHECK_LOG_ENV]))
    status = outcome["status"]
    if status == "passed" and any(not c.passed for c in checks):
        status = "failed"
    err = outcome.get("error")
    return LabResult(
        name=job.name,
        notebook=str(job.notebook),
        executed=str(output),
        status=status,
        duration_s=round(time.monotonic() - started, 2),
        checks=checks,
        error=ErrorInfo(**err) if err else None,
    )


def _separate_chdb_sessions(jobs: Sequence[NotebookJob], run_dir: Path, profile: str) -> list[NotebookJob]:
    """Give each parallel notebook its own chdb folder: one folder admits one process at a time."""
    from platform_kit._workbench import Workbench

    if Workbench(profile).configs["olap"].type != "chdb":
        return list(jobs)
    return [
        dataclasses.replace(job, env={**job.env, "WORKBENCH__OLAP__PATH": str(run_dir / "chdb" / job.name)})
        for job in jobs
    ]


def run_notebooks(
    jobs: Sequence[NotebookJob],
    *,
    run_dir: Path,
    profile: str = "embedded",
    scale: str = "tiny",
    seed: int = 42,
    workers: int = 1,
    timeout_per_cell: float = 300,
    learner: bool = False,
    progress: bool = True,
    on_result: Callback | None = None,
) -> RunReport:
    """Execute ``jobs`` (``workers`` at a time) into ``run_dir`` and write the report there.

    Args:
        jobs: The notebooks; their ``name`` must be unique.
        run_dir: Folder receiving executed notebooks, ``checks/``, ``logs/`` and the report.
        profile: Injected as the ``profile`` parameter and ``$WORKBENCH_PROFILE``.
        scale: Injected as the ``scale`` parameter.
        seed: Injected as the ``seed`` parameter.
        workers: Notebooks executed in parallel.
        timeout_per_cell: Seconds one cell may run before it counts as a timeout.
        learner: Recorded in the report (learner copies rather than solutions).
        progress: Show a rich progress bar on stderr.
        on_result: Called with each result as it completes.

    Returns:
        The report, in the order of ``jobs``.
    """
    if len({job.name for job in jobs}) != len(jobs):
        raise LabError("two notebooks in one run share a name", fix="run them in separate runs")
    run_dir.mkdir(parents=True, exist_ok=True)
    if workers > 1:
        jobs = _separate_chdb_sessions(jobs, run_dir, profile)
    report = RunReport(
        run_dir=run_dir,
        started_at=_utc_now().isoformat(timespec="seconds"),
        profile=profile,
        scale=scale,
        seed=seed,
        learner=learner,
    )
    execute = functools.partial(
        execute_job,
        run_dir=run_dir,
        profile=profile,
        scale=scale,
        seed=seed,
        timeout_per_cell=timeout_per_cell,
    )
    results: dict[str, LabResult] = {}
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        Progress(*columns, console=Console(stderr=True), disable=not progress) as bar,
        ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
    ):
        task = bar.add_task(f"running {len(jobs)} notebook(s)", total=len(jobs))
        futures = [pool.submit(execute, job) for job in jobs]
        for future in as_completed(futures):
            result = future.result()
            results[result.name] = result
            log.info("%s: %s in %.1f s %s", result.name, result.status, result.duration_s, result.cause)
            if progress:
                line = f"{result.name}: {result.status} ({result.duration_s:.1f} s) {result.cause}"
                bar.console.print(line, markup=False, highlight=False)
            bar.advance(task)
            if on_result is not None:
                on_result(result)
    report.labs = [results[job.name] for job in jobs]
    report.finished_at = _utc_now().isoformat(timespec="seconds")
    report.write()
    return report


def run_labs(
    labs: Sequence[Lab | Path],
    profile: str = "embedded",
    scale: str = "tiny",
    seed: int = 42,
    jobs: int = 1,
    timeout_per_cell: float = 300,
    out_dir: Path | None = None,
    *,
    learner: bool = False,
    progress: bool = True,
) -> RunReport:
    """Execute lab notebooks headlessly and write ``report.{json,md,html}``.

    Args:
        labs: Labs (their solution, or learner copy with ``learner=True``) or notebook paths.
        profile: The platform profile (``embedded``, ``compose``).
        scale: Data scale (``tiny``, ``small``...).
        seed: Random seed.
        jobs: Notebooks executed in parallel processes.
        timeout_per_cell: Seconds one cell may run.
        out_dir: The run folder; a new ``runs/<UTC timestamp>/`` under the project root by default.
        learner: Run the learner copies in ``labs/`` instead of the solutions.
        progress: Show a progress bar.

    Returns:
        The report; ``report.ok`` is false when any lab did not pass.

    Raises:
        LabError: A notebook to run does not exist.
    """
    notebook_jobs: list[NotebookJob] = []
    for item in labs:
        path = item.notebook(learner) if isinstance(item, Lab) else Path(item)
        if not path.is_file():
            fix = "run `workbench build-labs`" if learner else "check the name with `workbench labs`"
            raise LabError(f"notebook {path} does not exist", fix=fix)
        name = safe_name(item.name if isinstance(item, Lab) else path.stem)
        notebook_jobs.append(NotebookJob(name, path.resolve(), path.resolve().parent))
    run_dir = out_dir or new_run_dir()
    return run_notebooks(
        notebook_jobs,
        run_dir=run_dir,
        profile=profile,
        scale=scale,
        seed=seed,
        workers=jobs,
        timeout_per_cell=timeout_per_cell,
        learner=learner,
        progress=progress,
    )
