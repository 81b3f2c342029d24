"""Whole-pipeline tests on live embedded engines (the slow tier): crash, restart, corpus invariants."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from platform_kit import Workbench


@pytest.fixture(scope="session")
def embedded() -> Iterator[Workbench]:
    """One embedded workbench shared by the integration tests (services owned, stopped at the end)."""
    workbench = Workbench("embedded")
    yield workbench
    workbench.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="module")
def _release_cluster_application() -> Iterator[None]:
    """A module that started a Spark application on the cluster must not hand it to the next one
    (the cluster stops with the session fixture; later modules get a fresh local session)."""
    yield
    from platform_kit.services import SparkBackend

    session = SparkBackend._session
    if session is not None and session.sparkContext.master.startswith("spark://"):
        session.stop()
        SparkBackend._session = None
