"""Lab 3 section 5: cache decisions, storage state parsing, level results, the exercise's grader."""

from __future__ import annotations

import math
from typing import Any

import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.grading.exercises.spark_caching import hidden_cases
from platform_kit.spark import caching
from platform_kit.spark.caching import CacheCandidate
from platform_kit.spark.monitor import JobMetrics

# --- the decision rule -------------------------------------------------------------------------------


def test_saved_seconds() -> None:
    assert caching.saved_seconds(3, 2.0, 0.5) == pytest.approx(3.0)
    assert caching.saved_seconds(1, 9.0) == 0.0  # used once: nothing recomputed
    assert caching.saved_seconds(4, 1.0, 1.5) == 0.0  # no cheaper to read: never negative
    assert CacheCandidate("a", 3, 2.0, 2_000_000, 0.5).saved_per_mb == pytest.approx(1.5)
    assert caching.saved_seconds(3, 2.0, 0.5, fill_s=4.0) == pytest.approx(6.0 - 4.0 - 1.0)
    assert caching.saved_seconds(2, 1.0, 0.1, fill_s=2.5) == 0.0  # filling costs more than the reuse saves


def test_choose_caches_by_benefit_per_byte() -> None:
    rows = [CacheCandidate("big", 2, 10.0, 100), CacheCandidate("s1", 3, 3.0, 50), CacheCandidate("s2", 3, 3.0, 50),
            CacheCandidate("once", 1, 50.0, 1)]
    assert caching.choose_caches(rows, 100) == ["s1", "s2"]
    assert caching.choose_caches(rows, 10_000) == ["s1", "s2", "big"]
    assert caching.choose_caches(rows, 0) == []
    assert caching.choose_caches([], 100) == []


def test_choose_caches_keeps_going_past_a_misfit_and_fills_exactly() -> None:
    rows = [{"name": "a", "uses": 3, "compute_s": 4.0, "size_bytes": 80},
            {"name": "b", "uses": 4, "compute_s": 1.2, "size_bytes": 40},
            {"name": "c", "uses": 2, "compute_s": 1.0, "size_bytes": 20}]
    assert caching.choose_caches(rows, 100) == ["a", "c"]
    exact = [CacheCandidate("x", 2, 5.0, 50), CacheCandidate("y", 3, 2.0, 50)]
    assert caching.choose_caches(exact, 100) == ["x", "y"]


def test_best_caches_is_the_exact_optimum() -> None:
    rows = [CacheCandidate("x", 2, 5.0, 50), CacheCandidate("y", 3, 2.0, 50), CacheCandidate("z", 2, 0.1, 1)]
    greedy, best = caching.choose_caches(rows, 100), caching.best_caches(rows, 100)
    assert greedy == ["x", "z"] and sorted(best) == ["x", "y"]  # greedy is not always optimal
    assert caching.total_saved(rows, best) > caching.total_saved(rows, greedy)
    many = [CacheCandidate(f"c{i}", 2, 1.0, 1) for i in range(17)]
    with pytest.raises(InputError, match="too many"):
        caching.best_caches(many, 100)


def test_candidates_from_a_dataframe() -> None:
    import pandas as pd

    frame = pd.DataFrame([{"name": "a", "uses": 3, "compute_s": 2.0, "read_s": 0.5, "fill_s": 3.0, "size_bytes": 1000.0},
                          {"name": "b", "uses": 2, "compute_s": 1.0, "read_s": None, "fill_s": None, "size_bytes": 10}])
    candidates = caching.as_candidates(frame)
    assert candidates[0].size_bytes == 1000 and candidates[1].read_s == 0.0
    assert candidates[0].fill_s == 3.0 and candidates[1].fill_s is None
    table = caching.candidates_frame(candidates, ["a"])
    assert list(table["cache"]) == [True, False] and "saved_per_mb" in table


