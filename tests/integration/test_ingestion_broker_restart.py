"""A broker restarted mid-stream under an acks=all idempotent producer loses and duplicates nothing.

Runs on a private tansu broker (its own name, port and bucket in the shared moto store) so the
session's shared broker is never restarted; checks that too. A crash (SIGKILL) is characterised
rather than guaranteed: see test_crash_is_characterised_not_guaranteed.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from platform_kit import Workbench
from platform_kit.ingestion import drain_topic
from platform_kit.ingestion.retention import PrivateTansuBroker, produce_through_restart, streams_through_restart


@pytest.fixture(scope="module")
def private(embedded: Workbench) -> Any:
    with PrivateTansuBroker.create(embedded, "itest") as broker:
        yield broker


def _shared_state(embedded: Workbench) -> tuple[str, int | None]:
    status = embedded.service("broker").status()
    return status.endpoint or "", status.pid


@pytest.mark.parametrize(("restart_after_s", "partitions"), [(0.05, 1), (0.4, 3), (0.8, 2)])
def test_restart_mid_stream_loses_nothing(embedded: Workbench, private: PrivateTansuBroker, restart_after_s: float,
                                          partitions: int) -> None:
    """The guarantee the lab shows: a (graceful) broker restart under acks=all + idempotence."""
    shared_before = _shared_state(embedded)
    rows = [{"order_id": i, "amount": i * 1.5} for i in range(50)]
    report = produce_through_restart(private, records=4000, rate_per_s=3500, restart_after_s=restart_after_s,
                                     mode="term", acks="all", idempotent=True, partitions=partitions, rows=rows)
    assert 0 < report.restart_at_record < report.produced, "the restart must land mid-stream"
    assert report.failed == 0 and report.errors == []
    assert report.acknowledged == report.produced == 4000
    assert report.lost == 0 and report.duplicates == 0 and report.unique_read == 4000
    assert _shared_state(embedded) == shared_before  # the lab's broker was not touched


def test_crash_is_characterised_not_guaranteed(private: PrivateTansuBroker, capsys: pytest.CaptureFixture[str]) -> None:
    """SIGKILL early in a stream: measured, with the invariants that hold whatever tansu loses.

    On tansu's S3 engine a crash late in a stream has lost 100-300 acknowledged records of 5,000 in
    some runs (offsets reused after the restart); a graceful restart never did. So this test asserts
    consistency (nothing invented, nothing duplicated, every record accounted for), not zero loss.
    """
    report = produce_through_restart(private, records=2000, rate_per_s=3500, restart_after_s=0.2, mode="kill")
    assert 0 < report.restart_at_record < 2000 and report.restart_s < 10
    assert report.acknowledged + report.failed == 2000
    assert report.unique_read + report.lost == report.acknowledged  # every acknowledged record read or counted lost
    with capsys.disabled():
        print(f"\ncrash at record {report.restart_at_record}: {report.lost} of {report.acknowledged} acknowledged "
              f"records lost, {report.duplicates} duplicated")


def test_acknowledged_records_survive_a_full_stop_and_start(private: PrivateTansuBroker) -> None:
    topic = f"itest.durable.{uuid.uuid4().hex[:6]}"
    report = produce_through_restart(private, records=1000, rate_per_s=5000, restart_after_s=0.1, topic=topic,
                                     mode="term")
    assert report.lossless
    private.stop()
    private.start(owned=True)
    keys = sorted(int(r.key) for r in drain_topic(private, topic, expected=1000, timeout_s=30))
    assert keys == list(range(1000))  # S3-backed: the whole topic came back from the object store


def test_acks_zero_is_measured_honestly(private: PrivateTansuBroker) -> None:
    report = produce_through_restart(private, records=2000, rate_per_s=4000, restart_after_s=0.2, acks="0",
                                     idempotent=True, mode="kill")
    assert report.acks == "0" and not report.idempotent  # idempotence needs acks=all: not claimed
    assert report.acknowledged == 2000  # the client "delivers" without hearing from the broker
    assert report.read + report.lost == 2000 and report.duplicates == 0


def test_one_restart_two_producers(private: PrivateTansuBroker) -> None:
    safe, unsafe = streams_through_restart(private, [("all", True), (0, False)], records=3000, rate_per_s=3000,
                                           restart_after_s=0.4, mode="term")
    assert safe.restart_at_record == unsafe.restart_at_record and safe.topic != unsafe.topic
    assert safe.lossless and safe.unique_read == 3000
    assert unsafe.acks == "0" and unsafe.read + unsafe.lost == 3000
