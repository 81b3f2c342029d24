"""Lab 2 section 7: range assignment, the sizing formula, the consumer-process pool, skew, the exercise."""

from __future__ import annotations

import math
import os
import time
import uuid
from typing import Any

import pandas as pd
import pytest

from platform_kit.errors import ConfigError, ServiceError
from platform_kit.grading import check
from platform_kit.ingestion import partitions
from platform_kit.ingestion._partitions_worker import Channel, Handler
from platform_kit.ingestion.partitions import (
    ConsumerPool,
    find_knee,
    model_throughput,
    partitions_needed,
    range_assignment,
    skew_ratio,
)


# --- pure logic ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("parts", "consumers", "expected"),
    [
        (4, 2, [[0, 1], [2, 3]]),
        (5, 2, [[0, 1, 2], [3, 4]]),
        (8, 3, [[0, 1, 2], [3, 4, 5], [6, 7]]),
        (2, 4, [[0], [1], [], []]),
        (1, 1, [[0]]),
        ([7, 3, 5], 2, [[3, 5], [7]]),
    ],
)
def test_range_assignment_matches_kafka(parts: Any, consumers: int, expected: list[list[int]]) -> None:
    assert range_assignment(parts, consumers) == expected


@pytest.mark.parametrize(("parts", "consumers"), [(0, 1), (4, 0), ([1, 1], 2), ([-1], 1), (4, True), (4, 1.5)])
def test_range_assignment_rejects_nonsense(parts: Any, consumers: Any) -> None:
    with pytest.raises(ConfigError):
        range_assignment(parts, consumers)


@pytest.mark.parametrize(
    ("target", "rate", "headroom", "expected"),
    [
        (1000, 250, 0.0, 4),  # divides exactly: not 5
        (1000, 300, 0.25, 5),
        (0, 500, 0.2, 1),  # a topic has at least one partition
        (10, 1000, 0.25, 1),
        (700, 77, 0.1, 10),  # 700 * 1.1 / 77 = 10.000000000000002 in floats
    ],
)
def test_partitions_needed_by_hand(target: float, rate: float, headroom: float, expected: int) -> None:
    assert partitions_needed(target, rate, headroom) == expected


def test_partitions_needed_with_a_produce_limit() -> None:
    # consumers could do 1000/s each but a partition only takes 400 writes/s
    assert partitions_needed(2000, 1000, 0.0, per_partition_produce_rate=400) == 5


@pytest.mark.parametrize(
    "args", [(1000, 0, 0.2), (1000, -1, 0.2), (1000, 100, -0.1), (-5, 100, 0.2), (float("nan"), 100, 0.2),
             (1000, float("inf"), 0.2), ("1000", 100, 0.2), (1000, True, 0.2)],
)
def test_partitions_needed_rejects_bad_measurements(args: tuple[Any, ...]) -> None:
    with pytest.raises(ConfigError):
        partitions_needed(*args)


def test_model_throughput_by_hand() -> None:
    assert model_throughput([100, 100, 100, 100], 4, 1000) == pytest.approx(4000)
    assert model_throughput([100, 100, 100, 100], 8, 1000) == pytest.approx(4000)  # idle consumers add nothing
    assert model_throughput([100, 100, 100], 2, 1000) == pytest.approx(300 / 200 * 1000)  # 2 + 1 partitions
    assert model_throughput({0: 300, 1: 0, 2: 100}, 3, 1000) == pytest.approx(400 / 300 * 1000)  # the hot one
    assert model_throughput([0, 0], 2, 1000) == 0.0


def test_skew_ratio() -> None:
    assert skew_ratio([10, 10, 10]) == 1.0
    assert skew_ratio({0: 30, 1: 0, 2: 0}) == pytest.approx(3.0)
    assert math.isnan(skew_ratio([])) and math.isnan(skew_ratio([0, 0]))


def test_find_knee_ignores_gains_without_new_active_consumers() -> None:
    grid = pd.DataFrame({
        "partitions": [1, 1, 1, 4, 4, 4, 8, 8, 8],
        "consumers": [1, 2, 4] * 3,
        "active_consumers": [1, 1, 1, 1, 2, 4, 1, 2, 4],
        "throughput": [800, 950, 700, 800, 1600, 3100, 800, 1500, 1700],  # noise at 1 partition; cores at 8
    })
    knee = find_knee(grid).set_index("partitions")
    assert knee.loc[1, "knee_consumers"] == 1 and knee.loc[1, "capped_by"] == "partitions"
    assert knee.loc[4, "knee_consumers"] == 4 and knee.loc[4, "capped_by"] == "partitions"
    assert knee.loc[8, "knee_consumers"] == 2 and knee.loc[8, "capped_by"] == "handler/cores"


