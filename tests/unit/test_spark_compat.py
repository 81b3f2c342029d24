"""Section 8's compatibility checker: parsing messy versions and jars, the rules, the table, the grader."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.grading.exercises.spark_compat import HIDDEN_SETS
from platform_kit.spark import compat as c

matplotlib.use("Agg")

SPARK35 = {"spark": "3.5.1", "scala": "2.12.18", "java": "17.0.9", "python": "3.11.6", "hadoop": "3.3.4"}
SPARK40 = {"spark": "4.0.1", "scala": "2.13.16", "java": "21.0.2", "python": "3.12.3", "hadoop": "3.4.1"}


def _status(env: dict[str, Any], component: str) -> str:
    report = c.check_environment(env)
    return str(report.set_index("component").loc[component, "status"])


# --- parsing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "version", "java", "line", "scala"), [
    ("4.3.0", (4, 3, 0), 4, "4.3", "4.3"),
    ("v3.5.1-SNAPSHOT", (3, 5, 1), 3, "3.5", "3"),
    ("version 2.13.18", (2, 13, 18), 2, "2.13", "2.13"),
    ("1.8.0_392", (1, 8, 0), 8, "1.8", "1.8"),
    ('openjdk version "17.0.15" 2025-04-15', (17, 0, 15), 17, "17.0", "17.0"),
    ("21-ea", (21,), 21, None, None),
    ("3.3.4-amzn-1", (3, 3, 4), 3, "3.3", "3"),
    (17, (17,), 17, None, None),
    ("latest", None, None, None, None),
    ("", None, None, None, None),
    (None, None, None, None, None),
    (["3.5"], None, None, None, None),
    (True, None, None, None, None),
])
def test_messy_versions_parse_or_give_none(text: Any, version: Any, java: Any, line: Any, scala: Any) -> None:
    assert c.parse_version(text) == version
    assert c.java_major(text) == java
    assert c.line(text) == line
    assert c.scala_binary(text) == scala


@pytest.mark.parametrize(("name", "artifact", "version", "scala", "spark_line"), [
    ("hadoop-aws-3.3.4.jar", "hadoop-aws", "3.3.4", None, None),
    ("/opt/spark/jars/bundle-2.23.19.jar", "bundle", "2.23.19", None, None),
    ("spark-sql-kafka-0-10_2.13-4.0.0.jar", "spark-sql-kafka-0-10", "4.0.0", "2.13", None),
    ("iceberg-spark-runtime-3.5_2.12-1.5.0.jar", "iceberg-spark-runtime", "1.5.0", "2.12", "3.5"),
    ("io.delta:delta-spark_2.13:4.0.0", "delta-spark", "4.0.0", "2.13", None),
    ("org.apache.hadoop:hadoop-aws", "hadoop-aws", None, None, None),
    ("hadoop-aws-3.3.4-amzn-1.jar", "hadoop-aws", "3.3.4-amzn-1", None, None),
    ("zstd-jni-1.5.7-7.jar", "zstd-jni", "1.5.7-7", None, None),
    ("Hadoop-AWS.JAR", "hadoop-aws", None, None, None),
    ("???.jar", None, None, None, None),
    ("", None, None, None, None),
    (None, None, None, None, None),
    (":", None, None, None, None),
])
def test_jar_names_and_coordinates_parse(name: Any, artifact: Any, version: Any, scala: Any, spark_line: Any) -> None:
    jar = c.parse_jar(name)
    assert (jar.artifact, jar.version, jar.scala, jar.spark_line) == (artifact, version, scala, spark_line)


# --- the table -----------------------------------------------------------------------------------


def test_the_shipped_table_covers_spark_3_3_to_4_x_and_every_connector_section() -> None:
    table = c.load_table()
    assert {"3.3", "3.4", "3.5", "4.0"} <= set(table["spark"])
    assert {"hadoop_aws", "sdk_by_hadoop_line", "delta", "iceberg", "kafka"} <= set(table)
    for spark_line, row in table["spark"].items():
        assert {"scala", "java", "python", "hadoop_bundled", "hadoop_min"} <= set(row), spark_line
    assert table["hadoop_aws"]["3.3.4"] == {"sdk": "aws-java-sdk-bundle", "version": "1.12.262"}
    table["spark"].clear()  # callers get a copy
    assert c.load_table()["spark"]


@pytest.mark.parametrize(("content", "message"), [("spark: [1, 2]\n", "no `spark:` mapping"),
                                                  ("just text", "no `spark:` mapping"),
                                                  ("spark: {a: [\n", "cannot read")])
def test_a_broken_table_file_is_an_input_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "table.yml"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        c.load_table(path)
    with pytest.raises(InputError, match="cannot read"):
        c.load_table(tmp_path / "missing.yml")


# --- rules ---------------------------------------------------------------------------------------


def test_the_example_environments_have_the_documented_conflicts_and_fixes() -> None:
    assert c.find_conflicts(c.EXAMPLES["databricks-like"]) == {"spark-sql-kafka-0-10"}
    assert c.find_conflicts(c.EXAMPLES["emr-like"]) == {"hadoop-aws", "iceberg-spark-runtime"}
    assert c.find_conflicts(c.EXAMPLES["laptop-upgrade"]) == {"java", "python", "delta-spark", "aws-java-sdk-bundle"}
    fix = c.check_environment(c.EXAMPLES["emr-like"]).set_index("component").loc["hadoop-aws", "fix"]
    assert fix == ("hadoop-aws 3.3.4 needs hadoop-client 3.3.4; you have 3.3.6: "
                   "use hadoop-aws 3.3.6 with aws-java-sdk-bundle 1.12.367")


@pytest.mark.parametrize(("env", "component", "status"), [
    (SPARK35 | {"jars": ["spark-sql-kafka-0-10_2.12-3.5.0.jar"]}, "spark-sql-kafka-0-10", "conflict"),
    (SPARK35 | {"jars": ["spark-sql-kafka-0-10_2.12-3.5.1.jar"]}, "spark-sql-kafka-0-10", "ok"),
    (SPARK35 | {"jars": ["spark-avro_2.13-3.5.1.jar"]}, "spark-avro", "conflict"),  # Scala suffix
    (SPARK35 | {"jars": ["company-udfs_2.13-1.0.jar"]}, "company-udfs", "conflict"),  # any jar's Scala suffix
    (SPARK35 | {"jars": ["company-udfs-1.0.jar"]}, "company-udfs", "unknown"),
    (SPARK35 | {"jars": ["iceberg-spark-runtime-3.4_2.12-1.5.0.jar"]}, "iceberg-spark-runtime", "conflict"),
    (SPARK35 | {"jars": ["iceberg-spark-runtime-3.5_2.12-1.3.0.jar"]}, "iceberg-spark-runtime", "conflict"),  # too old
    (SPARK35 | {"jars": ["delta-spark_2.12-3.3.0.jar"]}, "delta-spark", "ok"),
    (SPARK35 | {"jars": ["delta-core_2.12-2.4.0.jar"]}, "delta-core", "conflict"),  # Delta 2.4 is for Spark 3.4
    (SPARK35 | {"jars": ["delta-spark_2.12-9.9.0.jar"]}, "delta-spark", "unknown"),
    (SPARK35 | {"jars": ["hadoop-aws-3.3.6.jar", "aws-java-sdk-bundle-1.12.262.jar"]}, "hadoop-aws", "conflict"),
    (SPARK35 | {"jars": ["hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.367.jar"]}, "aws-java-sdk-bundle", "warn"),
    (SPARK35 | {"jars": ["hadoop-aws-3.3.4.jar", "bundle-2.24.6.jar"]}, "bundle", "conflict"),
    (SPARK35 | {"jars": ["hadoop-aws-3.3.4.jar"]}, "aws-java-sdk-bundle", "warn"),  # SDK not listed
    (SPARK40 | {"jars": ["hadoop-aws-3.4.1.jar", "bundle-2.24.6.jar"]}, "bundle", "ok"),
    (SPARK40 | {"jars": ["hadoop-aws-3.4.1.jar", "aws-java-sdk-bundle-1.12.367.jar"]}, "aws-java-sdk-bundle", "conflict"),
    (SPARK40 | {"jars": ["delta-spark_2.13-4.0.0.jar"]}, "delta-spark", "ok"),
    (SPARK40 | {"jars": ["iceberg-spark-runtime-4.0_2.13-1.10.0.jar"]}, "iceberg-spark-runtime", "ok"),
    (SPARK40 | {"java": "1.8.0_402"}, "java", "conflict"),
    (SPARK40 | {"scala": "2.12.18"}, "scala", "conflict"),
    (SPARK40 | {"python": "3.8.10"}, "python", "conflict"),
    (SPARK40 | {"python": "3.14.0"}, "python", "warn"),  # newer than tested: not a conflict
    (SPARK35 | {"hadoop": "2.7.4"}, "hadoop", "conflict"),
    (SPARK35 | {"hadoop": "3.3.6"}, "hadoop", "ok"),
    (SPARK40 | {"spark": "4.1.0", "java": "11.0.2"}, "java", "warn"),  # the 4.1 row is marked uncertain
    (SPARK35 | {"spark_jvm": "3.5.0"}, "spark", "conflict"),  # pyspark and the JVM disagree
])
def test_rules(env: dict[str, Any], component: str, status: str) -> None:
    report = c.check_environment(env)
    statuses = set(report.loc[report["component"] == component, "status"])
    assert status in statuses, report.to_string()


def test_messy_inputs_become_report_rows_not_crashes() -> None:
    report = c.check_environment({"spark": "latest", "scala": "?", "java": "banana", "python": "", "hadoop": "x",
                                  "jars": ["hadoop-aws.jar", "???", "", "spark-sql-kafka-0-10_2.13-4.3.0.jar"]})
    by = report.groupby("status")["component"].apply(set)
    assert by["unparseable"] >= {"spark", "scala", "java", "python", "hadoop", "???", "(empty)"}
    assert by["unknown"] >= {"hadoop-aws", "spark-sql-kafka-0-10"}
    assert (report["fix"] != "").all()
    unknown_line = c.check_environment({"spark": "9.1.0", "jars": ["delta-spark_2.13-4.0.0.jar"]})
    assert set(unknown_line["status"]) == {"unknown"}
    assert set(c.check_environment({"jars": "hadoop-aws-3.3.4.jar, bundle-2.24.6.jar"})["component"]) >= {"spark",
                                                                                                         "hadoop-aws"}


@pytest.mark.parametrize("bad", ["spark 3.5", 42, None, {"jars": 5}])
def test_environments_that_are_not_dicts_are_input_errors(bad: Any) -> None:
    with pytest.raises(InputError):
        c.check_environment(bad)


def test_installed_environment_from_files_reads_this_venv() -> None:
    import pyspark

    env = c.installed_environment()
    assert env.spark == pyspark.__version__ and env.scala.startswith("2.13") and c.parse_version(env.hadoop)
    assert env.sources["scala"] == "scala jar in pyspark/jars" and env.python
    assert c.find_conflicts(env) == set()


def test_status_plot_has_one_row_per_environment() -> None:
    reports = {name: c.check_environment(env) for name, env in c.EXAMPLES.items()}
    ax = c.plot_status(reports)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(c.EXAMPLES)
    with pytest.raises(InputError):
        c.plot_status({})


# --- engine tier ---------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_installed_environment_asks_the_driver_jvm() -> None:
    import platform_kit

    spark = platform_kit.connect().spark
    env = c.installed_environment(spark)
    assert env.spark_jvm == spark.version == env.spark
    assert env.sources["hadoop"] == "the driver JVM (py4j)" and c.java_major(env.java) >= 17
    report = c.check_environment(env)
    assert set(report["status"]) == {"ok"}, report.to_string()


# --- grader --------------------------------------------------------------------------------------


def test_grader_accepts_the_checker() -> None:
    result = check("spark.find_conflict", lambda env, table: c.find_conflicts(env, table),
                   context={"examples": c.EXAMPLES}, show=False)
    assert result.passed, result


def _mutating(env: dict[str, Any], table: dict[str, Any]) -> set[str]:
    env["jars"] = []
    return set()


@pytest.mark.parametrize("wrong", [
    lambda env, table: set(),  # nothing is ever wrong
    lambda env, table: {"spark"},  # blames Spark
    lambda env, table: {c.parse_jar(j).artifact for j in env.get("jars", [])},  # every jar
    lambda env, table: set(c.check_environment(env).query("status != 'ok'")["component"]),  # warnings too
    lambda env, table: ",".join(c.find_conflicts(env)),  # not a set
    _mutating,
])
def test_grader_rejects_wrong_answers(wrong: Any) -> None:
    assert not check("spark.find_conflict", wrong, context={"examples": c.EXAMPLES}, show=False).passed


def test_hidden_sets_mix_clean_stacks_and_several_kinds_of_conflict() -> None:
    found = {name: c.find_conflicts(copy.deepcopy(env)) for name, env in HIDDEN_SETS.items()}
    assert sum(1 for v in found.values() if not v) >= 2
    kinds = set().union(*found.values())
    assert kinds >= {"scala", "java", "python", "hadoop-aws", "aws-java-sdk-bundle", "delta-spark",
                     "iceberg-spark-runtime", "spark-sql-kafka-0-10"}


def test_find_conflict_check_rejects_a_value_instead_of_a_function() -> None:
    result = check("spark.find_conflict", {"spark-sql-kafka"}, context={"examples": c.EXAMPLES}, show=False)
    assert not result.passed and result.attempted and "expected a function" in result.message
