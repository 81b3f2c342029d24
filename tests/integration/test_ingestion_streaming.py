"""Lab 2 section 4 on live embedded engines: every trigger lands every record; bad ones reach the DLQ; Spark too."""

from __future__ import annotations

import json
import uuid

import pytest

from platform_kit import Workbench
from platform_kit.datasets import generate_company
from platform_kit.ingestion import read_dead_letters
from platform_kit.ingestion.streaming import (
    Trigger,
    compare_triggers,
    run_spark_trigger,
    stream_payloads,
    summary_table,
)

N = 200


@pytest.fixture(scope="module")
def payloads() -> list[bytes]:
    return stream_payloads(generate_company("tiny", 42)["clickstream"], N)


def test_every_trigger_lands_every_record_once(embedded: Workbench, payloads: list[bytes]) -> None:
    run_id = uuid.uuid4().hex[:6]
    comparison = compare_triggers(embedded, payloads, [Trigger.record(), Trigger.size(50), Trigger.interval(100)],
                                  rate_per_s=1000, run_id=run_id)
    table = summary_table(comparison.runs).set_index("mode")
    assert table["records"].tolist() == [N, N, N] and (table["dead_letters"] == 0).all()
    assert table.loc["per record", "sink_calls"] == N and table.loc["size 50", "sink_calls"] == 4
    assert table.loc["every 100 ms", "sink_calls"] < N / 10
    assert (table["p50_ms"] > 0).all() and (table["p50_ms"] <= table["p99_ms"]).all()
    rows = embedded.pg.query(f"SELECT run, count(*), count(DISTINCT event_id) FROM {comparison.sink_table} GROUP BY run")
    distinct = len({json.loads(p)["event_id"] for p in payloads})  # the clickstream repeats ~1% of its events
    assert sorted(rows) == sorted((mode, N, distinct) for mode in table.index)


def test_undecodable_records_go_to_the_dead_letter_topic(embedded: Workbench, payloads: list[bytes]) -> None:
    bad = {5: b"\xff\xfe not json", 17: b"[1, 2, 3]", 33: json.dumps({"event_id": "no-other-fields"}).encode()}
    mixed = [bad.get(i, p) for i, p in enumerate(payloads[:60])]
    comparison = compare_triggers(embedded, mixed, [Trigger.interval(100)], rate_per_s=1000,
                                  run_id=uuid.uuid4().hex[:6])
    run = comparison.runs[0]
    assert run.records == 57 and len(run.dead_letters) == 3
    letters = read_dead_letters(embedded.broker, comparison.dlq_topic, expected=3, timeout_s=30)
    assert sorted(d.offset for d in letters) == [6, 18, 34]  # offset 0 is the start marker
    assert {d.reason for d in letters} == {"undecodable"} and {d.topic for d in letters} == {comparison.topics[0]}
    assert sorted(d.value for d in letters) == sorted(bad.values())
    count = embedded.pg.query(f"SELECT count(*) FROM {comparison.sink_table}")[0][0]
    assert count + len(letters) == len(mixed)  # every record is in the sink or in the DLQ


def test_spark_micro_batches_land_every_record(embedded: Workbench, payloads: list[bytes]) -> None:
    run_id = uuid.uuid4().hex[:6]
    result = run_spark_trigger(embedded, payloads[:100], 500, rate_per_s=1000, run_id=run_id)
    row = summary_table([result]).iloc[0]
    assert row["records"] == 100 and row["trigger"] == "spark" and row["batches"] >= 1
    assert "Spark JVM" in row["cpu_source"] or "foreachBatch" in row["cpu_source"]
    count = embedded.pg.query(f"SELECT count(*) FROM lab02_s4_{run_id} WHERE run = 'spark 500 ms'")[0][0]
    assert count == 100
