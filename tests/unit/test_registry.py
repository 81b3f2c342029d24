"""The generic type-name registry behind every backend kind."""

from __future__ import annotations

from typing import Literal

import pytest

from platform_kit.errors import ConfigError, UnknownBackendError
from platform_kit.registry import BackendConfig, Registry


class _AlphaConfig(BackendConfig):
    type: Literal["alpha"] = "alpha"
    size: int = 1


class _Alpha:
    def __init__(self, config: _AlphaConfig, **_: object) -> None:
        self.config = config


def _registry() -> Registry[_Alpha]:
    registry: Registry[_Alpha] = Registry("widget")
    registry.register("alpha", _AlphaConfig)(_Alpha)
    return registry


def test_registry_parse_and_create_round_trip() -> None:
    registry = _registry()
    config = registry.parse_config({"type": "alpha", "size": 3})
    widget = registry.create(config)
    assert isinstance(widget, _Alpha) and widget.config.size == 3


def test_registry_unknown_type_lists_valid_names() -> None:
    with pytest.raises(UnknownBackendError, match="unknown widget type 'beta'; valid types: alpha"):
        _registry().parse_config({"type": "beta"})


def test_registry_missing_type_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="has no `type:`"):
        _registry().parse_config({"size": 2})


def test_registry_extra_key_is_forbidden() -> None:
    with pytest.raises(ConfigError, match="colour"):
        _registry().parse_config({"type": "alpha", "colour": "red"})


def test_registry_duplicate_registration_fails() -> None:
    registry = _registry()
    with pytest.raises(ConfigError, match="registered twice"):
        registry.register("alpha", _AlphaConfig)(_Alpha)
