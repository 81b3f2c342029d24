"""Run a learner copy end to end and collect its check() results from the check log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def run_learner_copy(notebook: Path, check_log: Path, timeout: int = 600) -> list[dict[str, Any]]:
    """Execute every cell of ``notebook`` (a cell raising fails the test) and return check results.

    The kernel inherits ``WORKBENCH_CHECK_LOG``, so each ``check()`` appends one JSON line there.
    """
    from testbook import testbook

    previous = os.environ.get("WORKBENCH_CHECK_LOG")
    os.environ["WORKBENCH_CHECK_LOG"] = str(check_log)
    try:
        with testbook(notebook, execute=True, timeout=timeout, kernel_name="python3"):
            pass
    finally:
        if previous is None:
            os.environ.pop("WORKBENCH_CHECK_LOG", None)
        else:
            os.environ["WORKBENCH_CHECK_LOG"] = previous
    return [json.loads(line) for line in check_log.read_text().splitlines() if line.strip()]
