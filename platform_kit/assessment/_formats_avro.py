"""Avro through fastavro: Arrow-to-Avro schemas, records, and pyarrow-backed codecs.

fastavro compresses Avro blocks with ``snappy`` only when ``cramjam`` is installed and with
``zstandard`` only when ``backports.zstd`` is; neither is part of the stack. Both codecs
exist in pyarrow (the same libraries Parquet and ORC use), so :func:`enable_avro_codecs`
registers pyarrow-backed block codecs in fastavro's codec tables when, and only when, the
native ones are missing, after a round-trip self-test. The files stay standard Avro:
snappy blocks carry the big-endian CRC32 of the uncompressed block, zstandard blocks are
plain zstd frames.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import io
import logging
import struct
import zlib
from typing import IO, Any

import pyarrow as pa

from platform_kit.errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = ["avro_schema_for", "enable_avro_codecs", "records_for"]

#: Avro codec name of each codec label used in the format bake-off.
AVRO_CODECS: dict[str, str] = {"none": "null", "snappy": "snappy", "zstd": "zstandard", "gzip": "deflate"}

_CODEC_STATE: dict[str, str] = {}


# --- schemas and records --------------------------------------------------------------------
def _avro_type(arrow_type: pa.DataType, name: str) -> Any:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_int8(arrow_type) or pa.types.is_int16(arrow_type) or pa.types.is_int32(arrow_type):
        return "int"
    if pa.types.is_integer(arrow_type):
        return "long"
    if pa.types.is_float32(arrow_type):
        return "float"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "string"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "bytes"
    if pa.types.is_date32(arrow_type):
        return {"type": "int", "logicalType": "date"}
    if pa.types.is_timestamp(arrow_type):
        logical = "timestamp-micros" if arrow_type.tz else "local-timestamp-micros"
        return {"type": "long", "logicalType": logical}
    raise ConfigError(
        f"column {name!r} has Arrow type {arrow_type}, which the Avro bake-off does not map",
        fix="cast it to a string, number, boolean, date or timestamp column before measuring",
    )


def avro_schema_for(table: pa.Table, name: str = "record") -> dict[str, Any]:
    """The Avro record schema of an Arrow table (columns holding nulls become ``["null", T]``).

    Args:
        table: The data the schema describes.
        name: Avro record name.

    Returns:
        A JSON-like Avro schema (pass it to ``fastavro.parse_schema``).

    Raises:
        ConfigError: A column has a type with no Avro mapping here (lists, structs...).

    Introduced in: Lab 1 (assessment).
    """
    fields = []
    for field in table.schema:
        avro = _avro_type(field.type, field.name)
        nullable = table.column(field.name).null_count > 0
        fields.append({"name": field.name, "type": ["null", avro] if nullable else avro}
                      | ({"default": None} if nullable else {}))
    return {"type": "record", "name": name, "fields": fields}


def records_for(table: pa.Table) -> list[dict[str, Any]]:
    """Python records of an Arrow table (``None`` for nulls, naive datetimes for timestamps).

    Introduced in: Lab 1 (assessment).
    """
    return table.to_pylist()


# --- pyarrow-backed codecs --------------------------------------------------------------------
def _encode_long(value: int) -> bytes:
    """Avro's zig-zag varint encoding of a long."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_long(fo: IO[bytes]) -> int:
    shift = result = 0
    while True:
        byte = fo.read(1)
        if not byte:
            raise EOFError("truncated Avro block length")
        result |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return (result >> 1) ^ -(result & 1)
        shift += 7


def _read_exact(fo: IO[bytes], size: int) -> bytes:
    data = fo.read(size)
    if size < 0 or len(data) != size:
        raise EOFError(f"truncated Avro block: wanted {size} bytes, got {len(data)}")
    return data


def _snappy_length(data: bytes) -> int:
    """Uncompressed size stored as the unsigned varint prefix of a raw snappy block."""
    shift = result = 0
    for byte in data[:10]:
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7
    raise ValueError("corrupt snappy block: no length prefix")


