"""The batch handler of the idempotent consumer: rows and offsets in the caller's transaction.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit.ingestion._idempotent_sql import SinkRow, SinkTables, WriteMethod, store_offsets, write_rows
from platform_kit.ingestion._topics import Record

__all__ = ["BatchResult", "apply_batch", "dedupe_rows", "event_id_of", "next_offsets_of", "reconcile_sink",
           "rows_from_records"]


@dataclass(frozen=True)
class BatchResult:
    """What one handled batch did (before the caller's commit)."""

    records: int
    inserted: int
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        """Records whose id was already in the sink or earlier in the batch."""
        return self.records - self.inserted


def event_id_of(record: Record, id_field: str = "event_id") -> tuple[str, str]:
    """``(event_id, payload text)`` of a record whose value is a JSON object with ``id_field``.

    Raises:
        ValueError: The value is empty, not UTF-8 JSON, not an object, or lacks ``id_field`` (the
            message names the record; validating pipelines send such records to the DLQ instead).
    """
    where = f"{record.topic}[{record.partition}]@{record.offset}"
    if not record.value:
        raise ValueError(f"record {where} has an empty value (tombstone): nothing to insert")
    try:
        text = record.value.decode("utf-8")
        event = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"record {where} is not UTF-8 JSON ({type(exc).__name__}: {str(exc)[:80]})") from exc
    if not isinstance(event, dict):
        raise ValueError(f"record {where} is JSON {type(event).__name__}, not an object")
    ident = event.get(id_field)
    if ident is None or isinstance(ident, bool) or not isinstance(ident, str | int) or str(ident) == "":
        raise ValueError(f"record {where} has no usable {id_field!r} (got {ident!r})")
    return str(ident), text


def rows_from_records(records: Iterable[Record], id_field: str = "event_id") -> list[SinkRow]:
    """Sink rows (id, topic, partition, offset, payload) of JSON records, in the records' order.

    Raises:
        ValueError: A record is not a JSON object with ``id_field`` (see :func:`event_id_of`).
    """
    rows = []
    for record in records:
        ident, text = event_id_of(record, id_field)
        rows.append(SinkRow(ident, record.topic, record.partition, record.offset, text))
    return rows


def dedupe_rows(rows: Sequence[SinkRow]) -> list[SinkRow]:
    """The first row of each ``event_id`` (a retry later in the same batch is dropped), order kept."""
    seen: set[str] = set()
    out = []
    for row in rows:
        if row.event_id not in seen:
            seen.add(row.event_id)
            out.append(row)
    return out


def next_offsets_of(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """``(topic, partition) -> last offset + 1`` over ``records`` (the offsets to store after them)."""
    out: dict[tuple[str, int], int] = {}
    for record in records:
        key = (record.topic, record.partition)
        if record.offset + 1 > out.get(key, -1):
            out[key] = record.offset + 1
    return out


def apply_batch(
    cursor: Any,
    records: Sequence[Record],
    consumer_id: str,
    tables: SinkTables,
    *,
    id_field: str = "event_id",
    method: WriteMethod = "values",
) -> BatchResult:
    """Write a batch idempotently and record its offsets, in the caller's open transaction.

    Rows are deduplicated within the batch, inserted with ``ON CONFLICT (event_id) DO NOTHING``,
    then ``next_offset`` per partition (last offset + 1) is upserted for ``consumer_id``. This
    function never commits: the caller commits once, so the rows and the offsets become durable
    together or not at all.

    Args:
        cursor: psycopg2 cursor (autocommit off).
        records: The batch, in per-partition offset order.
        consumer_id: Whose offsets these are.
        tables: The sink and offsets tables.
        id_field: JSON field holding the natural id.
        method: ``values`` (``execute_values``) or ``copy``.

    Raises:
        ValueError: A record is not a JSON object with ``id_field``.
    """
    rows = rows_from_records(records, id_field)
    inserted = write_rows(cursor, dedupe_rows(rows), tables, method=method)
    offsets = next_offsets_of(records)
    store_offsets(cursor, tables, consumer_id, offsets)
    return BatchResult(records=len(records), inserted=len(inserted), next_offsets=offsets)


def reconcile_sink(cursor: Any, tables: SinkTables, expected_ids: Iterable[str]) -> dict[str, int]:
    """Compare the sink with the set of ids that were produced.

    Returns:
        ``expected`` (distinct ids produced), ``rows`` (rows in the sink), ``distinct`` (distinct ids
        in the sink), ``lost`` (produced, not in the sink), ``duplicated`` (rows - distinct) and
        ``unexpected`` (in the sink, never produced). Exactly-once means lost = duplicated = unexpected = 0.
    """
    expected = {str(i) for i in expected_ids}
    cursor.execute(f"SELECT event_id, count(*) FROM {tables.table} GROUP BY event_id")
    counts = dict(cursor.fetchall())
    stored = set(counts)
    return {
        "expected": len(expected),
        "rows": int(sum(counts.values())),
        "distinct": len(stored),
        "lost": len(expected - stored),
        "duplicated": int(sum(counts.values())) - len(stored),
        "unexpected": len(stored - expected),
    }
