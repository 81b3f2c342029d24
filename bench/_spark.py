"""One Spark application on the standalone cluster shared by the Lab 3 benchmarks of a run."""

from __future__ import annotations

from typing import Any

_CACHE: dict[str, Any] = {}


def lab_spark(scale: str = "tiny", copies: int = 40) -> tuple[Any, Any, Any]:
    """(spark, target, data): a cluster session (local[*] fallback, reported in ``target``) and
    the replicated lab data at ``copies``; started once per process and reused."""
    from platform_kit import spark as ks

    if "session" not in _CACHE:
        restart_lab_spark()
    key = f"{scale}-{copies}"
    if key not in _CACHE:
        _CACHE[key] = ks.prepare_lab_data(scale, copies=copies)
    spark, target = _CACHE["session"]
    return spark, target, _CACHE[key]


def restart_lab_spark() -> tuple[Any, Any]:
    """Start (again) the shared application on the default layout, e.g. after a benchmark that ran
    its own layouts replaced it; returns ``(spark, target)``."""
    import platform_kit
    from platform_kit import spark as ks

    _CACHE["session"] = ks.cluster_session(platform_kit.connect(), app_name="bench-lab3")
    return _CACHE["session"]
