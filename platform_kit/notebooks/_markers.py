"""Solution markers (nbgrader style) and their replacement by learner stubs.

A code cell of a solution notebook marks the code a learner must write::

    def revenue_by_status(orders):
        # HINT: group by status, sum total_amount, sort the index
        ### BEGIN SOLUTION
        return orders.groupby("status")["total_amount"].sum().sort_index()
        ### END SOLUTION

In the learner copy the region from ``### BEGIN SOLUTION`` to ``### END SOLUTION``
(inclusive) becomes one ``raise NotImplementedError("<hint>")`` line at the indentation
of the BEGIN line. Code outside the markers is kept. The hint is a ``# HINT: text`` line
inside the region, else the nearest one above it (outside any region) in the same cell,
else the first one below it, else a generic sentence. Hint lines outside regions are kept
(they are comments the learner sees).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from platform_kit.errors import LabError

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
DEFAULT_HINT = "write your solution here"

_MARKER = re.compile(r"^(?P<indent>[ \t]*)###[ \t]*(?P<kind>BEGIN|END)[ \t]+SOLUTION[ \t]*$")
#: something that looks like a marker but is not spelt exactly as one (typo, wrong level)
_NEAR_MARKER = re.compile(r"^[ \t]*#+[ \t]*(BEGIN|END)[ \t_]*SOLUTION\b", re.IGNORECASE)
_HINT = re.compile(r"^[ \t]*#[ \t]*HINT:[ \t]*(?P<text>.*?)[ \t]*$")


@dataclass(frozen=True)
class SolutionRegion:
    """One ``BEGIN``/``END`` pair in a cell (0-based line numbers, both inclusive)."""

    begin: int
    end: int
    indent: str
    hint: str | None


def _marker_error(where: str, cell_index: int, line_no: int, problem: str, fix: str) -> LabError:
    return LabError(f"{where}, cell {cell_index}, line {line_no + 1}: {problem}", fix=fix)


def find_regions(source: str, *, where: str = "notebook", cell_index: int = 0) -> list[SolutionRegion]:
    """Parse the solution regions of one code cell.

    Args:
        source: The cell's source.
        where: The notebook's name, used in error messages.
        cell_index: The cell's index in the notebook, used in error messages.

    Returns:
        The regions in order of appearance (empty when the cell has no markers).

    Raises:
        LabError: An END without BEGIN, a BEGIN inside a region (nesting), a BEGIN never
            closed, or a misspelt marker.
    """
    lines = source.splitlines()
    regions: list[SolutionRegion] = []
    open_at: int | None = None
    open_indent = ""
    for line_no, line in enumerate(lines):
        match = _MARKER.match(line)
        if match is None:
            if _NEAR_MARKER.match(line):
                raise _marker_error(
                    where,
                    cell_index,
                    line_no,
                    f"malformed solution marker {line.strip()!r}",
                    f"write the marker exactly as {BEGIN_MARKER!r} or {END_MARKER!r} on a line of its own",
                )
            continue
        if match["kind"] == "BEGIN":
            if open_at is not None:
                raise _marker_error(
                    where,
                    cell_index,
                    line_no,
                    f"nested {BEGIN_MARKER!r} (the one on line {open_at + 1} is open)",
                    f"close the first region with {END_MARKER!r} before opening another",
                )
            open_at, open_indent = line_no, match["indent"]
        else:
            if open_at is None:
                raise _marker_error(
                    where,
                    cell_index,
                    line_no,
                    f"{END_MARKER!r} without a matching {BEGIN_MARKER!r}",
                    f"add {BEGIN_MARKER!r} above the solution code or delete the stray END line",
                )
            inner = [_HINT.match(text) for text in lines[open_at + 1 : line_no]]
            hints = [m["text"] for m in inner if m is not None and m["text"]]
            regions.append(SolutionRegion(open_at, line_no, open_indent, hints[0] if hints else None))
            open_at = None
    if open_at is not None:
        raise _marker_error(
            where,
            cell_index,
            open_at,
            f"{BEGIN_MARKER!r} is never closed",
            f"add {END_MARKER!r} after the solution code, at the same indentation",
        )
    return regions


def _outside_hint(lines: list[str], regions: list[SolutionRegion], region: SolutionRegion) -> str | None:
    """The nearest ``# HINT:`` line above ``region`` outside every region, else the first below."""
    inside = {n for r in regions for n in range(r.begin, r.end + 1)}
    hints = [
        (n, m["text"])
        for n, line in enumerate(lines)
        if n not in inside and (m := _HINT.match(line)) is not None and m["text"]
    ]
    above = [text for n, text in hints if n < region.begin]
    if above:
        return above[-1]
    return hints[0][1] if hints else None


def stub_line(indent: str, hint: str) -> str:
    """The learner stub for one region: ``raise NotImplementedError("<hint>")``."""
    return f"{indent}raise NotImplementedError({json.dumps(hint, ensure_ascii=False)})"


def replace_solutions(source: str, *, where: str = "notebook", cell_index: int = 0) -> str:
    """Return ``source`` with every solution region replaced by its stub.

    Args:
        source: A code cell's source.
        where: The notebook's name, used in error messages.
        cell_index: The cell's index, used in error messages.

    Returns:
        The learner source; unchanged when the cell has no markers.

    Raises:
        LabError: The markers are malformed (see :func:`find_regions`).
    """
    regions = find_regions(source, where=where, cell_index=cell_index)
    if not regions:
        return source
    lines = source.splitlines()
    out: list[str] = []
    cursor = 0
    for region in regions:
        hint = region.hint or _outside_hint(lines, regions, region) or DEFAULT_HINT
        out.extend(lines[cursor : region.begin])
        out.append(stub_line(region.indent, hint))
        cursor = region.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out)
