"""Learner-copy generation, build-labs --check, the lab registry and the notebook linter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nbformat import NotebookNode

from platform_kit.errors import LabError
from platform_kit.notebooks import (
    BuildResult,
    build_labs,
    build_learner_notebook,
    discover_labs,
    lint_notebook,
    replace_solutions,
    resolve_labs,
)
from tests.unit._lab_notebooks import code, lab_notebook, markdown, write

FUNCTION_CELL = """import math

def double(x):
    # HINT: multiply by two
    ### BEGIN SOLUTION
    y = x * 2
    return y
    ### END SOLUTION

print(double(2))"""

CHECK_CELL = 'check("demo.double", double)'


def solution_nb() -> NotebookNode:
    """A small, valid solution notebook."""
    return lab_notebook(
        markdown("# Demo"),
        code(FUNCTION_CELL, "exercise-demo.double", outputs=True),
        code("print('the answer is 4')", "solution-only", outputs=True),
        code(CHECK_CELL, "check-demo.double"),
    )


# --- marker replacement ----------------------------------------------------------------


def test_region_becomes_stub_with_indentation_and_hint() -> None:
    out = replace_solutions(FUNCTION_CELL)
    assert out.splitlines() == [
        "import math",
        "",
        "def double(x):",
        "    # HINT: multiply by two",
        '    raise NotImplementedError("multiply by two")',
        "",
        "print(double(2))",
    ]


def test_hint_inside_region_wins_and_default_hint_without_any() -> None:
    inside = "x = 1\n### BEGIN SOLUTION\n# HINT: use a loop\nanswer = 2\n### END SOLUTION"
    assert replace_solutions(inside) == 'x = 1\nraise NotImplementedError("use a loop")'
    bare = "\tdef f():\n\t\t### BEGIN SOLUTION\n\t\treturn 1\n\t\t### END SOLUTION"
    assert replace_solutions(bare) == '\tdef f():\n\t\traise NotImplementedError("write your solution here")'


def test_several_regions_and_quotes_in_hint() -> None:
    source = (
        '# HINT: say "hi"\ndef a():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n'
        "def b():\n  ### BEGIN SOLUTION\n  return 2\n  ### END SOLUTION"
    )
    out = replace_solutions(source)
    assert out.count("raise NotImplementedError") == 2
    assert '  raise NotImplementedError("say \\"hi\\"")' in out.splitlines()
    compile(out, "<learner>", "exec")  # the stub is valid Python


def test_learner_notebook_strips_outputs_and_solution_only_cells() -> None:
    solution = solution_nb()
    learner = build_learner_notebook(solution, source="solutions/05_demo.ipynb")
    sources = [cell.source for cell in learner.cells]
    assert "print('the answer is 4')" not in sources
    assert len(learner.cells) == len(solution.cells) - 1
    exercise_cell = learner.cells[2]
    assert exercise_cell.metadata["tags"] == ["exercise-demo.double"]
    assert "y = x * 2" not in exercise_cell.source and "raise NotImplementedError" in exercise_cell.source
    assert all(c.outputs == [] and c.execution_count is None for c in learner.cells if c.cell_type == "code")
    meta = learner.metadata["workbench"]
    assert meta["generated_from"] == "solutions/05_demo.ipynb" and meta["lab"] == "05_demo"
    assert len(meta["solution_sha256"]) == 64
    assert solution.cells[2].outputs, "the solution itself is not modified"


def test_content_hash_ignores_outputs_but_not_sources() -> None:
    first = build_learner_notebook(solution_nb()).metadata["workbench"]["solution_sha256"]
    rerun = solution_nb()
    rerun.cells[1].outputs = []
    assert build_learner_notebook(rerun).metadata["workbench"]["solution_sha256"] == first
    edited = solution_nb()
    edited.cells[1].source += "\n# changed"
    assert build_learner_notebook(edited).metadata["workbench"]["solution_sha256"] != first


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("x = 1\n### END SOLUTION", "without a matching"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION", "nested"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1", "never closed"),
        ("## BEGIN SOLUTION\nx = 1\n### END SOLUTION", "malformed"),
    ],
)
def test_malformed_markers_name_notebook_cell_and_fix(source: str, problem: str) -> None:
    nb = lab_notebook(code("a = 1"), code(source))
    with pytest.raises(LabError) as info:
        build_learner_notebook(nb, source="solutions/07_bad.ipynb")
    assert problem in info.value.message
    assert "solutions/07_bad.ipynb" in info.value.message and "cell 2" in info.value.message
    assert info.value.fix


# --- build-labs ----------------------------------------------------------------------------


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A checkout with two solutions and an empty labs/ folder."""
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "base.yml").write_text("data: {}\n")
    (tmp_path / "labs").mkdir()
    write(solution_nb(), tmp_path / "solutions" / "00_welcome.ipynb")
    clean = solution_nb()
    for cell in clean.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    write(clean, tmp_path / "solutions" / "01_assessment.ipynb")
    return tmp_path


def _kinds(result: BuildResult) -> set[tuple[str, str]]:
    return {
        (p.path.name if p.path.parent.name != "solutions" else "solutions/" + p.path.name, p.kind)
        for p in result.problems
    }


