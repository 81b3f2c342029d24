"""Quality-gate plumbing: import a transform by its dotted path, read gates YAML, explain bad keys.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from platform_kit.quality._yaml import common_fix

from platform_kit.errors import ConfigError, InputError


def resolve_transform(spec: str | Callable[..., Any]) -> Callable[..., Any]:
    """The callable named by ``package.module:function`` (a callable is returned as it is).

    Raises:
        InputError: The text is malformed, the module cannot be imported, it has no such
            attribute, or the attribute is not callable.
    """
    if callable(spec):
        return spec
    if not isinstance(spec, str) or spec.count(":") != 1 or spec.startswith(":") or spec.endswith(":"):
        raise InputError(f"transform {spec!r} is not of the form package.module:function",
                         fix="write e.g. platform_kit.quality.pipeline:stage_orders")
    module_name, attr = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"cannot import module {module_name!r} of transform {spec!r}: {exc}",
                         fix="check the module path and that its package is installed in this environment") from None
    except Exception as exc:  # the module itself fails on import: report it, do not leak it
        raise InputError(f"importing {module_name!r} for transform {spec!r} raised {type(exc).__name__}: {exc}",
                         fix=f"fix the error in {module_name} (try `python -c 'import {module_name}'`)") from exc
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            public = sorted(n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n)))
            raise InputError(f"module {module_name!r} has no attribute {attr!r} (transform {spec!r})",
                             fix=f"use one of its callables: {', '.join(public[:12]) or '(none)'}")
        target = getattr(target, part)
    if not callable(target):
        raise InputError(f"{spec!r} is a {type(target).__name__}, not a function",
                         fix="point transform at a function that takes DataFrames and returns one")
    return target


def read_source(source: str | Path) -> tuple[str, str, Path | None]:
    """Text, a name for messages and the folder of a gates file (``None`` for YAML text)."""
    if isinstance(source, str) and ("\n" in source or ":" in source and not Path(source).exists()):
        return source, "<gates text>", None
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path), path.parent
    except OSError as exc:
        raise ConfigError(f"cannot read gates file {path}: {exc.strerror or exc}",
                          fix="check the path, or start from the bundled platform_kit/quality/gates.yml") from None


def local_contract(item: Mapping[str, Any], folder: Path | None) -> dict[str, Any]:
    """The gate's fields with a relative contract path resolved next to the gates file, if it is there."""
    out = dict(item)
    contract = out.get("contract")
    if folder is not None and isinstance(contract, str) and "\n" not in contract:
        local = folder / contract
        if not Path(contract).is_absolute() and local.is_file():
            out["contract"] = local
    return out


def config_error(exc: ValidationError, origin: str, label: str, fields: Iterable[str]) -> ConfigError:
    """A ConfigError naming each bad key as ``gates[i] (name).key`` with the first error's fix."""
    lines, fixes = [], []
    for err in exc.errors():
        # drop union-branch tags pydantic adds to the location (`inputs.list[...]`)
        parts = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "float")))]
        key = label + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
        ctx = err.get("ctx") or {}
        field = parts[-1] if parts else ""
        if err["type"] == "gate_rule":
            fixes.append(ctx["fix"])
        else:
            fixes.append(common_fix(err, field, f"the fields: {', '.join(fields)}") or f"fix the value of `{field}`")
        lines.append(f"{key}: {err['msg']}")
    head = f"gates file {origin} is invalid: {lines[0]}" + "".join(f"\n  also {x}" for x in lines[1:3])
    return ConfigError(head, fix=fixes[0])
