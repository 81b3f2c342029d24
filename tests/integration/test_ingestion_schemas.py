"""Section 3 of lab 2 on live engines: every record ends in the topic or the DLQ, across a registry restart."""

from __future__ import annotations

import json
import uuid

from platform_kit import Workbench
from platform_kit.datasets import generate_company
from platform_kit.ingestion import DeadLetterQueue, dlq_topic_for, drain_topic, read_dead_letters
from platform_kit.ingestion import schemas as sc


def test_avro_pipeline_accounts_for_every_record_across_a_registry_restart(embedded: Workbench) -> None:
    broker, registry = embedded.broker, embedded.schema_registry
    orders = sc.order_records(generate_company("tiny", 42)["orders"], limit=400)
    topic = f"it.schemas.{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, 3)
    dlq = DeadLetterQueue(broker.producer(linger_ms=5), dlq_topic_for(topic))
    bad = list(sc.bad_orders(orders[0]).values())
    first = sc.produce_avro(broker.producer(linger_ms=5), registry.client(), topic, orders[:200] + bad,
                            sc.ORDER_SCHEMA_V1, dlq)
    registry.restart()  # subjects and ids are on disk: new producers and consumers resolve them
    v2 = [{**o, "coupon_code": f"C{o['order_id']}" if o["order_id"] % 2 else None} for o in orders[200:]]
    valid = next(iter(drain_topic(broker, topic, expected=1))).value
    corpus = sc.malformed_values(valid)
    second = sc.produce_avro(broker.producer(linger_ms=5), registry.client(), topic, v2, sc.ORDER_SCHEMA_V2, dlq,
                             raw=[sc.Outgoing(b"bad", v) for v in corpus.values()])
    assert first.lost == second.lost == 0 and first.dead_letters == {"schema_violation": len(bad)}
    assert len(first.schema_ids | second.schema_ids) == 2
    delivered = first.delivered + second.delivered
    old = sc.consume_avro(broker, registry.client(), topic, dlq, expected=delivered, reader_schema=sc.ORDER_SCHEMA_V1)
    new_dlq = DeadLetterQueue(broker.producer(linger_ms=5), dlq_topic_for(topic) + ".v2")
    new = sc.consume_avro(broker, registry.client(), topic, new_dlq, expected=delivered)
    assert old.lost == new.lost == 0 and old.dead_letters == new.dead_letters
    decodable = 400 + sum(1 for r in sc.MALFORMED_EXPECTED.values() if r is None)
    assert len(old.values) == len(new.values) == decodable
    assert sum(v.get("coupon_code") is not None for v in new.values) == sum(o["coupon_code"] is not None for o in v2)
    assert all("coupon_code" not in v for v in old.values)
    dead = read_dead_letters(broker, dlq_topic_for(topic), expected=len(bad) + sum(old.dead_letters.values()))
    # every input: decoded by the consumer, or a dead letter with its reason
    assert len(old.values) + len(dead) == len(orders) + len(bad) + len(corpus)
    assert {d.reason for d in dead} == {"schema_violation", "no_magic_byte", "unknown_schema_id", "corrupt_payload"}
    del dlq, new_dlq


def test_broker_side_validation_keeps_good_records_and_dead_letters_the_rest(embedded: Workbench) -> None:
    broker = embedded.broker
    validating = sc.ValidatingTansuBroker(embedded, name=f"vb-{uuid.uuid4().hex[:6]}")
    validating.start()
    try:
        orders = sc.order_records(generate_company("tiny", 42)["orders"], limit=120)
        topic = f"it.strict.{uuid.uuid4().hex[:8]}"
        validating.add_json_schema(topic, sc.ORDER_JSON_SCHEMA)
        validating.create_topic(topic, 2)
        bad = [{**orders[0], "total_amount": -1.0}, {**orders[1], "status": "lost"},
               {k: v for k, v in orders[2].items() if k != "currency"}, {**orders[3], "order_id": "17"}]
        records = orders[10:] + bad
        dlq = DeadLetterQueue(broker.producer(linger_ms=5), dlq_topic_for(topic))
        report = sc.produce_json(validating.producer(linger_ms=20), topic, records, dlq)
        assert (report.delivered, report.dead_letters, report.lost) == (110, {"broker_rejected": 4}, 0)
        landed = drain_topic(validating, topic, expected=110)
        dead = read_dead_letters(broker, dlq_topic_for(topic), expected=4)
        assert sorted(json.loads(r.value)["order_id"] for r in landed) == sorted(o["order_id"] for o in orders[10:])
        by_id = sorted((json.loads(d.value) for d in dead), key=lambda r: str(r["order_id"]))
        assert by_id == sorted(json.loads(json.dumps(bad)), key=lambda r: str(r["order_id"]))
        assert all(d.stage.value == "schema" and "INVALID_RECORD" in d.error for d in dead)
        # Avro validation wants container files: the Confluent wire format is rejected
        avro_topic = f"it.ocf.{uuid.uuid4().hex[:8]}"
        validating.add_avro_schema(avro_topic, sc.ORDER_SCHEMA_V1)
        validating.create_topic(avro_topic, 1)
        framed = b"\x00\x00\x00\x00\x01" + b"\x02" * 30
        ocf = sc.deliver(validating.producer(), avro_topic,
                         [sc.Outgoing(None, sc.avro_container_bytes(sc.ORDER_SCHEMA_V1, orders[0])),
                          sc.Outgoing(None, framed)], dlq)
        assert (ocf.delivered, ocf.dead_letters) == (1, {"broker_rejected": 1})
        del dlq
    finally:
        validating.stop()
        validating.reset()
