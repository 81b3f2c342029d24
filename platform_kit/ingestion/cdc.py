"""Change data capture from PostgreSQL into Kafka, and what polling misses (Lab 2, section 5).

Log-based CDC reads the write-ahead log through a logical replication slot with the
``pgoutput`` plugin, decodes it (:mod:`~platform_kit.ingestion._pgoutput`, pure and
unit-tested) and produces one JSON change event per row change (``before``, ``after``,
``op`` c/u/d/t, ``source`` LSN, txid, table, commit time) to one topic per table, keyed by
primary key. The delivered position is checkpointed after the broker acknowledged it and only
then confirmed to the slot, so a connector killed mid-stream resumes without losing anything;
the re-sent tail is removed by the consumer (:func:`dedupe_events`)::

    source = prepare_source(pk, company, run_id)          # tables, publication, slot, topics
    connector = connector_process(pk, source).start()     # a separate process you can kill
    ...                                                   # write to the tables
    connector.stop()                                      # graceful: final checkpoint with end offsets
    log = read_change_events(pk.broker, source, checkpoint=connector.checkpoint)  # deduplicated, in commit order
    replica = apply_changes(snapshot, log.events["orders"], "order_id")
    reconcile(replica, read_table(pk.pg, source.schema, "orders"))
    cleanup_source(pk, source)                            # an abandoned slot keeps WAL forever

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from platform_kit.ingestion._cdc_connector import CdcConnector, LsnStore, PgReplicationSource, topic_for
from platform_kit.ingestion._cdc_events import OPS, UNCHANGED_TOAST, ChangeEvent, ChangeStream, convert_text, event_identity
from platform_kit.ingestion._cdc_load import (
    MODES,
    LoadPhase,
    WorkloadResult,
    WriteWorkload,
    measure_capture_load,
    polling_blind_spots,
    process_cpu_ms,
)
from platform_kit.ingestion._cdc_polling import PollingCapture, UpdatedAtPoller
from platform_kit.ingestion._cdc_replica import (
    apply_changes,
    compare_with_truth,
    dedupe_events,
    events_from_records,
    reconcile,
)
from platform_kit.ingestion._cdc_setup import (
    KEYS,
    TABLE_COLUMNS,
    CdcSource,
    create_lab_tables,
    current_lsn,
    drop_slot,
    primary_keys,
    read_table,
    replica_identity_cost,
    slot_report,
)
from platform_kit.ingestion._cdc_worker import ConnectorProcess
from platform_kit.ingestion._pgoutput import PgOutputError, decode_message, format_lsn, parse_lsn
from platform_kit.ingestion._topics import drain_topic
from platform_kit.ingestion.dlq import DeadLetter, dlq_topic_for

__all__ = [
    "KEYS", "MODES", "OPS", "TABLE_COLUMNS", "UNCHANGED_TOAST",
    "CdcConnector", "CdcSource", "ChangeEvent", "ChangeLog", "ChangeStream", "ConnectorProcess", "LoadPhase",
    "LsnStore", "PgOutputError", "PgReplicationSource", "PollingCapture", "UpdatedAtPoller", "WorkloadResult",
    "WriteWorkload",
    "apply_changes", "capture_vs_truth", "cleanup_source", "compare_with_truth", "connector_process",
    "convert_text", "create_lab_tables", "current_lsn", "decode_message", "dedupe_events", "drop_slot",
    "event_identity", "events_from_records", "format_lsn", "local_broker_pids", "measure_capture_load", "parse_lsn",
    "plot_capture_comparison", "polling_blind_spots", "prepare_source", "primary_keys", "process_cpu_ms",
    "read_change_events", "read_table", "reconcile", "replica_identity_cost", "slot_report", "topic_for",
]


def prepare_source(pk: Any, company: Mapping[str, pd.DataFrame], run_id: str, *, partitions: int = 3,
                   limits: Mapping[str, int] | None = None, replica_identity: Mapping[str, str] | None = None,
                   abandoned_slot: bool = False) -> CdcSource:
    """Create the lab tables, a publication, a ``pgoutput`` slot and the topics for one run.

    The slot is created after the initial load, so the stream carries changes only; a production
    connector first copies a consistent snapshot exported by the slot, then streams from it.
    With ``abandoned_slot`` a second slot nobody reads is created, to show the WAL it retains.
    """
    schema = f"cdc_{run_id}"
    pg, broker = pk.pg, pk.broker  # each attribute access re-checks the service: take them once
    source = CdcSource(schema=schema, publication=f"{schema}_pub", slot=f"{schema}_slot",
                       topic_prefix=f"cdc.{run_id}")
    create_lab_tables(pg, company, schema, replica_identity=replica_identity, limits=limits)
    source.replica_identity = {t: r for t, r in pg.query(
        "SELECT c.relname, CASE c.relreplident WHEN 'f' THEN 'full' WHEN 'd' THEN 'default' ELSE 'other' END "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
        (schema,))}
    pg.query(f"DROP PUBLICATION IF EXISTS {source.publication}")
    pg.query(f"CREATE PUBLICATION {source.publication} FOR TABLE {', '.join(source.qualified)}")
    for slot in [source.slot] + ([f"{schema}_abandoned"] if abandoned_slot else []):
        drop_slot(pg, slot)
        lsn = pg.query("SELECT lsn - '0/0'::pg_lsn FROM pg_create_logical_replication_slot(%s, 'pgoutput')",
                       (slot,))[0][0]
        source.start_lsn = source.start_lsn or int(lsn)
    for table in source.tables:
        broker.create_topic(source.topic(table), partitions, 1)
    broker.create_topic(dlq_topic_for(source.topic_prefix), 1, 1)
    return source


def connector_process(pk: Any, source: CdcSource, **faults: Any) -> ConnectorProcess:
    """A (not yet started) connector process for ``source``; ``faults``: ``crash_after_events``,
    ``inject_garbage_after`` (frames), ``checkpoint_interval_s``."""
    return ConnectorProcess({
        "dsn": pk.pg.dsn(), "producer": pk.broker.confluent_config(), "slot": source.slot,
        "publication": source.publication, "topic_prefix": source.topic_prefix,
        "dlq_topic": dlq_topic_for(source.topic_prefix), "primary_keys": source.primary_keys,
        "state_path": str(pk.state_dir / "cdc" / f"{source.slot}.json"), **faults,
    })


def local_broker_pids(pk: Any) -> list[int]:
    """Process ids of the broker and its object store when they run on this machine (else empty)."""
    pids = [s.pid for s in pk.status(["broker", "object_store"]) if s.pid and s.state == "running"]
    return [int(p) for p in pids if process_cpu_ms(int(p)) is not None]


@dataclass
class ChangeLog:
    """Change events read back from the topics."""

    raw: dict[str, int]
    events: dict[str, list[dict[str, Any]]]
    duplicates: dict[str, int]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    unparseable: list[DeadLetter] = field(default_factory=list)

    @property
    def all_events(self) -> list[dict[str, Any]]:
        merged = [e for events in self.events.values() for e in events]
        return sorted(merged, key=lambda e: (int(e["source"]["commit_lsn"]), int(e["source"].get("seq", 0))))

    def ops(self) -> pd.DataFrame:
        """Events per table and op."""
        counts = {t: Counter(e["op"] for e in events) for t, events in self.events.items()}
        return pd.DataFrame(counts).reindex(list(OPS)).fillna(0).astype(int).T


def read_change_events(broker: Any, source: CdcSource, *, checkpoint: Mapping[str, Any] | None = None,
                       idle_s: float = 1.5, timeout_s: float = 60.0) -> ChangeLog:
    """Read every table topic and the DLQ (in parallel), drop redelivered copies, order by commit.

    With the connector's ``checkpoint`` (taken after a graceful stop), each topic is read up to the
    end offsets its delivery reports recorded: exact, and no idle wait. Without it, a topic is read
    until ``idle_s`` passes with no new record.
    """
    topics = {t: source.topic(t) for t in source.tables}
    topics["__dlq__"] = dlq_topic_for(source.topic_prefix)
    ends = (checkpoint or {}).get("offsets")

    def read(topic: str) -> list[Any]:
        if ends is None:
            return drain_topic(broker, topic, idle_s=idle_s, timeout_s=timeout_s)
        expected = sum(int(offset) + 1 for offset in ends.get(topic, {}).values())
        return drain_topic(broker, topic, expected=expected, timeout_s=timeout_s) if expected else []

    with ThreadPoolExecutor(len(topics)) as pool:
        futures = {t: pool.submit(read, topic) for t, topic in topics.items()}
        records = {t: f.result() for t, f in futures.items()}
    letters = [DeadLetter.from_dlq_record(r) for r in records.pop("__dlq__")]
    events, duplicates, unparseable = {}, {}, []
    for table, recs in records.items():
        parsed, bad = events_from_records(recs)
        events[table], duplicates[table] = dedupe_events(parsed)
        unparseable += bad
    return ChangeLog({t: len(r) for t, r in records.items()}, events, duplicates, letters, unparseable)


def capture_vs_truth(phase: WorkloadResult, events: Sequence[Mapping[str, Any]],
                     polled: Sequence[tuple[str, Any, Any]]) -> pd.DataFrame:
    """Changes made during one workload phase vs what CDC and polling captured, by operation.

    CDC events are those committed inside the phase's LSN range; a polled row version counts as an
    insert the first time a key inserted during the phase is seen, else as an update (polling itself
    cannot tell the two apart).
    """
    truth = Counter(op for _t, _k, op in phase.changes)
    cdc = Counter(e["op"] for e in events if phase.first_lsn <= int(e["source"]["commit_lsn"]) < phase.last_lsn)
    inserted = {(t, k[0]) for t, k, op in phase.changes if op == "c"}
    polling: Counter[str] = Counter()
    seen: set[tuple[str, Any]] = set()
    for table, key, _ts in polled:
        row = (table.rsplit(".", 1)[-1], key)
        polling["c" if row in inserted and row not in seen else "u"] += 1
        seen.add(row)
    frame = pd.DataFrame({"changes made": truth, "log-based CDC": cdc, "polling": polling})
    frame = frame.reindex(["c", "u", "d"]).fillna(0).astype(int)
    frame.index = ["inserts", "updates", "deletes"]
    return frame


def plot_capture_comparison(load: pd.DataFrame, captured: pd.DataFrame) -> Any:
    """Left: source commit latency (p50, p99) per capture mode; right: changes captured vs made."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
    x = range(len(load))
    left.bar([i - 0.2 for i in x], load["p50_ms"], 0.4, label="p50")
    left.bar([i + 0.2 for i in x], load["p99_ms"], 0.4, label="p99")
    for i, (_mode, row) in enumerate(load.iterrows()):
        left.annotate(f"{row['tps']:,.0f} tx/s", (i, row["p99_ms"]), ha="center", va="bottom", fontsize=8)
    left.set_xticks(list(x), list(load.index))
    left.set_ylabel("source commit latency (ms)")
    left.set_title("write workload under each capture mode")
    left.legend()
    captured.plot.bar(ax=right, rot=0)
    right.set_ylabel("changes")
    right.set_title("captured vs made (polling phase)")
    fig.tight_layout()
    return fig


def cleanup_source(pk: Any, source: CdcSource, *, drop_schema: bool = True) -> pd.DataFrame:
    """Drop the run's slots (and publication, tables); returns the slot report taken just before.

    A slot nobody reads pins WAL from its ``restart_lsn`` forever: the disk fills and, with
    ``max_slot_wal_keep_size`` unset (the default), the server never gives up on it.
    """
    pg = pk.pg
    slots = [source.slot, f"{source.schema}_abandoned"]
    report = slot_report(pg, slots)
    for slot in slots:
        drop_slot(pg, slot)
    pg.query(f"DROP PUBLICATION IF EXISTS {source.publication}")
    if drop_schema:
        pg.query(f"DROP SCHEMA IF EXISTS {source.schema} CASCADE")
    return report

