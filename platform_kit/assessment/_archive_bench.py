"""Per-request cost of an HTTP object API vs a filesystem call: LIST and GET timings.

The same harness (:func:`measure_backend`) runs against any :class:`Backend`: the S3 store
(``pk.store``: moto on loopback in the embedded profile, MinIO or AWS otherwise) and a local
folder. moto on loopback is not AWS: the numbers show the per-request overhead of an HTTP
object API (request signing, HTTP, XML), which matters for archives read by many small requests.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import ConfigError, ServiceError

log = logging.getLogger(__name__)

__all__ = ["Backend", "compare_store_latency", "local_backend", "measure_backend", "s3_backend"]


@dataclass(frozen=True)
class Backend:
    """Object operations of one store, all keys relative to one prefix.

    Attributes:
        name: Label in the results.
        put: ``put(key, data)``.
        get: ``get(key) -> bytes``.
        list_keys: ``list_keys() -> list[str]``: every key under the prefix.
        cleanup: Removes everything under the prefix.
    """

    name: str
    put: Callable[[str, bytes], None]
    get: Callable[[str], bytes]
    list_keys: Callable[[], list[str]]
    cleanup: Callable[[], None]


def local_backend(root: Path, name: str = "local files") -> Backend:
    """A folder of files: one file per key (plain ``open``/``read``/``scandir``).

    Introduced in: Lab 1 (assessment).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)

    def put(key: str, data: bytes) -> None:
        (root / key).write_bytes(data)

    def get(key: str) -> bytes:
        return (root / key).read_bytes()

    def list_keys() -> list[str]:
        with os.scandir(root) as entries:
            return [entry.name for entry in entries if entry.is_file()]

    return Backend(name, put, get, list_keys, lambda: shutil.rmtree(root, ignore_errors=True))


def s3_backend(client: Any, bucket: str, prefix: str, name: str = "S3 store") -> Backend:
    """Keys under ``s3://bucket/prefix/`` through a boto3 client (``pk.store.client()``).

    Introduced in: Lab 1 (assessment).
    """
    base = prefix.strip("/") + "/"

    def put(key: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=base + key, Body=data)

    def get(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=base + key)["Body"].read()

    def list_keys() -> list[str]:
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            keys += [item["Key"][len(base) :] for item in page.get("Contents", [])]
        return keys

    def cleanup() -> None:
        keys = list_keys()
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": base + k} for k in keys[start : start + 1000]]
            client.delete_objects(Bucket=bucket, Delete={"Objects": chunk})

    return Backend(name, put, get, list_keys, cleanup)


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    result = call()
    return time.perf_counter() - began, result


def _row(backend: str, operation: str, seconds: list[float], nbytes: int) -> dict[str, Any]:
    values = np.asarray(seconds)
    total = float(values.sum())
    return {
        "backend": backend,
        "operation": operation,
        "requests": len(values),
        "bytes": nbytes,
        "p50_ms": float(np.percentile(values, 50) * 1000),
        "p95_ms": float(np.percentile(values, 95) * 1000),
        "mb_per_s": nbytes / 1e6 / total if total > 0 and nbytes else float("nan"),
        "total_s": total,
    }


def measure_backend(
    backend: Backend,
    *,
    n_small: int = 200,
    small_kib: int = 4,
    n_large: int = 4,
    large_mib: int = 2,
    list_repeats: int = 5,
    seed: int = 0,
) -> pd.DataFrame:
    """PUT ``n_small`` small and ``n_large`` large objects, then time LIST, GET small and GET large.

    Every GET is checked against what was PUT and every LIST must see all keys, so a
    broken store fails loudly instead of looking fast.

    Returns:
        Rows ``backend, operation (put_small, list, get_small, get_large), requests, bytes,
        p50_ms, p95_ms, mb_per_s, total_s``.

    Raises:
        ConfigError: Non-positive counts or sizes.
        ServiceError: The store returned wrong bytes or lost keys.

    Introduced in: Lab 1 (assessment).
    """
    for label, value in (
        ("n_small", n_small),
        ("small_kib", small_kib),
        ("n_large", n_large),
        ("large_mib", large_mib),
        ("list_repeats", list_repeats),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(
                f"{label} must be a positive integer, got {value!r}", fix=f"pass {label}=1 or more"
            )
    rng = np.random.default_rng(seed)
    small = {f"small-{i:05d}": rng.bytes(small_kib * 1024) for i in range(n_small)}
    large = {f"large-{i:03d}": rng.bytes(large_mib * 1024 * 1024) for i in range(n_large)}
    put_s = [_timed(lambda k=k, v=v: backend.put(k, v))[0] for k, v in small.items()]
    for key, data in large.items():
        backend.put(key, data)

    list_s = []
    for _ in range(list_repeats):
        seconds, keys = _timed(backend.list_keys)
        list_s.append(seconds)
        if not set(small) | set(large) <= set(keys):
            raise ServiceError(
                f"{backend.name}: LIST returned {len(keys)} keys, expected {len(small) + len(large)}",
                fix="check the store is healthy (`workbench status`)",
            )

    def read(objects: dict[str, bytes]) -> list[float]:
        timings = []
        for key, data in objects.items():
            seconds, got = _timed(lambda k=key: backend.get(k))
            if got != data:
                raise ServiceError(
                    f"{backend.name}: GET {key} returned other bytes than were PUT",
                    fix="check the store is healthy (`workbench status`)",
                )
            timings.append(seconds)
        return timings

    small_bytes = n_small * small_kib * 1024
    return pd.DataFrame(
        [
            _row(backend.name, "put_small", put_s, small_bytes),
            _row(backend.name, "list", list_s, 0),
            _row(backend.name, "get_small", read(small), small_bytes),
            _row(backend.name, "get_large", read(large), n_large * large_mib * 1024 * 1024),
        ]
    )


def compare_store_latency(store: Any, local_dir: Path, *, bucket: str = "lake", **sizes: int) -> pd.DataFrame:
    """Run :func:`measure_backend` on the S3 store and on a local folder, then clean both up.

    Args:
        store: ``pk.store`` (S3-like: needs ``client()``).
        local_dir: A scratch folder (created, then removed).
        bucket: Bucket for the S3 objects (under a unique ``assessment/archive-bench-*`` prefix).
        **sizes: ``n_small``, ``small_kib``, ``n_large``, ``large_mib``, ``list_repeats``.

    Returns:
        The rows of both backends.

    Introduced in: Lab 1 (assessment).
    """
    if not hasattr(store, "client"):
        raise ConfigError(
            f"{type(store).__name__} has no S3 client", fix="use a profile whose object store speaks S3"
        )
    tag = f"archive-bench-{time.time_ns()}"
    backends = [s3_backend(store.client(), bucket, f"assessment/{tag}"), local_backend(Path(local_dir) / tag)]
    frames = []
    for backend in backends:
        try:
            frames.append(measure_backend(backend, **sizes))
        finally:
            backend.cleanup()
    return pd.concat(frames, ignore_index=True)
