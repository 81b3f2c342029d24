"""Lazy imports of heavy optional dependencies with an install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

from platform_kit.errors import DependencyMissingError

#: module name -> the pip requirement (or extra) that provides it
_PROVIDERS: dict[str, str] = {
    "pyspark": "pyspark",
    "confluent_kafka": "confluent-kafka",
    "kafka": "kafka-python",
    "chdb": "chdb",
    "pgserver": "pgserver",
    "psycopg2": "psycopg2-binary",
    "moto": "moto[server]",
    "s3fs": "s3fs",
    "clickhouse_connect": "clickhouse-connect",
    "great_expectations": "great-expectations",
    "feast": "feast[duckdb]",
    "faiss": "faiss-cpu",
    "openlineage": "openlineage-python",
    "papermill": "papermill",
    "testbook": "testbook",
    "fastavro": "fastavro",
    "matplotlib": "matplotlib",
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise a :class:`DependencyMissingError` with an install hint.

    Args:
        module: Dotted module name, e.g. ``"confluent_kafka.admin"``.

    Returns:
        The imported module.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        package = _PROVIDERS.get(top, top)
        raise DependencyMissingError(
            f"the optional dependency {module!r} is not installed ({exc})",
            fix=f"run `make install` or `pip install '{package}' -c constraints.txt`",
        ) from exc
