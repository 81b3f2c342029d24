"""Backend creators for the contract suites (one suite per kind, every backend here).

Like Feast's universal tests: each kind lists creators; embedded backends always
run, compose/external ones are skipped with a visible reason when unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator
import pytest

from platform_kit import Workbench


@pytest.fixture(scope="session")
def embedded() -> Iterator[Workbench]:
    """One embedded workbench shared by the contract suites (services owned, stopped at the end)."""
    workbench = Workbench("embedded")
    yield workbench
    workbench.close()


@pytest.fixture(scope="session")
def compose() -> Workbench:
    """The compose profile's workbench (its services may not be running here)."""
    return Workbench("compose")


@pytest.fixture(scope="session")
def local_folders(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    """Embedded profile with plain local folders as the object store."""
    root = tmp_path_factory.mktemp("local-store")
    return Workbench("embedded", overrides={"object_store": {"type": "local", "root": str(root)}})