def test_handler_costs_what_it_says() -> None:
    handler = Handler(0.002)
    began = time.time()
    handler.start(began)
    for _ in range(50):
        handler(b"x")
    handler.finish()
    assert 0.095 <= time.time() - began < 0.2
    spin = Handler(0.002, "cpu")
    began = time.time()
    spin.start(began)
    for _ in range(10):
        spin(b"x")
    assert time.time() - began >= 0.019  # busy-waits: the CPU-bound variant
    with pytest.raises(ValueError):
        Handler(-1)
    with pytest.raises(ValueError):
        Handler(0.001, "gpu")


def test_channel_round_trip_and_eof() -> None:
    r1, w1 = os.pipe()
    channel_out, channel_in = Channel(r1, w1), Channel(r1, w1)
    channel_out.send({"a": [1, 2], "b": None})
    assert channel_in.poll(1.0) and channel_in.recv() == {"a": [1, 2], "b": None}
    assert not channel_in.poll(0.01)
    os.close(w1)
    with pytest.raises(EOFError):
        channel_in.poll(0.5)
    os.close(r1)


def test_pool_rejects_bad_sizes() -> None:
    with pytest.raises(ConfigError):
        ConsumerPool({"bootstrap.servers": "127.0.0.1:1"}, 0)
    with pytest.raises(ConfigError):
        ConsumerPool({"bootstrap.servers": "127.0.0.1:1"}, True)


# --- the exercise -------------------------------------------------------------------------------
def _solution(target: float, rate: float, headroom: float) -> int:
    if rate <= 0 or headroom < 0:
        raise ValueError("bad measurement")
    return max(1, math.ceil(target * (1 + headroom) / rate))


CONTEXT = {"target_rate": 5000.0, "per_consumer_rate": 851.0, "headroom": 0.25}


def test_exercise_accepts_the_formula_and_the_package() -> None:
    assert check("ingestion.partitions_for_target", _solution, context=CONTEXT, show=False).passed
    assert check("ingestion.partitions_for_target", partitions_needed, context=CONTEXT, show=False).passed


@pytest.mark.parametrize(
    ("wrong", "why"),
    [
        (lambda t, r, h: max(1, int(t * (1 + h) / r)) if r > 0 and h >= 0 else _solution(t, r, h), "round up"),
        (lambda t, r, h: math.ceil(t / r) if r > 0 and h >= 0 else _solution(t, r, h), "headroom"),
        (lambda t, r, h: max(1, math.ceil(t / r / 2)) if r > 0 and h >= 0 else _solution(t, r, h),
         "under-provisioned"),
        (lambda t, r, h: 4 * _solution(t, r, h), "over-provisioned"),
        (lambda t, r, h: float(_solution(t, r, h)), "return an int"),
        (lambda t, r, h: math.ceil(t * (1 + h) / r) if r > 0 and h >= 0 else _solution(t, r, h),
         "at least one partition"),
        (lambda t, r, h: max(1, math.ceil(t * (1 + h) / max(r, 1e-9))), "raise ValueError"),
        (lambda t, r, h: max(1, math.ceil(t * (1 + h) / r)), "ZeroDivisionError"),
        (lambda t, r, h: "eight", "whole number"),
        (lambda t, r, h: max(1, math.ceil(t * (1 + abs(h)) / r)) if r > 0 else _solution(t, r, h),
         "negative headroom"),
    ],
)
def test_exercise_rejects_wrong_answers(wrong: Any, why: str) -> None:
    result = check("ingestion.partitions_for_target", wrong, context=CONTEXT, show=False)
    assert not result.passed and why in result.message, result.message


def test_exercise_uses_the_measured_rate() -> None:
    # right on the fixed cases, wrong on the learner's own measurement
    def stale(t: float, r: float, h: float) -> int:
        return 3 if r == 851.0 else _solution(t, r, h)

    result = check("ingestion.partitions_for_target", stale, context=CONTEXT, show=False)
    assert not result.passed and "your measured per-consumer rate" in result.message


