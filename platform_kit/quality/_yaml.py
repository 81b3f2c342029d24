"""One YAML reader for the quality configs (contracts, alert rules): syntax and shape errors as ConfigError."""

from __future__ import annotations

from typing import Any

import yaml

from platform_kit.errors import ConfigError


def load_mapping(text: str, origin: str, *, syntax_fix: str, shape: str, shape_fix: str) -> dict[str, Any]:
    """Parse ``text`` and require a mapping at the top.

    Raises:
        ConfigError: Not YAML (``syntax_fix``), or not a mapping (``shape`` names what it must hold).
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}", fix=f"fix the syntax of {origin} ({syntax_fix})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{origin} must hold {shape}", fix=shape_fix)
    return data
