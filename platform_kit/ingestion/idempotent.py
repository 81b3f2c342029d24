"""Idempotent consumers: exactly-once effects from at-least-once delivery.

Kafka delivers at least once: a producer retry after a lost acknowledgement, an upstream replay or
a consumer restarted from an old offset all hand the same event to the consumer again. The effect
becomes exactly-once when the consumer makes two things atomic and idempotent:

1. **the write is keyed**: the sink's primary key is the event's natural id and rows go in with
   ``INSERT ... ON CONFLICT (event_id) DO NOTHING``, so a second copy is a no-op;
2. **the progress is in the sink**: the consumed offsets (``next_offset`` per partition) are upserted
   into an offsets table *in the same PostgreSQL transaction* as the rows, and on start the consumer
   ``assign()``s its partitions at those offsets.

A crash before the commit loses both the rows and the offsets (the batch is read again); after it,
both are durable. No Kafka group commit is needed, and none is done: it would be a second record of
progress, committed separately from the data, so the two could disagree after a crash (committed
before the write: records lost; after: ignored anyway). Assigning instead of subscribing also skips
the group join, which costs seconds on the embedded broker. With a group (several consumers
sharing partitions), the same design seeks to the sink's offsets in the ``on_assign`` callback.

:func:`apply_batch` is the handler: rows and offsets in the caller's transaction, no commit.
:func:`consume_idempotently` is the loop around it; ``python -m platform_kit.ingestion._idempotent_worker``
runs it as a separate process, which :func:`run_crash_drill` kills with SIGKILL at random points.

Introduced in: Lab 2 (ingestion), section 2.
"""

from __future__ import annotations

from platform_kit.ingestion._idempotent_batch import (
    BatchResult,
    apply_batch,
    dedupe_rows,
    event_id_of,
    next_offsets_of,
    reconcile_sink,
    rows_from_records,
)
from platform_kit.ingestion._idempotent_consume import (
    ConsumeReport,
    Crash,
    CrashPoint,
    SimulatedCrash,
    consume_idempotently,
    consume_naively,
)
from platform_kit.ingestion._idempotent_crash import CrashDrillReport, run_crash_drill, run_naive_drill
from platform_kit.ingestion._idempotent_plot import plot_crash_drill
from platform_kit.ingestion._idempotent_produce import DuplicatedStream, produce_with_duplicates
from platform_kit.ingestion._idempotent_sql import SinkRow, SinkTables, read_offsets, store_offsets, write_rows

__all__ = [
    "BatchResult",
    "ConsumeReport",
    "Crash",
    "CrashDrillReport",
    "CrashPoint",
    "DuplicatedStream",
    "SimulatedCrash",
    "SinkRow",
    "SinkTables",
    "apply_batch",
    "consume_idempotently",
    "consume_naively",
    "dedupe_rows",
    "event_id_of",
    "next_offsets_of",
    "plot_crash_drill",
    "produce_with_duplicates",
    "read_offsets",
    "reconcile_sink",
    "rows_from_records",
    "run_crash_drill",
    "run_naive_drill",
    "store_offsets",
    "write_rows",
]
