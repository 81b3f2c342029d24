"""The curated public API: every name in __all__ exists, and nothing is added by accident."""

from __future__ import annotations

import platform_kit
from platform_kit import errors

EXPECTED = {
    "ConfigError", "CorruptStateError", "DataSettings", "DatasetError", "DependencyMissingError",
    "GradingError", "LabError", "PortInUseError", "ServiceError", "UnknownBackendError",
    "UnknownProfileError", "Workbench", "WorkbenchError", "__version__", "connect",
}


def test_public_api_matches_the_curated_list() -> None:
    assert set(platform_kit.__all__) == EXPECTED


def test_public_api_names_resolve() -> None:
    for name in platform_kit.__all__:
        assert getattr(platform_kit, name) is not None


def test_every_error_is_a_workbench_error_with_fix() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WorkbenchError)
        exc = cls("what went wrong", fix="how to fix it")
        assert "how to fix it" in str(exc) and exc.fix == "how to fix it"


def test_lab_packages_export_what_they_list() -> None:
    import importlib

    for package in ("platform_kit.spark", "platform_kit.quality", "platform_kit.lineage"):
        module = importlib.import_module(package)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{package}.{name}"
