"""Exercise of lab ``03_spark``, section 8 (version compatibility): find the conflicting components."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise
from platform_kit.spark.compat import check_environment, find_conflicts, load_table

LAB = "03_spark"

#: Hidden sets: each mixes compatible components with 0-2 conflicts of different kinds.
HIDDEN_SETS: dict[str, dict[str, Any]] = {
    "a clean Spark 3.5 lakehouse stack": {
        "spark": "3.5.1", "scala": "2.12.18", "java": "17.0.9", "python": "3.11.6", "hadoop": "3.3.4",
        "jars": ["hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.262.jar", "delta-spark_2.12-3.2.0.jar",
                 "iceberg-spark-runtime-3.5_2.12-1.6.1.jar", "spark-sql-kafka-0-10_2.12-3.5.1.jar"]},
    "a Spark 3.5 job with hand-picked connectors": {
        "spark": "3.5.1", "scala": "2.12.18", "java": "11.0.21", "python": "3.10.13", "hadoop": "3.3.4",
        "jars": ["spark-sql-kafka-0-10_2.12-3.5.0.jar", "iceberg-spark-runtime-3.5_2.13-1.5.0.jar"]},
    "a clean Spark 4.0 stack": {
        "spark": "4.0.1", "scala": "2.13.16", "java": "21.0.2", "python": "3.12.3", "hadoop": "3.4.1",
        "jars": ["hadoop-aws-3.4.1.jar", "bundle-2.24.6.jar", "delta-spark_2.13-4.0.0.jar",
                 "iceberg-spark-runtime-4.0_2.13-1.10.0.jar"]},
    "Spark 4.0 on an old image": {
        "spark": "4.0.0", "scala": "2.12.18", "java": "1.8.0_402", "python": "3.11.9", "hadoop": "3.4.1", "jars": []},
    "an EMR-style vendor Hadoop with a copied hadoop-aws": {
        "spark": "3.4.1", "scala": "2.12.17", "java": "17.0.10", "python": "3.9.18", "hadoop": "3.3.4",
        "jars": ["hadoop-aws-3.3.6.jar", "aws-java-sdk-bundle-1.12.367.jar", "delta-core_2.12-2.4.0.jar"]},
    "a Spark 3.3 notebook server": {
        "spark": "3.3.2", "scala": "2.12.15", "java": "11.0.20", "python": "3.6.15", "hadoop": "3.3.2",
        "jars": ["delta-spark_2.12-3.0.0.jar", "company-udfs-2.1.jar"]},
    "Spark 3.5 on a Hadoop 3.4 vendor build": {
        "spark": "3.5.0", "scala": "2.13.12", "java": "17.0.9", "python": "3.11.4", "hadoop": "3.4.0",
        "jars": ["hadoop-aws-3.4.0.jar", "aws-java-sdk-bundle-1.12.262.jar", "spark-sql-kafka-0-10_2.13-3.5.0.jar"]},
}


def _fixes(env: Mapping[str, Any], components: set[str]) -> str:
    report = check_environment(env)
    rows = report[report["component"].isin(components) & (report["status"] == "conflict")]
    return "; ".join(f"{r.component}: {r.fix}" for r in rows.itertuples(index=False))


def _compare(answer: Any, env: dict[str, Any], table: dict[str, Any], label: str) -> set[str]:
    expected = find_conflicts(env, table)
    pristine = copy.deepcopy(env)
    got = answer(env, table)
    if env != pristine:
        fail(f"your function changed the environment it was given (on {label})")
    if not isinstance(got, set | frozenset | list | tuple):
        fail(f"return a set of component names, got {type(got).__name__} (on {label})")
    got = {str(g) for g in got}
    if got == expected:
        return expected
    extra, missed = sorted(got - expected), sorted(expected - got)
    if extra:
        report = check_environment(env, table).set_index("component")
        why = [f"{c} is {report.loc[c, 'status'] if c in report.index else 'not a component here'}" for c in extra]
        fail(f"on {label} you flagged {extra}, which are not conflicts ({'; '.join(str(w) for w in why)}); "
             "remember: an unknown jar or a Python above the tested maximum is not a conflict, and a mismatch "
             "belongs to the component to change (the connector, the SDK), not to Spark")
    fail(f"on {label} you missed {missed}: {_fixes(env, set(missed))}")


@exercise(
    id="spark.find_conflict",
    lab=LAB,
    kind="function",
    title="find the conflicting components of a Spark environment",
    hint="line = major.minor of env['spark'], row = table['spark'][line]; flag 'scala' when scala_binary(scala) is "
    "not in row['scala'], 'java' when java_major(java) not in row['java'], 'python' below row['python']['min'], "
    "'hadoop' below row['hadoop_min']; for each parse_jar(j): a Scala suffix other than Spark's flags the jar; "
    "hadoop-aws must equal the hadoop version; an SDK jar must be table['sdk_by_hadoop_line'][hadoop line]; "
    "delta's line must map (table['delta']) to Spark's line; an iceberg runtime's spark_line must be Spark's; "
    "spark-sql-kafka-0-10 must be Spark's exact version",
)
def _grade_find_conflict(answer: Any, context: dict[str, Any]) -> str:
    table = load_table()
    sets: list[tuple[str, dict[str, Any]]] = []
    for name, env in ((context or {}).get("examples") or {}).items():
        if isinstance(env, Mapping):
            sets.append((f"the notebook's {name} environment", copy.deepcopy(dict(env))))
    sets += [(label, copy.deepcopy(env)) for label, env in HIDDEN_SETS.items()]
    found = 0
    for label, env in sets:
        found += len(_compare(answer, env, copy.deepcopy(table), label))
    return f"matches the checker on {len(sets)} environments ({found} conflicts found)"
