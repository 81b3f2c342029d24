"""Data contracts: loading, clear errors, round trip and the suites they generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from platform_kit.errors import ConfigError
from platform_kit.quality.contract import DataContract, bundled_contracts, load_contract

_BASE = """\
name: t
version: "1"
owner: {team: data, email: data@company.example}
stage: raw
"""


def _contract(columns: str, extra: str = "") -> str:
    return _BASE + extra + "columns:\n" + columns


def test_bundled_contracts_all_load() -> None:
    names = set(bundled_contracts())
    assert names == {"orders_raw", "orders_staged", "customer_features"}
    for name in names:
        contract = load_contract(name)
        assert contract.name == name
        assert contract.owner.email.endswith("@company.example")


def test_load_contract_reads_path_and_text_alike(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(_contract("  - {name: id, type: integer, nullable: false}\n"))
    from_path, from_text = load_contract(path), load_contract(path.read_text())
    assert from_path == from_text
    assert from_path.column("id").nullable is False
    assert from_path.column_names == ["id"]
    assert from_path.version == "1"


def test_load_contract_version_number_becomes_text() -> None:
    text = _contract("  - {name: id, type: integer}\n").replace('version: "1"', "version: 1.0")
    assert load_contract(text).version == "1.0"


@pytest.mark.parametrize("name", ["orders_raw", "orders_staged", "customer_features"])
def test_to_yaml_round_trips(name: str) -> None:
    contract = load_contract(name)
    again = load_contract(contract.to_yaml())
    assert again == contract
    assert again.to_yaml() == contract.to_yaml()


def test_load_contract_temporal_bounds_normalised_to_iso() -> None:
    text = _contract("  - {name: d, type: date, min: 2024-01-01, max: 2024-12-31T10:00:00}\n"
                     "  - {name: ts, type: timestamp, min: 2024-01-01}\n")
    contract = load_contract(text)
    assert contract.column("d").min == "2024-01-01"
    assert contract.column("d").max == "2024-12-31"
    assert contract.column("ts").min == "2024-01-01T00:00:00"


def test_load_contract_unknown_key_names_path_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "typo.yml"
    path.write_text(_contract("  - {name: id, type: integer}\n  - {name: amount, type: float, nulable: false}\n"))
    with pytest.raises(ConfigError) as err:
        load_contract(path)
    assert str(path) in str(err.value)
    assert "columns[1] (amount).nulable" in str(err.value)
    assert "remove `nulable`" in err.value.fix


def test_load_contract_min_above_max_names_key() -> None:
    with pytest.raises(ConfigError) as err:
        load_contract(_contract("  - {name: amount, type: float, min: 10, max: 1}\n"))
    assert "columns[0] (amount).min" in str(err.value)
    assert "greater than max" in str(err.value)
    assert err.value.fix


def test_load_contract_row_count_min_above_max() -> None:
    with pytest.raises(ConfigError, match=r"row_count\.min"):
        load_contract(_contract("  - {name: id, type: integer}\n", "row_count: {min: 5, max: 2}\n"))


def test_load_contract_bad_regex_names_key() -> None:
    with pytest.raises(ConfigError) as err:
        load_contract(_contract("  - {name: code, type: string, regex: '[A-Z'}\n"))
    assert "columns[0] (code).regex" in str(err.value)
    assert "does not compile" in str(err.value)


@pytest.mark.parametrize(("column", "key"), [
    ("{name: a, type: text}", "columns[0] (a).type"),
    ("{name: a, type: string, min: 1}", "columns[0] (a).min"),
    ("{name: a, type: integer, regex: x}", "columns[0] (a).regex"),
    ("{name: a, type: integer, min: low}", "columns[0] (a).min"),
    ("{name: a, type: timestamp, max: not-a-date}", "columns[0] (a).max"),
    ("{name: a, type: string, allowed_values: []}", "columns[0] (a).allowed_values"),
])
def test_load_contract_bad_column_rule(column: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_contract(_contract(f"  - {column}\n"))
    assert key in str(err.value)


@pytest.mark.parametrize(("extra", "needle"), [
    ("primary_key: [nope]\n", "not among the columns"),
    ("primary_key: [id]\n", "is nullable"),
    ("sla: {completeness: 1.5}\n", "sla.completeness"),
    ("escalation: [{contact: x, channel: fax}]\n", "escalation[0].channel"),
])
def test_load_contract_bad_table_rule(extra: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        load_contract(_contract("  - {name: id, type: integer}\n", extra))


def test_load_contract_duplicate_column_and_bad_stage() -> None:
    with pytest.raises(ConfigError, match="more than once"):
        load_contract(_contract("  - {name: id, type: integer}\n  - {name: id, type: float}\n"))
    with pytest.raises(ConfigError, match="stage"):
        load_contract(_contract("  - {name: id, type: integer}\n").replace("stage: raw", "stage: gold"))


def test_load_contract_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_contract("name: [unclosed\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_contract("- a\n- b\n")
    with pytest.raises(ConfigError) as err:
        load_contract(tmp_path / "absent.yml")
    assert "orders_raw" in err.value.fix


def test_build_suite_counts_and_types() -> None:
    from platform_kit.quality.validate import build_suite

    contract = load_contract(_contract(
        "  - {name: id, type: integer, nullable: false, min: 1}\n"
        "  - {name: part, type: integer, nullable: false}\n"
        "  - {name: code, type: string, allowed_values: [a, b], regex: '^[a-z]$', max_length: 1}\n"
        "  - {name: ts, type: timestamp, unique: true}\n",
        "column_match: ordered\nrow_count: {min: 1}\nprimary_key: [id, part]\n"))
    suite = build_suite(contract, "pandas")
    kinds = [e.expectation_type for e in suite.expectations]
    assert suite.name == "t-pandas"
    assert kinds[:3] == ["expect_table_columns_to_match_ordered_list", "expect_table_row_count_to_be_between",
                         "expect_compound_columns_to_be_unique"]
    # per column: exist + type (4 columns) + 2 not-null + min + in-set + regex + length + unique(ts)
    assert len(kinds) == 3 + 8 + 2 + 1 + 1 + 1 + 1 + 1
    assert kinds.count("expect_column_values_to_be_unique") == 1
    assert {e.meta["rule"] for e in suite.expectations} >= {"primary_key", "columns.code.regex"}


def test_build_suite_engine_type_names() -> None:
    from platform_kit.quality.validate import build_suite

    contract = load_contract("orders_raw")
    pandas_types = {e.column: e.type_list for e in build_suite(contract, "pandas").expectations
                    if e.expectation_type == "expect_column_values_to_be_in_type_list"}
    spark_types = {e.column: e.type_list for e in build_suite(contract, "spark").expectations
                   if e.expectation_type == "expect_column_values_to_be_in_type_list"}
    assert "int64" in pandas_types["order_id"] and "LongType" in spark_types["order_id"]
    assert "datetime64[us]" in pandas_types["order_ts"] and "TimestampType" in spark_types["order_ts"]
    assert spark_types["currency"] == ["StringType", "VarcharType", "CharType"]
    single_pk = [e for e in build_suite(contract, "pandas").expectations if e.meta["rule"] == "primary_key"]
    assert [e.expectation_type for e in single_pk] == ["expect_column_values_to_be_unique"]


def test_build_suite_bad_engine_and_input() -> None:
    from platform_kit.errors import InputError
    from platform_kit.quality.validate import build_suite

    with pytest.raises(InputError, match="unknown engine"):
        build_suite(load_contract("orders_raw"), "polars")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="DataContract"):
        build_suite({"name": "x"}, "pandas")  # type: ignore[arg-type]


def test_data_contract_model_forbids_extra() -> None:
    assert DataContract.model_config["extra"] == "forbid"
