"""Exceptions raised by platform_kit.

Every failure the package reports is a :class:`WorkbenchError` whose message names
the problem *and* the fix. Third-party failures are wrapped, never leaked raw::

    WorkbenchError
    ├── ConfigError                  bad or unknown configuration
    │   ├── UnknownProfileError      profile name has no environments/<name>.yml
    │   └── UnknownBackendError      `type:` not in the backend registry
    ├── DependencyMissingError       optional package or system tool (JDK) absent
    ├── ServiceError                 an engine failed to start, crashed or is unreachable
    │   ├── PortInUseError           a fixed port is taken by another process
    │   └── CorruptStateError        a data directory cannot be used as it is
    ├── InputError (also ValueError) bad values handed to a function: samples, records, schemas
    │   └── SampleError              latency samples that cannot be summarised
    ├── DatasetError                 synthetic data failed its checksum or bad parameters
    ├── LabError                     lab notebooks: unknown lab, stale learner copy, bad markers
    └── GradingError                 grading: unknown exercise id, bad submission

Each exception carries ``fix`` (a one-line remedy) so the CLI can print it and exit
non-zero with a consistent layout.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptStateError",
    "DatasetError",
    "DependencyMissingError",
    "GradingError",
    "InputError",
    "LabError",
    "PortInUseError",
    "SampleError",
    "ServiceError",
    "UnknownBackendError",
    "UnknownProfileError",
    "WorkbenchError",
]


class WorkbenchError(Exception):
    """Base class of every error raised by platform_kit.

    Args:
        message: What went wrong, in one sentence.
        fix: How to fix it, in one sentence (optional but strongly encouraged).
    """

    def __init__(self, message: str, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message if fix is None else f"{message}\n  fix: {fix}")


class ConfigError(WorkbenchError):
    """Configuration is invalid, incomplete or contradictory."""


class UnknownProfileError(ConfigError):
    """The requested profile has no file under ``environments/``."""


class UnknownBackendError(ConfigError):
    """A ``type:`` value is not registered for its backend kind."""


class DependencyMissingError(WorkbenchError):
    """An optional Python package or a system tool (such as a JDK) is missing."""


class ServiceError(WorkbenchError):
    """An engine failed to start, crashed, or cannot be reached."""


class PortInUseError(ServiceError):
    """A configured fixed port is already bound by another process."""


class CorruptStateError(ServiceError):
    """A service's data directory exists but cannot be used."""


class InputError(WorkbenchError, ValueError):
    """Bad values handed to a function (records, samples, schemas, parameters).

    Also a ``ValueError``, so callers that expect the standard error still catch it.
    """


class SampleError(InputError):
    """Latency samples cannot be summarised (empty, NaN, infinite, negative or not numbers)."""


class DatasetError(WorkbenchError):
    """Synthetic data could not be generated or failed verification."""


class LabError(WorkbenchError):
    """A lab notebook is unknown, malformed, or out of sync with its solution."""


class GradingError(WorkbenchError):
    """An exercise id is unknown or a submission cannot be graded."""
