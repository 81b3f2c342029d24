"""Reading and writing notebooks deterministically.

Generated learner notebooks are compared byte for byte with their committed copies, so
every notebook this package writes goes through :func:`dumps_notebook`: nbformat v4
JSON, ``indent=1``, sorted keys, a trailing newline, and stable cell ids.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from platform_kit.errors import LabError

#: cell metadata keys that record one particular execution, never committed
VOLATILE_CELL_METADATA = ("execution", "papermill", "ExecuteTime", "collapsed", "scrolled")
#: notebook metadata keys written by executors, never committed
VOLATILE_NB_METADATA = ("papermill", "widgets")

_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def read_notebook(path: Path) -> NotebookNode:
    """Read a notebook file as nbformat v4.

    Args:
        path: The ``.ipynb`` file.

    Returns:
        The notebook.

    Raises:
        LabError: The file is missing or is not a valid notebook.
    """
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError as exc:
        raise LabError(
            f"notebook {path} does not exist", fix="check the path or run `workbench labs`"
        ) from exc
    except Exception as exc:  # nbformat raises json, validation and reader errors
        raise LabError(
            f"cannot read notebook {path}: {type(exc).__name__}: {exc}",
            fix="open it in JupyterLab and save it again, or restore it from git",
        ) from exc


def dumps_notebook(nb: NotebookNode) -> str:
    """Serialise ``nb`` the same way every time (nbformat v4, indent 1, trailing newline)."""
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def write_notebook(nb: NotebookNode, path: Path) -> None:
    """Write ``nb`` to ``path`` with :func:`dumps_notebook`, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps_notebook(nb), encoding="utf-8")


def ensure_cell_ids(nb: NotebookNode) -> None:
    """Give every cell a valid, unique id derived from its position (in place).

    Existing valid ids are kept so diffs between solution and learner copies stay readable;
    missing or duplicate ones get ``cell-<index>`` rather than nbformat's random ids.
    """
    nb.nbformat, nb.nbformat_minor = 4, max(int(nb.get("nbformat_minor", 5)), 5)
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id) or cell_id in seen:
            cell_id = f"cell-{index}"
            while cell_id in seen:
                cell_id += "-x"
        cell["id"] = cell_id
        seen.add(cell_id)


def cell_tags(cell: NotebookNode) -> list[str]:
    """Return the tags of ``cell`` (an empty list when it has none)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def content_hash(nb: NotebookNode) -> str:
    """SHA-256 of what a notebook *says*: cell types, sources and tags, not outputs.

    Re-running or re-saving a solution does not change it; editing any cell does.
    """
    payload: list[dict[str, Any]] = [
        {"type": cell.cell_type, "source": cell.source, "tags": cell_tags(cell)} for cell in nb.cells
    ]
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def cells_with_outputs(nb: NotebookNode) -> list[int]:
    """Indexes of code cells that carry outputs or an execution count."""
    return [
        index
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None)
    ]
