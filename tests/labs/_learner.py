"""Run a learner copy end to end and collect its check() results from the check log."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any


def run_learner_copy(
    notebook: Path,
    check_log: Path,
    timeout: int = 600,
    *,
    env: Mapping[str, str] | None = None,
    probes: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Execute every cell of ``notebook`` (a cell raising fails the test) and return check results.

    The kernel inherits ``WORKBENCH_CHECK_LOG``, so each ``check()`` appends one JSON line there,
    and its own ``WORKBENCH_HOME``: a solution kernel of the same module may still hold the chdb
    folder, which admits one process at a time.

    Args:
        notebook: The learner copy.
        check_log: Where the kernel's checks log their results.
        timeout: Seconds allowed per cell.
        env: Extra environment for the kernel (``WORKBENCH__...`` configuration overrides).
        probes: Boolean expressions that must hold in the kernel after the last cell.
    """
    from testbook import testbook

    home = Path(tempfile.mkdtemp(prefix="workbench-learner-"))
    overrides = {"WORKBENCH_CHECK_LOG": str(check_log), "WORKBENCH_HOME": str(home), **(env or {})}
    previous = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        with testbook(notebook, execute=True, timeout=timeout, kernel_name="python3") as tb:
            for probe in probes:
                assert tb.value(f"bool({probe})") is True, probe
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)
    return [json.loads(line) for line in check_log.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def executed_solution(notebook: Path, check_log: Path, timeout: int = 600) -> Iterator[Any]:
    """Execute a solution notebook with its checks logged to ``check_log``; yields the testbook client."""
    from testbook import testbook

    os.environ["WORKBENCH_CHECK_LOG"] = str(check_log)
    try:
        with testbook(notebook, execute=True, timeout=timeout, kernel_name="python3") as tb:
            yield tb
    finally:
        os.environ.pop("WORKBENCH_CHECK_LOG", None)


def solution_fixture(notebook: Path, timeout: int = 600) -> Any:
    """A module-scoped fixture that executes ``notebook`` once, its checks logged to a temporary file.

    Assign it in a lab's test module (``solution = solution_fixture(SOLUTION)``); it yields
    ``(testbook client, check log)``.
    """
    import pytest

    @pytest.fixture(scope="module")
    def solution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
        log = tmp_path_factory.mktemp("checks") / "solution.jsonl"
        with executed_solution(notebook, log, timeout) as tb:
            yield tb, log

    return solution


def assert_key_result(solution: tuple[Any, Path], expression: str) -> None:
    """``expression`` is truthy in the executed solution's kernel."""
    tb, _ = solution
    assert tb.value(f"bool({expression})") is True, expression


def assert_every_check_passed(check_log: Path, exercises: set[str]) -> None:
    """The last result of each exercise in ``check_log`` passed, and exactly ``exercises`` were checked."""
    results = [json.loads(line) for line in check_log.read_text().splitlines() if line.strip()]
    final = {r["exercise_id"]: r["passed"] for r in results}
    assert set(final) == exercises
    assert all(final.values()), final


def assert_learner_checks_not_attempted(
    notebook: Path,
    check_log: Path,
    exercises: set[str],
    *,
    env: Mapping[str, str] | None = None,
    probes: Sequence[str] = (),
) -> None:
    """The learner copy runs to the end and every exercise's check reports "not attempted"
    (``env`` and ``probes`` as in :func:`run_learner_copy`)."""
    final = {r["exercise_id"]: r for r in run_learner_copy(notebook, check_log, env=env, probes=probes)}
    assert set(final) == exercises
    assert not any(r["passed"] for r in final.values())
    assert not any(r["attempted"] for r in final.values()), "stubs must count as not attempted"
