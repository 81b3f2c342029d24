"""Grade learner notebooks headlessly with the same ``check()`` calls the learner ran."""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from platform_kit._state import find_project_root
from platform_kit.errors import GradingError, LabError
from platform_kit.grading._progress import LEARNER_ENV
from platform_kit.grading._registry import list_exercises
from platform_kit.notebooks import (
    LabResult,
    NotebookJob,
    RunReport,
    new_run_dir,
    read_notebook,
    run_notebooks,
)
from platform_kit.notebooks._registry import LABS_DIR, parse_lab_file
from platform_kit.notebooks._runner import safe_name

log = logging.getLogger(__name__)

CSV_FIELDS = ("submission", "lab", "exercise_id", "passed", "message", "score", "run_status", "cause")


@dataclass(frozen=True)
class GradeRow:
    """One (submission, exercise) line of the grades CSV.

    Attributes:
        submission: Path of the learner's notebook.
        lab: The lab it is a copy of (empty when unknown).
        exercise_id: The exercise (empty when the submission could not run any check).
        passed: The final check result of that exercise in the run.
        message: The check's message ("check not reached" when the notebook stopped first).
        score: Fraction of the lab's exercises passed by this submission (same on each row).
        run_status: How the notebook run went (passed/failed/error/timeout).
        cause: Why the run did not pass, when it did not.
    """

    submission: str
    lab: str
    exercise_id: str
    passed: bool
    message: str
    score: float
    run_status: str
    cause: str


def _lab_of(path: Path) -> str:
    """The lab a submission copies: from its metadata, else from its file name."""
    try:
        lab = read_notebook(path).metadata.get("workbench", {}).get("lab")
    except LabError:
        lab = None
    if isinstance(lab, str) and lab:
        return lab
    parsed = parse_lab_file(path)
    return f"{parsed[0]}_{parsed[1]}" if parsed else ""


def _rows_for(submission: Path, lab: str, result: LabResult) -> list[GradeRow]:
    seen = {c.exercise_id: c for c in result.checks}
    expected = [ex.id for ex in list_exercises(lab)] if lab else []
    ids = expected + [exercise_id for exercise_id in seen if exercise_id not in expected]
    passed = sum(seen[i].passed for i in ids if i in seen)
    score = round(passed / len(ids), 3) if ids else 0.0
    if not ids:
        return [GradeRow(str(submission), lab, "", False, "no check ran", 0.0, result.status, result.cause)]
    rows = []
    for exercise_id in ids:
        record = seen.get(exercise_id)
        message = record.message if record else "check not reached (the notebook stopped before it)"
        rows.append(
            GradeRow(
                str(submission),
                lab,
                exercise_id,
                bool(record and record.passed),
                message,
                score,
                result.status,
                result.cause,
            )
        )
    return rows


def grade_submissions(
    paths: Sequence[Path],
    out_csv: Path,
    profile: str = "embedded",
    timeout: float = 300,
    *,
    scale: str = "tiny",
    seed: int = 42,
    jobs: int = 1,
    out_dir: Path | None = None,
    progress: bool = True,
) -> tuple[list[GradeRow], RunReport]:
    """Execute each learner notebook and write one CSV row per (submission, exercise).

    The notebooks run with the lab runner (papermill, one process each); their ``check()``
    calls append to the run's check log, which is what is graded, so the learner's check
    and the grade always agree. Each submission runs with ``$WORKBENCH_LEARNER`` set to its
    file name, so its attempts are recorded under that name in the progress store.

    Args:
        paths: Learner notebooks.
        out_csv: Where to write the grades.
        profile: Platform profile to run on.
        timeout: Seconds one cell may run.
        scale: Data scale.
        seed: Random seed.
        jobs: Submissions executed in parallel.
        out_dir: The run folder; a new ``runs/grade-<UTC timestamp>/`` by default.
        progress: Show a progress bar.

    Returns:
        The rows written and the run report (executed notebooks, logs).

    Raises:
        GradingError: A submission path does not exist or the CSV cannot be written.
    """
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise GradingError(f"submission(s) not found: {', '.join(missing)}", fix="check the paths")
    root = find_project_root()
    labs_dir = root / LABS_DIR if root and (root / LABS_DIR).is_dir() else None
    jobs_list: list[NotebookJob] = []
    for index, path in enumerate(Path(p).resolve() for p in paths):
        name = safe_name(f"{index:03d}_{path.stem}")
        env = {LEARNER_ENV: path.stem}
        jobs_list.append(NotebookJob(name, path, labs_dir or path.parent, env))
    run_dir = out_dir or new_run_dir(root, prefix="grade-")
    report = run_notebooks(
        jobs_list,
        run_dir=run_dir,
        profile=profile,
        scale=scale,
        seed=seed,
        workers=jobs,
        timeout_per_cell=timeout,
        learner=True,
        progress=progress,
    )
    rows = [
        row
        for job, result in zip(jobs_list, report.labs, strict=True)
        for row in _rows_for(job.notebook, _lab_of(job.notebook), result)
    ]
    try:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        with out_csv.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
            writer.writeheader()
            writer.writerows(asdict(row) for row in rows)
    except OSError as exc:
        raise GradingError(f"cannot write {out_csv}: {exc}", fix="choose a writable --out path") from exc
    log.info("wrote %d grade rows for %d submissions to %s", len(rows), len(paths), out_csv)
    return rows, report
