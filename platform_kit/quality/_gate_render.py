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


def _body_lines(func: Any) -> list[str]:
    """The source lines of ``func`` without its docstring (comments kept), dedented."""
    import ast
    import inspect
    import textwrap

    try:
        lines = textwrap.dedent(inspect.getsource(func)).splitlines()
    except (OSError, TypeError) as exc:
        from platform_kit.errors import InputError

        raise InputError(f"no source for {func!r}: {exc}", fix="pass a function defined in a .py file") from None
    node = ast.parse("\n".join(lines)).body[0]
    body = getattr(node, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        del lines[body[0].lineno - 1: body[0].end_lineno]
    return lines


def source_diff(old: Any, new: Any) -> str:
    """A unified diff of two functions' code (docstrings left out): what a reviewer sees in the pull request.

    Raises:
        InputError: A function has no source (a builtin, or defined in a console).
    """
    import difflib

    def name(func: Any) -> str:
        return f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', func)}"

    a, b = _body_lines(old), _body_lines(new)
    return "\n".join(difflib.unified_diff(a, b, name(old), name(new), lineterm="", n=2))