@pytest.mark.parametrize(("row", "words"), [
    ({"name": "a", "uses": -1, "compute_s": 1.0, "size_bytes": 1}, "uses"),
    ({"name": "a", "uses": 2.5, "compute_s": 1.0, "size_bytes": 1}, "uses"),
    ({"name": "a", "uses": 2, "compute_s": math.nan, "size_bytes": 1}, "compute_s"),
    ({"name": "a", "uses": 2, "compute_s": -1.0, "size_bytes": 1}, "compute_s"),
    ({"name": "a", "uses": 2, "compute_s": 1.0, "size_bytes": 0}, "size_bytes"),
    ({"name": "a", "uses": 2, "compute_s": 1.0, "size_bytes": "big"}, "size_bytes"),
    ({"name": "", "uses": 2, "compute_s": 1.0, "size_bytes": 1}, "name"),
    ({"name": "a", "uses": 2, "size_bytes": 1}, "lacks compute_s"),
    ({"name": "a", "uses": 2, "compute_s": 1.0, "fill_s": -2.0, "size_bytes": 1}, "fill_s"),
])
def test_malformed_candidates(row: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError) as err:
        caching.choose_caches([row], 100)
    assert words in str(err.value) and err.value.fix


def test_hostile_inputs() -> None:
    with pytest.raises(InputError, match="duplicated"):
        caching.choose_caches([CacheCandidate("a", 2, 1.0, 1), CacheCandidate("a", 3, 1.0, 1)], 10)
    with pytest.raises(InputError, match="budget_bytes"):
        caching.choose_caches([], -5)
    with pytest.raises(InputError, match="budget_bytes"):
        caching.choose_caches([], math.inf)
    with pytest.raises(InputError, match="dict or CacheCandidate"):
        caching.choose_caches(["sessions"], 10)
    with pytest.raises(InputError, match="unknown storage level"):
        caching.storage_level("MEMORY_MAYBE")


# --- storage state and level results --------------------------------------------------------------


RDD_DOCS = [{"id": 12, "name": "AdaptiveSparkPlan isFinalPlan=false\n+- ...", "storageLevel": "Memory Serialized 1x",
             "numCachedPartitions": 3, "numPartitions": 4, "memoryUsed": 3_000_000, "diskUsed": 0}]
EXECUTOR_DOCS = [{"id": "driver", "memoryUsed": 10, "maxMemory": 1_000_000_000},
                 {"id": "0", "memoryUsed": 2_000_000, "maxMemory": 434_000_000},
                 {"id": "1", "memoryUsed": 1_000_000, "maxMemory": 434_000_000}]


def test_snapshot_from_rest_documents() -> None:
    snap = caching.snapshot_from_docs("now", RDD_DOCS, EXECUTOR_DOCS)
    assert snap.memory_used == 3_000_000 and snap.max_memory == 868_000_000  # the driver is left out
    assert snap.free == 865_000_000
    rdd = snap.rdd(12)
    assert rdd is not None and rdd.fraction_cached == 0.75 and rdd.name == "AdaptiveSparkPlan isFinalPlan=false"
    assert snap.rows()[0]["cached"] == "3/4"
    empty = caching.snapshot_from_docs("before", [], EXECUTOR_DOCS)
    assert snap.new_since(empty) == (rdd,) and empty.rdd(12) is None
    local = caching.snapshot_from_docs("local", [], [{"id": "driver", "memoryUsed": 5, "maxMemory": 50}])
    assert local.max_memory == 50  # local[*]: the driver holds the cache


def test_level_results_and_frame() -> None:
    def uses(*walls: float) -> tuple[JobMetrics, ...]:
        return tuple(JobMetrics(f"u{i}", w) for i, w in enumerate(walls))

    cached = caching.snapshot_from_docs("x", RDD_DOCS, EXECUTOR_DOCS).rdds
    results = [caching.LevelResult("NONE", uses(3.0, 2.0, 2.0)),
               caching.LevelResult("MEMORY_ONLY", uses(3.5, 0.5, 0.5), cached)]
    assert results[0].reuse_s == 2.0 and results[1].total_s == 4.5 and results[1].fraction_cached == 0.75
    frame = caching.levels_frame(results)
    assert list(frame["speedup_vs_none"]) == [1.0, pytest.approx(1.56, abs=0.01)]
    import matplotlib

    matplotlib.use("Agg")
    assert len(caching.plot_levels(results).axes) == 2
    with pytest.raises(InputError):
        caching.plot_levels([])


