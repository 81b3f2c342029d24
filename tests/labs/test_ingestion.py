"""Lab 02 (ingestion): the solution's key results hold on real engines; the learner copy
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
SOLUTION = REPO / "solutions" / "02_ingestion.ipynb"
LEARNER = REPO / "labs" / "02_ingestion.ipynb"
EXERCISES = {
    "ingestion.durable_settings", "ingestion.idempotent_handler", "ingestion.schema_evolution",
    "ingestion.sla_interval", "ingestion.cdc_apply_changes", "ingestion.classify_failure",
    "ingestion.partitions_for_target", "ingestion.masking_policy",
}

# Key results per section, evaluated in the executed solution's kernel.
KEY_RESULTS = [
    "s1_safe['lost'] == 0 and s1_safe['duplicates'] == 0 and s1_safe['failed'] == 0",
    "s1_safe['acknowledged'] == s1_safe['produced'] == s1_safe['unique_read'] == 3000",
    "s1_crash_all['unique_read'] + s1_crash_all['lost'] == s1_crash_all['acknowledged']",
    "s1_unsafe['acks'] == '0' and s1_unsafe['read'] + s1_unsafe['lost'] == s1_unsafe['produced']",
    "s1_report[s1_report['topic'] != 'rf3probe']['matches'].all()",
    "pk.profile != 'embedded' or s1_rf3_distinct == 1",
    "set(s1_front['label']) >= {'RF3/isr2/acks=all'}",
    "s1_cost[3] > s1_cost[2] > s1_cost[1]",
    "(choose_settings(s1_scenario) is None) == (s1_best is None)",
    "s2_report['lost'] == 0 and s2_report['duplicated'] == 0 and s2_report['unexpected'] == 0",
    "s2_report['rows'] == s2_stream.distinct == len(set(s2_stream.ids))",
    "s2_drill.kills >= 3 and s2_drill.final['finished']",
    "s2_stream.duplicates > 0",
    "s2_results['naive commit-first']['lost'] > 0",
    "s2_results['naive write-first']['duplicated'] > 0",
    "s2_results['naive write-first']['lost'] == 0",
    "s3_v1.lost == 0 and s3_v2.lost == 0 and s3_old.lost == 0 and s3_new.lost == 0",
    "s3_v1.dead_letters == {'schema_violation': len(s3_bad)}",
    "s3_v1.delivered == s3_half and s3_v2.delivered == len(s3_orders) - s3_half + len(s3_malformed)",
    "set(s3_old.schema_ids) == set(s3_new.schema_ids) == {s3_id_v1, s3_id_v2} and s3_versions == [1, 2]",
    "len(s3_old.values) == len(s3_new.values) == len(s3_orders) + 1",
    "all('coupon_code' not in v for v in s3_old.values) and len(s3_flipped) == 1",
    "sum(v['coupon_code'] is not None for v in s3_new.values) == sum(o['coupon_code'] is not None for o in s3_v2_orders)",
    "dict(s3_new.dead_letters) == {'no_magic_byte': 2, 'unknown_schema_id': 1, 'corrupt_payload': 2}",
    "s3_agree == len(s3_candidates) and s3_refused is not None and s3_refused.http_status_code == 409",
    "s3_strict.delivered == 200 and s3_strict.dead_letters == {'broker_rejected': len(s3_strict_bad)}",
    "s3_ocf.delivered == 50 and s3_ocf.dead_letters == {'broker_rejected': 1}",
    "s3_sizes['Avro, Confluent wire format'] < s3_sizes['JSON (broker validates JSON Schema)'] < s3_sizes['Avro container file per record (tansu)']",
    "set(s4_table['trigger']) == {'record', 'size', 'interval'} | ({'spark'} if s4_spark_intervals else set())",
    "(s4_table['records'] == s4_events_n).all() and (s4_table['dead_letters'] == 0).all()",
    "pk.pg.query(f'SELECT count(*) FROM {s4_cmp.sink_table}')[0][0] == s4_events_n * len(s4_table)",
    "int(s4_table.set_index('mode').loc['per record', 'sink_calls']) == s4_events_n",
    "(s4_table['p50_ms'] <= s4_table['p99_ms']).all() and (s4_table['p50_ms'] > 0).all()",
    "s4_pick_interval(s4_table, s4_sla_ms) == streaming.choose_interval(s4_table, s4_sla_ms)",
    "s4_table.loc[s4_table['trigger'] == 'interval', 'p99_ms'].min() <= s4_sla_ms",
    "s4_result.passed",
    "s5_exit == -9 and s5_truth['lost'] == 0 and s5_truth['unexpected'] == 0",
    "s5_truth['keys_matching'] == s5_truth['keys'] and s5_truth['events'] == len(s5_source.truth)",
    "sum(s5_log.raw.values()) == s5_truth['events'] + s5_duplicates",
    "[(d.reason, d.stage.value) for d in s5_log.dead_letters] == [('truncated', 'decode')]",
    "all(r['in_sync'] for r in s5_reconciled.values())",
    "s5_captured.loc['deletes', 'polling'] == 0 and (s5_captured['log-based CDC'] == s5_captured['changes made']).all()",
    "s5_blind.loc[f\"updated 3x ({s5_spots['hot']})\", 'rows polling saw'] == 1",
    "s5_load.loc['polling', 'queries_per_min'] > 0 and s5_load.loc['log-based CDC', 'queries_per_min'] == 0",
    "len(s5_left) == 0 and s5_slots.set_index('slot_name')['unconfirmed_bytes'].filter(like='abandoned').iat[0] > 0",
    "s5_slots.set_index('slot_name').loc[s5_source.slot, 'unconfirmed_bytes'] < s5_abandoned",
    "cdc.reconcile(s5_apply_changes(s5_snapshot['orders'], s5_log.events['orders'], 'order_id'), s5_source_orders)['in_sync']",
    "s6_invariant and bool(s6_recon['ok'].all())",
    "len(s6_corpus.BAD_KINDS) >= 10 and s6_bad >= 2 * 10",
    "s6_run.records == len(s6_records)",
    "s6_run.inserted + s6_run.duplicates + s6_run.dead_lettered == s6_run.records",
    "s6_run.dead_letters['conflicting_duplicate'] == 2 and s6_run.dead_letters['sink_rejected'] == 2",
    "s6_rerun.inserted == 2 and s6_rerun.dead_letters['unknown_enum'] == 2",
    "{'dlq_rate_high', 'consumer_lag', 'throughput_drop'} <= set(s6_fired['rule'])",
    "int(s6_metrics['lag'].iloc[-1]) == 0",
    "len(s7_grid) == 12 and (s7_grid['records'] == s7_records).all()",
    "len(set(s7_pool_pids)) == 4",
    "s7_grid.set_index(['partitions', 'consumers']).loc[(1, 4), 'active_consumers'] == 1",
    "s7_one[(4, 4)] > 1.8 * s7_one[(1, 4)]",
    "s7_one[(1, 4)] < 1.5 * s7_one[(1, 1)]",
    "s7_hot['skew'] > 1.8 and s7_hot['throughput'] < s7_spread['throughput']",
    "s7_need == partitions_for(s7_target_rate, s7_rate, s7_headroom)",
    "0 < s7_rate <= 1000 / s7_cost_ms * 1.05",
    "bool(s8_join['equal'].all()) and int(s8_join['rows_tokenised'].sum()) == len(company['orders'])",
    "s8_detok.tolist() == s8_sample['national_id'].tolist()",
    "isinstance(s8_denied, pii.AccessDeniedError)",
    "s8_audit['allowed'].tolist() == [False, True]",
    "s8_emails_v1.str.startswith('tok_v1_').all() and s8_emails_v2.str.startswith('tok_v2_').all()",
    "set(s8_found['kind']) >= {'email', 'phone', 'name'}",
    "s8_card['recall'].tolist() == [1.0, 1.0] and s8_card['false_positives'].iloc[1] < s8_card['false_positives'].iloc[0]",
    "set(s8_scan_draft['column']) == {'street_address'}",
    "s8_result.passed",
    "all(r['rows'] > 0 for r in s8_bench.values())",
]


solution = solution_fixture(SOLUTION)


@pytest.mark.parametrize("expression", KEY_RESULTS)
def test_ingestion_solution_key_result(solution, expression: str) -> None:  # type: ignore[no-untyped-def]
    assert_key_result(solution, expression)


def test_ingestion_solution_passes_all_eight_checks(solution) -> None:  # type: ignore[no-untyped-def]
    assert_every_check_passed(solution[1], EXERCISES)


def test_ingestion_learner_copy_runs_with_every_check_failing(tmp_path: Path) -> None:
    assert_learner_checks_not_attempted(LEARNER, tmp_path / "learner.jsonl", EXERCISES)
