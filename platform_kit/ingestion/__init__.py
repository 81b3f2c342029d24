"""Lab 2: scalable data ingestion on the Kafka-protocol broker, PostgreSQL and Spark.

The shared building blocks (records read back from topics, the dead-letter queue) are
importable from here; each section's logic is its own public module, imported on first
use so that worker processes (crash drills, CDC connector, consumer pools) start fast::

    retention    topic configs, storage cost vs durability, a broker restart under acks=all
    idempotent   exactly-once effects: sink rows and offsets in one PostgreSQL transaction
    schemas      Avro with a Schema Registry (Confluent wire format) and broker-side validation
    streaming    record-at-a-time vs micro-batches (size, interval, Spark foreachBatch)
    cdc          pgoutput logical replication into topics, resumable by LSN; polling compared
    pipeline     validating ingestion with retries, DLQ routing and replay
    alerts       DLQ-rate, throughput-drop and lag rules over pipeline metrics
    corpus       malformed records of every kind, labelled with their expected reason
    partitions   partition counts vs consumer processes, skew, partitions for a target rate
    pii          keyed tokens, display masks, a PostgreSQL vault, PII detection

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from platform_kit.ingestion._topics import Record, drain_topic, partitions_of, record_from_message
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage, dlq_topic_for, read_dead_letters

SECTION_MODULES = (
    "retention", "idempotent", "schemas", "streaming", "cdc", "pipeline", "alerts", "corpus", "partitions", "pii",
)

__all__ = [
    "DeadLetter",
    "DeadLetterQueue",
    "Record",
    "Stage",
    "dlq_topic_for",
    "drain_topic",
    "partitions_of",
    "read_dead_letters",
    "record_from_message",
    *SECTION_MODULES,
]


def __getattr__(name: str) -> ModuleType:
    if name in SECTION_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
