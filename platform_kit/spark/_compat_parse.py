"""Messy version strings and jar names into comparable parts.

Versions arrive as ``4.3.0``, ``v3.5.1-SNAPSHOT``, ``version 2.13.18`` (Scala's
``versionString``), ``1.8.0_392`` or ``openjdk version "17.0.15" 2025-04-15`` (Java),
``3.3.4-amzn-1`` (vendor builds) or nonsense; jars as file names
(``iceberg-spark-runtime-3.5_2.12-1.5.0.jar``), paths or Maven coordinates
(``io.delta:delta-spark_2.13:4.0.0``). Nothing here raises on bad input: an unparseable
part is ``None`` and the checker turns it into a report row.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Jar", "java_major", "line", "parse_jar", "parse_version", "scala_binary"]

_VERSION = re.compile(r"(?<![\w.])v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")
_JAR_VERSION = re.compile(r"^(?P<artifact>.+)-(?P<version>\d+(?:\.\d+)+(?:[-+_][\w.+-]*)?)$")
_SCALA_SUFFIX = re.compile(r"^(?P<base>.+)_(?P<scala>2\.1[0-3]|3)$")
_SPARK_LINE = re.compile(r"^(?P<base>iceberg-spark-runtime)-(?P<line>\d+\.\d+)$")


def parse_version(text: Any) -> tuple[int, ...] | None:
    """The numeric parts of the first version-looking token (``(3, 5, 1)``), or None.

    >>> parse_version("v3.5.1-SNAPSHOT"), parse_version("version 2.13.18"), parse_version("latest")
    ((3, 5, 1), (2, 13, 18), None)
    """
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, int):
        return (text,) if text >= 0 else None
    if isinstance(text, float):
        text = repr(text)
    if not isinstance(text, str):
        return None
    match = _VERSION.search(text.strip().lower())
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def java_major(text: Any) -> int | None:
    """Java's feature release: ``1.8.0_392`` -> 8, ``17.0.15+6`` -> 17, ``21-ea`` -> 21."""
    parts = parse_version(text)
    if not parts:
        return None
    if parts[0] == 1 and len(parts) > 1:  # the 1.x naming of Java 8 and older
        return parts[1]
    return parts[0]


def line(text: Any) -> str | None:
    """``major.minor`` of a version (``3.5.1`` -> ``3.5``), None without a minor part."""
    parts = parse_version(text)
    return f"{parts[0]}.{parts[1]}" if parts and len(parts) >= 2 else None


def scala_binary(text: Any) -> str | None:
    """Scala's binary version (``2.13.18`` -> ``2.13``; Scala 3 -> ``3``)."""
    parts = parse_version(text)
    if not parts:
        return None
    if parts[0] == 3:
        return "3"
    return f"{parts[0]}.{parts[1]}" if len(parts) >= 2 else None


@dataclass(frozen=True)
class Jar:
    """What a jar's name says about it.

    Attributes:
        raw: The name or coordinates as given.
        artifact: The artifact without Scala suffix and Spark line (``iceberg-spark-runtime``).
        version: The artifact's version, None when the name carries none.
        scala: The Scala suffix (``2.13``), None for Java-only artifacts.
        spark_line: The Spark line named in the artifact (Iceberg runtimes: ``3.5``).
    """

    raw: str
    artifact: str | None
    version: str | None = None
    scala: str | None = None
    spark_line: str | None = None


def parse_jar(name: Any) -> Jar:
    """Parse a jar file name, a path or Maven coordinates (``group:artifact:version``).

    >>> parse_jar("iceberg-spark-runtime-3.5_2.12-1.5.0.jar")
    Jar(raw='iceberg-spark-runtime-3.5_2.12-1.5.0.jar', artifact='iceberg-spark-runtime', version='1.5.0', scala='2.12', spark_line='3.5')
    """
    raw = str(name) if name is not None else ""
    text = raw.strip().replace("\\", "/").rsplit("/", 1)[-1]
    if not text:
        return Jar(raw, None)
    version: str | None = None
    if ":" in text:  # Maven coordinates group:artifact[:version], as in spark.jars.packages
        pieces = [p for p in text.split(":") if p]
        if len(pieces) < 2:
            return Jar(raw, None)
        base, version = pieces[1], (pieces[2] if len(pieces) > 2 else None)
    else:
        stem = re.sub(r"\.jar$", "", text, flags=re.IGNORECASE)
        match = _JAR_VERSION.match(stem)
        base, version = (match.group("artifact"), match.group("version")) if match else (stem, None)
    scala = spark_line = None
    suffix = _SCALA_SUFFIX.match(base)
    if suffix:
        base, scala = suffix.group("base"), suffix.group("scala")
    runtime = _SPARK_LINE.match(base)
    if runtime:
        base, spark_line = runtime.group("base"), runtime.group("line")
    if not re.fullmatch(r"[A-Za-z][\w.-]*", base):
        return Jar(raw, None, version, scala, spark_line)
    return Jar(raw, base.lower(), version, scala, spark_line)
