"""Reading and merging the YAML layers into one raw mapping."""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from platform_kit._state import find_project_root
from platform_kit.errors import ConfigError, UnknownProfileError

DEFAULT_PROFILE = "embedded"
PROFILE_ENV_VAR = "WORKBENCH_PROFILE"
_OVERRIDE_PREFIX = "WORKBENCH__"
_RESERVED = {"base", "local"}


def _environments_dir(root: Path | None = None) -> Path:
    root = root or find_project_root()
    if root is None:
        raise ConfigError(
            "cannot find environments/base.yml above the current directory",
            fix="run from inside the workbench checkout, or set WORKBENCH_HOME and cd into the repo",
        )
    return root / "environments"


def available_profiles(root: Path | None = None) -> list[str]:
    """Names of the profiles defined under ``environments/``."""
    folder = _environments_dir(root)
    return sorted(p.stem for p in folder.glob("*.yml") if p.stem not in _RESERVED)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}", fix=f"fix the syntax of {path}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at top level", fix=f"rewrite {path} as `key: value` pairs")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``; a changed ``type:`` replaces the section.

    Replacing a section whose backend type changes keeps keys of the old backend
    (which the new one would reject as unknown) from leaking through.
    """
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            if "type" in value and value.get("type") != current.get("type"):
                merged[key] = copy.deepcopy(dict(value))
            else:
                merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith(_OVERRIDE_PREFIX):
            continue
        path = [part.lower() for part in name[len(_OVERRIDE_PREFIX):].split("__") if part]
        if not path:
            continue
        node = overrides
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(text) if text != "" else ""
    return overrides


def load_raw_config(
    profile: str | None = None,
    *,
    root: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the merged configuration mapping for ``profile``.

    Args:
        profile: Profile name; ``None`` reads ``$WORKBENCH_PROFILE`` then uses ``embedded``.
        root: Project root holding ``environments/``; discovered when ``None``.
        environ: Environment to read overrides from (defaults to ``os.environ``).

    Raises:
        UnknownProfileError: No ``environments/<profile>.yml`` exists.
        ConfigError: A layer is not valid YAML.
    """
    environ = os.environ if environ is None else environ
    name = profile or environ.get(PROFILE_ENV_VAR) or DEFAULT_PROFILE
    folder = _environments_dir(root)
    profile_file = folder / f"{name}.yml"
    if name in _RESERVED or not profile_file.is_file():
        valid = ", ".join(available_profiles(folder.parent))
        raise UnknownProfileError(
            f"unknown profile {name!r}; valid profiles: {valid}",
            fix=f"pass one of: {valid} (or set {PROFILE_ENV_VAR})",
        )
    merged = _read_yaml(folder / "base.yml")
    merged = deep_merge(merged, _read_yaml(profile_file))
    local = folder / "local.yml"
    if local.is_file():
        merged = deep_merge(merged, _read_yaml(local))
    merged = deep_merge(merged, _env_overrides(environ))
    merged["profile"] = name
    return merged
