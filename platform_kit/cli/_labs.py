"""``workbench build-labs|run|grade|progress|labs``: authoring, running and grading the labs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from platform_kit.grading import GradeRow
    from platform_kit.notebooks import Lab, RunReport

console = Console(width=None if sys.stdout.isatty() else 180)

_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "magenta", "timeout": "yellow"}

LabsArg = Annotated[
    list[str] | None, typer.Argument(help="labs (01, 1, 01_assessment, assessment or a path); default all")
]
ProfileOpt = Annotated[
    str | None,
    typer.Option("--profile", "-p", help="embedded | compose (default $WORKBENCH_PROFILE or embedded)"),
]
ScaleOpt = Annotated[str, typer.Option("--scale", "-s", help="data scale: tiny | small | medium | large")]
SeedOpt = Annotated[int, typer.Option("--seed", help="random seed injected into every notebook")]
JobsOpt = Annotated[int, typer.Option("--jobs", "-j", min=1, help="notebooks run in parallel")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", min=1, help="seconds one cell may run")]


def _profile(name: str | None) -> str:
    """The profile to use, checked against ``environments/`` when the checkout is found."""
    from platform_kit.config import DEFAULT_PROFILE, PROFILE_ENV_VAR, available_profiles
    from platform_kit.errors import ConfigError, UnknownProfileError

    profile = name or os.environ.get(PROFILE_ENV_VAR) or DEFAULT_PROFILE
    try:
        known = available_profiles()
    except ConfigError:
        return profile
    if profile not in known:
        raise UnknownProfileError(
            f"unknown profile {profile!r}; known: {', '.join(known)}",
            fix="pass --profile with one of the known names",
        )
    return profile


def _resolve_targets(names: list[str]) -> list[Lab | Path]:
    """Labs by name, plus notebook paths that are not registered labs (run as they are)."""
    from platform_kit.notebooks import resolve_labs
    from platform_kit.notebooks._registry import parse_lab_file

    targets: list[Lab | Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file() and parse_lab_file(path) is None:
            targets.append(path)
        else:
            targets.extend(resolve_labs([name]))
    return targets


def _report_table(report: RunReport) -> Table:
    table = Table(title=f"lab run {report.run_dir}")
    for column, justify in (
        ("lab", "left"),
        ("status", "left"),
        ("seconds", "right"),
        ("checks ✓", "right"),
        ("checks ✗", "right"),
        ("cause", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for lab in report.labs:
        style = _STATUS_STYLE[lab.status]
        table.add_row(
            lab.name,
            f"[{style}]{lab.status}[/]",
            f"{lab.duration_s:.1f}",
            str(lab.checks_passed),
            str(lab.checks_failed),
            escape(lab.cause),
        )
    return table


def build_labs_cmd(
    check: Annotated[bool, typer.Option("--check", help="write nothing; fail if labs/ is stale")] = False,
) -> int:
    """Regenerate the learner notebooks in labs/ from solutions/ (or check they are in sync)."""
    from platform_kit.notebooks import build_labs, project_root

    root = project_root()
    result = build_labs(root / "solutions", root / "labs", check=check)
    for path in result.written:
        console.print(f"wrote {path.relative_to(root)}")
    for problem in result.problems:
        console.print(f"[red]✗[/] {escape(str(problem))}", highlight=False)
    if result.problems:
        console.print(f"[bold red]{len(result.problems)} problem(s)[/]")
        raise typer.Exit(1)
    console.print("[green]labs/ is up to date[/]" if check else f"{len(result.written)} notebook(s) written")
    return 0


@contextmanager
def _shared_services(profile: str, enabled: bool) -> Iterator[None]:
    """Start the profile's server processes once for every notebook of a run.

    Kernels find them through the state directory and attach instead of starting their
    own (saving a few seconds per lab); they stop when the run ends, even if killed.
    """
    if not enabled:
        yield
        return
    from platform_kit._workbench import Workbench

    workbench = Workbench(profile)
    workbench.up(owned=True)
    try:
        yield
    finally:
        workbench.close()


SharedOpt = Annotated[
    bool, typer.Option("--shared-services/--no-shared-services",
                       help="start servers once for all notebooks (default) or let each notebook start its own")
]


def run_cmd(
    labs: LabsArg = None,
    profile: ProfileOpt = None,
    scale: ScaleOpt = "tiny",
    seed: SeedOpt = 42,
    jobs: JobsOpt = 1,
    timeout: TimeoutOpt = 300,
    learner: Annotated[bool, typer.Option("--learner", help="run the learner copies in labs/")] = False,
    shared: SharedOpt = True,
) -> int:
    """Run labs headlessly with papermill; report under runs/<timestamp>/."""
    from platform_kit.notebooks import resolve_labs, run_labs

    targets = _resolve_targets(labs) if labs else resolve_labs()
    if not targets:
        console.print("no labs found in solutions/")
        return 0
    with _shared_services(_profile(profile), shared):
        report = run_labs(
            targets,
            profile=_profile(profile),
            scale=scale,
            seed=seed,
            jobs=jobs,
            timeout_per_cell=timeout,
            learner=learner,
        )
    console.print(_report_table(report))
    totals = report.totals
    console.print(
        f"{totals['passed']}/{totals['labs']} passed; checks {totals['checks_passed']} passed, "
        f"{totals['checks_failed']} failed; report: {report.run_dir / 'report.html'}"
    )
    if not report.ok:
        raise typer.Exit(1)
    return 0


def grade_cmd(
    submissions: Annotated[list[Path], typer.Argument(help="learner notebooks to grade")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV to write")] = Path("grades.csv"),
    timeout: TimeoutOpt = 300,
    profile: ProfileOpt = None,
    jobs: JobsOpt = 1,
    shared: SharedOpt = True,
) -> int:
    """Execute learner notebooks and write one CSV row per (submission, exercise)."""
    from platform_kit.grading._submissions import grade_submissions

    with _shared_services(_profile(profile), shared):
        rows, _ = grade_submissions(submissions, out, profile=_profile(profile), timeout=timeout, jobs=jobs)
    table = Table(title=f"grades ({out})")
    for column in ("submission", "lab", "score", "run", "cause"):
        table.add_column(column)
    per_submission: dict[str, GradeRow] = {}
    for row in rows:
        per_submission.setdefault(row.submission, row)  # score and run status repeat on each row
    for row in per_submission.values():
        run = f"[{_STATUS_STYLE[row.run_status]}]{row.run_status}[/]"
        table.add_row(os.path.relpath(row.submission), row.lab, f"{row.score:.0%}", run, escape(row.cause))
    console.print(table)
    return 0


def progress_cmd(
    learner: Annotated[str | None, typer.Option("--learner", help="whose progress (default: you)")] = None,
    everyone: Annotated[bool, typer.Option("--all", help="every learner in the store")] = False,
) -> int:
    """Show exercises passed, attempted and still to do."""
    from platform_kit.grading import current_learner, list_exercises, progress_table

    who = None if everyone else (learner or current_learner())
    rows = progress_table(who)
    table = Table(title=f"progress of {who or 'all learners'}")
    for column in ("learner", "lab", "exercise", "result", "attempts", "last attempt", "message"):
        table.add_column(column)
    for row in rows:
        result = "[green]passed[/]" if row.passed else "[red]not yet[/]"
        table.add_row(
            row.learner, row.lab, row.exercise_id, result, str(row.attempts), row.last_ts, escape(row.message)
        )
    if who is not None:
        done = {row.exercise_id for row in rows}
        for ex in list_exercises():
            if ex.id not in done:
                table.add_row(who, ex.lab, ex.id, "[dim]to do[/]", "0", "", ex.title)
    console.print(table)
    return 0


def labs_cmd() -> int:
    """List the labs and their exercises."""
    from platform_kit.grading import list_exercises
    from platform_kit.notebooks import discover_labs

    table = Table(title="labs")
    for column in ("lab", "solution", "learner copy", "exercises"):
        table.add_column(column)
    for lab in discover_labs():
        exercises = "\n".join(f"{ex.id}: {ex.title}" for ex in list_exercises(lab.name)) or "-"
        table.add_row(
            lab.name, str(lab.solution.name), "yes" if lab.learner.is_file() else "[red]missing[/]", exercises
        )
    console.print(table)
    return 0


def register(app: typer.Typer) -> None:
    """Add the lab commands to ``app``."""
    app.command("build-labs")(build_labs_cmd)
    app.command("run")(run_cmd)
    app.command("grade")(grade_cmd)
    app.command("progress")(progress_cmd)
    app.command("labs")(labs_cmd)
