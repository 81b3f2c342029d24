"""platform_kit: the tested package behind the AI-Ready Data Platform Workbench labs.

Labs only configure, call and display; the logic lives here::

    import platform_kit as pk_mod
    pk = pk_mod.connect()            # embedded profile by default
    pk.spark, pk.broker, pk.store, pk.olap, pk.pg

Submodules: ``platform_kit.datasets`` (the synthetic company), ``platform_kit.grading``
(``check()``), ``platform_kit.notebooks`` (build and run labs), ``platform_kit.services``
(backends and their registries), ``platform_kit.config`` (layered profiles).
"""

from platform_kit._workbench import DataSettings, Workbench, connect
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

__version__ = "0.1.0"

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
