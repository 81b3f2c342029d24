"""Lab 3 sections 1 and 5 on the embedded standalone cluster: layouts as applications, storage state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from platform_kit import Workbench
from platform_kit import spark as ks
from platform_kit.errors import InputError
from platform_kit.spark import caching, layouts
from platform_kit.spark.monitor import JobMetrics


@pytest.fixture(scope="module")
def lab(embedded: Workbench) -> Iterator[tuple[Workbench, Any]]:
    data = ks.prepare_lab_data("tiny", 42, copies=4)
    yield embedded, data
    from platform_kit.services.spark import SparkBackend

    if SparkBackend._session is not None:
        SparkBackend._session.stop()
        SparkBackend._session = None


def test_a_layout_is_an_application_and_hands_over_a_session(lab: tuple[Workbench, Any]) -> None:
    workbench, data = lab
    shape = layouts.ClusterShape.from_workbench(workbench)
    # A generous stand-in for the default's measurement: this test checks the machinery, not timings.
    baseline = layouts.LayoutResult(layouts.DEFAULT_LAYOUT, "cluster", None,
                                    (layouts.LayoutRun(JobMetrics("default", 100.0), time.time(), 400.0, 2, 4),), (), 2)
    trial = layouts.LayoutTrial(workbench, layouts.layout_job(data), baseline, shape=shape, runs=2)
    with pytest.raises(InputError, match="largest worker"):
        trial.run(layouts.ExecutorLayout(name="too-big", executor_cores=8))  # rejected before any start
    verdict = trial.run(layouts.ExecutorLayout(name="right-sized", executor_cores=1, executor_memory="1g", cores_max=2))
    result = trial.result
    assert result is not None and result.mode == "cluster" and result.app_start_s, result
    assert result.steady.cores == 2 and len(result.spans) == 2 and result.steady_core_s > 0
    assert result.first_s > 0 and result.steady.metrics.stages and result.steady.metrics.result
    assert verdict.passed and result.row()["utilisation"] > 0
    spark, target = trial.handoff()
    assert trial.kept and target.on_cluster and spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.range(10).count() == 10


def test_storage_levels_and_state_on_the_cluster(lab: tuple[Workbench, Any]) -> None:
    workbench, data = lab
    spark = workbench.spark  # the session the previous test handed over (or a fresh default one)
    if not spark.sparkContext.uiWebUrl:
        spark, _ = ks.cluster_session(workbench)
    results = caching.measure_levels(spark, lambda: caching.sessionised_clicks(spark, data),
                                     caching.downstream_uses()[:2], ("NONE", "MEMORY_ONLY", "DISK_ONLY"))
    by = {r.level: r for r in results}
    assert by["NONE"].cached == () and by["MEMORY_ONLY"].memory_bytes > 0 and by["DISK_ONLY"].disk_bytes > 0
    assert by["MEMORY_ONLY"].fraction_cached == 1.0
    assert caching.storage_state(spark).rdds == ()  # every level was unpersisted
    candidate = caching.measure_candidate(spark, "clicks", data.read(spark, "clickstream"), uses=3)
    assert candidate.size_bytes > 1 and candidate.fill_s is not None
