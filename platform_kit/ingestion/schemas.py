"""Schema validation at ingestion with a schema registry (Lab 2, section 3).

Three places can enforce a schema, and this module shows all three on real engines:

1. **The producer** validates and serialises with the registered Avro schema (Confluent wire
   format: magic byte, schema id, Avro body): :func:`produce_avro`. Records that do not match go
   to the dead-letter queue before they ever reach the broker.
2. **The registry** refuses schema changes that would break readers, by compatibility level
   (BACKWARD, FORWARD, FULL, their transitive forms, NONE): :func:`check_compatibility` gives the
   same verdict locally, with the ``avro`` package's checker.
3. **The broker** (tansu with ``--schema-registry``) rejects records that do not validate:
   :class:`ValidatingTansuBroker`, :func:`produce_json`.

Consumers decode by the schema id in each record (:func:`consume_avro`), into their own reader
schema if they like, so old and new consumers read a topic holding both versions; bytes that
cannot be decoded go to the DLQ with their reason. The same code runs against the embedded
registry and Confluent's (``pk.schema_registry.client()``): nothing here depends on which.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from platform_kit.errors import InputError
from platform_kit.ingestion._schemas_broker import ValidatingTansuBroker, avro_container_bytes, json_items, produce_json
from platform_kit.ingestion._schemas_codec import (
    ConsumeReport,
    consume_avro,
    decode_records,
    produce_avro,
    wire_schema_id,
)
from platform_kit.ingestion._schemas_delivery import Outgoing, ProduceReport, deliver
from platform_kit.ingestion._schemas_orders import (
    ORDER_JSON_SCHEMA,
    ORDER_SCHEMA_V1,
    ORDER_SCHEMA_V2,
    candidate_evolutions,
    order_records,
    schema_text,
)
from platform_kit.services._schema_registry_compat import (
    LEVELS,
    Incompatibility,
    InvalidSchemaError,
    compatibility_problems,
    parse_avro,
)

__all__ = [
    "LEVELS",
    "MALFORMED_EXPECTED",
    "ORDER_JSON_SCHEMA",
    "ORDER_SCHEMA_V1",
    "ORDER_SCHEMA_V2",
    "CompatibilityReport",
    "ConsumeReport",
    "Incompatibility",
    "Outgoing",
    "ProduceReport",
    "ValidatingTansuBroker",
    "avro_container_bytes",
    "bad_orders",
    "candidate_evolutions",
    "check_compatibility",
    "consume_avro",
    "decode_records",
    "deliver",
    "evolution_matrix",
    "evolve_reference",
    "json_items",
    "malformed_values",
    "order_records",
    "plot_evolution_matrix",
    "plot_record_sizes",
    "produce_avro",
    "produce_json",
    "registry_verdicts",
    "schema_text",
    "subject_history",
    "subject_for",
    "wire_schema_id",
]


def subject_for(topic: str) -> str:
    """The value subject of ``topic`` under the default TopicNameStrategy (``<topic>-value``)."""
    return f"{topic}-value"


@dataclass(frozen=True)
class CompatibilityReport:
    """The verdict on a candidate schema: :attr:`compatible` and, if not, every problem found."""

    level: str
    problems: tuple[Incompatibility, ...]

    @property
    def compatible(self) -> bool:
        """True when no check failed."""
        return not self.problems

    @property
    def messages(self) -> list[str]:
        """One line per failed check, for people."""
        return [p.summary for p in self.problems]

    @property
    def directions(self) -> set[str]:
        """Which directions failed: ``backward`` (new reads old) and/or ``forward`` (old reads new)."""
        return {p.direction for p in self.problems}


def _parse(schema: Any, what: str) -> Any:
    try:
        return parse_avro(schema)
    except InvalidSchemaError as exc:
        raise InputError(f"{what} is not a valid Avro schema: {exc}", fix="fix the schema (avro.schema.parse)") from None


def check_compatibility(new: Any, previous: Any, level: str = "BACKWARD") -> CompatibilityReport:
    """Is ``new`` compatible with ``previous`` under ``level``? Decided by ``avro``'s checker.

    Args:
        new: Candidate schema (dict or JSON text).
        previous: One schema, or a list of schemas oldest first (versions 1, 2...). Transitive
            levels check all of them, the others only the last.
        level: One of :data:`LEVELS` (any case).

    Raises:
        InputError: A schema does not parse, or the level is unknown.
    """
    olds = list(previous) if isinstance(previous, list | tuple) else [previous]
    parsed_new = _parse(new, "the new schema")
    parsed_old = [(i + 1, _parse(s, f"version {i + 1}")) for i, s in enumerate(olds)]
    try:
        problems = compatibility_problems(parsed_new, parsed_old, level)
    except ValueError as exc:
        raise InputError(str(exc), fix=f"use one of {', '.join(LEVELS)}") from None
    return CompatibilityReport(level=level.upper(), problems=tuple(problems))


def evolution_matrix(
    candidates: Mapping[str, Any], previous: Any, levels: Sequence[str] = ("BACKWARD", "FORWARD", "FULL"),
) -> Any:
    """One row per candidate and level: ``compatible`` and ``why`` (the checker's first message).

    Returns:
        A pandas DataFrame with columns ``candidate, level, compatible, why``.
    """
    import pandas as pd

    rows = []
    for name, schema in candidates.items():
        for level in levels:
            report = check_compatibility(schema, previous, level)
            rows.append({"candidate": name, "level": level.upper(), "compatible": report.compatible,
                         "why": report.messages[0] if report.messages else ""})
    return pd.DataFrame(rows)


def registry_verdicts(registry_client: Any, subject: str, candidates: Mapping[str, Any]) -> dict[str, bool]:
    """Ask the live registry: would each candidate be accepted by ``subject`` at its level?"""
    from confluent_kafka.schema_registry import Schema

    return {name: bool(registry_client.test_compatibility(subject, Schema(schema_text(schema), "AVRO")))
            for name, schema in candidates.items()}


def subject_history(registry_client: Any, subject: str) -> list[dict[str, Any]]:
    """Every live version of ``subject`` as a schema dict, oldest first (as the registry returns it)."""
    return [json.loads(registry_client.get_version(subject, version).schema.schema_str)
            for version in registry_client.get_versions(subject)]


def bad_orders(good: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Orders that violate :data:`ORDER_SCHEMA_V1`, derived from a good one (the producer-side corpus)."""
    base = dict(good)
    return {
        "amount as text '12,50'": {**base, "total_amount": "12,50"},
        "customer_id null": {**base, "customer_id": None},
        "status missing": {k: v for k, v in base.items() if k != "status"},
        "customer_id beyond 32 bits": {**base, "customer_id": 2**40},
        "amount True": {**base, "total_amount": True},
        "unexpected field": {**base, "gift_wrap": True},
    }


#: what :func:`consume_avro` calls each kind of :func:`malformed_values` (None: decodes, wrongly)
MALFORMED_EXPECTED: dict[str, str | None] = {
    "plain JSON": "no_magic_byte",
    "empty value": "no_magic_byte",
    "unknown schema id": "unknown_schema_id",
    "truncated body": "corrupt_payload",
    "garbage body": "corrupt_payload",
    "bit flip in total_amount": None,
}


def malformed_values(valid: bytes, *, unknown_id: int = 2**31 - 7) -> dict[str, bytes]:
    """Consumer-side corpus derived from one valid Confluent-framed value (keys of :data:`MALFORMED_EXPECTED`).

    The last one decodes *successfully* to a wrong amount: Avro carries no checksum.
    """
    if wire_schema_id(valid) is None or len(valid) < 12:
        raise InputError("expected a Confluent-framed Avro value of at least 12 bytes", fix="pass a produced value")
    return {
        "plain JSON": json.dumps({"order_id": 1, "total_amount": 12.5}).encode(),
        "empty value": b"",
        "unknown schema id": b"\x00" + unknown_id.to_bytes(4, "big") + valid[5:],
        "truncated body": valid[: 5 + (len(valid) - 5) // 2],
        "garbage body": valid[:5] + b"\xff" * 8,
        "bit flip in total_amount": valid[:-3] + bytes([valid[-3] ^ 0x7F]) + valid[-2:],
    }


def plot_evolution_matrix(
    matrix: Any, ax: Any = None, registry: Mapping[str, bool] | None = None, registry_level: str = "BACKWARD",
) -> Any:
    """Candidates x levels, green when compatible; ``registry`` adds the live registry's verdicts at its level."""
    import matplotlib.pyplot as plt
    import numpy as np

    table = matrix.pivot(index="candidate", columns="level", values="compatible")
    table = table.loc[list(dict.fromkeys(matrix["candidate"])), list(dict.fromkeys(matrix["level"]))]
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * len(table) + 1.2))
    ax.imshow(table.to_numpy(dtype=float), cmap="RdYlGn", vmin=-0.3, vmax=1.3, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns)
    ax.set_yticks(range(len(table.index)), table.index)
    for (i, j), ok in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, "ok" if ok else "breaks", ha="center", va="center", fontsize=9)
    if registry:
        for i, name in enumerate(table.index):
            if name in registry:
                verdict = "accepts" if registry[name] else "refuses"
                ax.text(len(table.columns) - 0.4, i, f"live registry ({registry_level}): {verdict}", va="center",
                        fontsize=8)
    ax.set_title("Schema changes vs compatibility level (avro's ReaderWriterCompatibilityChecker)", loc="left")
    return ax


def plot_record_sizes(sizes: Mapping[str, float], ax: Any = None) -> Any:
    """Bytes per record of each encoding, as horizontal bars with their values."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.5 * len(sizes) + 1))
    names, values = list(sizes), [float(v) for v in sizes.values()]
    bars = ax.barh(names, values, color=["#4c72b0", "#55a868", "#c44e52", "#8172b2"][: len(names)])
    ax.bar_label(bars, labels=[f"{v:,.0f} B" for v in values], padding=3)
    ax.invert_yaxis()
    ax.set_xlabel("bytes per order (key + value)")
    ax.set_xlim(0, max(values) * 1.25 if values else 1)
    ax.set_title("What each way of enforcing a schema costs on the wire")
    return ax


def evolve_reference(schema: dict[str, Any]) -> dict[str, Any]:
    """The package's answer to the ``ingestion.schema_evolution`` exercise (used by its grader)."""
    out = copy.deepcopy(schema)
    out["fields"] = [*out["fields"],
                     {"name": "loyalty_tier", "type": ["null", "string"], "default": None},
                     {"name": "discount", "type": "double", "default": 0.0}]
    return out
