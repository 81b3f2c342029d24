"""The headless lab runner on throwaway notebooks: pass, raise, timeout, dead kernel, grading.

Everything here executes real kernels, so the notebooks are tiny and run once per module.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from platform_kit.notebooks import LabResult, RunReport, read_check_log, run_labs
from tests.unit._lab_notebooks import code, lab_notebook, write

ORDERS = (
    'import pandas as pd\norders = pd.DataFrame({"customer_id": [1, 2, 2], "total_amount": [5.0, 3.0, 4.0]})'
)
IMPORT_CHECK = "from platform_kit.grading import check"
NOTEBOOKS = {
    "good": [
        code(f"{IMPORT_CHECK}\n{ORDERS}"),
        code(
            'result = check("welcome.top_customer", 2, context={"orders": orders})\nassert result.passed',
            "check-welcome.top_customer",
        ),
        code("import os\nprint(profile, scale, seed, os.environ['WORKBENCH_PROFILE'])"),
    ],
    "boom": [
        code(f"{IMPORT_CHECK}\n{ORDERS}"),
        code('check("welcome.top_customer", 1, context={"orders": orders})', "check-welcome.top_customer"),
        code("value = 1 / 0", "divide"),
        code("print('never reached')"),
    ],
    "slow": [code("import time\ntime.sleep(30)", "sleepy")],
    "dead": [code("import os\nos._exit(1)", "suicide"), code("print('never reached')")],
}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunReport]:
    """Run the four notebooks once, two at a time, with a 3 s cell timeout."""
    tmp = tmp_path_factory.mktemp("runner")
    paths = [write(lab_notebook(*cells), tmp / "nb" / f"{name}.ipynb") for name, cells in NOTEBOOKS.items()]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(tmp / "state"))
        mp.setenv("WORKBENCH_LEARNER", "runner-test")
        mp.delenv("WORKBENCH_CHECK_LOG", raising=False)
        yield run_labs(
            paths,
            profile="embedded",
            scale="tiny",
            seed=7,
            jobs=2,
            timeout_per_cell=3,
            out_dir=tmp / "run",
            progress=False,
        )


def _lab(report: RunReport, name: str) -> LabResult:
    return next(lab for lab in report.labs if lab.name == name)


def test_every_notebook_is_reported_in_order(report: RunReport) -> None:
    assert [lab.name for lab in report.labs] == list(NOTEBOOKS)
    assert {lab.name: lab.status for lab in report.labs} == {
        "good": "passed",
        "boom": "failed",
        "slow": "timeout",
        "dead": "error",
    }
    assert not report.ok


def test_passing_notebook_gets_parameters_env_and_checks(report: RunReport) -> None:
    good = _lab(report, "good")
    assert good.error is None and good.checks_passed == 1 and good.checks_failed == 0
    executed = json.loads(Path(good.executed).read_text())
    printed = "".join("".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", []))
    assert "embedded tiny 7 embedded" in printed


def test_cell_error_is_reported_with_exception_cell_and_failed_check(report: RunReport) -> None:
    boom = _lab(report, "boom")
    assert boom.error is not None and boom.error.ename == "ZeroDivisionError"
    assert "division by zero" in boom.error.evalue
    assert boom.error.cell_index == 3 and boom.error.cell_tags == ["divide"]
    assert boom.checks_failed == 1 and boom.checks_passed == 0
    assert "ZeroDivisionError" in boom.cause


def test_timeout_and_dead_kernel_are_reported_with_their_cause(report: RunReport) -> None:
    slow, dead = _lab(report, "slow"), _lab(report, "dead")
    assert (
        slow.error is not None
        and slow.error.ename == "CellTimeoutError"
        and slow.error.cell_tags == ["sleepy"]
    )
    assert "3 seconds" in slow.error.evalue and slow.duration_s < 25
    assert dead.error is not None and dead.error.ename == "DeadKernelError" and dead.error.cell_index == 1


def test_report_files_and_totals(report: RunReport) -> None:
    run_dir = report.run_dir
    for name in ("report.json", "report.md", "report.html", "good.ipynb", "checks/good.jsonl"):
        assert (run_dir / name).is_file(), name
    data = json.loads((run_dir / "report.json").read_text())
    assert data["totals"] | {"duration_s": 0} == {
        "passed": 1,
        "failed": 1,
        "error": 1,
        "timeout": 1,
        "labs": 4,
        "checks_passed": 1,
        "checks_failed": 1,
        "duration_s": 0,
    }
    assert data["profile"] == "embedded" and data["scale"] == "tiny" and data["seed"] == 7
    assert data["host"]["cpu_count"] >= 1 and data["host"]["python"].startswith("3.")
    assert data["labs"][1]["cause"].startswith("ZeroDivisionError")
    assert "| boom | failed |" in (run_dir / "report.md").read_text()
    assert "DeadKernelError" in (run_dir / "report.html").read_text()


def test_kernel_recorded_progress_in_the_isolated_state_dir(report: RunReport) -> None:
    from platform_kit.grading import progress_table

    state = report.run_dir.parent / "state"
    rows = progress_table("runner-test", db=state / "progress.sqlite")
    assert [(r.exercise_id, r.passed, r.attempts) for r in rows] == [("welcome.top_customer", True, 2)]


def test_check_log_keeps_the_last_result_and_skips_garbage(tmp_path: Path) -> None:
    log = tmp_path / "x.jsonl"
    log.write_text(
        '{"exercise_id": "a.b", "passed": false}\nnot json\n{"exercise_id": "a.b", "passed": true}\n'
    )
    assert [(c.exercise_id, c.passed) for c in read_check_log(log)] == [("a.b", True)]
    assert read_check_log(tmp_path / "missing.jsonl") == []


def test_grade_submissions_uses_the_notebook_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit.grading import grade_submissions

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "state"))
    stub = "def revenue_by_status(orders):\n    raise NotImplementedError('group by status')"
    nb = lab_notebook(
        code(f"{IMPORT_CHECK}\n{ORDERS}"),
        code(stub),
        code('check("welcome.order_revenue", revenue_by_status)', "check-welcome.order_revenue"),
        code('check("welcome.top_customer", 2, context={"orders": orders})', "check-welcome.top_customer"),
    )
    nb.metadata["workbench"] = {"lab": "00_welcome"}
    submission = write(nb, tmp_path / "alice.ipynb")
    out_csv = tmp_path / "grades.csv"
    rows, run = grade_submissions([submission], out_csv, timeout=30, out_dir=tmp_path / "run", progress=False)
    assert run.labs[0].status == "failed"  # one check not passed
    with out_csv.open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["exercise_id"], r["passed"], r["score"]) for r in table] == [
        ("welcome.order_revenue", "False", "0.5"),
        ("welcome.top_customer", "True", "0.5"),
    ]
    assert table[0]["lab"] == "00_welcome" and "NotImplementedError" in table[0]["message"]
    assert rows[1].passed
