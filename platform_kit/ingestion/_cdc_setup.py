"""The CDC source: lab tables in PostgreSQL, replica identity, publication, slots, positions.

Each run gets its own schema (several lab runs and tests share one server), its own
publication and slot. ``orders`` uses ``REPLICA IDENTITY FULL`` (every update and delete
logs the whole old row, so events carry a complete ``before``), ``customers`` keeps the
default (only the primary key of deleted rows, and no ``before`` on updates): the trade-off
is WAL volume, measured by :func:`replica_identity_cost`.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import ConfigError
from platform_kit.ingestion._cdc_events import convert_text

__all__ = [
    "CdcSource",
    "TABLE_COLUMNS",
    "create_lab_tables",
    "current_lsn",
    "drop_slot",
    "primary_keys",
    "read_table",
    "replica_identity_cost",
    "slot_report",
]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

#: Columns of the lab tables (a subset of the company's orders and customers) and their SQL types.
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"customer_id": "bigint PRIMARY KEY", "email": "text", "city": "text", "region": "text",
                  "segment": "text", "marketing_opt_in": "boolean"},
    "orders": {"order_id": "bigint PRIMARY KEY", "customer_id": "bigint", "order_ts": "timestamp",
               "status": "text", "channel": "text", "region": "text", "currency": "text",
               "total_amount": "numeric(12,2)"},
}
KEYS = {"customers": "customer_id", "orders": "order_id"}


def _ident(name: str) -> str:
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a simple lower-case SQL identifier",
                          fix="use letters, digits and underscores, starting with a letter (max 63)")
    return name


@dataclass
class CdcSource:
    """Everything one CDC run created: names, keys, and the log of changes it made (the truth)."""

    schema: str
    publication: str
    slot: str
    topic_prefix: str
    tables: tuple[str, ...] = ("orders", "customers")
    replica_identity: dict[str, str] = field(default_factory=dict)
    start_lsn: int = 0
    truth: list[tuple[str, tuple[Any, ...], str]] = field(default_factory=list)

    @property
    def qualified(self) -> list[str]:
        return [f"{self.schema}.{t}" for t in self.tables]

    @property
    def primary_keys(self) -> dict[str, list[str]]:
        return {f"{self.schema}.{t}": [KEYS[t]] for t in self.tables}

    def topic(self, table: str) -> str:
        return f"{self.topic_prefix}.{self.schema}.{table}"


def create_lab_tables(pg: Any, company: Mapping[str, pd.DataFrame], schema: str, *,
                      replica_identity: Mapping[str, str] | None = None,
                      limits: Mapping[str, int] | None = None) -> dict[str, int]:
    """Create ``schema.orders`` and ``schema.customers`` from the company's data.

    Both get ``updated_at timestamptz`` maintained by a trigger (``clock_timestamp()``) and an
    index on it: what query-based polling needs. Returns rows loaded per table.
    """
    extras = require("psycopg2.extras")
    identity = {"orders": "full", "customers": "default", **(replica_identity or {})}
    schema = _ident(schema)
    conn = pg.connect()
    loaded: dict[str, int] = {}
    try:
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
            cur.execute(f"CREATE FUNCTION {schema}.touch() RETURNS trigger LANGUAGE plpgsql AS "
                        "$$ BEGIN NEW.updated_at := clock_timestamp(); RETURN NEW; END $$")
            for table, columns in TABLE_COLUMNS.items():
                ddl = ", ".join(f"{c} {t}" for c, t in columns.items())
                cur.execute(f"CREATE TABLE {schema}.{table} ({ddl}, "
                            "updated_at timestamptz NOT NULL DEFAULT clock_timestamp())")
                cur.execute(f"CREATE INDEX ON {schema}.{table} (updated_at)")
                cur.execute(f"CREATE TRIGGER touch BEFORE UPDATE ON {schema}.{table} "
                            f"FOR EACH ROW EXECUTE FUNCTION {schema}.touch()")
                mode = identity[table].lower()
                if mode not in ("full", "default"):
                    raise ConfigError(f"replica identity {mode!r} for {table}", fix="use 'full' or 'default'")
                cur.execute(f"ALTER TABLE {schema}.{table} REPLICA IDENTITY {mode.upper()}")
                frame = company[table][list(columns)]
                if limits and table in limits:
                    frame = frame.head(limits[table])
                rows = [tuple(None if pd.isna(v) else (v.to_pydatetime() if hasattr(v, "to_pydatetime") else v)
                              for v in row) for row in frame.itertuples(index=False)]
                extras.execute_values(cur, f"INSERT INTO {schema}.{table} ({', '.join(columns)}) VALUES %s",
                                      rows, page_size=1000)
                loaded[table] = len(rows)
    finally:
        conn.close()
    return loaded


def primary_keys(pg: Any, tables: Iterable[str]) -> dict[str, list[str]]:
    """``{"schema.table": [primary key columns in order]}`` read from the catalog."""
    out: dict[str, list[str]] = {}
    for table in tables:
        rows = pg.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
            "ORDER BY array_position(i.indkey::int2[], a.attnum)", (table,))
        out[table] = [r[0] for r in rows]
    return out


def current_lsn(cursor: Any) -> int:
    """``pg_current_wal_insert_lsn()`` as an integer (inside a transaction: before its commit record)."""
    cursor.execute("SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn")
    return int(cursor.fetchone()[0])


def read_table(pg: Any, schema: str, table: str) -> pd.DataFrame:
    """A table as change events would show it: values through the same text conversion, indexed by key."""
    schema, table = _ident(schema), _ident(table)
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {schema}.{table} LIMIT 0")
            names = [d.name for d in cur.description]
            oids = [d.type_code for d in cur.description]
            cur.execute(f"SELECT {', '.join(f'{n}::text' for n in names)} FROM {schema}.{table}")
            rows = [[convert_text(o, v) for o, v in zip(oids, row, strict=True)] for row in cur.fetchall()]
    finally:
        conn.rollback()
        conn.close()
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    return frame.set_index(KEYS.get(table, names[0])).sort_index()


def replica_identity_cost(pg: Any, schema: str, *, rows: int = 200) -> pd.DataFrame:
    """WAL bytes per updated and per deleted row under REPLICA IDENTITY DEFAULT vs FULL.

    Works on a scratch copy of ``orders`` (outside any publication), after a warm-up update
    so full-page images after a checkpoint do not bias the first mode measured.
    """
    probe = f"{_ident(schema)}.identity_probe"
    conn = pg.connect()
    out = []
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {probe}")
            cur.execute(f"CREATE TABLE {probe} AS SELECT * FROM {schema}.orders ORDER BY order_id LIMIT %s",
                        (rows,))
            cur.execute(f"ALTER TABLE {probe} ADD PRIMARY KEY (order_id)")
            cur.execute(f"UPDATE {probe} SET total_amount = total_amount")  # warm-up: page images now
            for mode in ("default", "full"):
                cur.execute(f"ALTER TABLE {probe} REPLICA IDENTITY {mode.upper()}")
                before = current_lsn(cur)
                cur.execute(f"UPDATE {probe} SET total_amount = total_amount + 0.01")
                middle = current_lsn(cur)
                cur.execute(f"DELETE FROM {probe} WHERE mod(order_id, 2) = 0 RETURNING 1")
                deleted = max(1, len(cur.fetchall()))
                after = current_lsn(cur)
                cur.execute(f"INSERT INTO {probe} SELECT * FROM {schema}.orders WHERE mod(order_id, 2) = 0 "
                            f"AND order_id IN (SELECT order_id FROM {schema}.orders ORDER BY order_id LIMIT %s)",
                            (rows,))
                out.append({"replica_identity": mode, "wal_bytes_per_update": (middle - before) / rows,
                            "wal_bytes_per_delete": (after - middle) / deleted})
            cur.execute(f"DROP TABLE {probe}")
    finally:
        conn.close()
    return pd.DataFrame(out).set_index("replica_identity")


def slot_report(pg: Any, slots: Sequence[str]) -> pd.DataFrame:
    """Replication slots and the WAL each one forces the server to keep.

    ``retained_bytes`` is WAL from the slot's ``restart_lsn`` to now: it cannot be recycled while
    the slot exists, however long nobody reads it. ``unconfirmed_bytes`` is what the consumer has
    not confirmed yet.
    """
    rows = pg.query(
        "SELECT slot_name, plugin, active, restart_lsn::text, confirmed_flush_lsn::text, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint, "
        "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint, wal_status "
        "FROM pg_replication_slots WHERE slot_name = ANY(%s) ORDER BY slot_name", (list(slots),))
    return pd.DataFrame(rows, columns=["slot_name", "plugin", "active", "restart_lsn", "confirmed_flush_lsn",
                                       "retained_bytes", "unconfirmed_bytes", "wal_status"])


def drop_slot(pg: Any, slot: str) -> bool:
    """Drop ``slot`` (terminating a connector still attached); False when it did not exist."""
    rows = pg.query("SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,))
    if not rows:
        return False
    if rows[0][0] is not None:
        pg.query("SELECT pg_terminate_backend(%s)", (rows[0][0],))
    for _ in range(50):
        try:
            pg.query("SELECT pg_drop_replication_slot(%s)", (slot,))
            return True
        except Exception as exc:  # still active for a moment after the terminate
            if "is active" not in str(exc):
                raise
            time.sleep(0.1)
    pg.query("SELECT pg_drop_replication_slot(%s)", (slot,))
    return True
