"""Static checks of a lab notebook's structure (no execution)."""

from __future__ import annotations

import re

from nbformat import NotebookNode

from platform_kit.errors import LabError
from platform_kit.notebooks._learner import CHECK_TAG_PREFIX, PARAMETERS_TAG, SOLUTION_ONLY_TAG
from platform_kit.notebooks._markers import find_regions
from platform_kit.notebooks._nbio import cell_tags

#: names every parameters cell must assign
REQUIRED_PARAMETERS = ("profile", "scale", "seed")

_CHECK_CALL = re.compile(r"\bcheck\s*\(")
_CHECK_ID = re.compile(r"\bcheck\s*\(\s*(?P<quote>['\"])(?P<id>[^'\"]+)(?P=quote)")


def _assigns(source: str, name: str) -> bool:
    return re.search(rf"^{name}\s*(:[^=]+)?=", source, re.MULTILINE) is not None


def _lint_parameters(nb: NotebookNode, where: str) -> list[str]:
    cells = [c for c in nb.cells if c.cell_type == "code" and PARAMETERS_TAG in cell_tags(c)]
    if not cells:
        return [f"{where}: no code cell tagged {PARAMETERS_TAG!r} (papermill cannot inject parameters)"]
    if len(cells) > 1:
        return [f"{where}: {len(cells)} cells tagged {PARAMETERS_TAG!r}; keep exactly one"]
    missing = [name for name in REQUIRED_PARAMETERS if not _assigns(cells[0].source, name)]
    if missing:
        return [f"{where}: the parameters cell does not assign {', '.join(missing)}"]
    return []


def lint_notebook(nb: NotebookNode, *, name: str = "notebook") -> list[str]:
    """Check a lab notebook against the lab conventions.

    Rules:
        * exactly one code cell is tagged ``parameters`` and it assigns ``profile``,
          ``scale`` and ``seed``;
        * solution markers are well formed and not inside ``solution-only`` cells;
        * every solution region is followed (later in the same cell, or in a later cell
          that the learner copy keeps) by a ``check(`` call;
        * a cell calling ``check("<id>", ...)`` is tagged ``check-<id>``.

    Args:
        nb: The notebook (a solution, or a learner copy).
        name: How to name the notebook in the problems.

    Returns:
        One human-readable line per problem; empty when the notebook is fine.
    """
    problems = _lint_parameters(nb, name)
    regions: list[tuple[int, int]] = []  # (cell index, last line of the region)
    checks: list[tuple[int, int]] = []  # (cell index, line of the check call)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tags = cell_tags(cell)
        try:
            found = find_regions(cell.source, where=name, cell_index=index)
        except LabError as exc:
            problems.append(exc.message + (f" (fix: {exc.fix})" if exc.fix else ""))
            found = []
        if found and SOLUTION_ONLY_TAG in tags:
            problems.append(f"{name}, cell {index}: solution markers in a {SOLUTION_ONLY_TAG!r} cell")
        regions.extend((index, region.end) for region in found)
        if SOLUTION_ONLY_TAG in tags:
            continue
        for line_no, line in enumerate(cell.source.splitlines()):
            if _CHECK_CALL.search(line) and not line.lstrip().startswith("#"):
                checks.append((index, line_no))
        for match in _CHECK_ID.finditer(cell.source):
            tag = f"{CHECK_TAG_PREFIX}{match['id']}"
            if tag not in tags:
                problems.append(
                    f"{name}, cell {index}: calls check({match['id']!r}) but is not tagged {tag!r}"
                )
    for cell_index, end_line in regions:
        if not any(position > (cell_index, end_line) for position in checks):
            problems.append(
                f"{name}, cell {cell_index}: the solution region ending on line {end_line + 1} "
                "is not followed by a check(...) call"
            )
    return problems
