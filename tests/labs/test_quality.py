"""Lab 04 (data quality): the solution's key results hold on real engines (Great Expectations on
pandas and Spark, scipy, sqlglot); the learner copy runs to the end with every check failing."""

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
SOLUTION = REPO / "solutions" / "04_quality.ipynb"
LEARNER = REPO / "labs" / "04_quality.ipynb"
EXERCISES = {
    "quality.alert_thresholds",
    "quality.contract_suite",
    "quality.drift_detector",
    "quality.edge_case_generator",
    "quality.feature_lineage",
    "quality.gate",
    "quality.operating_point",
    "quality.sla_contract",
}

# Key results per section, evaluated in the executed solution's kernel.
KEY_RESULTS = [
    "all(r.success and r.failed == 0 for r in s1_reports)",
    "[r.contract for r in s1_reports] == ['orders_raw', 'orders_staged', 'customer_features']",
    "s1_spark_report.engine == 'spark' and s1_spark_report.success and s1_same",
    "s1_spark_report.rows == len(s1_staged) and s1_spark_report.evaluated == s1_reports[1].evaluated",
    "not s1_bad_raw.success and s1_bad_raw.failed == len(s1_breaks)",
    "{('expect_column_values_to_not_be_null', 'customer_id'), ('expect_column_values_to_be_between', 'total_amount'), ('expect_column_values_to_be_in_set', 'status'), ('expect_column_values_to_be_unique', 'order_id'), ('expect_column_values_to_match_regex', 'currency')} == set(s1_bad_raw.failed_expectations)",
    "s1_bad_staged.failed_expectations == [('expect_column_values_to_be_in_set', 'status')]",
    "len(s1_bad_staged_df) == len(s1_raw) - 3",
    "s1_docs.is_file() and s1_docs.name == 'index.html'",
    "len(s1_history) >= 6 and list(s1_history['success'].tail(3)) == [False, False, True]",
    "not s2_reports['clean'].drifted",
    "bool(s2_fired['hit'].all())",
    "set(s2_reports['shuffle_column'].fired) >= {'total_amount', 'currency'}",
    "s2_reports['truncate_decimals'].fired == {'total_amount': ['decimals']}",
    "s2_compare.loc['package (all tests + pairs)', 'recall'] >= 0.9",
    "s2_compare.loc['package (all tests + pairs)', 'fp'] == 0",
    "s2_compare.loc['no pair checks', 'shuffle_column'] == 0",
    "s2_compare.loc['KS only, p < 0.05', 'recall'] <= 0.5",
    "s2_compare.loc['p < 0.05, no effect sizes', 'fp'] >= 3",
    "len(s2_suite) == 40",
    "s3_graph.features == set(kl.examples.FEATURE_LINEAGE)",
    "len(s3_tables['customer_features']) == len(company['customers'])",
    "s3_unexplained == 0 and s3_moves >= 10 and s3_filter_moves >= 5",
    "s3_impact.set_index('field').loc['payments.amount', 'changed'] == ('avg_order_value', 'spend_share_of_segment', 'total_spend')",
    "s3_impact.set_index('field').loc['orders.order_id', 'not_changed'] == ('order_count',)",
    "s3_added >= len(kl.examples.LANDING['columns'])",
    "s3_graph.upstream('customer_features.total_spend') == {'shop.public.payments.amount_cents'}",
    "s3_items == ['order_items.quantity', 'orders.order_id'] and 'orders.status' in s3_items_rows",
    "s4_match.recall == 1.0",
    "len(s4_log.firings) > len(s4_log) >= len(s4_match.incidents)",
    "s4_log.alerts_per_week < 2.5",
    "len(s4_baselines['seasonal']) == 0 and len(s4_naive) >= 20",
    "s4_weekend > 0.5",
    "s4_check.passed",
    "set(s4_match.false_alerts['cause']) <= {'holiday', 'minor_delay', 'null_blip', 'none'}",
    "s5_verdicts['orders_staged'].passed and s5_verdicts['orders_staged_v2'].passed",
    "not s5_broken.passed and [(o.expectation, o.column) for o in s5_broken.blocking] == [('expect_column_values_to_be_unique', 'order_id')]",
    "s5_broken.report.rows - s5_fixed.report.rows == s5_extra_attempts >= s5_retried > 0",
    "s5_cli.returncode == 1 and 'FAIL gate orders_staged_v2_broken' in s5_cli_out",
    "'1 of 2 gate(s) passed' in s5_cli_out",
    "s5_comment.read_text().startswith('### \u274c Quality gate `orders_staged_v2_broken` failed')",
    "s5_assert_message is not None and s5_assert_message.startswith('gate orders_staged_v2_broken FAIL')",
    "s6_check.passed",
    "bool(s6_at['meets']) and s6_at['alerts_per_week'] <= s6_budget",
    "s6_naive['alerts_per_week'] > 3 * s6_budget and s6_naive['threshold'] != s6_at['threshold']",
    "s6_at['recall'] > s6_quiet['recall']",
    "bool(s6_at_held['meets']) and s6_at_held['recall'] > s6_at['recall']",
    "s6_sweep['firings'].is_monotonic_decreasing and s6_held['firings'].is_monotonic_decreasing",
    "s6_operating_point(s6_sweep, s6_budget) == s6_at['threshold']",
    "s6_operating_point(s6_sweep, 0.01) is None",
    "s7_doc_path.is_file() and s7_doc.count('\\n## ') == 3 and 'Escalation' in s7_doc",
    "s7_audit['orders_raw'] == [] and any(p.startswith('sla.validity') for p in s7_audit['customer_features'])",
    "len(s7_table) == 9 and set(s7_table['status']) <= {'met', 'breached', 'no target', 'not measured'}",
    "s7_table.set_index(['contract', 'metric']).loc[('orders_raw', 'validity'), 'status'] == 'breached'",
    "s7_table.set_index(['contract', 'metric']).loc[('orders_staged', 'completeness'), 'status'] == 'breached'",
    "s7_table.set_index(['contract', 'metric']).loc[('customer_features', 'validity'), 'status'] == 'no target'",
    "(s7_table[s7_table['metric'] == 'freshness']['status'] == 'met').all()",
    "0.9 < s7_profile['cadence_hours'] < 1.1 and s7_profile['worst_lag_hours'] < 1.5",
    "0.99 < s7_payments_valid < 1 and s7_bad_rows > 0",
    "len(s8_rejects) == int(s8_fixed['dropped'].fillna(0).sum()) > 0",
    "(s8_rejects.loc[s8_rejects['batch'] == 'drift_amount_as_text', 'reason'] == 'total_amount missing or unparseable').all()",
    "list(s8_fixed['batch']) == list(kq.edge_cases.EDGE_KINDS)",
    "set(s8_crashed) == {'drift_missing_column', 'drift_renamed_column'}",
    "{'unicode', 'extremes', 'drift_amount_as_text'} <= set(s8_broken)",
    "s8_out.loc['drift_amount_as_text', 'rows_out'] == 0",
    "s8_out.loc['clean', 'outcome'] == 'ok' and s8_out.loc['clean', 'rows_out'] == 40",
    "set(s8_ba.index[s8_ba['exposed'].notna()]) == {'tz_aware', 'tz_mixed'}",
    "(s8_ba.loc[['tz_aware', 'tz_mixed'], 'fixed'] == 'ok').all()",
    "(s8_zoned['buggy'] == 'crashed').sum() >= 5 and (s8_zoned['fixed'] == 'crashed').sum() == 0",
    "(s8_hypo['edge values everywhere']['fixed'] == 'crashed').sum() == 0",
]


solution = solution_fixture(SOLUTION)


@pytest.mark.parametrize("expression", KEY_RESULTS)
def test_quality_solution_key_result(solution, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert_key_result(solution, expression)


def test_quality_solution_passes_all_eight_checks(solution) -> None:  # type: ignore[no-untyped-def]
    assert_every_check_passed(solution[1], EXERCISES)


def test_quality_learner_copy_runs_with_every_check_failing(tmp_path: Path) -> None:
    assert_learner_checks_not_attempted(LEARNER, tmp_path / "learner.jsonl", EXERCISES)
