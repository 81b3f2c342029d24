"""Avro in the Confluent wire format, with confluent-kafka's own serialisers, and a DLQ for what fails.

Wire format: byte 0 is the magic byte ``0``, bytes 1-4 the schema id (big-endian), then the
Avro binary body without any schema. Producers serialise with ``AvroSerializer`` (which registers
or looks up the schema under ``<topic>-value``); consumers decode by the id in each record with
``AvroDeserializer``, optionally resolving to their own reader schema. A record that cannot be
serialised, or consumed bytes that cannot be decoded, become dead letters:

==================== ======== ===============================================================
reason               stage    cause
==================== ======== ===============================================================
``schema_violation`` schema   the producer's record does not match its schema (type, range...)
``no_magic_byte``    decode   the bytes are not Confluent-framed (plain JSON, empty, short)
``unknown_schema_id`` schema  the id is not in the registry (another registry, deleted...)
``corrupt_payload``  decode   the body does not decode with the writer's schema (truncated...)
``null_value``       decode   a record without a value (tombstone) where an order was expected
==================== ======== ===============================================================

Avro bodies have no checksum: a flipped bit inside a string decodes to a wrong string. Only
structural damage (truncation, bad lengths, bad union indexes) is detectable here.

``AvroSerializer`` is not a validator: it writes 2**40 into an Avro ``int``, 3.7 into a ``long``
and ``True`` into a ``double`` without complaint (measured with confluent-kafka 2.16 and fastavro
1.13). :func:`produce_avro` therefore validates each record with ``fastavro.validation`` (types,
ranges, exact field set) before serialising it.

Introduced in: Lab 2 (ingestion).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from platform_kit._deps import require
from platform_kit.ingestion._schemas_delivery import Outgoing, ProduceReport, deliver, producer_dead_letter
from platform_kit.ingestion._schemas_orders import schema_text
from platform_kit.ingestion._topics import Record, drain_topic
from platform_kit.ingestion.dlq import DeadLetter, DeadLetterQueue, Stage

__all__ = ["ConsumeReport", "consume_avro", "decode_records", "produce_avro", "transient_errors", "wire_schema_id"]

MAGIC_BYTE = 0


def transient_errors() -> tuple[type[BaseException], ...]:
    """Exceptions meaning "the registry cannot be reached" (confluent-kafka uses httpx2, else httpx)."""
    import importlib

    found: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def wire_schema_id(value: bytes | None) -> int | None:
    """The schema id of a Confluent-framed value, or None when it is not framed."""
    if value is None or len(value) < 5 or value[0] != MAGIC_BYTE:
        return None
    return int.from_bytes(value[1:5], "big")


def _key_bytes(record: dict[str, Any], key_field: str | None) -> bytes | None:
    if key_field is None or record.get(key_field) is None:
        return None
    return str(record[key_field]).encode()


def produce_avro(
    producer: Any, registry_client: Any, topic: str, records: Iterable[dict[str, Any]], schema: dict[str, Any] | str,
    dlq: DeadLetterQueue, *, key_field: str | None = "order_id", auto_register: bool = True,
    raw: Sequence[Outgoing] = (), validate: bool = True,
) -> ProduceReport:
    """Serialise ``records`` with ``AvroSerializer`` and produce them; failures go to ``dlq``.

    Args:
        producer: A confluent-kafka ``Producer``.
        registry_client: A ``SchemaRegistryClient``.
        topic: Destination; the subject is ``<topic>-value`` (TopicNameStrategy).
        records: Dicts to serialise.
        schema: The writer schema (dict or JSON text).
        dlq: Where records that fail validation or serialisation (reason ``schema_violation``)
            or that the broker rejects go.
        key_field: Record field used as the message key (as UTF-8 text), or None.
        auto_register: Register the schema if the subject lacks it (else look it up and fail
            when absent).
        raw: Already-encoded records produced as they are after the serialised ones (used to
            inject malformed bytes in demos and tests).
        validate: Check each record against the schema first (``fastavro.validation``, strict);
            False leaves it to the serialiser, which lets out-of-range numbers through.

    Raises:
        SchemaRegistryError: The registry refused the schema (incompatible, invalid): a deployment
            problem, not a bad record, so nothing is dead-lettered.
        TransportError: The registry cannot be reached (nothing is dead-lettered either).
    """
    serialization = require("confluent_kafka.serialization")
    avro = require("confluent_kafka.schema_registry.avro")
    registry_error = require("confluent_kafka.schema_registry.error").SchemaRegistryError
    transient = transient_errors()
    began = time.perf_counter()
    serializer = avro.AvroSerializer(registry_client, schema_text(schema),
                                     conf={"auto.register.schemas": auto_register, "validate.strict": validate})
    if validate:
        import fastavro
        from fastavro.validation import validate as check_record

        parsed = fastavro.parse_schema(json.loads(schema_text(schema)))
    context = serialization.SerializationContext(topic, serialization.MessageField.VALUE)
    items: list[Outgoing] = []
    failed = ProduceReport(topic=topic)
    for record in records:
        try:
            if validate:
                check_record(record, parsed, raise_errors=True, strict=True)
            value = serializer(record, context)
        except (registry_error, *transient):
            raise  # the registry refused the schema or is unreachable: not this record's fault
        except Exception as exc:  # noqa: BLE001 - fastavro raises ValueError, TypeError, KeyError...
            original = json.dumps(record, default=str, sort_keys=True).encode()
            dlq.send(producer_dead_letter(topic, _key_bytes(record, key_field), original, reason="schema_violation",
                                          stage=Stage.SCHEMA, error=exc))
            failed.dead_letters["schema_violation"] += 1
            failed.attempted += 1
            continue
        items.append(Outgoing(_key_bytes(record, key_field), value))
    items.extend(raw)
    report = deliver(producer, topic, items, dlq).merge(failed)
    for item in items[: len(items) - len(raw)]:
        schema_id = wire_schema_id(item.value)
        if schema_id is not None:
            report.schema_ids[schema_id] += 1
    report.seconds = time.perf_counter() - began
    return report


@dataclass
class ConsumeReport:
    """Records decoded from a topic, and what went to the DLQ.

    Attributes:
        topic: Source topic.
        values: Decoded values, in (partition, offset) order.
        schema_ids: Writer schema id -> records decoded with it.
        dead_letters: Dead letters written, by reason.
        read: Records read from the topic.
        seconds: Wall time of reading and decoding.
    """

    topic: str
    values: list[dict[str, Any]] = field(default_factory=list)
    schema_ids: Counter[int] = field(default_factory=Counter)
    dead_letters: Counter[str] = field(default_factory=Counter)
    read: int = 0
    seconds: float = 0.0

    @property
    def lost(self) -> int:
        """Records neither decoded nor dead-lettered (must be 0)."""
        return self.read - len(self.values) - sum(self.dead_letters.values())


def _classify(
    record: Record, decode: Callable[[bytes], Any], registry_error: type[BaseException],
    transient: tuple[type[BaseException], ...],
) -> tuple[Any, str | None, Any]:
    """(value, reason, error): reason None when decoded; registry outages (``transient``) are raised."""
    if record.value is None:
        return None, "null_value", "the record has no value"
    if wire_schema_id(record.value) is None:
        return None, "no_magic_byte", (f"{len(record.value)} byte(s) starting {record.value[:8]!r}: not the "
                                       "Confluent wire format (magic byte 0 + 4-byte schema id)")
    try:
        return decode(record.value), None, None
    except registry_error as exc:
        if getattr(exc, "http_status_code", None) == 404:
            return None, "unknown_schema_id", exc
        raise  # the registry is failing or refusing: not the record's fault, do not dead-letter
    except transient:
        raise  # the registry cannot be reached: retry later, do not dead-letter
    except Exception as exc:  # noqa: BLE001 - EOFError, ValueError, UnicodeDecodeError, IndexError...
        return None, "corrupt_payload", exc


def decode_records(
    records: Sequence[Record], registry_client: Any, dlq: DeadLetterQueue, *,
    reader_schema: dict[str, Any] | str | None = None,
) -> ConsumeReport:
    """Decode consumed records by their schema id; undecodable ones go to ``dlq``.

    Args:
        records: Records read from one topic.
        registry_client: A ``SchemaRegistryClient``.
        dlq: Dead-letter queue for the records that fail (reasons in the module docstring).
        reader_schema: Decode into this schema (Avro schema resolution: an old consumer keeps its
            fields, a new one gets defaults for fields old writers lacked); None uses each
            record's writer schema.

    Raises:
        SchemaRegistryError: The registry failed for another reason than an unknown id.
        TransportError: The registry cannot be reached (records are not dead-lettered: the
            caller must not commit their offsets, and retries later).
    """
    serialization = require("confluent_kafka.serialization")
    avro = require("confluent_kafka.schema_registry.avro")
    registry_error = require("confluent_kafka.schema_registry.error").SchemaRegistryError
    transient = transient_errors()
    began = time.perf_counter()
    topic = records[0].topic if records else ""
    report = ConsumeReport(topic=topic, read=len(records))
    deserializer = avro.AvroDeserializer(registry_client,
                                         schema_text(reader_schema) if reader_schema is not None else None)
    context = serialization.SerializationContext(topic, serialization.MessageField.VALUE)
    for record in records:
        value, reason, error = _classify(record, lambda data: deserializer(data, context), registry_error, transient)
        if reason is None:
            report.values.append(value)
            report.schema_ids[wire_schema_id(record.value) or -1] += 1
            continue
        stage = Stage.SCHEMA if reason == "unknown_schema_id" else Stage.DECODE
        dlq.send(DeadLetter.from_record(record, reason=reason, stage=stage, error=error))
        report.dead_letters[reason] += 1
    dlq.flush()
    report.seconds = time.perf_counter() - began
    return report


def consume_avro(
    broker: Any, registry_client: Any, topic: str, dlq: DeadLetterQueue, *, expected: int,
    reader_schema: dict[str, Any] | str | None = None, timeout_s: float = 60.0,
) -> ConsumeReport:
    """Read ``expected`` records of ``topic`` (no group join) and :func:`decode_records` them."""
    began = time.perf_counter()
    records = drain_topic(broker, topic, expected=expected, timeout_s=timeout_s)
    report = decode_records(records, registry_client, dlq, reader_schema=reader_schema)
    report.topic = topic
    report.seconds = time.perf_counter() - began
    return report
