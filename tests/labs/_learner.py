"""Run a learner copy end to end and collect its check() results from the check log."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def run_learner_copy(notebook: Path, check_log: Path, timeout: int = 600) -> list[dict[str, Any]]:
    """Execute every cell of ``notebook`` (a cell raising fails the test) and return check results.

    The kernel inherits ``WORKBENCH_CHECK_LOG``, so each ``check()`` appends one JSON line there,
    and its own ``WORKBENCH_HOME``: a solution kernel of the same module may still hold the chdb
    folder, which admits one process at a time.
    """
    from testbook import testbook

    home = Path(tempfile.mkdtemp(prefix="workbench-learner-"))
    overrides = {"WORKBENCH_CHECK_LOG": str(check_log), "WORKBENCH_HOME": str(home)}
    previous = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        with testbook(notebook, execute=True, timeout=timeout, kernel_name="python3"):
            pass
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(home, ignore_errors=True)
    return [json.loads(line) for line in check_log.read_text().splitlines() if line.strip()]
