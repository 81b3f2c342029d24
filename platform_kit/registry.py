"""Registries from ``type:`` names to backend classes, one registry per backend kind.

Modelled on Feast's pluggable stores: each backend class declares a pydantic config
model whose ``type`` field is a ``Literal`` naming it, with ``extra="forbid"`` so a
misspelt key fails loudly instead of being ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from platform_kit.errors import ConfigError, UnknownBackendError

__all__ = ["BackendConfig", "Registry"]


class BackendConfig(BaseModel):
    """Base of every backend's config: strict keys, a ``type`` discriminator."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str


B = TypeVar("B")


class Registry(Generic[B]):
    """Maps ``type:`` names of one backend kind to (class, config model).

    Args:
        kind: The backend kind, used in error messages (``"broker"``, ``"olap"``...).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, tuple[type[B], type[BackendConfig]]] = {}

    def register(self, type_name: str, config_model: type[BackendConfig]) -> Callable[[type[B]], type[B]]:
        """Class decorator registering a backend under ``type_name``."""

        def decorator(cls: type[B]) -> type[B]:
            if type_name in self._entries:
                raise ConfigError(f"{self.kind} backend {type_name!r} registered twice")
            self._entries[type_name] = (cls, config_model)
            return cls

        return decorator

    @property
    def names(self) -> list[str]:
        """Registered type names, sorted."""
        return sorted(self._entries)

    def _entry(self, type_name: str) -> tuple[type[B], type[BackendConfig]]:
        try:
            return self._entries[type_name]
        except KeyError:
            raise UnknownBackendError(
                f"unknown {self.kind} type {type_name!r}; valid types: {', '.join(self.names)}",
                fix=f"set `{self.kind}.type` to one of: {', '.join(self.names)}",
            ) from None

    def parse_config(self, raw: Mapping[str, Any]) -> BackendConfig:
        """Validate a raw mapping into the config model its ``type`` names."""
        if "type" not in raw:
            raise ConfigError(
                f"the {self.kind} section has no `type:`",
                fix=f"add `type:` with one of: {', '.join(self.names)}",
            )
        _, model = self._entry(str(raw["type"]))
        try:
            return model.model_validate(dict(raw))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(
                f"invalid {self.kind} config ({raw['type']}): {problems}",
                fix="correct the keys in environments/*.yml or your WORKBENCH__ overrides",
            ) from None

    def create(self, config: BackendConfig, **kwargs: Any) -> B:
        """Instantiate the backend class registered for ``config.type``."""
        cls, _ = self._entry(config.type)
        return cls(config, **kwargs)  # type: ignore[call-arg]
