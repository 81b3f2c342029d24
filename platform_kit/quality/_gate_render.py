"""Text and Markdown renderings of a quality gate's failures (for test output and CI comments).

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from platform_kit.quality.validate import ExpectationOutcome

_HEADERS = ("severity", "expectation", "column", "rule", "unexpected", "sample")
_CELL_MAX = 60


def _unexpected(outcome: ExpectationOutcome) -> str:
    if outcome.error:
        return f"error: {outcome.error}"
    if outcome.unexpected_count is not None:
        share = f" ({outcome.unexpected_percent:.1f}%)" if outcome.unexpected_percent is not None else ""
        return f"{outcome.unexpected_count}{share}"
    return "" if outcome.observed is None else f"observed {outcome.observed}"


def failure_rows(blocking: Iterable[ExpectationOutcome], warnings: Iterable[ExpectationOutcome]) -> list[dict[str, Any]]:
    """One plain row per failure, blocking ones first."""
    rows = []
    for severity, outcomes in (("blocking", blocking), ("warning", warnings)):
        for o in outcomes:
            rows.append({"severity": severity, "expectation": o.expectation, "column": o.column or "",
                         "rule": o.rule or "", "unexpected": _unexpected(o),
                         "sample": ", ".join(str(v) for v in o.sample)})
    return rows


def _clip(text: str) -> str:
    text = " ".join(str(text).split())  # one line per row, whatever the sample holds
    return text if len(text) <= _CELL_MAX else text[: _CELL_MAX - 3] + "..."


def render_text_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width table of ``rows`` (empty string when there are none)."""
    if not rows:
        return ""
    cells = [list(_HEADERS)] + [[_clip(r[h]) for h in _HEADERS] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(_HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_cell(text: str, code: bool = False) -> str:
    text = _clip(text).replace("|", "\\|")
    return f"`{text}`" if code and text else text


def render_markdown(gate: str, passed: bool, context: str, rows: list[dict[str, Any]]) -> str:
    """A CI comment: a heading with the verdict, one line of context and the failure table."""
    mark = "✅" if passed else "❌"
    out = [f"### {mark} Quality gate `{gate}` {'passed' if passed else 'failed'}", "", context]
    if rows:
        out += ["", "| " + " | ".join(_HEADERS) + " |", "|" + "---|" * len(_HEADERS)]
        for r in rows:
            out.append("| " + " | ".join([r["severity"] if r["severity"] == "warning" else "**blocking**",
                                          _md_cell(r["expectation"], code=True), _md_cell(r["column"]),
                                          _md_cell(r["rule"]), _md_cell(r["unexpected"]),
                                          _md_cell(r["sample"])]) + " |")
    return "\n".join(out) + "\n"
