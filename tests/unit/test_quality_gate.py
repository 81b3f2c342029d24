"""Quality gates: the good transform passes, the broken v2 fails by name, policy, YAML, CLI and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from platform_kit.cli import main
from platform_kit.datasets import generate_table
from platform_kit.errors import ConfigError, InputError
from platform_kit.quality._gate_examples import stage_orders_v2, stage_orders_v2_broken
from platform_kit.quality.contract import bundled_contracts
from platform_kit.quality.gate import (
    BUNDLED_GATES,
    GateVerdict,
    QualityGate,
    assert_gate,
    load_gates,
    resolve_transform,
    run_gate,
    source_diff,
)
from platform_kit.quality.pipeline import stage_orders
from platform_kit.quality.validate import QualityContext

UNIQUE = "expect_column_values_to_be_unique"


@pytest.fixture(scope="module")
def qc() -> QualityContext:
    return QualityContext()


@pytest.fixture(scope="module")
def gates() -> dict[str, QualityGate]:
    return load_gates(BUNDLED_GATES)


@pytest.fixture(scope="module")
def good(qc: QualityContext, gates: dict[str, QualityGate]) -> GateVerdict:
    return run_gate(gates["orders_staged"], context=qc)


@pytest.fixture(scope="module")
def broken(qc: QualityContext, gates: dict[str, QualityGate]) -> GateVerdict:
    return run_gate(gates["orders_staged_v2_broken"], context=qc)


def _duplicated_rows() -> int:
    """Rows of the broken output whose order_id repeats, counted from the inputs, not the gate."""
    staged = stage_orders(generate_table("orders", "tiny", 42))
    attempts = generate_table("payments", "tiny", 42)["order_id"].value_counts()
    attempts = attempts[attempts.index.isin(staged["order_id"])]
    return int(attempts[attempts > 1].sum())


def test_load_gates_bundled_declares_good_broken_and_fixed(gates: dict[str, QualityGate]) -> None:
    assert list(gates) == ["orders_staged", "orders_staged_v2_broken", "orders_staged_v2"]
    assert gates["orders_staged_v2_broken"].inputs == ["orders", "payments"]
    assert all(g.contract == "orders_staged" and g.max_failed_expectations == 0 for g in gates.values())
    assert "gates" not in bundled_contracts()  # the gates file is not mistaken for a contract


def test_run_gate_good_transform_passes(good: GateVerdict) -> None:
    assert good.passed and good.exit_code == 0
    assert good.blocking == () and good.warnings == () and good.error is None
    assert good.report is not None and good.report.success and good.report.rows == 1000
    assert good.transform == "platform_kit.quality.pipeline:stage_orders"
    assert good.summary().startswith("gate orders_staged PASS: 0 blocking failure(s)")


def test_run_gate_broken_transform_fails_on_primary_key(broken: GateVerdict) -> None:
    assert not broken.passed and broken.exit_code == 1
    assert [(o.expectation, o.column, o.rule) for o in broken.blocking] == [(UNIQUE, "order_id", "primary_key")]
    assert broken.blocking[0].unexpected_count == _duplicated_rows() > 0
    assert broken.report is not None and broken.report.failed == 1
    assert f"blocking: {UNIQUE}(order_id)" in broken.summary()


def test_run_gate_fixed_v2_passes(qc: QualityContext, gates: dict[str, QualityGate]) -> None:
    verdict = run_gate(gates["orders_staged_v2"], context=qc)
    assert verdict.passed, verdict.failure_table()


def test_stage_orders_v2_broken_adds_rows_fix_does_not() -> None:
    raw, payments = generate_table("orders", "tiny", 42), generate_table("payments", "tiny", 42)
    fixed, bad = stage_orders_v2(raw, payments), stage_orders_v2_broken(raw, payments)
    assert fixed["order_id"].is_unique and not bad["order_id"].is_unique
    assert len(bad) == int(payments["order_id"].isin(fixed["order_id"]).sum()) > len(fixed)
    assert set(bad["order_id"]) == set(fixed["order_id"])
    with pytest.raises(InputError, match="payments must be"):
        stage_orders_v2(raw, raw.drop(columns="order_id"))


def test_run_gate_allow_turns_failure_into_warning(qc: QualityContext, gates: dict[str, QualityGate]) -> None:
    gate = QualityGate(**{**dict(gates["orders_staged_v2_broken"]), "allow": ["primary_key"]})
    verdict = run_gate(gate, context=qc)
    assert verdict.passed and verdict.exit_code == 0
    assert verdict.blocking == () and [o.column for o in verdict.warnings] == ["order_id"]
    assert verdict.report is not None and not verdict.report.success  # the report itself still fails


@pytest.mark.parametrize("entry", [UNIQUE, "order_id", "primary_key", f"{UNIQUE}:order_id"])
def test_allows_matches_type_column_rule_or_pair(broken: GateVerdict, entry: str) -> None:
    gate = QualityGate(name="g", transform=stage_orders, inputs=["orders"], contract="orders_staged", allow=[entry])
    assert gate.allows(broken.blocking[0])


def test_allows_other_entries_do_not_match(broken: GateVerdict) -> None:
    gate = QualityGate(name="g", transform=stage_orders, inputs=["orders"], contract="orders_staged",
                       allow=["customer_id", f"{UNIQUE}:customer_id", "expect_column_values_to_not_be_null"])
    assert not gate.allows(broken.blocking[0])


def test_run_gate_max_failed_expectations_tolerates_one(qc: QualityContext, gates: dict[str, QualityGate]) -> None:
    gate = QualityGate(**{**dict(gates["orders_staged_v2_broken"]), "max_failed_expectations": 1})
    verdict = run_gate(gate, context=qc)
    assert verdict.passed and len(verdict.blocking) == 1
    assert "1 blocking failure(s) (max 1)" in verdict.summary()


def test_run_gate_given_frames_as_keywords_are_copied(qc: QualityContext) -> None:
    raw = generate_table("orders", "tiny", 42)
    before = raw.copy()

    def scribble(raw: pd.DataFrame) -> pd.DataFrame:
        raw["status"] = "lost"  # mutates its argument: must not reach the caller's frame
        return stage_orders(raw)

    gate = QualityGate(name="scribble", transform=scribble, inputs={"raw": raw}, contract="orders_staged")
    verdict = run_gate(gate, context=qc)
    pd.testing.assert_frame_equal(raw, before)
    assert [(o.expectation, o.column) for o in verdict.blocking] == [("expect_column_values_to_be_in_set", "status")]
    assert verdict.transform.endswith(":test_run_gate_given_frames_as_keywords_are_copied.<locals>.scribble")


def test_run_gate_crashing_transform_is_a_failed_verdict() -> None:
    def crash(raw: pd.DataFrame) -> pd.DataFrame:
        return raw["no_such_column"]

    verdict = run_gate(QualityGate(name="crash", transform=crash, inputs=["orders"], contract="orders_staged"))
    assert not verdict.passed and verdict.report is None and verdict.exit_code == 1
    assert "raised KeyError" in verdict.error and "raised KeyError" in verdict.summary()
    assert "crashed" in verdict.to_markdown()


def test_run_gate_non_dataframe_output_is_a_failed_verdict() -> None:
    verdict = run_gate(QualityGate(name="n", transform=len, inputs=["orders"], contract="orders_staged"))
    assert not verdict.passed and verdict.error == "transform builtins:len returned a int, not a DataFrame"


def test_assert_gate_raises_with_failure_table(qc: QualityContext, gates: dict[str, QualityGate]) -> None:
    with pytest.raises(AssertionError) as info:
        assert_gate(gates["orders_staged_v2_broken"], context=qc)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("gate orders_staged_v2_broken FAIL")
    assert lines[1].split() == ["severity", "expectation", "column", "rule", "unexpected", "sample"]
    assert lines[3].split()[:4] == ["blocking", UNIQUE, "order_id", "primary_key"]


def test_assert_gate_returns_passing_verdict(qc: QualityContext, gates: dict[str, QualityGate]) -> None:
    assert assert_gate(gates["orders_staged"], context=qc).passed


def test_to_markdown_failed_gate_has_blocking_row(broken: GateVerdict) -> None:
    text = broken.to_markdown()
    assert text.startswith("### ❌ Quality gate `orders_staged_v2_broken` failed")
    assert "| severity | expectation | column | rule | unexpected | sample |" in text
    assert f"| **blocking** | `{UNIQUE}` | order_id | primary_key | {_duplicated_rows()} (" in text


def test_to_markdown_passed_gate_has_no_table(good: GateVerdict) -> None:
    text = good.to_markdown()
    assert text.startswith("### ✅ Quality gate `orders_staged` passed") and "|---" not in text
    assert "39/39 expectations met" in text


def test_verdict_to_dict_is_json(broken: GateVerdict) -> None:
    data = json.loads(json.dumps(broken.to_dict(), default=str))
    assert data["passed"] is False and data["exit_code"] == 1
    assert data["blocking"][0]["expectation"] == UNIQUE and data["report"]["failed"] == 1
    assert list(broken.frame()["severity"]) == ["blocking"]


_GOOD_ITEM = ("  - name: a\n    transform: platform_kit.quality.pipeline:stage_orders\n"
              "    inputs: [orders]\n    contract: orders_staged\n")


@pytest.mark.parametrize(("text", "where", "fix"), [
    (_GOOD_ITEM + "    alow: [primary_key]\n", "gates[0] (a).alow", "remove `alow` or fix its spelling"),
    (_GOOD_ITEM.replace("    contract: orders_staged\n", ""), "gates[0] (a).contract", "add the required key"),
    (_GOOD_ITEM.replace("pipeline:stage_orders", "pipeline.stage_orders"), "gates[0] (a).transform",
     "write e.g. `transform: platform_kit.quality.pipeline:stage_orders`"),
    (_GOOD_ITEM.replace("[orders]", "[orderz]"), "gates[0] (a).inputs", "use tables of the generator"),
    (_GOOD_ITEM + "    scale: huge\n", "gates[0] (a).scale", "use one of 'tiny'"),
    (_GOOD_ITEM + "    max_failed_expectations: -1\n", "gates[0] (a).max_failed_expectations", "fix the value"),
    (_GOOD_ITEM + _GOOD_ITEM, "gates[1] (a).name", "give each gate its own name"),
])
def test_load_gates_bad_keys_name_path_and_fix(text: str, where: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_gates("gates:\n" + text)
    assert where in info.value.message
    assert fix in (info.value.fix or "")


@pytest.mark.parametrize("text", ["gates: 3\n", "- a\n- b\n", "gates: []\nextra: 1\n", "gates: [1, 2]\n",
                                  "gates: [\n"])
def test_load_gates_bad_shape_is_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_gates(text)
    assert info.value.fix


def test_load_gates_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read gates file"):
        load_gates(tmp_path / "none.yml")


def test_load_gates_resolves_contract_next_to_file(tmp_path: Path) -> None:
    (tmp_path / "mine.yml").write_text(bundled_contracts()["orders_staged"].read_text())
    path = tmp_path / "gates.yml"
    path.write_text("gates:\n" + _GOOD_ITEM.replace("contract: orders_staged", "contract: mine.yml"))
    gate = load_gates(path)["a"]
    assert gate.contract == tmp_path / "mine.yml" and gate.load_contract().name == "orders_staged"


@pytest.mark.parametrize(("spec", "message"), [
    ("no_such_pkg.mod:stage", "cannot import module 'no_such_pkg.mod'"),
    ("platform_kit.quality.pipeline:stage_ordrs", "has no attribute 'stage_ordrs'"),
    ("platform_kit.quality.pipeline:STAGED_COLUMNS", "is a tuple, not a function"),
    ("platform_kit.quality.pipeline.stage_orders", "not of the form package.module:function"),
])
def test_resolve_transform_bad_path_is_input_error(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        resolve_transform(spec)
    assert info.value.fix


def test_run_gate_non_importable_transform_raises_input_error() -> None:
    gate = load_gates("gates:\n" + _GOOD_ITEM.replace("platform_kit.quality.pipeline", "nowhere.mod"))["a"]
    with pytest.raises(InputError, match="cannot import module 'nowhere.mod'"):
        run_gate(gate)


def test_resolve_transform_finds_function() -> None:
    assert resolve_transform("platform_kit.quality.pipeline:stage_orders") is stage_orders


def test_quality_gate_bad_arguments_are_input_error() -> None:
    with pytest.raises(InputError, match="inputs") as info:
        QualityGate(name="g", transform=stage_orders, inputs=[], contract="orders_staged")
    assert info.value.fix
    with pytest.raises(InputError, match="expected a QualityGate"):
        run_gate("orders_staged")  # type: ignore[arg-type]


def test_cli_gate_good_exits_zero(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    md = tmp_path / "comment.md"
    assert main(["quality", "gate", "orders_staged", "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "PASS gate orders_staged PASS" in out and "1 of 1 gate(s) passed" in out
    assert md.read_text().startswith("### ✅ Quality gate `orders_staged` passed")


def test_cli_gate_broken_exits_one_with_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "gate", "orders_staged", "orders_staged_v2_broken"]) == 1
    out = capsys.readouterr().out
    assert "FAIL gate orders_staged_v2_broken" in out and UNIQUE in out and "primary_key" in out
    assert "1 of 2 gate(s) passed; failed: orders_staged_v2_broken" in out


def test_cli_gate_json_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "gate", "orders_staged_v2_broken", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [(d["gate"], d["passed"]) for d in data] == [("orders_staged_v2_broken", False)]
    assert main(["quality", "gate", "nope"]) == 2
    err = capsys.readouterr().err
    assert "no gate named 'nope'" in err and "orders_staged_v2_broken" in err


def test_cli_validate_table_and_broken_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["quality", "validate", "orders", "--contract", "orders_raw"]) == 0
    assert "PASS orders_raw v1.0.0" in capsys.readouterr().out
    staged = stage_orders(generate_table("orders", "tiny", 42))
    staged.loc[3, "total_amount"] = -1.0
    staged.to_csv(tmp_path / "staged.csv", index=False)
    assert main(["quality", "validate", str(tmp_path / "staged.csv"), "--contract", "orders_staged"]) == 1
    out = capsys.readouterr().out
    assert "FAIL orders_staged" in out and "38/39" in out and "total_amount" in out
    assert main(["quality", "validate", "ordrs", "--contract", "orders_raw"]) == 2
    assert "neither a generated table" in capsys.readouterr().err


def test_source_diff_shows_the_change_without_docstrings() -> None:
    diff = source_diff(stage_orders_v2, stage_orders_v2_broken).splitlines()
    assert diff[0] == "--- platform_kit.quality._gate_examples:stage_orders_v2"
    assert diff[1] == "+++ platform_kit.quality._gate_examples:stage_orders_v2_broken"
    assert any(line.startswith("-") and "isin(" in line for line in diff)
    assert any(line.startswith("+") and 'how="inner"' in line for line in diff)
    assert not any("Args:" in line or '"""' in line for line in diff)  # docstrings left out
    assert source_diff(stage_orders, stage_orders) == ""
    with pytest.raises(InputError, match="no source"):
        source_diff(len, stage_orders)


def test_cli_gate_summary_stays_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quality", "gate", "orders_staged_v2_broken"]) == 1
    lines = capsys.readouterr().out.splitlines()
    summary = next(line for line in lines if line.startswith("FAIL gate orders_staged_v2_broken"))
    assert summary.endswith(f"blocking: {UNIQUE}(order_id)")  # long, but not wrapped: CI logs are grepped
