"""The SQL of the idempotent sink: a table keyed by event id and an offsets table, written in one transaction.

Nothing here commits. The caller opens the transaction (psycopg2 does, on the first statement),
writes the rows and the offsets through these functions, and commits once: either both are durable
or neither is, which is what makes a crash at any point harmless.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from platform_kit._deps import require

__all__ = ["SinkRow", "SinkTables", "WriteMethod", "read_offsets", "store_offsets", "write_rows"]

WriteMethod = Literal["values", "copy"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class SinkRow(NamedTuple):
    """One row of the sink: the natural id, where it was read from, and the JSON payload text."""

    event_id: str
    topic: str
    partition: int
    offset: int
    payload: str


@dataclass(frozen=True)
class SinkTables:
    """Names of the sink table (keyed by ``event_id``) and the offsets table it commits with.

    Args:
        table: Sink table, optionally schema-qualified (``lab02_events``, ``staging.events``).
        offsets: Offsets table ``(consumer, topic, partition) -> next_offset``; one table can serve
            many consumers and topics.
        keyed: ``False`` makes a sink WITHOUT a primary key (the naive consumer's table, where
            duplicates are visible).

    Raises:
        ValueError: A name is not a plain SQL identifier (they are interpolated into SQL).
    """

    table: str
    offsets: str = "ingest_offsets"
    keyed: bool = True

    def __post_init__(self) -> None:
        for name in (self.table, self.offsets):
            if not isinstance(name, str) or not _IDENT.match(name):
                raise ValueError(f"{name!r} is not a plain SQL identifier (letters, digits, _; optional schema.)")

    def ddl(self) -> list[str]:
        """CREATE statements for both tables (idempotent)."""
        key = " PRIMARY KEY" if self.keyed else ""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} (event_id text NOT NULL{key}, source_topic text NOT NULL, "
            "source_partition integer NOT NULL, source_offset bigint NOT NULL, payload jsonb NOT NULL, "
            "ingested_at timestamptz NOT NULL DEFAULT clock_timestamp())",
            f"CREATE TABLE IF NOT EXISTS {self.offsets} (consumer text NOT NULL, topic text NOT NULL, "
            "partition integer NOT NULL, next_offset bigint NOT NULL CHECK (next_offset >= 0), "
            "updated_at timestamptz NOT NULL DEFAULT clock_timestamp(), PRIMARY KEY (consumer, topic, partition))",
        ]

    def create(self, cursor: Any) -> None:
        """Create both tables if missing (the caller commits).

        ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin (both see no table,
        one fails on the catalog's unique index), so creators serialise on an advisory lock held
        until the caller's transaction ends.
        """
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('platform_kit.ingestion.ddl'))")
        for statement in self.ddl():
            cursor.execute(statement)

    def drop(self, cursor: Any) -> None:
        """Drop the sink table (the offsets table is shared, so only this sink's rows are not touched)."""
        cursor.execute(f"DROP TABLE IF EXISTS {self.table}")


def _copy_escape(text: str) -> str:
    """``text`` escaped for COPY's text format; the common case (nothing to escape) costs four scans."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_text(rows: Sequence[SinkRow]) -> io.StringIO:
    """COPY text of ``rows`` (tab-separated, backslash-escaped), one line per row."""
    escape = _copy_escape
    topics: dict[str, str] = {}
    lines = []
    for event_id, topic, partition, offset, payload in rows:
        where = topics.get(topic)
        if where is None:
            where = topics[topic] = escape(topic)
        lines.append(f"{escape(event_id)}\t{where}\t{int(partition)}\t{int(offset)}\t{escape(payload)}\n")
    return io.StringIO("".join(lines))


def write_rows(cursor: Any, rows: Sequence[SinkRow], tables: SinkTables, *, method: WriteMethod = "values") -> list[str]:
    """Insert ``rows``, skipping ids already in the sink; returns the ids actually inserted.

    ``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING event_id``: a replayed or retried event
    is a no-op, and RETURNING (not ``rowcount``, which ``execute_values`` reports for its last page
    only) says which rows were new. Does not commit.

    Args:
        cursor: A psycopg2 cursor inside the caller's transaction.
        rows: Rows to insert; ids should be unique within the call (dedupe first).
        tables: The sink.
        method: ``values`` (``execute_values``, one statement per batch) or ``copy`` (``COPY`` into a
            temporary staging table, then one ``INSERT ... SELECT``: about 2x faster on large batches).
    """
    if not rows:
        return []
    conflict = " ON CONFLICT (event_id) DO NOTHING" if tables.keyed else ""
    columns = "(event_id, source_topic, source_partition, source_offset, payload)"
    if method == "values":
        extras = require("psycopg2.extras")
        got = extras.execute_values(
            cursor, f"INSERT INTO {tables.table} {columns} VALUES %s{conflict} RETURNING event_id",
            [tuple(r) for r in rows], page_size=max(len(rows), 1), fetch=True)
        return [r[0] for r in got]
    if method != "copy":
        raise ValueError(f"method must be 'values' or 'copy', got {method!r}")
    cursor.execute("CREATE TEMP TABLE IF NOT EXISTS pk_sink_stage (event_id text, source_topic text, "
                   "source_partition integer, source_offset bigint, payload jsonb) ON COMMIT DELETE ROWS")
    cursor.execute("DELETE FROM pk_sink_stage")  # empty unless a retry in this transaction left rows
    cursor.copy_expert(f"COPY pk_sink_stage {columns} FROM STDIN", _copy_text(rows))
    cursor.execute(f"INSERT INTO {tables.table} {columns} SELECT * FROM pk_sink_stage{conflict} RETURNING event_id")
    return [r[0] for r in cursor.fetchall()]


def store_offsets(cursor: Any, tables: SinkTables, consumer_id: str, next_offsets: Mapping[tuple[str, int], int]) -> None:
    """Upsert ``(consumer, topic, partition) -> next_offset`` in the caller's transaction (no commit).

    ``next_offset`` is the offset of the NEXT record to read (last handled + 1), as Kafka commits.
    """
    if not next_offsets:
        return
    extras = require("psycopg2.extras")
    extras.execute_values(
        cursor,
        f"INSERT INTO {tables.offsets} (consumer, topic, partition, next_offset) VALUES %s "
        "ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
        "updated_at = clock_timestamp()",
        [(consumer_id, topic, int(p), int(o)) for (topic, p), o in sorted(next_offsets.items())])


def read_offsets(cursor: Any, tables: SinkTables, consumer_id: str, topic: str) -> dict[int, int]:
    """The committed ``partition -> next_offset`` of ``consumer_id`` on ``topic`` (empty when none)."""
    cursor.execute(f"SELECT partition, next_offset FROM {tables.offsets} WHERE consumer = %s AND topic = %s",
                   (consumer_id, topic))
    return {int(p): int(o) for p, o in cursor.fetchall()}


def stored_payloads(cursor: Any, tables: SinkTables, ids: Iterable[str]) -> dict[str, Any]:
    """``event_id -> payload`` (decoded JSON) of the given ids already in the sink."""
    wanted = list(ids)
    if not wanted:
        return {}
    cursor.execute(f"SELECT event_id, payload FROM {tables.table} WHERE event_id = ANY(%s)", (wanted,))
    return dict(cursor.fetchall())
