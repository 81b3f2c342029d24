"""One YAML reader for the quality configs (contracts, alert rules): syntax, shape and field errors as ConfigError."""

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


def key_path(loc: list[Any], data: dict[str, Any]) -> str:
    """A pydantic error location as the user wrote it: ``['rules', 1, 'max_z']`` -> ``rules[1] (orders_volume).max_z``."""
    out, node = "", data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "name" in node:
                out += f" ({node['name']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out or "<top level>"


def common_fix(err: dict[str, Any], key: Any, fields: str) -> str | None:
    """The fix for the error kinds every config shares (``fields`` names where the valid keys are listed)."""
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"remove `{key}` or fix its spelling (see {fields})"
    if kind == "missing":
        return f"add the required key `{key}`"
    if kind in ("literal_error", "enum"):
        return f"use one of {err.get('ctx', {}).get('expected', 'the listed values')}"
    return None