def _zstd_content_size(frame: bytes) -> int:
    """Frame content size from a zstd frame header (RFC 8878, section 3.1.1.1)."""
    if len(frame) < 6 or frame[:4] != b"\x28\xb5\x2f\xfd":
        raise ValueError("not a zstd frame (bad magic number)")
    descriptor = frame[4]
    fcs_flag, single_segment, dict_flag = descriptor >> 6, (descriptor >> 5) & 1, descriptor & 3
    pos = 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[dict_flag]
    size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
    if size == 0:
        raise ValueError("zstd frame without a content size; cannot size the output buffer")
    value = int.from_bytes(frame[pos:pos + size], "little")
    return value + 256 if size == 2 else value


def _snappy_write(fo: IO[bytes], block: bytes, _level: int | None) -> None:
    data = pa.compress(block, codec="snappy", asbytes=True)
    fo.write(_encode_long(len(data) + 4))
    fo.write(data)
    fo.write(struct.pack(">I", zlib.crc32(block) & 0xFFFFFFFF))


def _snappy_read(fo: IO[bytes]) -> io.BytesIO:
    length = _read_long(fo)
    data = _read_exact(fo, length - 4)
    (crc,) = struct.unpack(">I", _read_exact(fo, 4))
    block = pa.decompress(data, decompressed_size=_snappy_length(data), codec="snappy", asbytes=True)
    if zlib.crc32(block) & 0xFFFFFFFF != crc:
        raise ValueError("snappy block failed its CRC32 check: the Avro file is corrupt")
    return io.BytesIO(block)


def _zstd_write(fo: IO[bytes], block: bytes, level: int | None) -> None:
    data = pa.compress(block, codec="zstd", asbytes=True) if level is None else \
        pa.Codec("zstd", compression_level=level).compress(block, asbytes=True)
    fo.write(_encode_long(len(data)))
    fo.write(data)


def _zstd_read(fo: IO[bytes]) -> io.BytesIO:
    data = _read_exact(fo, _read_long(fo))
    return io.BytesIO(pa.decompress(data, decompressed_size=_zstd_content_size(data), codec="zstd",
                                    asbytes=True))


_BRIDGES = {"snappy": (_snappy_write, _snappy_read), "zstandard": (_zstd_write, _zstd_read)}


def _round_trip(codec: str) -> None:
    import fastavro

    schema = fastavro.parse_schema({"type": "record", "name": "probe", "fields": [{"name": "s", "type": "string"}]})
    rows = [{"s": "northwind" * (i % 7)} for i in range(300)]
    buffer = io.BytesIO()
    fastavro.writer(buffer, schema, rows, codec=codec)
    buffer.seek(0)
    if list(fastavro.reader(buffer)) != rows:
        raise ValueError(f"{codec} round trip returned different records")


def enable_avro_codecs() -> dict[str, str]:
    """Make every Avro codec of the bake-off usable; say where each one comes from.

    Returns:
        Avro codec name -> ``"native"`` (fastavro's own), ``"pyarrow"`` (bridged here) or
        ``"unavailable: <why>"``.

    Introduced in: Lab 1 (assessment).
    """
    if _CODEC_STATE:
        return dict(_CODEC_STATE)
    from fastavro import read as avro_read
    from fastavro import write as avro_write

    writers: dict[str, Any] = getattr(avro_write, "BLOCK_WRITERS", None) or {}
    readers: dict[str, Any] = getattr(avro_read, "BLOCK_READERS", None) or {}
    if not writers:  # fastavro keeps the writer table in its compiled module
        from fastavro import _write as compiled_write  # type: ignore[attr-defined]

        writers = getattr(compiled_write, "BLOCK_WRITERS", {})
    for codec in ("null", "deflate", "snappy", "zstandard"):
        try:
            _round_trip(codec)
            _CODEC_STATE[codec] = "native"
            continue
        except Exception as exc:  # noqa: BLE001 - a missing codec library raises ValueError on use
            native_error = exc
        if codec not in _BRIDGES:
            _CODEC_STATE[codec] = f"unavailable: {native_error}"
            continue
        saved = writers.get(codec), readers.get(codec)
        writers[codec], readers[codec] = _BRIDGES[codec]
        try:
            _round_trip(codec)
            _CODEC_STATE[codec] = "pyarrow"
        except Exception as exc:  # noqa: BLE001 - the bridge does not fit this fastavro: restore
            writers[codec], readers[codec] = saved
            _CODEC_STATE[codec] = f"unavailable: {type(exc).__name__}: {exc}"
        _log.info("Avro codec %s: %s", codec, _CODEC_STATE[codec])
    return dict(_CODEC_STATE)
