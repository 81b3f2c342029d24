"""Test-wide isolation: a throwaway state dir for every run."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Busy preferred ports fall back to free ones (strict_port: false), so a developer's
# own `workbench up` (another state dir) never collides with a test run.
# Testbook kernels inherit this environment: headless, so widget cells run their defaults once.
_ISOLATION = {"SPARK_LOCAL_IP": "127.0.0.1", "WORKBENCH_HEADLESS": "1"}


@pytest.fixture(scope="session", autouse=True)
def isolated_state() -> Iterator[Path]:
    """Point WORKBENCH_HOME at a fresh folder for the whole session.

    Not under pytest's tmp_path: that tree is 0700 and re-tightened by pytest, and as
    root the embedded PostgreSQL runs as the unprivileged `pgserver` user, which must
    be able to traverse to its data directory.
    """
    home = Path(tempfile.mkdtemp(prefix="workbench-test-"))
    saved = {key: os.environ.get(key) for key in [*_ISOLATION, "WORKBENCH_HOME", "WORKBENCH_PROFILE"]}
    os.environ.update(_ISOLATION)
    os.environ["WORKBENCH_HOME"] = str(home)
    os.environ.pop("WORKBENCH_PROFILE", None)
    yield home
    shutil.rmtree(home, ignore_errors=True)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
