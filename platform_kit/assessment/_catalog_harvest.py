"""The harvester interface, the registry of harvesters, and running them into a catalog.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import ValidationError

from platform_kit.assessment._catalog_model import DatasetRecord, HarvestResult
from platform_kit.assessment._catalog_store import Catalog
from platform_kit.errors import ConfigError

__all__ = [
    "HARVESTERS",
    "Harvester",
    "annotate_records",
    "register_harvester",
    "run_harvesters",
    "validate_records",
]

log = logging.getLogger(__name__)


@runtime_checkable
class Harvester(Protocol):
    """Anything that reads one source's metadata into :class:`DatasetRecord` objects.

    Introduced in: Lab 1 (assessment).

    Attributes:
        source: Short source name (``parquet``, ``postgres``...), the key of its harvest result.
    """

    source: str

    def harvest(self) -> list[DatasetRecord]:
        """Return one record per dataset found (an empty source returns ``[]``)."""
        ...


#: Harvester classes by name; "harvest one more source" is one more entry.
HARVESTERS: dict[str, type] = {}

H = TypeVar("H", bound=type)


def register_harvester(name: str) -> Callable[[H], H]:
    """Class decorator adding a harvester class to :data:`HARVESTERS` under ``name``.

    Introduced in: Lab 1 (assessment).

    Raises:
        ConfigError: ``name`` is already taken by another class.
    """

    def register(cls: H) -> H:
        existing = HARVESTERS.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ConfigError(f"harvester name {name!r} is already used by {existing.__qualname__}",
                              fix="register the new harvester under another name")
        HARVESTERS[name] = cls
        return cls

    return register


def validate_records(records: Any, source: str) -> list[DatasetRecord]:
    """Check a harvester's output: a list of :class:`DatasetRecord` with unique ids.

    Introduced in: Lab 1 (assessment).

    Raises:
        ConfigError: Not a list of records, or an id repeats.
    """
    if not isinstance(records, list | tuple):
        raise ConfigError(f"harvester {source!r} returned {type(records).__name__}, not a list",
                          fix="return a list of DatasetRecord (an empty list for an empty source)")
    checked: list[DatasetRecord] = []
    for position, record in enumerate(records):
        if isinstance(record, Mapping):
            try:
                record = DatasetRecord.model_validate(record)
            except ValidationError as exc:
                raise ConfigError(f"harvester {source!r} record {position} is invalid: {exc}",
                                  fix="build records with DatasetRecord(...)") from exc
        if not isinstance(record, DatasetRecord):
            raise ConfigError(f"harvester {source!r} item {position} is a {type(record).__name__}",
                              fix="return DatasetRecord objects")
        checked.append(record)
    ids = [r.id for r in checked]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if duplicated:
        raise ConfigError(f"harvester {source!r} returned duplicate dataset ids {duplicated}",
                          fix="give every dataset a unique scheme://name id")
    return checked


def _company_table(name: str, tables: Mapping[str, Any]) -> str | None:
    """The company table a dataset name refers to: the longest table name found as a whole word."""
    words = re.split(r"[^a-z0-9]+", name.lower())
    text = "_".join(w for w in words if w)
    found = [t for t in tables if re.search(rf"(^|_){re.escape(t)}($|_)", text)]
    return max(found, key=len) if found else None


def annotate_records(records: Iterable[DatasetRecord],
                     tables: Mapping[str, Mapping[str, Any]] | None = None) -> list[DatasetRecord]:
    """Add descriptions and ``pii`` tags from the company's schema (pure, no engine).

    A dataset is matched to a company table when the table name appears as a whole word
    in its name (``lab01_customers_pg`` -> ``customers``); matched columns get the table's
    description, and any column named like a PII column of any table is tagged ``pii``
    (copies of personal data are personal data). A dataset with a PII column is tagged ``pii``.

    Introduced in: Lab 1 (assessment).

    Args:
        records: Harvested records.
        tables: :func:`platform_kit.datasets.describe_tables` output (default: the company's).
    """
    if tables is None:
        from platform_kit.datasets import describe_tables

        tables = describe_tables()
    pii_names = {c for t in tables.values() for c in t.get("pii_columns", [])}
    annotated: list[DatasetRecord] = []
    for record in records:
        table = _company_table(record.name, tables)
        docs = tables[table]["columns"] if table else {}
        columns = []
        for col in record.columns:
            doc = docs.get(col.name, {})
            tags = list(col.tags)
            if (doc.get("pii") or col.name in pii_names) and "pii" not in tags:
                tags.append("pii")
            columns.append(col.model_copy(update={"description": col.description or doc.get("description"),
                                                  "tags": tuple(tags)}))
        tags = list(record.tags)
        if any("pii" in c.tags for c in columns) and "pii" not in tags:
            tags.append("pii")
        description = record.description or (tables[table]["description"] if table else None)
        annotated.append(record.model_copy(update={"columns": tuple(columns), "tags": tuple(tags),
                                                   "description": description}))
    return annotated


def run_harvesters(catalog: Catalog, harvesters: Iterable[Any], *, annotate: bool = True,
                   tables: Mapping[str, Mapping[str, Any]] | None = None) -> list[HarvestResult]:
    """Harvest every source into ``catalog``; a failing source is reported, the others go on.

    Introduced in: Lab 1 (assessment).

    Args:
        catalog: Where records are upserted.
        harvesters: Objects following :class:`Harvester`.
        annotate: Add descriptions and PII tags (:func:`annotate_records`).
        tables: Company schema for annotation (default: :func:`describe_tables`).

    Returns:
        One :class:`HarvestResult` per harvester (also stored in ``catalog.harvests()``).
    """
    results: list[HarvestResult] = []
    for harvester in harvesters:
        name = type(harvester).__name__
        source = str(getattr(harvester, "source", name))
        began = time.perf_counter()
        try:
            if not isinstance(harvester, Harvester):
                raise ConfigError(f"{name} does not follow the Harvester protocol",
                                  fix="give it a `source` attribute and a `harvest()` method")
            records = validate_records(harvester.harvest(), source)
            if annotate:
                records = annotate_records(records, tables)
            catalog.upsert(records)
            result = HarvestResult(source, name, len(records), sum(len(r.columns) for r in records),
                                   time.perf_counter() - began,
                                   warnings=tuple(getattr(harvester, "warnings", ()) or ()))
        except Exception as exc:  # noqa: BLE001 - one broken source must not stop the harvest
            message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            log.warning("harvesting %s with %s failed: %s", source, name, message)
            result = HarvestResult(source, name, 0, 0, time.perf_counter() - began, error=message[:500],
                                   warnings=tuple(getattr(harvester, "warnings", ()) or ()))
        catalog.record_harvest(result)
        results.append(result)
    return results

