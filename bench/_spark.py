"""One Spark application on the standalone cluster shared by the Lab 3 benchmarks of a run."""

from __future__ import annotations

from typing import Any

_CACHE: dict[str, Any] = {}


def lab_spark(scale: str = "tiny", copies: int = 40) -> tuple[Any, Any, Any]:
    """(spark, target, data): a cluster session (local[*] fallback, reported in ``target``) and
    the replicated lab data at ``copies``; started once per process and reused."""
    import platform_kit
    from platform_kit import spark as ks

    if "session" not in _CACHE:
        pk = platform_kit.connect()
        _CACHE["session"] = ks.cluster_session(pk, app_name="bench-lab3")
    key = f"{scale}-{copies}"
    if key not in _CACHE:
        _CACHE[key] = ks.prepare_lab_data(scale, copies=copies)
    spark, target = _CACHE["session"]
    return spark, target, _CACHE[key]
