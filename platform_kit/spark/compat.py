"""Version compatibility: Spark, Scala, Java, Python, Hadoop and connector jars against a table.

Most "ClassNotFoundException"/"NoSuchMethodError" afternoons on a shared cluster are
version mismatches: a connector built for another Spark line or Scala suffix, a
hadoop-aws that is not the Hadoop client's version, an AWS SDK of the wrong generation.
:func:`installed_environment` reads what this process actually runs (pyspark and the JVM's
Spark, Scala and Hadoop from the jars or the JVM, Java, Python, connector jars on the
classpath and in ``spark.jars``/``spark.jars.packages``); :func:`check_environment` tests
any such set against ``compat_table.yml`` (a data file: update it, not the code) and says,
per component, what is wrong and what to install instead::

    env = installed_environment(spark)
    check_environment(env)                      # one row per component: status and fix
    find_conflicts({"spark": "3.5.1", "scala": "2.12.18", "hadoop": "3.3.6",
                    "jars": ["hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.262.jar"]})
    # {'hadoop-aws'}

Messy input never raises: unparseable versions, jars without versions and unknown
artifacts become report rows.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import logging
import os
import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from platform_kit.errors import InputError
from platform_kit.spark._compat_parse import Jar, java_major, line, parse_jar, parse_version, scala_binary
from platform_kit.spark._compat_plot import STATUS_COLORS, plot_status
from platform_kit.spark._compat_rules import SDKS, SPARK_BUILT, check_core, check_jar

_log = logging.getLogger(__name__)

__all__ = ["EXAMPLES", "STATUSES", "STATUS_COLORS", "TABLE_PATH", "Environment", "Jar", "check_environment",
           "find_conflicts", "installed_environment", "java_major", "line", "load_table", "parse_jar", "parse_version",
           "plot_status", "scala_binary"]

TABLE_PATH = Path(__file__).with_name("compat_table.yml")
STATUSES = ("conflict", "unparseable", "unknown", "warn", "ok")
_CORE = ("spark", "spark_jvm", "scala", "java", "python", "hadoop")
_CONNECTORS = ("hadoop-aws", "delta-spark", "delta-core", "iceberg-spark-runtime", *SDKS, *SPARK_BUILT)


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"cannot read the compatibility table {path}: {exc}",
                         fix="restore platform_kit/spark/compat_table.yml (it ships with the package)") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("spark"), dict):
        raise InputError(f"{path} has no `spark:` mapping of lines", fix="follow the layout of the shipped table")
    doc["spark"] = {str(k): v for k, v in doc["spark"].items()}
    return doc


def load_table(path: str | Path | None = None) -> dict[str, Any]:
    """The compatibility table as a dict (a fresh copy each call; the file is read once).

    Raises:
        InputError: The file is missing or is not a table of Spark lines.
    """
    import copy

    return copy.deepcopy(_load(str(path or TABLE_PATH)))


@dataclass(frozen=True)
class Environment:
    """A set of component versions (any of them may be missing or messy).

    Attributes:
        spark: pyspark's version (or the cluster's Spark).
        scala, java, python, hadoop: Versions as found (strings, any format).
        jars: Connector jars: file names, paths or Maven coordinates.
        spark_jvm: The JVM's Spark version, when read separately from pyspark's.
        name: A label for reports.
        sources: Where each version was read from.
    """

    spark: str | None = None
    scala: str | None = None
    java: str | None = None
    python: str | None = None
    hadoop: str | None = None
    jars: tuple[str, ...] = ()
    spark_jvm: str | None = None
    name: str = "environment"
    sources: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], name: str = "environment") -> Environment:
        """Build from a dict like ``{"spark": "3.5.1", ..., "jars": [...]}``.

        Raises:
            InputError: Not a mapping, or ``jars`` is not a list of names.
        """
        if isinstance(values, Environment):
            return values
        if not isinstance(values, Mapping):
            raise InputError(f"expected a dict of component versions, got {type(values).__name__}",
                             fix='pass e.g. {"spark": "3.5.1", "java": "17", "jars": ["hadoop-aws-3.3.4.jar"]}')
        jars = values.get("jars", ())
        if isinstance(jars, str):
            jars = [j for j in jars.replace(",", " ").split() if j]
        if not isinstance(jars, Iterable):
            raise InputError("`jars` must be a list of jar names or Maven coordinates", fix='e.g. ["hadoop-aws-3.3.4.jar"]')
        unknown = sorted(set(values) - {*_CORE, "jars", "name"})
        if unknown:
            _log.warning("ignoring unknown component key(s) %s", unknown)
        core = {k: (None if values.get(k) is None else str(values[k])) for k in _CORE}
        return cls(jars=tuple(str(j) for j in jars), name=str(values.get("name", name)), **core)

    def as_dict(self) -> dict[str, Any]:
        """The versions as a plain dict (what the exercise functions receive)."""
        out: dict[str, Any] = {k: getattr(self, k) for k in _CORE if getattr(self, k) is not None}
        return out | {"jars": list(self.jars)}


def check_environment(env: Environment | Mapping[str, Any], table: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Test every component against the table.

    Args:
        env: An :class:`Environment` or a dict of versions (see :meth:`Environment.from_mapping`).
        table: The compatibility table (the shipped one by default).

    Returns:
        One row per component: component, found, expected, status, fix (worst first).
    """
    env = Environment.from_mapping(env) if not isinstance(env, Environment) else env
    table = dict(table) if table is not None else load_table()
    rows, ctx = check_core({k: getattr(env, k) for k in _CORE}, table)
    jars = [parse_jar(j) for j in env.jars]
    rows += [check_jar(jar, ctx) for jar in jars]
    names = {j.artifact for j in jars}
    if "hadoop-aws" in names and not names & set(SDKS):
        needed = table.get("sdk_by_hadoop_line", {}).get(line(env.hadoop) or "", "aws-sdk")
        rows.append({"component": needed, "found": "", "expected": "an AWS SDK jar next to hadoop-aws", "status": "warn",
                     "fix": "no AWS SDK jar listed: S3A needs it on the classpath (--packages resolves it with hadoop-aws)"})
    frame = pd.DataFrame(rows, columns=["component", "found", "expected", "status", "fix"])
    order = {s: i for i, s in enumerate(STATUSES)}
    return frame.sort_values("status", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


def find_conflicts(env: Environment | Mapping[str, Any], table: Mapping[str, Any] | None = None) -> set[str]:
    """The components in conflict (the ones to change), as a set of names."""
    report = check_environment(env, table)
    return set(report.loc[report["status"] == "conflict", "component"])


# --- what this process runs ----------------------------------------------------------------


def _jvm_versions(spark: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    try:
        jvm = spark.sparkContext._jvm
        found["spark_jvm"] = str(spark.version)
        found["scala"] = str(jvm.scala.util.Properties.versionNumberString())
        found["hadoop"] = str(jvm.org.apache.hadoop.util.VersionInfo.getVersion())
        found["java"] = str(jvm.java.lang.System.getProperty("java.version"))
    except Exception as exc:  # noqa: BLE001 - Spark Connect or a stopped session: fall back to files
        _log.info("JVM versions unavailable (%s); reading jar names instead", exc)
    return found


def _jar_dir() -> Path | None:
    try:
        import pyspark
    except ImportError:
        return None
    return Path(pyspark.__file__).parent / "jars"


def _from_jar_names(names: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for jar in map(parse_jar, names):
        if jar.artifact == "scala-library" and jar.version:
            found["scala"] = jar.version
        elif jar.artifact == "hadoop-client-api" and jar.version:
            found["hadoop"] = jar.version
    return found


def _java_cli() -> str | None:
    try:
        from platform_kit.services.spark import check_java

        return check_java()
    except Exception:  # noqa: BLE001 - no JDK is itself a finding (reported as missing java)
        return None


def installed_environment(spark: Any = None) -> Environment:
    """Read the versions this process runs.

    Args:
        spark: A live SparkSession: the JVM is asked for Spark, Scala, Hadoop and Java
            (the authoritative answers), and its ``spark.jars``/``spark.jars.packages`` are read.
            Without it, versions come from pyspark's jar names and ``java -version``.

    Returns:
        The environment, with ``sources`` saying where each value came from.
    """
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        import pyspark

        values["spark"], sources["spark"] = pyspark.__version__, "pyspark.__version__"
    except ImportError:
        pass
    jar_dir = _jar_dir()
    names = sorted(p.name for p in jar_dir.glob("*.jar")) if jar_dir and jar_dir.is_dir() else []
    for key, value in _from_jar_names(names).items():
        values[key], sources[key] = value, f"{key} jar in pyspark/jars"
    if spark is not None:
        for key, value in _jvm_versions(spark).items():
            values[key], sources[key] = value, "the driver JVM (py4j)"
    if "java" not in values:
        cli = _java_cli()
        if cli:
            values["java"], sources["java"] = cli, "`java -version`"
    values["python"], sources["python"] = platform.python_version(), "this interpreter"
    jars = [n for n in names if parse_jar(n).artifact in _CONNECTORS]
    if spark is not None:
        conf = spark.sparkContext.getConf()
        for key in ("spark.jars", "spark.jars.packages"):
            jars += [j.strip() for j in (conf.get(key, "") or "").split(",") if j.strip()]
    extra = os.environ.get("SPARK_CLASSPATH", "")
    jars += [p for p in extra.split(os.pathsep) if p.endswith(".jar")]
    return replace(Environment.from_mapping(values | {"jars": jars}, name="installed"), sources=sources)


#: Heterogeneous environments for the lab (invented, in the style of managed platforms; not real releases).
EXAMPLES: dict[str, dict[str, Any]] = {
    "databricks-like": {"spark": "3.5.0", "scala": "2.12.15", "java": "1.8.0_382", "python": "3.10.12",
                        "hadoop": "3.3.6", "jars": ["delta-spark_2.12-3.1.0.jar",
                                                    "spark-sql-kafka-0-10_2.13-3.5.0.jar"]},
    "emr-like": {"spark": "3.4.1", "scala": "2.12.17", "java": "17.0.8", "python": "3.9.16", "hadoop": "3.3.6",
                 "jars": ["hadoop-aws-3.3.4.jar", "aws-java-sdk-bundle-1.12.262.jar",
                          "iceberg-spark-runtime-3.5_2.12-1.5.2.jar", "company-udfs.jar"]},
    "laptop-upgrade": {"spark": "4.0.0", "scala": "2.13.16", "java": "11.0.22", "python": "3.8.18",
                       "hadoop": "3.4.1", "jars": ["hadoop-aws-3.4.1.jar", "aws-java-sdk-bundle-1.12.367.jar",
                                                   "delta-spark_2.13-3.2.0.jar", "io.delta:delta-storage:4.0.0"]},
}
