"""Lab 2: scalable data ingestion on the Kafka-protocol broker.

Shared building blocks live here; each section's logic lives in its own module.

Introduced in: Lab 2 (ingestion).
"""

from platform_kit.ingestion._topics import Record, drain_topic, partitions_of, record_from_message
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage, dlq_topic_for, read_dead_letters

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
]
