"""Lab 03 (Spark): the solution's key results hold on the standalone cluster; the learner copy
runs to the end with every exercise a stub and every check failing, on the local[*] fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.labs._learner import (
    assert_every_check_passed,
    assert_key_result,
    assert_learner_checks_not_attempted,
    solution_fixture,
)

pytest.importorskip("testbook")

pytestmark = pytest.mark.notebook
REPO = Path(__file__).resolve().parents[2]
SOLUTION = REPO / "solutions" / "03_spark.ipynb"
LEARNER = REPO / "labs" / "03_spark.ipynb"
EXERCISES = {"spark.beat_default_layout", "spark.choose_caches", "spark.find_conflict", "spark.join_strategy", "spark.name_bottleneck", "spark.pushdown_rewrite", "spark.rdd_to_dataframe", "spark.skew_join"}

# Key results per section, evaluated in the executed solution's kernel.
KEY_RESULTS = [
    "s1_check.passed and s1_trial.kept",
    "target.on_cluster and spark.conf.get('spark.sql.shuffle.partitions') == '4'",
    "s1_trial.result.steady.cores < s1_default.steady.cores",
    "s1_trial.result.steady_core_s < 0.75 * s1_default.steady_core_s",
    "s1_default.first_s > s1_default.steady_s",
    "s1_dynamic is not None and s1_dynamic.executors_at_start == 1 and s1_dynamic.max_executors >= 2",
    "set(s2_resellers) <= set(s2_data.hot_keys)",
    "s2_data.max_over_median > 50 * s2_lab.max_over_median",
    "s2_table.loc['before', 'max_task_share'] > 0.6",
    "s2_table.loc['salted x32', 'max_task_records'] < 0.5 * s2_table.loc['before', 'max_task_records']",
    "s2_table.loc['repartition(16, key)', 'max_task_records'] > 0.9 * s2_table.loc['before', 'max_task_records']",
    "s2_aqe_split and s2_same_rows",
    "s2_projection.loc[16, 'salted x32'] < 0.8 * s2_projection.loc[16, 'before']",
    "bool((s3_table['pushes'] == (s3_table['expected'] == 'pushes')).all())",
    "s3_table['result_rows'].nunique() == 1",
    "s3_reports['range on event_ts'].rows_scanned * 3 < s3_reports['cast to string'].rows_scanned",
    "s3_reports['range on event_ts'].input_bytes * 2 < s3_reports['cast to string'].input_bytes",
    "s3_reports['range on event_ts'].files_read == s3_reports['cast to string'].files_read == 8",
    "len(s3_reports['range, select *'].scans[0].columns) > len(s3_reports['range on event_ts'].scans[0].columns)",
    "s3_reports['range, select *'].input_bytes > s3_reports['range on event_ts'].input_bytes",
    "s3_slow.rows_scanned == s3_table['rows_scanned'].max() and 0 < s3_max_bytes < s3_slow.input_bytes",
    "all(ks.apis.same_results(s4_cmp.results).values()) and len(s4_cmp.results['DataFrame']) > 100",
    "s4_plans.same_result and s4_plans.same_text",
    "'PythonRDD' in s4_lineage and 'ShuffledRDD' in s4_lineage",
    "s4_python['DataFrame'] == [] and s4_python['Spark SQL'] == [] and s4_python['Python UDF (row at a time)'] != []",
    "len(s4_violations) == 2 and list(s4_typed.columns) == ['event_type', 'customer_id', 'events', 'with_product']",
    "len(s4_rdd_rows) > 0 and all(a[2] >= b[2] for a, b in zip(s4_rdd_rows, s4_rdd_rows[1:]))",
    "s5_check.passed",
    "s5_by['MEMORY_ONLY'].memory_bytes > 0 and s5_by['MEMORY_ONLY'].disk_bytes == 0",
    "s5_by['DISK_ONLY'].disk_bytes > 0 and s5_by['DISK_ONLY'].memory_bytes == 0",
    "s5_by['MEMORY_ONLY'].fraction_cached == 1.0",
    "s5_pressure.hog_fraction < 1.0",
    "s5_pressure.victim_fraction[0] == 1.0 and s5_pressure.victim_fraction[1] < 1.0",
    "s5_pressure.returned_bytes > 0.5 * s5_pressure.snapshots[1].memory_used",
    "'hog' not in s5_decision and s5_mem.reuse_s < s5_none.reuse_s",
    "s6_plans.loc['Spark decides (threshold 10 MB)', 'strategy'] == 'broadcast_hash'",
    "s6_plans.loc['threshold -1', 'strategy'] == 'sort_merge'",
    "s6_plans.loc['threshold -1 + F.broadcast(business)', 'strategy'] == 'broadcast_hash'",
    "s6_plans.loc['threshold -1 + SQL /*+ BROADCAST(b) */', 'strategy'] == 'broadcast_hash'",
    "s6_plans.loc['threshold 10 MB + SQL /*+ MERGE(b) */', 'strategy'] == 'sort_merge'",
    "s6_plans.loc['F.broadcast(clickstream): the wrong side', 'broadcast side'] == 'left'",
    "s6_plans.loc['left join + F.broadcast(clickstream)', 'broadcast side'] == 'right'",
    "s6_measured.loc['broadcast hash join', 'join'] == 'broadcast_hash' and s6_measured.loc['sort-merge join', 'join'] == 'sort_merge'",
    "s6_bhj.shuffle_bytes * 10 < s6_smj.shuffle_bytes",
    "s6_aqe_initial.strategy == 'sort_merge' and s6_aqe_final.strategy == 'broadcast_hash'",
    "s6_aqe.shuffle_bytes > 0.5 * s6_smj.shuffle_bytes",
    "sorted(s6_bhj.result) == sorted(s6_smj.result) == sorted(s6_aqe.result) == sorted(s6_big.result)",
    "s6_cost.loc['clickstream (wrong side)', 'rows'] > 1000 * s6_cost.loc['business customers', 'rows']",
    "s6_fail.failure is not None and s6_fail.failure.kind == 'size_limit'",
    "s7_named == {'python_udf': 'python_udf', 'gc_pressure': 'gc_pressure', 'wide_shuffle': 'wide_shuffle'}",
    "s7_agreement['agree'].mean() >= 0.9 and len(s7_agreement) >= 3 * len(ks.eventlog.COMPARED)",
    "s7_log.report.bad_lines == 0 and not s7_log.report.malformed",
    "'BatchEvalPython' in ' '.join(s7_tables['python_udf']['operators'])",
    "s7_tables['python_udf']['python_ms'].sum() > max(0.2 * s7_tables['python_udf']['executor_run_ms'].sum(), s7_tables['python_udf']['gc_ms'].sum())",
    "s7_tables['wide_shuffle']['shuffle_write_bytes'].sum() > 100 * s7_tables['python_udf']['shuffle_write_bytes'].sum()",
    "len(s7_log.tasks) >= sum(int(t['num_tasks'].sum()) for t in s7_tables.values())",
    "set(s8_report['status']) == {'ok'} and {'spark', 'scala', 'java', 'python', 'hadoop'} <= set(s8_report['component'])",
    "s8_env.spark == spark.version and s8_env.scala.startswith('2.13')",
    "s8_conflicts['emr-like'] == {'hadoop-aws', 'iceberg-spark-runtime'}",
    "s8_conflicts['laptop-upgrade'] >= {'java', 'python', 'delta-spark', 'aws-java-sdk-bundle'}",
    "s8_find_conflicts(s8_examples['databricks-like'], ks.compat.load_table()) == s8_conflicts['databricks-like']",
]


solution = solution_fixture(SOLUTION)


def test_spark_solution_ran_on_the_standalone_cluster(solution) -> None:  # type: ignore[no-untyped-def]
    tb, _ = solution
    assert tb.value("target.on_cluster and target.master.startswith('spark://')") is True
    assert tb.value("target.executors") >= 1


@pytest.mark.parametrize("expression", KEY_RESULTS)
def test_spark_solution_key_result(solution, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert_key_result(solution, expression)


def test_spark_solution_passes_all_eight_checks(solution) -> None:  # type: ignore[no-untyped-def]
    assert_every_check_passed(solution[1], EXERCISES)


# The learner copy runs against a cluster that does not answer: the lab must fall back to local[*],
# say so, and still run every cell (and it skips the cluster's application start-ups).
NO_CLUSTER = {"WORKBENCH__SPARK_CLUSTER__TYPE": "external", "WORKBENCH__SPARK_CLUSTER__MASTER_URL": "spark://127.0.0.1:9",
              "WORKBENCH__SPARK_CLUSTER__UI_URL": "http://127.0.0.1:9"}


def test_spark_learner_copy_falls_back_to_local_and_every_check_fails(tmp_path: Path) -> None:
    assert_learner_checks_not_attempted(
        LEARNER, tmp_path / "learner.jsonl", EXERCISES, env=NO_CLUSTER,
        probes=["not target.on_cluster and 'fell back to local[*]' in target.reason and '127.0.0.1:9' in target.reason"])