def test_pressure_report_properties() -> None:
    before = caching.snapshot_from_docs("before", [dict(RDD_DOCS[0], numCachedPartitions=4)], EXECUTOR_DOCS)
    hog = {"id": 20, "name": "hog", "storageLevel": "Memory Deserialized 1x", "numCachedPartitions": 90,
           "numPartitions": 100, "memoryUsed": 860_000_000, "diskUsed": 0}
    full = [dict(d, memoryUsed=430_000_000) if d["id"] != "driver" else d for d in EXECUTOR_DOCS]
    pressure = caching.snapshot_from_docs("under pressure", [hog], full)
    after = caching.snapshot_from_docs("after unpersist", [], EXECUTOR_DOCS)
    report = caching.PressureReport((before, pressure, after), 12, 20, 950_000_000, JobMetrics("fill", 4.0),
                                    JobMetrics("a", 0.5), JobMetrics("b", 2.0))
    assert report.victim_fraction == (1.0, 0.0) and report.hog_fraction == 0.9
    assert report.returned_bytes == 860_000_000 - 3_000_000
    assert len(report.rows()) == 6
    import matplotlib

    matplotlib.use("Agg")
    assert caching.plot_pressure(report).axes


# --- the grader ---------------------------------------------------------------------------------------


def reference(candidates: list[dict[str, Any]], budget_bytes: int) -> list[str]:
    return caching.choose_caches(candidates, budget_bytes)


def _saved(c: dict[str, Any]) -> float:
    return c["uses"] * c["compute_s"] - c.get("fill_s", c["compute_s"]) - (c["uses"] - 1) * c.get("read_s", 0.0)


def _greedy(candidates: list[dict[str, Any]], budget: int, key: Any, *, keep_going: bool = True,
            useful: Any = lambda c: _saved(c) > 0, fits: Any = lambda size, left: size <= left) -> list[str]:
    chosen, left = [], budget
    for c in sorted((c for c in candidates if useful(c)), key=key):
        if fits(c["size_bytes"], left):
            chosen.append(c["name"])
            left -= c["size_bytes"]
        elif not keep_going:
            break
    return chosen


WRONG_RULES = {
    "everything reused, ignoring the budget": lambda cs, b: [c["name"] for c in cs if c["uses"] > 1],
    "most reused first": lambda cs, b: _greedy(cs, b, key=lambda c: -c["uses"]),
    "most expensive first": lambda cs, b: _greedy(cs, b, key=lambda c: -c["compute_s"]),
    "smallest first": lambda cs, b: _greedy(cs, b, key=lambda c: c["size_bytes"]),
    "most seconds saved first (not per byte)": lambda cs, b: _greedy(cs, b, key=lambda c: -_saved(c)),
    "stops at the first misfit": lambda cs, b: _greedy(cs, b, key=lambda c: -_saved(c) / c["size_bytes"],
                                                       keep_going=False),
    "counts uses instead of uses - 1": lambda cs, b: _greedy(
        cs, b, key=lambda c: -c["uses"] * c["compute_s"] / c["size_bytes"], useful=lambda c: c["uses"] * c["compute_s"] > 0),
    "ignores read_s": lambda cs, b: _greedy(cs, b, key=lambda c: -(c["uses"] - 1) * c["compute_s"] / c["size_bytes"],
                                            useful=lambda c: c["uses"] > 1),
    "ignores fill_s": lambda cs, b: _greedy(cs, b, key=lambda c: -(c["uses"] - 1) * (c["compute_s"] - c["read_s"])
                                            / c["size_bytes"], useful=lambda c: (c["uses"] - 1) * (c["compute_s"] - c["read_s"]) > 0),
    "strict < budget": lambda cs, b: _greedy(cs, b, key=lambda c: -_saved(c) / c["size_bytes"],
                                             fits=lambda size, left: size < left),
    "returns a string": lambda cs, b: ",".join(reference(cs, b)),
}


