"""Where the workbench keeps its files: the project root and the state directory.

The state directory holds everything a reset wipes (service data, the progress
store, the catalog, Spark event logs). It is, in order of precedence:
``$WORKBENCH_HOME``, ``<project root>/.workbench`` when running inside a checkout,
else ``~/.local/state/workbench``.
"""

from __future__ import annotations

import os
from pathlib import Path

_MARKER = "environments"


def find_project_root(start: Path | None = None) -> Path | None:
    """Return the nearest ancestor of ``start`` holding ``environments/base.yml``.

    Args:
        start: Where to begin; defaults to the current directory, then the package's own
            location (so notebooks run from ``labs/`` still find the checkout).
    """
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent]
    for origin in candidates:
        for folder in [origin, *origin.parents]:
            if (folder / _MARKER / "base.yml").is_file():
                return folder
    return None


def state_dir() -> Path:
    """Return (and create) the workbench state directory."""
    explicit = os.environ.get("WORKBENCH_HOME")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        root = find_project_root()
        path = root / ".workbench" if root else Path.home() / ".local" / "state" / "workbench"
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()
