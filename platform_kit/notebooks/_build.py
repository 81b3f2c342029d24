"""``workbench build-labs``: regenerate ``labs/`` from ``solutions/`` or check it is in sync."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from nbformat import NotebookNode

from platform_kit.errors import LabError
from platform_kit.notebooks._learner import build_learner_notebook
from platform_kit.notebooks._lint import lint_notebook
from platform_kit.notebooks._nbio import cells_with_outputs, dumps_notebook, read_notebook
from platform_kit.notebooks._registry import parse_lab_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildProblem:
    """Something ``build-labs --check`` rejects.

    Attributes:
        path: The notebook concerned.
        kind: ``missing``, ``stale``, ``outputs``, ``extra``, ``lint`` or ``unreadable``.
        detail: One line saying what is wrong and how to fix it.
    """

    path: Path
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: [{self.kind}] {self.detail}"


@dataclass
class BuildResult:
    """What :func:`build_labs` wrote (nothing with ``check=True``) and what it found."""

    written: list[Path] = field(default_factory=list)
    problems: list[BuildProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no problem."""
        return not self.problems


def _read(path: Path, problems: list[BuildProblem]) -> NotebookNode | None:
    """Read ``path``, recording it as a problem when unreadable or carrying outputs."""
    try:
        nb = read_notebook(path)
    except LabError as exc:
        problems.append(BuildProblem(path, "unreadable", exc.message))
        return None
    cells = cells_with_outputs(nb)
    if cells:
        shown = ", ".join(map(str, cells[:8])) + (" ..." if len(cells) > 8 else "")
        problems.append(
            BuildProblem(
                path,
                "outputs",
                f"code cells {shown} carry outputs or execution counts; clear them "
                "(Edit > Clear Outputs of All Cells, or `jupyter nbconvert --clear-output --inplace`)",
            )
        )
    return nb


def build_labs(solutions_dir: Path, labs_dir: Path, check: bool = False) -> BuildResult:
    """Write ``labs/NN_<slug>.ipynb`` for every solution, or check that they are up to date.

    Args:
        solutions_dir: Folder of the solution notebooks (``NN_<slug>.ipynb``).
        labs_dir: Folder of the learner copies.
        check: Write nothing; report learner copies that are missing or differ (byte for
            byte) from what would be generated.

    Returns:
        The files written and the problems found. In both modes problems include committed
        notebooks (solutions or labs) carrying outputs or execution counts, files in
        ``labs/`` with no solution, and lint findings (:func:`lint_notebook`).

    Raises:
        LabError: In write mode, a solution's markers are malformed. (With ``check=True``
            this is reported as a problem instead.)
    """
    result = BuildResult()
    solutions = sorted(p for p in solutions_dir.glob("*.ipynb") if parse_lab_file(p))
    expected: set[str] = set()
    for solution in solutions:
        target = labs_dir / solution.name
        expected.add(solution.name)
        nb = _read(solution, result.problems)
        if nb is None:
            continue
        source = f"{solutions_dir.name}/{solution.name}"
        result.problems.extend(
            BuildProblem(solution, "lint", line) for line in lint_notebook(nb, name=source)
        )
        try:
            text = dumps_notebook(build_learner_notebook(nb, source=source))
        except LabError as exc:
            if not check:
                raise
            result.problems.append(BuildProblem(solution, "lint", exc.message))
            continue
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if check:
            if current is None:
                result.problems.append(BuildProblem(target, "missing", "run `workbench build-labs`"))
            elif current != text:
                result.problems.append(
                    BuildProblem(target, "stale", f"differs from {source}; run `workbench build-labs`")
                )
        elif current != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            result.written.append(target)
            log.info("wrote %s", target)
    for path in sorted(labs_dir.glob("*.ipynb")) if labs_dir.is_dir() else []:
        if path.name not in expected:
            result.problems.append(
                BuildProblem(
                    path, "extra", f"no {solutions_dir.name}/{path.name}; delete it or add its solution"
                )
            )
        elif check:
            _read(path, result.problems)
    return result
