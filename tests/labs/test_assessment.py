"""Lab 01 (assessment): the solution's key results hold on real engines; the learner copy
runs to the end with every exercise a stub and every check failing."""

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
SOLUTION = REPO / "solutions" / "01_assessment.ipynb"
LEARNER = REPO / "labs" / "01_assessment.ipynb"
EXERCISES = {
    "assessment.sla_verdict", "assessment.lake_option", "assessment.format_choice", "assessment.min_link",
    "assessment.layout_choice", "assessment.archive_breakeven", "assessment.harvest_source",
    "assessment.baseline_regressions",
}

# Key results per section, evaluated in the executed solution's kernel.
KEY_RESULTS = [
    "sla_report['verdict'].isin(['pass', 'fail']).all()",
    "set(sla_report['use_case']) == {'fraud_scoring', 'recommendations_refresh', 'nightly_training'}",
    "sla_run.records_out == sla_records and len(sla_run.dead_letters) == len(sla.SAMPLE_BAD_EVENTS)",
    "sla_run.records_in == sla_run.records_out + len(sla_run.dead_letters)",
    "pk.olap.query_value(f'SELECT count() FROM {sla_run.table}') == sla_run.records_out",
    "(sla_run.topic, sla_run.table, sla_run.job_name) == ('lab01.orders', 'lab01_orders_enriched', 'lab01.enrich_orders')",
    "0 < sla_run.measurements()['end_to_end_p50_ms'] <= sla_run.measurements()['end_to_end_p99_ms']",
    "sla_run.column_lineage['amount_usd'] == ['orders.total_amount', 'orders.currency']",
    "sla_verdicts(sla_run.latencies('end_to_end'), sla_fraud_default)['verdict'] == sla_report.set_index(['use_case', 'metric']).loc[('fraud_scoring', 'end_to_end_p99_ms'), 'verdict']",
    "set(lake_costs['option']) == {'on-prem', 'hybrid', 'cloud-single', 'cloud-multi'}",
    "(lake_sizing['bytes_per_row'] > 0).all() and len(lake_sizing) == len(company)",
    "lake_best is not None and bool(lake_sovereignty.set_index('option').loc[lake_best, 'compliant'])",
    "lake_best == lake.recommend_option(lake_costs, lake_verdicts)",
    "not lake_sovereignty.set_index('option').loc['cloud-single', 'compliant']",
    "lake_sensitivity.groupby('option')['total_usd'].apply(lambda s: s.is_monotonic_increasing).all()",
    "choose_option(lake_costs, lake_verdicts, lake_capex_budget) == lake.recommend_option(lake_costs, lake_verdicts, lake_capex_budget)",
    "set(fmt_results['format']) == {'parquet', 'orc', 'avro'} and (fmt_results['status'] == 'ok').all()",
    "fmt_results['rows_matched'].nunique() == 1 and 0 < int(fmt_results['rows_matched'].iloc[0]) < fmt_rows",
    "(fmt_ok.loc['parquet', 'units_read'] < fmt_ok.loc['parquet', 'units_total']).all()",
    "(fmt_ok.loc[('parquet', 'zstd'), 'file_bytes'] < fmt_ok.loc[('parquet', 'none'), 'file_bytes'])",
    "fmt_safe == {'avro': True, 'orc': False, 'parquet': False}",
    "fmt_matrix.loc[('parquet', 'spark (mergeSchema)'), 'widen_int'].startswith('breaks')",
    "(fmt_parity['rows_matched'] == fmt_results['rows_matched'].iloc[0]).all()",
    "fmt_kit.choose_format(fmt_choice_table, 'streaming_append_with_evolution')[0] == 'avro'",
    "net_csv_ratio > 2 and net_parquet_ratio < net_csv_ratio / 1.5",
    "net_zstd_parquet_ratio < net_parquet_ratio",
    "set(net_compression['format']) == {'csv', 'parquet-snappy', 'parquet-zstd'}",
    "net_grid.groupby(['rtt_ms', 'streams'])['full_copy_days'].apply(lambda s: s.is_monotonic_decreasing).all()",
    "net_far.loc[100, 'bottleneck'] == 'window'",
    "min_link(**net_scenario) == network.min_link_gbps(**net_scenario)",
    "net_appliance['days_min'] <= net_appliance['days_max']",
    "len(layout_scans) == len(layout_written) * 5",
    "layout_scans.set_index(['layout', 'query']).loc[('by_date', 'one_day'), 'partitions_read'] == 1",
    "layout_scans.set_index(['layout', 'query']).loc[('bucketed_customer', 'point_lookup'), 'buckets_read'] == 1",
    "layout_joins['bucketed_customer'] == 0 and layout_joins['none'] > 0",
    "layout_bytes[('by_date', 'one_day')] < layout_bytes[('none', 'one_day')]",
    "layout_penalty.loc['over_partitioned', 'files'] > 20 * layout_penalty.loc['none', 'files']",
    "layout_kit.choose_layout(layout_scans, layout_lookup_mix) != layout_kit.choose_layout(layout_scans, layout_day_mix)",
    "sorted(archive_costs['year'].unique()) == list(range(1, archive_workload.years + 1))",
    "archive.breakeven_year(archive_costs, 'object-standard', 'dfs-rs-6-3') == archive_be['dfs-rs-6-3']",
    "archive_final['dfs-rep3'] > archive_final['dfs-rs-6-3']",
    "set(archive_latency['backend']) == {'S3 store', 'local files'} and (archive_latency['p50_ms'] > 0).all()",
    "all(breakeven(archive_costs, a, b) == archive.breakeven_year(archive_costs, a, b) for a in archive_final.index for b in archive_final.index if a != b)",
    "set(catalog_db.datasets()['source']) >= {'parquet', 'spark', 'clickhouse', 'postgres'}",
    "all(r.ok for r in catalog_results)",
    "catalog_parquet.bytes_read < catalog_parquet.bytes_total",
    "any('broken.parquet' in w for r in catalog_results for w in r.warnings)",
    "catalog_db.dataset(catalog_ids['orders']).row_count == len(company['orders'])",
    "catalog_db.dataset('spark://default.lab01_customers').partition_columns == ('segment',)",
    "catalog_datasets.set_index('name').loc['lab01_customers_pg', 'row_count'] == len(company['customers'])",
    "catalog_db.dataset('clickhouse://default.lab01_orders_enriched').row_count > 0",
    "{'email', 'full_name'} <= set(catalog_pii['column'])",
    "int(catalog_trace['depth'].max()) >= 2 and catalog_origins['input_dataset'].str.startswith('parquet://').all()",
    "{'START', 'COMPLETE'} <= {e['eventType'] for e in catalog_runs[-1].events}",
    "catalog_check.passed",
    "catalog_csv_results[0].ok and catalog_csv_results[0].datasets == 2",
    "baseline_candidate.version == baseline_reference.version + 1",
    "baseline_path.name == f'{baseline_name}-v{baseline_reference.version}.json'",
    "set(baseline_report['layer']) == {'ingestion', 'transformation', 'serving'}",
    "baseline_report['regression'].dtype == bool and baseline_report['status'].isin(['regression', 'improved', 'within tolerance']).all()",
    "baseline_regressed == flag_regressions(baseline_candidate.values(), baseline_reference.values(), baseline_reference.directions(), baseline_tolerance_pct)",
    "baseline_reference.metrics['produce_rps'].direction == 'higher_is_better' and baseline_reference.metrics['transport_p99_ms'].direction == 'lower_is_better'",
    "baseline_candidate_run.records_out == sla_records",
]


solution = solution_fixture(SOLUTION)


@pytest.mark.parametrize("expression", KEY_RESULTS)
def test_assessment_solution_key_result(solution, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert_key_result(solution, expression)


def test_assessment_solution_passes_all_eight_checks(solution) -> None:  # type: ignore[no-untyped-def]
    assert_every_check_passed(solution[1], EXERCISES)


def test_assessment_learner_copy_runs_with_every_check_failing(tmp_path: Path) -> None:
    assert_learner_checks_not_attempted(LEARNER, tmp_path / "learner.jsonl", EXERCISES)