def test_grader_accepts_the_rule_and_the_exact_optimum() -> None:
    context = {"candidates": [{"name": "sessions", "uses": 3, "compute_s": 4.0, "read_s": 1.2, "size_bytes": 1_746_961},
                              {"name": "hog", "uses": 1, "compute_s": 14.7, "read_s": 0.0, "size_bytes": 942_669_824}],
               "budget_bytes": 4_340_000}
    result = check("spark.choose_caches", reference, context=context, show=False)
    assert result.passed, result.message
    assert "sessions" in result.message
    exact = check("spark.choose_caches", lambda cs, b: caching.best_caches(cs, b), context=context, show=False)
    assert exact.passed, exact.message


@pytest.mark.parametrize("rule", sorted(WRONG_RULES))
def test_grader_rejects_wrong_rules(rule: str) -> None:
    result = check("spark.choose_caches", WRONG_RULES[rule], show=False)
    assert not result.passed and result.attempted, rule


def test_every_wrong_rule_is_caught_by_a_hidden_case() -> None:
    from platform_kit.grading.exercises.spark_caching import check_choice

    for rule, func in WRONG_RULES.items():
        caught = []
        for label, rows, budget in hidden_cases():
            try:
                check_choice(func([dict(r) for r in rows], budget), rows, budget, label)
            except AssertionError:
                caught.append(label)
        assert caught, f"no hidden case catches: {rule}"


def test_grader_checks_the_notebook_table_and_treats_stubs_as_not_attempted() -> None:
    context = {"candidates": [{"name": "a", "uses": 2, "compute_s": 1.0, "read_s": 0.0, "size_bytes": 10},
                              {"name": "b", "uses": 2, "compute_s": 1.0, "read_s": 0.0, "size_bytes": 10}],
               "budget_bytes": 15}
    both = check("spark.choose_caches", lambda cs, b: reference(cs, b) if len(cs) != 2 or cs[0]["name"] != "a"
                 else ["a", "b"], context=context, show=False)
    assert not both.passed and "budget" in both.message

    def stub(candidates: list[dict[str, Any]], budget_bytes: int) -> list[str]:
        raise NotImplementedError

    result = check("spark.choose_caches", stub, context=context, show=False)
    assert not result.passed and not result.attempted


# --- engine tier: the intermediate and storage levels on a local session ----------------------------


@pytest.fixture(scope="module")
def local_spark() -> Any:
    import platform_kit

    return platform_kit.connect().spark


def test_sessionised_clicks_and_levels(local_spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    from platform_kit.spark import prepare_lab_data

    data = prepare_lab_data("tiny", 7, copies=1, root=tmp_path_factory.mktemp("lab3cache"))
    frame = caching.sessionised_clicks(local_spark, data)
    rows = frame.where("session_id = (SELECT min(session_id) FROM parquet.`%s`)" % data.path("clickstream")).orderBy(
        "step").collect()
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["gap_s"] is None and all(r["gap_s"] >= 0 for r in rows[1:])
    results = [use(frame) for use in caching.downstream_uses()]
    assert sum(r["events"] for r in results[0]) == data.rows["clickstream"]
    persisted = frame.persist(caching.storage_level("DISK_ONLY"))
    try:
        assert persisted.storageLevel.useDisk and not persisted.storageLevel.useMemory
        assert persisted.count() == data.rows["clickstream"]
    finally:
        persisted.unpersist(blocking=True)
    deser = caching.storage_level("MEMORY_ONLY_DESER")
    assert deser.deserialized and deser.useMemory and caching.storage_level("none") is None
