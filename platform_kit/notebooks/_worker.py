"""Execute one notebook with papermill in a child process: ``python -P _worker.py SPEC``.

The runner starts one such process per notebook with the notebook's environment
(``WORKBENCH_CHECK_LOG``, ``WORKBENCH_PROFILE``...), so labs can run in parallel and a
crash in one cannot take the others down. ``SPEC`` is a JSON file naming the input,
output, parameters, working folder, kernel and per-cell timeout; the outcome is written
as JSON to the spec's ``result`` path.

The file is run as a script and imports nothing from ``platform_kit``: importing the
package (pandas, the service clients) would add seconds to every notebook.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
_MAX_EVALUE = 2000
#: tags of cells papermill adds to the executed copy (not in the source notebook)
_ADDED_TAGS = {"injected-parameters", "papermill-error-cell-tag"}


def cell_tags(cell: Any) -> list[str]:
    """Tags of a notebook cell (see ``platform_kit.notebooks._nbio.cell_tags``)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return [str(tag) for tag in tags] if isinstance(tags, list) else []


def _short(text: str) -> str:
    text = str(text).strip()
    return text if len(text) <= _MAX_EVALUE else text[:_MAX_EVALUE] + " ..."


def _failing_cell(output: Path) -> tuple[int | None, list[str]]:
    """Index (in the source notebook) and tags of the last cell papermill started."""
    import nbformat

    try:
        nb = nbformat.read(str(output), as_version=4)
    except Exception:  # noqa: BLE001 - the output may not exist if the kernel never started
        return None, []
    started = [i for i, c in enumerate(nb.cells) if c.metadata.get("papermill", {}).get("start_time")]
    if not started:
        return None, []
    index = started[-1]
    added = sum(bool(_ADDED_TAGS & set(cell_tags(c))) for c in nb.cells[:index])
    return index - added, [t for t in cell_tags(nb.cells[index]) if t not in _ADDED_TAGS]


def _classify(exc: BaseException, output: Path) -> dict[str, Any]:
    """Turn an execution exception into ``status`` + ``error`` fields."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    cell_index, tags = _failing_cell(output)
    if isinstance(exc, PapermillExecutionError):
        status, ename, evalue = "failed", exc.ename, exc.evalue
    elif isinstance(exc, CellTimeoutError):
        status, ename, evalue = "timeout", type(exc).__name__, str(exc).splitlines()[0]
    elif isinstance(exc, DeadKernelError):
        status, ename, evalue = "error", type(exc).__name__, str(exc) or "the kernel died"
    else:
        status, ename, evalue = "error", type(exc).__name__, str(exc)
    return {
        "status": status,
        "error": {"ename": ename, "evalue": _short(evalue), "cell_index": cell_index, "cell_tags": tags},
    }


def execute(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the notebook described by ``spec`` and return the outcome (never raises).

    Args:
        spec: ``input``, ``output``, ``cwd``, ``parameters``, ``kernel_name``,
            ``timeout_per_cell``, ``start_timeout``.

    Returns:
        ``{"status": "passed"|"failed"|"error"|"timeout", "error": {...}|None, "duration_s": float}``.
        ``passed`` here only means every cell ran; the runner then looks at the checks.
    """
    started = time.monotonic()
    output = Path(spec["output"])
    try:
        import papermill

        papermill.execute_notebook(
            spec["input"],
            str(output),
            parameters=spec.get("parameters") or {},
            kernel_name=spec.get("kernel_name", "python3"),
            language="python",
            cwd=spec.get("cwd"),
            execution_timeout=spec.get("timeout_per_cell"),
            start_timeout=spec.get("start_timeout", 60),
            progress_bar=False,
            log_output=False,
        )
        outcome: dict[str, Any] = {"status": "passed", "error": None}
    except Exception as exc:  # noqa: BLE001 - every failure becomes a reported cause, never a crash
        outcome = _classify(exc, output)
    outcome["duration_s"] = round(time.monotonic() - started, 3)
    return outcome


def main(argv: list[str]) -> int:
    """Entry point: read the spec, execute, write the result file."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    spec = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    outcome = execute(spec)
    Path(spec["result"]).write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
