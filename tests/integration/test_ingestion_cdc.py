"""CDC on live engines: a connector killed mid-stream again and again loses nothing.

Truth comes from the server, not from the connector: an *audit* slot created at the same
position is peeked at the end and decoded, giving every change as (lsn, table, key, op).
The topics, deduplicated by that identity, must hold exactly that set; raw duplicates (the
at-least-once tail re-sent after a crash) are counted and must disappear after dedupe.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest

from platform_kit.datasets import generate_company
from platform_kit.ingestion import drain_topic
from platform_kit.ingestion.cdc import (
    ChangeStream,
    WriteWorkload,
    apply_changes,
    capture_vs_truth,
    cleanup_source,
    compare_with_truth,
    connector_process,
    event_identity,
    measure_capture_load,
    polling_blind_spots,
    prepare_source,
    read_change_events,
    read_table,
    reconcile,
    slot_report,
)


@pytest.fixture()
def cdc_source(embedded: Any) -> Any:
    source = prepare_source(embedded, generate_company("tiny", 42), uuid.uuid4().hex[:6],
                            limits={"orders": 300, "customers": 50}, abandoned_slot=True)
    yield source
    cleanup_source(embedded, source)


def _audit_truth(pg: Any, slot: str, publication: str, keys: dict[str, list[str]]) -> set[tuple[Any, ...]]:
    rows = pg.query("SELECT lsn - '0/0'::pg_lsn, data FROM pg_logical_slot_peek_binary_changes(%s, NULL, NULL, "
                    "'proto_version', '1', 'publication_names', %s)", (slot, publication))
    stream = ChangeStream(keys)
    return {event_identity(e.value()) for lsn, data in rows for e in stream.feed(bytes(data), int(lsn)).events}


def test_connector_killed_mid_stream_resumes_without_loss_or_surviving_duplicates(embedded: Any,
                                                                                  cdc_source: Any) -> None:
    pk, source = embedded, cdc_source
    audit = f"{source.schema}_audit"
    pk.pg.query("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (audit,))
    snapshot = {t: read_table(pk.pg, source.schema, t) for t in source.tables}
    workload = WriteWorkload(pk.pg.dsn(), source, seed=3)
    rng = random.Random(3)
    try:
        # 1. the worst moment on purpose: 150 events delivered, none of them checkpointed
        first = connector_process(pk, source, crash_after_events=150, checkpoint_interval_s=0.05).start()
        workload.run(transactions=250)
        assert first.wait_exit(30) == -9
        assert first.checkpoint.get("lsn", 0) < workload.mark()

        # 2. SIGKILL at random moments while the workload keeps writing
        stop = threading.Event()

        def write() -> None:
            while not stop.is_set():
                workload.run(transactions=20)

        writer = threading.Thread(target=write)
        writer.start()
        kills = 0
        try:
            for _ in range(6):
                victim = connector_process(pk, source, checkpoint_interval_s=rng.choice([0.02, 0.1, 0.3])).start()
                time.sleep(rng.uniform(0.1, 0.7))
                assert victim.kill() == -9
                kills += 1
        finally:
            stop.set()
            writer.join(60)

        # 3. a clean restart (with one corrupt frame slipped in) catches up and stops gracefully
        final = connector_process(pk, source, inject_garbage_after=3).start()
        final.wait_for_lsn(workload.mark(), timeout=60)
        assert final.stop() == 0

        log = read_change_events(pk.broker, source, checkpoint=final.checkpoint)
        ends = final.checkpoint["offsets"]
        assert sum(log.raw.values()) == sum(o + 1 for t in source.tables for o in ends[source.topic(t)].values())
        truth = _audit_truth(pk.pg, audit, source.publication, source.primary_keys)
        got = {event_identity(e) for events in log.events.values() for e in events}
        assert len(truth) == len(source.truth) > 800
        assert got == truth, (len(truth - got), len(got - truth))
        report = compare_with_truth(log.all_events, source.truth)
        assert report["lost"] == report["unexpected"] == 0 and report["keys_matching"] == report["keys"]
        raw, dupes = sum(log.raw.values()), sum(log.duplicates.values())
        assert raw == len(truth) + dupes and dupes > 0  # at-least-once on the wire, exactly-once after dedupe
        assert [(d.reason, d.stage.value) for d in log.dead_letters] == [("truncated", "decode")]
        assert kills == 6
        print(f"cdc crash test: {len(truth)} changes, {kills + 1} crashes, {raw} records on the wire, "
              f"{dupes} redelivered copies removed by dedupe, 0 lost")

        # per key, first deliveries are in commit order on their partition
        records = drain_topic(pk.broker, source.topic("orders"), idle_s=1.0)
        seen: set[tuple[Any, ...]] = set()
        last: dict[Any, tuple[int, int]] = defaultdict(lambda: (-1, -1))
        for record in records:
            event = json.loads(record.value)
            identity = event_identity(event)
            if identity in seen:
                continue
            seen.add(identity)
            position = (event["source"]["commit_lsn"], event["source"]["seq"])
            key = record.key
            assert position > last[key], f"key {key!r} out of order on partition {record.partition}"
            last[key] = position

        for table in source.tables:
            replica = apply_changes(snapshot[table], log.events[table], snapshot[table].index.name)
            assert reconcile(replica, read_table(pk.pg, source.schema, table))["in_sync"], table
    finally:
        pk.pg.query("SELECT pg_drop_replication_slot(%s)", (audit,))
        workload.close()


def test_polling_misses_deletes_and_intermediate_updates_cdc_does_not(embedded: Any, cdc_source: Any) -> None:
    pk, source = embedded, cdc_source
    workload = WriteWorkload(pk.pg.dsn(), source, seed=5)
    connector = connector_process(pk, source)
    try:
        load, phases = measure_capture_load(pk.pg, source, workload, connector, duration_s=0.4, poll_interval_s=0.05)
        assert list(load.index) == ["no capture", "log-based CDC", "polling"]
        assert (load["transactions"] > 0).all() and load.loc["polling", "queries_per_min"] > 0
        assert load.loc["log-based CDC", "queries_per_min"] == 0
        spots = polling_blind_spots(workload)
        polled = [r["order_id"] for r in spots["polled"]]
        assert polled.count(spots["hot"]) == 1 and spots["deleted"] not in polled
        assert spots["inserted"] in polled and spots["key_changed"][1] in polled
        connector.start().wait_for_lsn(spots["last_lsn"], timeout=60)
        connector.stop()
        log = read_change_events(pk.broker, source, checkpoint=connector.checkpoint)
        assert compare_with_truth(log.all_events, source.truth)["lost"] == 0
        window = [e for e in log.all_events if spots["first_lsn"] <= e["source"]["commit_lsn"] < spots["last_lsn"]]
        assert [e["op"] for e in window if e["key"] == {"order_id": spots["hot"]}] == ["u", "u", "u"]
        assert [e["op"] for e in window if e["key"] == {"order_id": spots["deleted"]}] == ["d"]
        captured = capture_vs_truth(phases[2].result, log.all_events, phases[2].polled)
        assert (captured["log-based CDC"] == captured["changes made"]).all()
        assert captured.loc["deletes", "polling"] == 0
        assert captured.loc["updates", "polling"] <= captured.loc["updates", "changes made"]
        slots = slot_report(pk.pg, [source.slot, f"{source.schema}_abandoned"]).set_index("slot_name")
        assert slots.loc[f"{source.schema}_abandoned", "retained_bytes"] > slots.loc[source.slot, "unconfirmed_bytes"]
    finally:
        connector.kill()
        workload.close()
