"""Fixtures shared by the unit tests' engine tier."""

from __future__ import annotations

import shutil
from typing import Any

import pytest


@pytest.fixture(scope="module")
def spark() -> Any:
    """The embedded profile's local Spark session (skipped without Java)."""
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    import platform_kit

    return platform_kit.connect("embedded").spark
