"""platform_kit: the tested package behind the AI-Ready Data Platform Workbench labs.

Labs only configure, call and display; the logic lives here::

    import platform_kit as pk_mod
    pk = pk_mod.connect()            # embedded profile by default
    pk.spark, pk.broker, pk.store, pk.olap, pk.pg

Submodules: ``platform_kit.datasets`` (the synthetic company), ``platform_kit.grading``
(``check()``), ``platform_kit.notebooks`` (build and run labs), ``platform_kit.services``
(backends and their registries), ``platform_kit.config`` (layered profiles).
"""

from typing import TYPE_CHECKING, Any

from platform_kit.errors import (
    ConfigError,
    CorruptStateError,
    DatasetError,
    DependencyMissingError,
    GradingError,
    LabError,
    PortInUseError,
    ServiceError,
    UnknownBackendError,
    UnknownProfileError,
    WorkbenchError,
)

if TYPE_CHECKING:
    from platform_kit._workbench import DataSettings, Workbench, connect

__version__ = "0.1.0"
_LAZY = {"DataSettings", "Workbench", "connect"}


def __getattr__(name: str) -> Any:
    # The engines pull in pandas, pydantic models and clients (~1.5 s): import them on
    # first use, so `from platform_kit.grading import check` and helper processes stay light.
    if name in _LAZY:
        from platform_kit import _workbench

        return getattr(_workbench, name)
    raise AttributeError(f"module 'platform_kit' has no attribute {name!r}")

__all__ = [
    "ConfigError",
    "CorruptStateError",
    "DataSettings",
    "DatasetError",
    "DependencyMissingError",
    "GradingError",
    "LabError",
    "PortInUseError",
    "ServiceError",
    "UnknownBackendError",
    "UnknownProfileError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "connect",
]
