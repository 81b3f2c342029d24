"""Small throwaway notebooks for the notebook, runner and grading tests."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

PARAMETERS = 'profile = "embedded"\nscale = "tiny"\nseed = 42'


def code(source: str, *tags: str, outputs: bool = False) -> NotebookNode:
    """A code cell with ``tags``; with ``outputs`` it looks like a cell someone ran."""
    cell = new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    if outputs:
        cell.execution_count = 1
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    return cell


def markdown(source: str) -> NotebookNode:
    """A markdown cell."""
    return new_markdown_cell(source)


def lab_notebook(*cells: NotebookNode, parameters: bool = True) -> NotebookNode:
    """A python3 notebook: a parameters cell (unless disabled), then ``cells``."""
    first = [code(PARAMETERS, "parameters")] if parameters else []
    nb = new_notebook(cells=[*first, *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def write(nb: NotebookNode, path: Path) -> Path:
    """Write ``nb`` to ``path`` (creating folders) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path
