"""The DLQ invariant (Lab 2, section 6): every record produced ends in the sink or in the DLQ, never both.

A corpus of valid orders mixed with every bad kind (plus exact re-sends) goes through the validating
pipeline while its sink fails at random and always on two poison orders; each produced offset is then
looked up in the sink and in the DLQ. A fix and a replay follow, and the invariant must still hold.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from platform_kit.datasets import generate_company
from platform_kit.ingestion import Stage, read_dead_letters
from platform_kit.ingestion import corpus as C
from platform_kit.ingestion import pipeline as P


@pytest.mark.parametrize("method", ["values", "copy"])
def test_every_record_lands_in_the_sink_or_the_dlq(embedded: Any, method: str) -> None:
    tag = uuid.uuid4().hex[:6]
    topic, dlq = f"it.dlq.{tag}", f"it.dlq.{tag}.dlq"
    embedded.broker.create_topic(topic, partitions=3)
    embedded.broker.create_topic(dlq, partitions=1)
    events = C.order_events(generate_company("tiny", 3)["orders"])
    corpus = C.build_corpus(events, per_kind=3, exact_duplicates=10, seed=9)
    assert len({r.kind for r in corpus if not r.good}) >= 10
    tracker = P.DeliveryTracker(keep=True)
    P.produce_records(embedded.broker.producer(linger_ms=10), topic,
                      [(r.key, r.value, [("trace", f"t{r.index}".encode())], r.index) for r in corpus],
                      tracker=tracker)
    assert len(tracker.placed) == len(corpus)
    poison = {str(events[3]["order_id"]), str(events[500]["order_id"])}
    tables = P.SinkTables(f"it_dlq_{method}_{tag}", f"it_dlq_offsets_{tag}")
    retry = P.RetryPolicy(max_attempts=4, base_s=0.002, cap_s=0.02)
    pipeline = P.IngestionPipeline(embedded.broker, embedded.pg, topic, tables=tables, consumer_id="it",
                                   faults=P.FaultInjector(transient_rate=0.15, poison_ids=poison, seed=2),
                                   retry=retry, batch_size=100, method=method, seed=1)
    report = pipeline.run(until=tracker, timeout_s=120)
    assert report.records == len(corpus) and report.retries > 0
    letters = read_dead_letters(embedded.broker, dlq, expected=report.dead_lettered)
    assert len(letters) == report.dead_lettered
    sink = embedded.pg.query(f"SELECT event_id, source_partition, source_offset, payload::text FROM {tables.table}")
    recon = C.reconcile_corpus(corpus, tracker.placed, letters, sink, topic=topic)

    # the invariant: exactly one place for every produced offset, and the expected reason for every bad one
    assert (recon["in_sink"] ^ recon["in_dlq"]).all(), recon[~(recon["in_sink"] ^ recon["in_dlq"])]
    assert recon["ok"].all(), recon[~recon["ok"]]
    assert {(x.partition, x.offset) for x in letters}.isdisjoint({(int(p), int(o)) for _, p, o, _ in sink})
    for kind in C.BAD_KINDS.values():
        got = recon[recon["kind"] == kind.name]
        assert len(got) == 3 and (got["outcome"] == kind.reason).all(), (kind.name, got)

    # every dead letter is complete: reason, stage, origin, time, attempts, original headers
    for letter in letters:
        assert letter.topic == topic and letter.reason and letter.failed_at_ms > 0 and letter.attempts >= 1
        assert letter.original_headers["trace"].startswith(b"t")
    unavailable = [x for x in letters if x.reason == "sink_unavailable"]
    assert {x.key.decode() for x in unavailable} == poison
    assert all(x.stage is Stage.SINK and x.attempts >= retry.max_attempts for x in unavailable)

    # fix the currency rule and replay only that reason: the NOK orders land, the others go back
    replay = P.replay_dead_letters(embedded.broker, dlq, reasons=["unknown_enum"], expected=len(letters))
    assert replay.replayed == 6
    fixed = P.IngestionPipeline(embedded.broker, embedded.pg, topic, tables=tables, consumer_id="it",
                                spec=P.ORDER_SPEC.with_enum("currency", "NOK"), method=method)
    rerun = fixed.run(until=replay.trackers[topic])
    assert rerun.records == 6 and rerun.inserted == 3 and rerun.dead_letters == {"unknown_enum": 3}
    again = read_dead_letters(embedded.broker, dlq, expected=len(letters) + 3)
    replayed_back = [x for x in again if "replay.count" in x.original_headers]
    assert len(replayed_back) == 3 and all(x.original_headers["replay.reason"] == b"unknown_enum"
                                           for x in replayed_back)
    embedded.pg.query(f"DROP TABLE {tables.table}")
