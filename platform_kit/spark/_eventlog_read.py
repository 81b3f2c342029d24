"""Finding and decoding Spark event log files (plain, zstd-compressed, rolling).

Spark 4 writes event logs differently from what most tutorials show: rolling logs are on
by default (``spark.eventLog.rolling.enabled``), so an application's log is a folder
``eventlog_v2_<app-id>/`` holding ``events_<n>_<app-id>[.zstd]`` parts plus an
``appstatus_<app-id>[.inprogress]`` marker, and the parts are zstd-compressed by default
(``spark.eventLog.compress``). Spark 3's single file ``<app-id>[.inprogress]`` (optionally
with a codec suffix) is still what ``rolling.enabled=false`` gives. Both are handled here;
zstd is decoded with pyarrow's codec, reading as far as the data go, so the live
application's log (whose last zstd frame is still open) yields every flushed event.

lz4, snappy and lzf logs use Spark's own block framing (lz4-java, snappy-java), which no
Python library decodes: they are refused with the setting that avoids them.

Introduced in: Lab 3 (Spark optimisation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from platform_kit.errors import InputError

__all__ = ["UNSUPPORTED_CODECS", "event_log_files", "event_log_path", "iter_lines"]

#: Codecs whose Spark framing cannot be decoded from Python.
UNSUPPORTED_CODECS = ("lz4", "snappy", "lzf")
_CODECS = ("zstd", *UNSUPPORTED_CODECS)
_PART = re.compile(r"^events_(\d+)_")
_CHUNK = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _strip_scheme(directory: str) -> Path:
    if directory.startswith("file://"):
        return Path(directory[len("file://"):])
    if directory.startswith("file:"):
        return Path(directory[len("file:"):])
    if re.match(r"^[a-z][a-z0-9+.-]*://", directory):
        raise InputError(f"event log dir {directory!r} is not on the local file system",
                         fix="copy the log locally (or read the driver's REST API with ks.measure)")
    return Path(directory)


def event_log_path(spark: Any = None, *, directory: str | None = None, app_id: str | None = None) -> Path:
    """Where the event log of an application is (the running one by default).

    Args:
        spark: A SparkSession; its ``spark.eventLog.dir`` and application id are used.
        directory: The event log folder (overrides the session's), ``file://`` allowed.
        app_id: The application id (overrides the session's).

    Returns:
        The rolling log folder ``eventlog_v2_<app>`` or the single log file.

    Raises:
        InputError: Event logging is off, or no log of that application exists.
    """
    if spark is not None:
        conf = spark.sparkContext.getConf()
        if directory is None:
            if conf.get("spark.eventLog.enabled", "false").lower() != "true":
                raise InputError("this Spark application does not write an event log",
                                 fix="start it with spark.eventLog.enabled=true (the workbench's sessions do)")
            directory = conf.get("spark.eventLog.dir", "file:/tmp/spark-events")
        app_id = app_id or spark.sparkContext.applicationId
    if not directory or not app_id:
        raise InputError("need an event log directory and an application id",
                         fix="pass a SparkSession, or directory= and app_id=")
    root = _strip_scheme(directory)
    candidates = [root / f"eventlog_v2_{app_id}"]
    for suffix in ("", *(f".{c}" for c in _CODECS)):
        candidates += [root / f"{app_id}{suffix}.inprogress", root / f"{app_id}{suffix}"]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    raise InputError(f"no event log of application {app_id} under {root}",
                     fix="check spark.eventLog.dir and that spark.eventLog.enabled was true when the app started")


def _part_number(path: Path) -> int:
    match = _PART.match(path.name)
    return int(match.group(1)) if match else 0


def event_log_files(path: str | Path) -> list[Path]:
    """The files making up a log: the file itself, or a rolling folder's parts in order.

    Raises:
        InputError: The path does not exist or the folder holds no ``events_*`` part.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"event log {path} does not exist",
                         fix="use platform_kit.spark.eventlog.event_log_path(spark) to find the running app's log")
    if path.is_file():
        return [path]
    parts = sorted((p for p in path.iterdir() if p.is_file() and _PART.match(p.name)), key=_part_number)
    if not parts:
        raise InputError(f"{path} is a folder without events_<n>_<app> parts",
                         fix="point at a rolling event log folder eventlog_v2_<app-id> or at a single log file")
    return parts


def _codec(path: Path) -> str | None:
    name = path.name.removesuffix(".inprogress")
    suffix = name.rsplit(".", 1)[-1] if "." in name else ""
    return suffix if suffix in _CODECS else None


def _decode_frames(segment: bytes) -> bytes:
    import pyarrow as pa

    with pa.CompressedInputStream(pa.BufferReader(segment), "zstd") as stream:
        return bytes(stream.read())


def _zstd_chunks(path: Path) -> Iterator[tuple[bytes, bool]]:
    """Decompressed frames of a zstd file; the flag says the last frame is cut off (still being written).

    Spark closes a zstd frame at every flush of the event log, so a running application's
    file is complete frames plus, at most, one open frame. pyarrow's stream decoder drops
    everything it decoded in a call that meets a cut frame, so frames are decoded one by one
    (a segment that fails to decode is joined to the next: the magic number can occur
    inside compressed bytes).
    """
    data = path.read_bytes()
    starts = [m.start() for m in re.finditer(re.escape(_ZSTD_MAGIC), data)]
    if not starts or starts[0] != 0:
        raise InputError(f"{path.name} is named .zstd but is not zstd-compressed",
                         fix="point at the event log Spark wrote (or rename a plain-text log without .zstd)")
    first = 0
    while first < len(starts):
        last = first + 1
        while True:
            end = starts[last] if last < len(starts) else len(data)
            try:
                chunk = _decode_frames(data[starts[first]:end])
                break
            except OSError:
                if last >= len(starts):  # the open (or damaged) last frame
                    yield b"", True
                    return
                last += 1
        yield chunk, False
        first = last


def _plain_chunks(path: Path) -> Iterator[tuple[bytes, bool]]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            yield chunk, False


def iter_lines(path: Path, stats: dict[str, int]) -> Iterator[str]:
    """Decoded text lines of one log file, the last one possibly cut off.

    ``stats`` receives ``undecodable`` (lines that are not UTF-8), ``cut_frames``
    (compressed streams that ended mid-frame) and ``tail_without_newline`` (1 when the
    last line has no newline: a write in progress or a truncated copy).

    Raises:
        InputError: The file uses a codec Python cannot read.
    """
    codec = _codec(path)
    if codec in UNSUPPORTED_CODECS:
        raise InputError(f"{path.name} is compressed with Spark's {codec} framing, which Python cannot decode",
                         fix="run with spark.eventLog.compression.codec=zstd (Spark 4's default) "
                             "or spark.eventLog.compress=false")
    chunks = _zstd_chunks(path) if codec == "zstd" else _plain_chunks(path)
    pending = b""
    for chunk, cut in chunks:
        if cut:
            stats["cut_frames"] = stats.get("cut_frames", 0) + 1
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            yield _decode(raw, stats)
    if pending.strip():
        stats["tail_without_newline"] = 1
        yield _decode(pending, stats)


def _decode(raw: bytes, stats: dict[str, int]) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # binary garbage: keep the line (it will fail to parse and be counted)
        stats["undecodable"] = stats.get("undecodable", 0) + 1
        return raw.decode("utf-8", errors="replace")
