"""Contract of the PostgreSQL kind: SQL, logical decoding with pgoutput, pgvector."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from platform_kit.errors import ServiceError
from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(params=PROFILES)
def pg(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return started_service(request, "postgres")


def _name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def test_pg_sql_round_trip_and_pandas(pg) -> None:  # type: ignore[no-untyped-def]
    table = _name()
    pg.query(f"CREATE TABLE {table} (id int PRIMARY KEY, email text NOT NULL)")
    pg.query(f"INSERT INTO {table} VALUES (1, 'a@example.com'), (2, 'b@example.com')")
    conn = pg.connect()
    try:
        frame = pd.read_sql(f"SELECT * FROM {table} ORDER BY id", conn)
    finally:
        conn.close()
    assert frame["email"].tolist() == ["a@example.com", "b@example.com"]


def test_pg_runs_with_logical_wal_and_pgoutput_decodes_changes(pg) -> None:  # type: ignore[no-untyped-def]
    assert pg.query("SHOW wal_level")[0][0] == "logical"
    table, slot = _name(), f"slot_{uuid.uuid4().hex[:8]}"
    pg.query(f"CREATE TABLE {table} (id int PRIMARY KEY, v text)")
    pg.query(f"CREATE PUBLICATION pub_{slot} FOR TABLE {table}")
    pg.query(f"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')")
    try:
        pg.query(f"INSERT INTO {table} VALUES (1, 'x'), (2, 'y')")
        changes = pg.query(
            f"SELECT data FROM pg_logical_slot_peek_binary_changes('{slot}', NULL, NULL, "
            f"'proto_version', '1', 'publication_names', 'pub_{slot}')"
        )
        kinds = [bytes(row[0])[:1] for row in changes]
        assert kinds.count(b"I") == 2  # two pgoutput Insert messages
    finally:
        pg.query(f"SELECT pg_drop_replication_slot('{slot}')")


def test_pg_pgvector_nearest_neighbour(pg) -> None:  # type: ignore[no-untyped-def]
    table = _name()
    pg.query(f"CREATE TABLE {table} (id int, embedding vector(3))")
    pg.query(f"INSERT INTO {table} VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')")
    rows = pg.query(f"SELECT id FROM {table} ORDER BY embedding <-> '[1,0,0]' LIMIT 2")
    assert [r[0] for r in rows] == [1, 3]


def test_pg_bad_sql_raises_driver_error_with_message(pg) -> None:  # type: ignore[no-untyped-def]
    import psycopg2

    with pytest.raises(psycopg2.Error, match="does not exist"):
        pg.query(f"SELECT * FROM missing_{uuid.uuid4().hex[:6]}")


def test_pg_data_survives_restart(pg) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(pg, "restart"):
        pytest.skip(f"{pg.config.type} is not managed by the workbench; restart is not ours to test")
    table = _name()
    pg.query(f"CREATE TABLE {table} AS SELECT generate_series(1, 100) AS n")
    pg.restart()
    assert pg.query(f"SELECT sum(n) FROM {table}")[0][0] == 5050


def test_pg_dsn_when_stopped_says_how_to_start(pg) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(pg, "restart"):
        pytest.skip("external servers are never stopped by the workbench")
    pg.stop()
    try:
        with pytest.raises(ServiceError, match="not running"):
            pg.dsn()
    finally:
        pg.start()
