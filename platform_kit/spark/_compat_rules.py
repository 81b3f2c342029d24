"""The compatibility rules: one function per component, each returning report rows.

A row is ``{component, found, expected, status, fix}`` with status ``ok``, ``warn`` (works
but untested, or a table entry marked uncertain), ``conflict`` (will not work: the fix says
what to install), ``unknown`` (not in the table, or a jar without a version) or
``unparseable`` (the version string means nothing). When two components disagree, the
row (and so the conflict) belongs to the one to change: the connector jar rather than
Spark, the SDK bundle rather than hadoop-aws.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platform_kit.spark._compat_parse import Jar, java_major, line, parse_version, scala_binary

__all__ = ["Context", "check_core", "check_jar"]

Row = dict[str, Any]
SPARK_BUILT = ("spark-sql-kafka-0-10", "spark-token-provider-kafka-0-10", "spark-avro", "spark-hadoop-cloud",
               "spark-protobuf", "spark-connect", "spark-streaming-kafka-0-10")
SDKS = ("aws-java-sdk-bundle", "bundle")


def _row(component: str, found: Any, expected: str, status: str, fix: str = "") -> Row:
    return {"component": component, "found": "" if found is None else str(found), "expected": expected,
            "status": status, "fix": fix}


def _at_least(version: tuple[int, ...], bound: str) -> bool:
    ref = parse_version(bound) or (0,)
    return version[: len(ref)] >= ref


def _at_most(version: tuple[int, ...], bound: str) -> bool:
    ref = parse_version(bound) or (0,)
    return version[: len(ref)] <= ref


@dataclass(frozen=True)
class Context:
    """What the jar rules need to know about the core."""

    table: dict[str, Any]
    spark: str | None
    spark_line: str | None
    scala: str | None
    hadoop: str | None
    uncertain: bool


def check_core(env: dict[str, Any], table: dict[str, Any]) -> tuple[list[Row], Context]:
    """Rows for Spark, Scala, Java, Python and the Hadoop client, and the context for the jars."""
    rows: list[Row] = []
    spark, spark_ln = env.get("spark"), line(env.get("spark"))
    lines = table.get("spark", {})
    info = lines.get(spark_ln) if spark_ln else None
    uncertain = bool(info and info.get("uncertain"))
    soft = "warn" if uncertain else "conflict"
    if spark is None:
        rows.append(_row("spark", None, "a Spark version", "unknown", "pass the Spark version (pyspark.__version__)"))
    elif spark_ln is None:
        rows.append(_row("spark", spark, "X.Y.Z", "unparseable", "give Spark's version as X.Y.Z (pyspark.__version__)"))
    elif info is None:
        rows.append(_row("spark", spark, f"one of {', '.join(lines)}", "unknown",
                         f"Spark {spark_ln} is not in the compatibility table: add its row to compat_table.yml"))
    else:
        rows.append(_row("spark", spark, f"Spark {spark_ln} line", "ok",
                         "its table row is marked uncertain: mismatches against it are only warnings" if uncertain else ""))
    jvm = env.get("spark_jvm")
    if jvm is not None and spark is not None and parse_version(jvm) != parse_version(spark):
        rows.append(_row("spark", f"pyspark {spark} / JVM {jvm}", "the same release", "conflict",
                         f"pyspark and the JVM's Spark differ: install pyspark=={jvm} (or point SPARK_HOME at {spark})"))
    scala = scala_binary(env.get("scala")) if env.get("scala") is not None else None
    if env.get("scala") is not None:
        if scala is None:
            rows.append(_row("scala", env["scala"], "2.12 or 2.13", "unparseable", "give Scala's version as 2.13.x"))
        elif info is not None:
            allowed = [str(s) for s in info.get("scala", [])]
            ok = scala in allowed
            rows.append(_row("scala", env["scala"], " or ".join(allowed), "ok" if ok else soft,
                             "" if ok else f"Spark {spark_ln} is built for Scala {' or '.join(allowed)}: "
                                           f"use that build of Spark and of every connector (_{allowed[-1]} jars)"))
    java = env.get("java")
    if java is not None:
        major = java_major(java)
        allowed_java = [int(j) for j in info.get("java", [])] if info else []
        if major is None:
            rows.append(_row("java", java, "a JDK version", "unparseable", "give `java -version`'s version, e.g. 17.0.9"))
        elif info is not None:
            ok = major in allowed_java
            rows.append(_row("java", java, "/".join(map(str, allowed_java)), "ok" if ok else soft,
                             "" if ok else f"Spark {spark_ln} runs on Java {' or '.join(map(str, allowed_java))}: "
                                           f"install JDK {allowed_java[0] if major < allowed_java[0] else allowed_java[-1]}"
                                           " and point JAVA_HOME at it"))
    python = env.get("python")
    if python is not None:
        version = parse_version(python)
        bounds = (info or {}).get("python", {})
        if version is None or len(version) < 2:
            rows.append(_row("python", python, "3.x", "unparseable", "give Python's version as 3.Y(.Z)"))
        elif info is not None:
            low, high = str(bounds.get("min", "0")), str(bounds.get("max", "99"))
            if not _at_least(version, low):
                rows.append(_row("python", python, f"{low} to {high}", soft,
                                 f"PySpark {spark_ln} needs Python >= {low}: use a {low}+ interpreter (driver and executors)"))
            elif not _at_most(version, high):
                rows.append(_row("python", python, f"{low} to {high}", "warn",
                                 f"newer than Spark {spark_ln} was tested with ({high}): prefer Python {high}"))
            else:
                rows.append(_row("python", python, f"{low} to {high}", "ok"))
    hadoop = env.get("hadoop")
    if hadoop is not None:
        version = parse_version(hadoop)
        if version is None or len(version) < 2:
            rows.append(_row("hadoop", hadoop, "3.x.y", "unparseable", "give the Hadoop client version as 3.x.y"))
        elif info is not None:
            low = str(info.get("hadoop_min", "0"))
            bundled = str(info.get("hadoop_bundled", ""))
            if not _at_least(version, low):
                rows.append(_row("hadoop", hadoop, f">= {low}", soft, f"Spark {spark_ln} needs a Hadoop {low}+ client: "
                                                                       f"use the build with Hadoop {bundled}"))
            else:
                note = "" if parse_version(bundled) == version[:3] else f"a vendor build (Spark {spark_ln} bundles {bundled})"
                rows.append(_row("hadoop", hadoop, f">= {low} (bundled {bundled})", "ok", note))
    context = Context(table, str(spark) if spark is not None else None, spark_ln if info else None, scala,
                      str(hadoop) if hadoop is not None and parse_version(hadoop) else None, uncertain)
    return rows, context


def _scala_row(jar: Jar, ctx: Context) -> Row | None:
    if jar.scala and ctx.scala and jar.scala != ctx.scala:
        return _row(jar.artifact or jar.raw, jar.raw, f"_{ctx.scala} build", "conflict",
                    f"{jar.raw} is built for Scala {jar.scala} but Spark runs Scala {ctx.scala}: "
                    f"use the _{ctx.scala} artifact")
    return None


def _hadoop_aws(jar: Jar, ctx: Context) -> Row:
    aws = ctx.table.get("hadoop_aws", {})
    if ctx.hadoop is None:
        return _row("hadoop-aws", jar.raw, "the Hadoop client version", "warn", "Hadoop client version unknown: cannot check")
    wanted = ".".join(map(str, (parse_version(ctx.hadoop) or ())[:3]))
    if parse_version(jar.version)[:3] == parse_version(ctx.hadoop)[:3]:  # type: ignore[index]
        return _row("hadoop-aws", jar.raw, wanted, "ok")
    sdk = aws.get(wanted)
    with_sdk = f" with {sdk['sdk']} {sdk['version']}" if sdk else ""
    return _row("hadoop-aws", jar.raw, wanted, "conflict",
                f"hadoop-aws {jar.version} needs hadoop-client {jar.version}; you have {wanted}: "
                f"use hadoop-aws {wanted}{with_sdk}")


def _sdk(jar: Jar, ctx: Context) -> Row:
    hadoop_ln = line(ctx.hadoop)
    needed = ctx.table.get("sdk_by_hadoop_line", {}).get(hadoop_ln) if hadoop_ln else None
    tested = ctx.table.get("hadoop_aws", {}).get(".".join(map(str, (parse_version(ctx.hadoop) or ())[:3])))
    if needed is None:
        return _row(jar.artifact or "", jar.raw, "the SDK of your Hadoop line", "unknown",
                    f"Hadoop {ctx.hadoop or '?'} is not in the table's sdk_by_hadoop_line")
    label = {"aws-java-sdk-bundle": "AWS SDK v1 (aws-java-sdk-bundle)", "bundle": "AWS SDK v2 (bundle)"}
    want = f"{needed} {tested['version']}" if tested else needed
    if jar.artifact != needed:
        return _row(jar.artifact or "", jar.raw, want, "conflict",
                    f"Hadoop {hadoop_ln}'s S3A connector uses {label[needed]}: replace {jar.raw} by {want}")
    if tested and parse_version(jar.version) != parse_version(tested["version"]):
        return _row(jar.artifact or "", jar.raw, want, "warn",
                    f"hadoop-aws {ctx.hadoop} was built and tested with {want}")
    return _row(jar.artifact or "", jar.raw, want, "ok")


def _delta(jar: Jar, ctx: Context) -> Row:
    entry = ctx.table.get("delta", {}).get(line(jar.version) or "")
    if entry is None:
        return _row(jar.artifact or "", jar.raw, "a Delta line in the table", "unknown",
                    f"Delta {jar.version} is not in the table: check Delta's compatibility page")
    wanted = [v for v, e in ctx.table["delta"].items() if e["spark"] == ctx.spark_line]
    suggestion = f"use Delta {wanted[-1]}.x ({ctx.table['delta'][wanted[-1]]['artifact']}_{ctx.scala or '2.13'})" \
        if wanted else f"no Delta release in the table supports Spark {ctx.spark_line}"
    if entry["spark"] != ctx.spark_line:
        return _row(jar.artifact or "", jar.raw, f"Spark {entry['spark']}", "conflict",
                    f"Delta {line(jar.version)} is built for Spark {entry['spark']}, you run {ctx.spark_line}: {suggestion}")
    if entry["artifact"] != jar.artifact:
        return _row(jar.artifact or "", jar.raw, entry["artifact"], "conflict",
                    f"Delta {line(jar.version)} is published as {entry['artifact']}: use that artifact")
    return _row(jar.artifact or "", jar.raw, f"Spark {entry['spark']}", "ok")


def _iceberg(jar: Jar, ctx: Context) -> Row:
    name = jar.artifact or ""
    if jar.spark_line != ctx.spark_line:
        return _row(name, jar.raw, f"runtime-{ctx.spark_line}", "conflict",
                    f"{jar.raw} is the runtime for Spark {jar.spark_line}; you run {ctx.spark_line}: use "
                    f"iceberg-spark-runtime-{ctx.spark_line}_{ctx.scala or '2.13'}-{jar.version or '<version>'}.jar")
    bounds = ctx.table.get("iceberg", {}).get(ctx.spark_line or "")
    version = parse_version(jar.version)
    if bounds is None or version is None:
        return _row(name, jar.raw, "an Iceberg line in the table", "unknown",
                    "check Iceberg's multi-engine support page for this Spark line")
    low, high = str(bounds.get("min", "0")), str(bounds.get("max", "999"))
    if _at_least(version, low) and _at_most(version, high):
        return _row(name, jar.raw, f"{low} to {bounds.get('max', 'latest')}", "ok")
    return _row(name, jar.raw, f"{low} to {bounds.get('max', 'latest')}", "warn" if bounds.get("uncertain") else "conflict",
                f"Iceberg {jar.version} ships no runtime tested for Spark {ctx.spark_line}: "
                f"use Iceberg {low}{'-' + high if 'max' in bounds else '+'}")


def _spark_built(jar: Jar, ctx: Context) -> Row:
    if parse_version(jar.version) == parse_version(ctx.spark):
        return _row(jar.artifact or "", jar.raw, str(ctx.spark), "ok")
    return _row(jar.artifact or "", jar.raw, str(ctx.spark), "conflict",
                f"{jar.artifact} is built from the Spark source tree: it must be the same release, "
                f"use {jar.artifact}_{ctx.scala or jar.scala or '2.13'}-{ctx.spark}.jar")


def check_jar(jar: Jar, ctx: Context) -> Row:
    """The row of one jar (connectors are checked; other artifacts are reported ``unknown``)."""
    if jar.artifact is None:
        return _row(jar.raw or "(empty)", jar.raw, "a jar name", "unparseable", "name jars <artifact>-<version>.jar")
    name = jar.artifact
    scala = _scala_row(jar, ctx)  # a Scala suffix other than Spark's breaks any jar, known or not
    if scala is not None:
        return scala
    known = name in ("hadoop-aws", "delta-spark", "delta-core", "iceberg-spark-runtime", *SDKS, *SPARK_BUILT)
    if not known:
        return _row(name, jar.raw, "-", "unknown", "not in the compatibility table: not checked")
    if jar.version is None or parse_version(jar.version) is None:
        return _row(name, jar.raw, "a versioned jar", "unknown",
                    "the name carries no version: use the versioned jar (or read META-INF/MANIFEST.MF)")
    if ctx.spark_line is None and name != "hadoop-aws" and name not in SDKS:
        return _row(name, jar.raw, "-", "unknown", "the Spark version is unknown: cannot check connectors")
    if name == "hadoop-aws":
        return _hadoop_aws(jar, ctx)
    if name in SDKS:
        return _sdk(jar, ctx)
    if name in ("delta-spark", "delta-core"):
        return _delta(jar, ctx)
    if name == "iceberg-spark-runtime":
        return _iceberg(jar, ctx)
    return _spark_built(jar, ctx)