# --- engine tier: consumer processes on the embedded broker ------------------------------------
@pytest.fixture(scope="module")
def pk() -> Any:
    import platform_kit

    return platform_kit.connect("embedded")


@pytest.fixture(scope="module")
def pool(pk: Any) -> Any:
    with ConsumerPool(pk.broker.consumer_config("unused"), 2) as consumers:
        yield consumers


def test_pool_processes_are_separate(pool: ConsumerPool) -> None:
    assert pool.size == 2 and len(set(pool.pids)) == 2 and os.getpid() not in pool.pids


def test_small_grid_reads_everything_and_scales(pk: Any, pool: ConsumerPool) -> None:
    keys = [f"k{i}" for i in range(200)]
    grid = partitions.measure_grid(pk.broker, keys, partition_counts=(1, 2), consumer_counts=(1, 2), cost_ms=2.0,
                                   pool=pool, topic_prefix=f"test.grid.{uuid.uuid4().hex[:6]}")
    assert len(grid) == 4 and (grid["records"] == 200).all()
    cells = grid.set_index(["partitions", "consumers"])
    assert cells.loc[(1, 2), "active_consumers"] == 1 and cells.loc[(2, 2), "active_consumers"] == 2
    assert cells.loc[(2, 2), "per_consumer"] == sorted(cells.loc[(2, 2), "counts"], reverse=False) or \
        sum(cells.loc[(2, 2), "per_consumer"]) == 200
    # 2 ms per record: one consumer cannot beat 500/s; two on two partitions clearly beat one
    assert cells.loc[(1, 1), "throughput"] <= 500 * 1.05
    assert cells.loc[(2, 2), "throughput"] > 1.4 * cells.loc[(1, 2), "throughput"]
    assert 0 < partitions.per_consumer_rate(grid) <= 525


def test_real_consumer_group_assigns_like_range(pk: Any, pool: ConsumerPool) -> None:
    topic = f"test.group.{uuid.uuid4().hex[:6]}"
    counts = partitions.produce_keyed(pk.broker, topic, [f"k{i}" for i in range(120)], partitions=2)
    grouped = partitions.measure_topic(pool, topic, counts, 2, cost_ms=0.5, group=True)
    assigned = partitions.measure_topic(pool, topic, counts, 2, cost_ms=0.5)
    assert grouped["records"] == assigned["records"] == 120
    assert sorted(map(sorted, grouped["assignment"])) == sorted(map(sorted, assigned["assignment"])) == [[0], [1]]


def test_hot_key_skews_partitions(pk: Any, pool: ConsumerPool) -> None:
    hot = ["page_view"] * 90 + [f"other{i % 5}" for i in range(30)]
    spread = [f"s{i}" for i in range(120)]
    frame = partitions.compare_keys(pk.broker, pool, {"spread": spread, "hot": hot}, partitions=2, consumers=2,
                                    cost_ms=1.0).set_index("keyed_by")
    assert frame.loc["hot", "skew"] > frame.loc["spread", "skew"]
    assert max(frame.loc["hot", "counts"]) >= 90 and sum(frame.loc["hot", "counts"]) == 120


def test_errors_are_clear(pk: Any, pool: ConsumerPool) -> None:
    with pytest.raises(ConfigError, match="pool of 2"):
        pool.run("whatever", {0: 1}, 3, cost_s=0.001)
    with pytest.raises(ConfigError, match="prefetch"):
        pool.run("whatever", {0: 1}, 1, cost_s=0.001, prefetch="some")
    with pytest.raises(ConfigError, match="grid"):
        partitions.measure_grid(pk.broker, ["a"], partition_counts=(), pool=pool)
    with pytest.raises(ConfigError, match="no records"):
        partitions.measure_grid(pk.broker, [], pool=pool)
    with pytest.raises(ConfigError, match="one value per key"):
        partitions.produce_keyed(pk.broker, "t", ["a", "b"], [b"1"], partitions=1)
    topic = f"test.dup.{uuid.uuid4().hex[:6]}"
    partitions.produce_keyed(pk.broker, topic, ["a"], partitions=1)
    with pytest.raises(ServiceError, match="cannot create topic"):  # never appends to an old topic
        partitions.produce_keyed(pk.broker, topic, ["a"], partitions=1)
