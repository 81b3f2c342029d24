"""The run report: per-lab results, totals and host info, as JSON, Markdown and HTML."""

from __future__ import annotations

import html
import json
import logging
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

Status = Literal["passed", "failed", "error", "timeout"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "error", "timeout")


@dataclass(frozen=True)
class ErrorInfo:
    """Why a notebook stopped: the exception and the cell it happened in.

    Attributes:
        ename: Exception class name (``ZeroDivisionError``, ``CellTimeoutError``...).
        evalue: Its message (first lines only).
        cell_index: Index of the failing cell in the *source* notebook, when known.
        cell_tags: Tags of that cell (e.g. ``check-welcome.order_revenue``).
    """

    ename: str
    evalue: str
    cell_index: int | None = None
    cell_tags: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = ""
        if self.cell_index is not None:
            tags = f" [{', '.join(self.cell_tags)}]" if self.cell_tags else ""
            where = f" (cell {self.cell_index}{tags})"
        return f"{self.ename}: {self.evalue}{where}"


@dataclass
class CheckRecord:
    """The final result of one exercise's ``check()`` in a run."""

    exercise_id: str
    passed: bool
    message: str = ""


@dataclass
class LabResult:
    """How one notebook run went.

    Attributes:
        name: The lab (or submission) name.
        notebook: The notebook that was executed.
        executed: The executed copy in the run folder.
        status: ``passed`` (ran, every check passed), ``failed`` (a cell raised, or a check
            failed), ``error`` (the kernel died or could not start), ``timeout`` (a cell ran
            past the per-cell limit).
        duration_s: Wall-clock seconds.
        checks: Final result of each exercise checked, from the check log.
        error: The cause when the notebook did not run to the end.
    """

    name: str
    notebook: str
    executed: str
    status: Status
    duration_s: float
    checks: list[CheckRecord] = field(default_factory=list)
    error: ErrorInfo | None = None

    @property
    def checks_passed(self) -> int:
        """Number of exercises whose final check passed."""
        return sum(c.passed for c in self.checks)

    @property
    def checks_failed(self) -> int:
        """Number of exercises whose final check failed."""
        return sum(not c.passed for c in self.checks)

    @property
    def cause(self) -> str:
        """One line on why the lab did not pass (empty when it passed)."""
        if self.error is not None:
            return str(self.error)
        failed = [c.exercise_id for c in self.checks if not c.passed]
        return f"{len(failed)} check(s) failed: {', '.join(failed)}" if failed else ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the derived counts and cause."""
        data = asdict(self)
        data.update(checks_passed=self.checks_passed, checks_failed=self.checks_failed, cause=self.cause)
        return data


def host_info() -> dict[str, Any]:
    """Python version, platform and CPU count of this machine."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


@dataclass
class RunReport:
    """Everything a run produced; written as ``report.{json,md,html}`` in ``run_dir``."""

    run_dir: Path
    started_at: str
    profile: str
    scale: str
    seed: int
    learner: bool = False
    labs: list[LabResult] = field(default_factory=list)
    finished_at: str = ""
    host: dict[str, Any] = field(default_factory=host_info)

    @property
    def ok(self) -> bool:
        """True when every lab passed."""
        return all(lab.status == "passed" for lab in self.labs)

    @property
    def totals(self) -> dict[str, int | float]:
        """Lab counts per status, check counts and total duration."""
        counts: dict[str, int | float] = {status: 0 for status in STATUSES}
        for lab in self.labs:
            counts[lab.status] += 1
        counts["labs"] = len(self.labs)
        counts["checks_passed"] = sum(lab.checks_passed for lab in self.labs)
        counts["checks_failed"] = sum(lab.checks_failed for lab in self.labs)
        counts["duration_s"] = round(sum(lab.duration_s for lab in self.labs), 2)
        return counts

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the whole report."""
        return {
            "run_dir": str(self.run_dir),
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "profile": self.profile,
            "scale": self.scale,
            "seed": self.seed,
            "learner": self.learner,
            "host": self.host,
            "totals": self.totals,
            "ok": self.ok,
            "labs": [lab.to_dict() for lab in self.labs],
        }

    def write(self) -> list[Path]:
        """Write ``report.json``, ``report.md`` and ``report.html``; return their paths."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        paths = [self.run_dir / f"report.{ext}" for ext in ("json", "md", "html")]
        paths[0].write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        paths[1].write_text(render_markdown(self), encoding="utf-8")
        paths[2].write_text(render_html(self), encoding="utf-8")
        return paths


def _rows(report: RunReport) -> list[list[str]]:
    return [
        [
            lab.name,
            lab.status,
            f"{lab.duration_s:.1f}",
            str(lab.checks_passed),
            str(lab.checks_failed),
            lab.cause,
        ]
        for lab in report.labs
    ]


_HEADER = ["lab", "status", "seconds", "checks passed", "checks failed", "cause"]


def _summary(report: RunReport) -> str:
    t = report.totals
    return (
        f"{t['labs']} labs: {t['passed']} passed, {t['failed']} failed, {t['error']} error, "
        f"{t['timeout']} timeout; checks {t['checks_passed']} passed / {t['checks_failed']} failed; "
        f"profile {report.profile}, scale {report.scale}, seed {report.seed}; "
        f"Python {report.host['python']} on {report.host['cpu_count']} CPUs"
    )


def render_markdown(report: RunReport) -> str:
    """The report as a Markdown table."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"# Lab run {report.started_at}", "", _summary(report), "", "| " + " | ".join(_HEADER) + " |"]
    lines.append("|" + "---|" * len(_HEADER))
    lines.extend("| " + " | ".join(cell(v) for v in row) + " |" for row in _rows(report))
    return "\n".join(lines) + "\n"


def render_html(report: RunReport) -> str:
    """The report as a standalone HTML page."""
    colours = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#8250df", "timeout": "#bf8700"}
    head = "".join(f"<th>{html.escape(h)}</th>" for h in _HEADER)
    body = []
    for lab, row in zip(report.labs, _rows(report), strict=True):
        cells = [f"<td>{html.escape(v)}</td>" for v in row]
        cells[1] = f'<td style="color:{colours[lab.status]};font-weight:bold">{html.escape(lab.status)}</td>'
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Lab run {html.escape(report.started_at)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body>"
        f"<h1>Lab run {html.escape(report.started_at)}</h1><p>{html.escape(_summary(report))}</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>\n"
    )


def read_check_log(path: Path) -> list[CheckRecord]:
    """Final result per exercise from a ``WORKBENCH_CHECK_LOG`` JSON-lines file.

    A check run several times counts once, with its last result. Unparseable lines are
    skipped with a warning. A missing file means no check ran.
    """
    if not path.is_file():
        return []
    final: dict[str, CheckRecord] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            record = CheckRecord(
                str(entry["exercise_id"]), bool(entry["passed"]), str(entry.get("message", ""))
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s:%d: skipping unreadable check record (%s)", path, number, exc)
            continue
        final.pop(record.exercise_id, None)
        final[record.exercise_id] = record
    return list(final.values())