def test_build_writes_deterministic_learner_copies(project: Path) -> None:
    result = build_labs(project / "solutions", project / "labs")
    assert sorted(p.name for p in result.written) == ["00_welcome.ipynb", "01_assessment.ipynb"]
    text = (project / "labs" / "00_welcome.ipynb").read_text()
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {\n')  # nbformat, indent=1
    json.loads(text)
    again = build_labs(project / "solutions", project / "labs")
    assert again.written == [] and (project / "labs" / "00_welcome.ipynb").read_text() == text


def test_check_reports_missing_stale_outputs_and_extra_files(project: Path) -> None:
    labs = project / "labs"
    before = build_labs(project / "solutions", labs, check=True)
    assert ("00_welcome.ipynb", "missing") in _kinds(before)
    assert ("solutions/00_welcome.ipynb", "outputs") in _kinds(before)
    assert list(labs.iterdir()) == [], "check mode writes nothing"

    build_labs(project / "solutions", labs)
    after = build_labs(project / "solutions", labs, check=True)
    assert _kinds(after) == {("solutions/00_welcome.ipynb", "outputs")}

    stale = solution_nb()
    stale.cells[1].source = stale.cells[1].source.replace("x * 2", "x + x")
    for cell in stale.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    write(stale, project / "solutions" / "01_assessment.ipynb")
    run_copy = lab_notebook(code("print(1)", outputs=True))
    write(run_copy, labs / "00_welcome.ipynb")
    write(lab_notebook(), labs / "09_orphan.ipynb")
    kinds = _kinds(build_labs(project / "solutions", labs, check=True))
    assert {
        ("01_assessment.ipynb", "stale"),
        ("00_welcome.ipynb", "stale"),
        ("00_welcome.ipynb", "outputs"),
        ("09_orphan.ipynb", "extra"),
    } <= kinds


def test_check_reports_lint_problems_and_bad_markers(project: Path) -> None:
    write(lab_notebook(code("### END SOLUTION"), parameters=False), project / "solutions" / "02_broken.ipynb")
    problems = build_labs(project / "solutions", project / "labs", check=True).problems
    broken = [str(p) for p in problems if p.path.name == "02_broken.ipynb" and p.kind == "lint"]
    assert any("parameters" in line for line in broken) and any("END SOLUTION" in line for line in broken)
    with pytest.raises(LabError, match="02_broken"):
        build_labs(project / "solutions", project / "labs")


def test_cli_build_labs_check_exit_codes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit.cli import main

    monkeypatch.chdir(project)
    (project / "solutions" / "00_welcome.ipynb").unlink()
    assert main(["build-labs", "--check"]) == 1
    assert main(["build-labs"]) == 0
    assert main(["build-labs", "--check"]) == 0
    assert main(["run", "nosuch"]) == 2


# --- registry ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "01",
        "1",
        "01_assessment",
        "assessment",
        "ASSESSMENT",
        "labs/01_assessment.ipynb",
        "solutions/01_assessment.ipynb",
    ],
)
def test_resolve_labs_accepts_every_form(project: Path, name: str) -> None:
    (lab,) = resolve_labs([name], root=project)
    assert lab.name == "01_assessment"
    assert lab.solution == project / "solutions" / "01_assessment.ipynb"
    assert lab.learner == project / "labs" / "01_assessment.ipynb"


def test_resolve_labs_defaults_to_all_and_rejects_unknown(project: Path) -> None:
    assert [lab.name for lab in resolve_labs(None, root=project)] == ["00_welcome", "01_assessment"]
    assert [lab.name for lab in discover_labs(project)] == ["00_welcome", "01_assessment"]
    with pytest.raises(LabError) as info:
        resolve_labs(["welcom"], root=project)
    assert "00_welcome, 01_assessment" in info.value.message and info.value.fix


# --- lint ----------------------------------------------------------------------------------


def test_lint_accepts_a_valid_notebook() -> None:
    assert lint_notebook(solution_nb()) == []


def test_lint_catches_missing_parameters_and_incomplete_parameters() -> None:
    nb = solution_nb()
    nb.cells = nb.cells[1:]
    assert any("parameters" in p for p in lint_notebook(nb))
    partial = solution_nb()
    partial.cells[0].source = 'profile = "embedded"'
    assert any("scale, seed" in p for p in lint_notebook(partial))


def test_lint_catches_exercise_without_check() -> None:
    nb = solution_nb()
    nb.cells = nb.cells[:-1]  # drop the check cell
    problems = lint_notebook(nb, name="x.ipynb")
    assert any("not followed by a check" in p and "cell 2" in p for p in problems)
    # a check *before* the exercise does not count, nor one in a solution-only cell
    early = lab_notebook(
        code(CHECK_CELL, "check-demo.double"),
        code(FUNCTION_CELL),
        code(CHECK_CELL, "check-demo.double", "solution-only"),
    )
    assert any("not followed by a check" in p for p in lint_notebook(early))


def test_lint_wants_check_cells_tagged_and_markers_well_formed() -> None:
    nb = solution_nb()
    nb.cells[-1].metadata["tags"] = []
    assert any("check-demo.double" in p for p in lint_notebook(nb))
    bad = lab_notebook(code("### BEGIN SOLUTION\nx = 1"), code("check('a.b', 1)", "check-a.b"))
    assert any("never closed" in p for p in lint_notebook(bad))


def test_each_region_takes_the_nearest_hint_above_it() -> None:
    source = (
        "# HINT: first\ndef a():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
        "# HINT: second\ndef b():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION"
    )
    stubs = [line.strip() for line in replace_solutions(source).splitlines() if "raise" in line]
    assert stubs == ['raise NotImplementedError("first")', 'raise NotImplementedError("second")']
