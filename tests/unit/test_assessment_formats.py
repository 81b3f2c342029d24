"""Lab 1, section 3: the Parquet/ORC/Avro bake-off, schema evolution and the format_choice exercise."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from platform_kit.assessment import _formats_avro as avro
from platform_kit.assessment.formats import (
    CODECS,
    EVOLUTION_CHANGES,
    FORMATS,
    WORKLOADS,
    RangePredicate,
    acceptable_formats,
    attach_evolution,
    choose_format,
    default_predicate,
    evolution_matrix,
    evolution_verdicts,
    evolve_schemas,
    measure_formats,
)
from platform_kit.errors import ConfigError, GradingError
from platform_kit.grading import check
from platform_kit.grading.exercises.assessment_storage import FORMAT_ID, handmade_format_tables


def _events(rows: int = 2400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ts = pd.Timestamp("2024-11-25") + pd.to_timedelta(np.sort(rng.uniform(0, 6 * 86400, rows)), unit="s")
    customers = pd.array(rng.integers(1, 50, rows), dtype="Int64")
    customers[rng.random(rows) < 0.3] = pd.NA
    return pd.DataFrame({
        "event_id": [f"ev_{i:08x}" for i in range(rows)],
        "event_type": rng.choice(["page_view", "add_to_cart", "purchase"], rows),
        "customer_id": customers,
        "price": rng.gamma(2.0, 20.0, rows).round(2),
        "event_ts": ts.astype("datetime64[us]"),
        "seq": np.arange(rows, dtype="int64"),
    })


# --- pure: predicates ----------------------------------------------------------------------------
def test_range_predicate_expression_and_python_test_agree() -> None:
    frame = _events(500)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pred = RangePredicate("event_ts", pd.Timestamp("2024-11-27"), pd.Timestamp("2024-11-28"))
    arrow_rows = table.filter(pred.expression(table.schema)).num_rows
    test = pred.python_test(table.schema)
    python_rows = sum(test(r) for r in table.to_pylist())
    assert arrow_rows == python_rows > 0
    assert not test({"event_ts": None})


@pytest.mark.parametrize("pred, words", [
    (RangePredicate("nope", 1, 2), "not in the data"),
    (RangePredicate("price", 5, 5), "empty predicate"),
    (RangePredicate("event_ts", "yesterday", "today"), "do not fit"),
])
def test_bad_predicates_say_what_is_wrong(pred: RangePredicate, words: str) -> None:
    schema = pa.Table.from_pandas(_events(10), preserve_index=False).schema
    with pytest.raises(ConfigError, match=words):
        pred.bounds(schema)


def test_default_predicate_takes_the_median_day_then_a_numeric_band() -> None:
    pred = default_predicate(_events())
    assert pred.column == "event_ts" and pred.high - pred.low == pd.Timedelta(days=1)
    numeric = default_predicate(pd.DataFrame({"name": ["a"] * 10, "x": range(10)}))
    assert numeric.column == "x" and numeric.low < numeric.high
    with pytest.raises(ConfigError, match="no timestamp or numeric"):
        default_predicate(pd.DataFrame({"name": ["a", "b"]}))


# --- pure: decisions -----------------------------------------------------------------------------
def test_choose_format_follows_each_workload_metric_on_hand_made_tables() -> None:
    first, second = handmade_format_tables()
    assert choose_format(first, "archive") == ("avro", "gzip")
    assert choose_format(first, "analytics_projection") == ("parquet", "snappy")  # not the fastest full read
    assert choose_format(first, "streaming_append_with_evolution") == ("orc", "none")  # avro/none is not safe
    assert choose_format(second, "archive") == ("parquet", "zstd")
    assert choose_format(second, "streaming_append_with_evolution") == ("parquet", "gzip")


def test_acceptable_formats_keeps_ties() -> None:
    table = handmade_format_tables()[1].copy()
    table.loc[table["format"] == "orc", "file_bytes"] = 2500
    assert acceptable_formats(table, "archive") == {("parquet", "zstd"), ("orc", "snappy"), ("orc", "gzip")}


@pytest.mark.parametrize("results, workload, words", [
    ("a table", "archive", "must be a pandas DataFrame"),
    (pd.DataFrame({"format": ["orc"]}), "archive", "no column"),
    (handmade_format_tables()[0], "olap", "unknown workload"),
    (handmade_format_tables()[0].drop(columns="evolves_safely"), "streaming_append_with_evolution",
     "evolves_safely"),
    (handmade_format_tables()[0].assign(evolves_safely=False), "streaming_append_with_evolution",
     "no measured"),
    (handmade_format_tables()[0].assign(status="unavailable"), "archive", "no measured"),
])
def test_choose_format_rejects_malformed_input(results: object, workload: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        choose_format(results, workload)  # type: ignore[arg-type]


def _evolution(outcomes: dict[tuple[str, str], list[str]]) -> pd.DataFrame:
    return pd.DataFrame([{"format": f, "reader": r, "change": c, "outcome": o, "detail": ""}
                         for (f, r), values in outcomes.items()
                         for c, o in zip(EVOLUTION_CHANGES, values, strict=True)])


def test_a_format_evolves_safely_when_one_reader_never_breaks() -> None:
    table = _evolution({
        ("parquet", "a"): ["reads with default/null", "breaks: silent nulls", "reads", "reads"],
        ("parquet", "b"): ["breaks: x", "reads", "reads", "reads"],
        ("avro", "a"): ["breaks: x", "breaks: y", "reads", "reads"],
        ("avro", "b"): ["reads with default/null", "reads", "reads", "reads"],
    })
    assert evolution_verdicts(table) == {"parquet": False, "avro": True}
    attached = attach_evolution(handmade_format_tables()[1].drop(columns="evolves_safely"), table)
    assert attached.groupby("format")["evolves_safely"].first().to_dict() == {
        "avro": True, "orc": False, "parquet": False}
    assert list(evolution_matrix(table).columns) == list(EVOLUTION_CHANGES)
    with pytest.raises(ConfigError, match="no column"):
        evolution_verdicts(pd.DataFrame({"format": ["x"]}))


# --- Avro codecs and schemas ---------------------------------------------------------------------
@pytest.mark.parametrize("value", [0, 1, -1, 63, -64, 64, 300, -300, 2**40, -(2**62)])
def test_avro_long_encoding_round_trips(value: int) -> None:
    assert avro._read_long(io.BytesIO(avro._encode_long(value))) == value


def test_truncated_and_corrupt_avro_blocks_fail_clearly() -> None:
    with pytest.raises(EOFError):
        avro._read_long(io.BytesIO(b"\x80"))
    block = b"northwind" * 50
    out = io.BytesIO()
    avro._snappy_write(out, block, None)
    assert avro._snappy_read(io.BytesIO(out.getvalue())).read() == block
    corrupt = bytearray(out.getvalue())
    corrupt[-1] ^= 0xFF
    with pytest.raises(ValueError, match="CRC32"):
        avro._snappy_read(io.BytesIO(bytes(corrupt)))
    with pytest.raises(EOFError):
        avro._snappy_read(io.BytesIO(out.getvalue()[:-6]))
    with pytest.raises(ValueError, match="zstd"):
        avro._zstd_content_size(b"not a zstd frame")
    frame = pa.compress(block, codec="zstd", asbytes=True)
    assert avro._zstd_content_size(frame) == len(block)


def test_every_bake_off_codec_is_usable_in_avro() -> None:
    state = avro.enable_avro_codecs()
    assert {state[c] for c in ("null", "deflate")} == {"native"}
    assert not any(state[c].startswith("unavailable") for c in ("snappy", "zstandard")), state


def test_avro_schema_maps_types_and_rejects_nested_ones() -> None:
    table = pa.Table.from_pandas(_events(20), preserve_index=False)
    fields = {f["name"]: f["type"] for f in avro.avro_schema_for(table)["fields"]}
    assert fields["event_ts"] == {"type": "long", "logicalType": "local-timestamp-micros"}
    assert fields["customer_id"] == ["null", "long"] and fields["price"] == "double"
    with pytest.raises(ConfigError, match="does not map"):
        avro.avro_schema_for(pa.table({"tags": pa.array([[1, 2]])}))


# --- engine tier: pyarrow and fastavro ------------------------------------------------------------
@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    frame = _events()
    return measure_formats(frame, workdir=tmp_path_factory.mktemp("formats"), repeats=1,
                           projection=["event_type", "event_ts"])


def test_measure_formats_fills_every_format_and_codec(measured: pd.DataFrame) -> None:
    assert len(measured) == len(FORMATS) * len(CODECS)
    assert (measured["status"] == "ok").all()
    assert measured[["write_s", "full_read_s", "projected_read_s", "filtered_read_s"]].gt(0).all().all()
    assert measured["rows_matched"].nunique() == 1 and 0 < measured["rows_matched"].iloc[0] < 2400
    base = measured.set_index(["format", "codec"])
    assert base.loc[("parquet", "none"), "size_vs_baseline"] == 1.0
    for fmt in FORMATS:
        assert base.loc[(fmt, "zstd"), "file_bytes"] < base.loc[(fmt, "none"), "file_bytes"]


def test_columnar_reads_fetch_less_and_parquet_skips_row_groups(measured: pd.DataFrame) -> None:
    rows = measured.set_index(["format", "codec"])
    for fmt in ("parquet", "orc"):
        assert (rows.loc[fmt, "projected_bytes_read"] < rows.loc[fmt, "full_bytes_read"]).all()
    parquet = rows.loc["parquet"]
    assert (parquet["units_read"] < parquet["units_total"]).all()
    assert (parquet["filtered_bytes_read"] < parquet["full_bytes_read"]).all()
    assert (parquet["rows_decoded"] < 2400).all()
    avro_rows = rows.loc["avro"]  # row-oriented: every read decodes every block
    assert (avro_rows["projected_bytes_read"] == avro_rows["file_bytes"]).all()
    assert (avro_rows["rows_decoded"] == 2400).all()


def test_choose_format_on_measured_numbers(measured: pd.DataFrame, tmp_path: Path) -> None:
    results = attach_evolution(measured, evolve_schemas(tmp_path))
    fmt, codec = choose_format(results, "streaming_append_with_evolution")
    assert fmt == "avro"
    best = results[results["format"] == "avro"]["write_s"].min()
    assert results.set_index(["format", "codec"]).loc[(fmt, codec), "write_s"] == best


@pytest.mark.parametrize("kwargs, words", [
    ({"frame": pd.DataFrame()}, "rows"),
    ({"frame": "events"}, "pandas DataFrame"),
    ({"codecs": ["lzo"]}, "codecs"),
    ({"codecs": "zstd"}, "codecs"),
    ({"formats": []}, "formats"),
    ({"repeats": 0}, "repeats"),
    ({"repeats": True}, "repeats"),
    ({"projection": ["nope"]}, "projection"),
    ({"predicate": RangePredicate("price", 10, 1)}, "empty predicate"),
    ({"group_rows": -5}, "group_rows"),
])
def test_measure_formats_rejects_bad_arguments(kwargs: dict[str, object], words: str, tmp_path: Path) -> None:
    args: dict[str, object] = {"frame": _events(50), "workdir": tmp_path, "repeats": 1} | kwargs
    with pytest.raises(ConfigError, match=words):
        measure_formats(**args)  # type: ignore[arg-type]


def test_evolution_matrix_is_decided_by_trying(tmp_path: Path) -> None:
    table = evolve_schemas(tmp_path)
    outcome = table.set_index(["format", "reader", "change"])["outcome"]
    for fmt in ("parquet", "orc"):
        reader = "pyarrow (unified v2 schema)"
        assert outcome[(fmt, reader, "add_column")] == "reads with default/null"
        assert outcome[(fmt, reader, "rename_column")].startswith("breaks: silent nulls")
        assert outcome[(fmt, reader, "widen_int")] == "reads"
    declared = "fastavro (reader schema)"
    assert outcome[("avro", declared, "rename_column")] == "reads"
    assert outcome[("avro", declared, "add_column")] == "reads with default/null"
    assert "SchemaResolutionError" in outcome[("avro", "fastavro (no defaults/aliases)", "add_column")]
    assert evolve_schemas(tmp_path).equals(table)  # re-runnable in the same folder


# --- exercise ------------------------------------------------------------------------------------
def _reference(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    return choose_format(results, workload)


def _always_parquet_zstd(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    return ("parquet", "zstd")


def _full_read_instead(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    ok = results[results["status"] == "ok"]
    column = {"analytics_projection": "full_read_s", "archive": "file_bytes"}.get(workload, "write_s")
    if workload == "streaming_append_with_evolution":
        ok = ok[ok["evolves_safely"]]
    row = ok.loc[ok[column].idxmin()]
    return (row["format"], row["codec"])


def _ignores_evolution(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    ok = results[results["status"] == "ok"]
    column = {"analytics_projection": "projected_read_s", "archive": "file_bytes"}.get(workload, "write_s")
    row = ok.loc[ok[column].idxmin()]
    return (row["format"], row["codec"])


def _ignores_status(results: pd.DataFrame, workload: str) -> tuple[str, str]:
    column = {"analytics_projection": "projected_read_s", "archive": "file_bytes"}.get(workload, "write_s")
    table = results[results["evolves_safely"]] if workload.startswith("streaming") else results
    row = table.loc[table[column].idxmin()]
    return (row["format"], row["codec"])


def _returns_a_list(results: pd.DataFrame, workload: str) -> list[str]:
    return list(choose_format(results, workload))


def test_format_choice_exercise_passes_the_reference(measured: pd.DataFrame, tmp_path: Path) -> None:
    results = attach_evolution(measured, evolve_schemas(tmp_path))
    assert check(FORMAT_ID, _reference, context={"results": results}, show=False).passed


@pytest.mark.parametrize("wrong", [_always_parquet_zstd, _full_read_instead, _ignores_evolution,
                                   _ignores_status, _returns_a_list])
def test_format_choice_exercise_rejects_wrong_picks(wrong: object, measured: pd.DataFrame, tmp_path: Path) -> None:
    results = attach_evolution(measured, evolve_schemas(tmp_path))
    result = check(FORMAT_ID, wrong, context={"results": results}, show=False)
    assert not result.passed and result.attempted, result.message


def test_format_choice_needs_the_results_in_context() -> None:
    with pytest.raises(GradingError, match="context"):
        check(FORMAT_ID, _reference, context={}, show=False)


# --- engine tier: Spark ----------------------------------------------------------------------------
def test_spark_reads_both_columnar_formats_and_prunes_with_statistics(spark: object, tmp_path: Path) -> None:
    from platform_kit.assessment.formats import spark_format_parity

    frame = _events()
    measure_formats(frame, workdir=tmp_path, codecs=["zstd"], formats=["parquet", "orc"], repeats=1)
    pred = default_predicate(frame)
    parity = spark_format_parity(spark, {"parquet": tmp_path / "parquet_zstd.parquet",
                                         "orc": tmp_path / "orc_zstd.orc"}, pred).set_index("format")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    expected = table.filter(pred.expression(table.schema)).num_rows
    assert (parity["rows_matched"] == expected).all()
    assert (parity["files"] == 1).all() and (parity["file_bytes"] > 0).all()
    assert expected <= parity.loc["orc", "scan_rows"] < len(frame)  # ORC row-index groups skipped
    # Measured trap: Spark 4.3 does not push naive (TIMESTAMP_NTZ) Parquet predicates into row groups
    assert parity.loc["parquet", "scan_rows"] == len(frame)
    by_number = spark_format_parity(spark, {"parquet": tmp_path / "parquet_zstd.parquet"},
                                    RangePredicate("seq", 1200, 1500)).iloc[0]
    assert by_number["rows_matched"] == 300 and by_number["scan_rows"] == 1000  # one row group of 1,000
    with pytest.raises(ConfigError, match="Avro"):
        spark_format_parity(spark, {"avro": tmp_path / "x.avro"}, pred)


def test_spark_merge_schema_breaks_on_widening(spark: object, tmp_path: Path) -> None:
    table = evolve_schemas(tmp_path, spark=spark)
    outcome = table.set_index(["format", "reader", "change"])["outcome"]
    for fmt in ("parquet", "orc"):
        assert outcome[(fmt, "spark (mergeSchema)", "add_column")] == "reads with default/null"
        assert outcome[(fmt, "spark (mergeSchema)", "widen_int")].startswith("breaks: SparkException")
    assert evolution_verdicts(table) == {"avro": True, "orc": False, "parquet": False}
    assert set(WORKLOADS) >= {"archive"}


def test_format_choice_reports_a_wrong_context_table_as_the_notebook_s_mistake(measured: pd.DataFrame) -> None:
    with pytest.raises(GradingError, match="evolves_safely"):
        check(FORMAT_ID, _reference, context={"results": measured}, show=False)  # evolution not attached
