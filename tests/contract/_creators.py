"""Resolve a contract-suite parameter (a profile name) into a started backend."""

from __future__ import annotations

from typing import Any

import pytest

from platform_kit.errors import WorkbenchError

PROFILES = ["embedded", "compose"]
_UNREACHABLE: dict[str, str] = {}  # "profile/kind" -> skip reason, probed once per session


def started_service(request: pytest.FixtureRequest, kind: str) -> Any:
    """Resolve the ``profile`` param into a started service, or skip with the reason."""
    workbench = request.getfixturevalue(request.param)
    service = workbench.service(kind)
    key = f"{request.param}/{kind}"
    if request.param == "compose":
        if key not in _UNREACHABLE:
            state = service.status()
            _UNREACHABLE[key] = "" if state.healthy else (
                f"compose {kind} ({state.type}) not reachable at {state.endpoint}: "
                "start it with `docker compose --profile all up -d` (no Docker engine here)")
        if _UNREACHABLE[key]:
            pytest.skip(_UNREACHABLE[key])
    try:
        service.start(owned=True)
    except WorkbenchError as exc:
        if request.param == "compose":
            pytest.skip(f"compose {kind} unavailable: {exc.message}")
        raise
    return service

