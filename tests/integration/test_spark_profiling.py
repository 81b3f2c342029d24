"""Sections 7-8 on the standalone cluster: the event log agrees with the REST API, a Python UDF is named."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from platform_kit import Workbench
from platform_kit import spark as ks
from platform_kit.spark import compat, eventlog, profiling


@pytest.mark.timeout(300)
def test_cluster_job_log_matches_rest_and_a_python_udf_is_named(embedded: Workbench) -> None:
    spark, target = ks.cluster_session(embedded, app_name="test-profiling")
    if not target.on_cluster:
        pytest.skip(f"no standalone cluster here: {target.reason}")
    reverse = F.udf(lambda s: (s or "")[::-1], "string", useArrow=False)
    frame = spark.range(0, 40_000, numPartitions=4).select(F.col("id").cast("string").alias("s"))
    measured = ks.measure(spark, lambda: frame.select(reverse("s").alias("r")).groupBy(F.length("r")).count().collect(),
                          "it-udf")
    log = eventlog.wait_for_groups(spark, ["it-udf"], timeout=30)
    stages = log.for_group("it-udf").stages
    agreement = eventlog.compare_with_rest(stages, measured)
    assert agreement["agree"].all(), agreement[~agreement["agree"]].to_string()
    assert "BatchEvalPython" in " ".join(stages["operators"])
    assert profiling.name_bottleneck(stages) == "python_udf"
    env = compat.installed_environment(spark)
    assert env.spark_jvm == spark.version and compat.find_conflicts(env) == set()
