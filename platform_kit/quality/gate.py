"""Quality gates for CI: run a transform on known inputs and fail the build when its output breaks a contract.

A gate names a transform (a callable or ``package.module:function``), its inputs (tables of the
synthetic company at a scale and seed, or given frames), the contract its output must meet and a
policy: how many failed expectations are tolerated and which may fail as warnings only::

    gate = QualityGate(name="orders_staged", transform="platform_kit.quality.pipeline:stage_orders",
                       inputs=["orders"], contract="orders_staged")
    verdict = run_gate(gate)        # GateVerdict: .passed, .blocking, .warnings, .exit_code
    print(verdict.to_markdown())    # a CI comment
    assert_gate(gate)               # inside a project's pytest test: AssertionError with the failures

Gates are also declared in YAML (``gates: [...]``, read by :func:`load_gates`); the bundled
``gates.yml`` holds the lab's good and broken transforms and ``workbench quality gate`` runs them.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from platform_kit.errors import ConfigError, InputError, WorkbenchError
from platform_kit.quality._gate_config import config_error, local_contract, read_source, resolve_transform
from platform_kit.quality._gate_render import failure_rows, render_markdown, render_text_table, source_diff
from platform_kit.quality.contract import DataContract, load_contract
from platform_kit.quality.validate import ExpectationOutcome, QualityContext, ValidationReport, detect_engine

_log = logging.getLogger(__name__)

__all__ = ["BUNDLED_GATES", "GateVerdict", "QualityGate", "assert_gate", "load_gates", "resolve_transform",
           "run_gate", "run_gates", "source_diff"]

#: The lab's gates: the good transform, the broken v2 and its fix.
BUNDLED_GATES = Path(__file__).with_name("gates.yml")

Input: TypeAlias = str | pd.DataFrame  # a generated table name or a given frame


def _rule_error(detail: str, fix: str) -> PydanticCustomError:
    return PydanticCustomError("gate_rule", "{detail}", {"detail": detail, "fix": fix})


class _GateFields(BaseModel):
    """The fields and checks of a gate (validated on their own by load_gates to keep key paths)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    transform: str | Callable[..., Any]
    inputs: list[Input] | dict[str, Input] = Field(min_length=1)
    contract: str | Path | DataContract
    scale: str | float = "tiny"
    seed: int = Field(default=42, ge=0)
    max_failed_expectations: int = Field(default=0, ge=0)
    allow: list[str] = Field(default_factory=list)
    description: str = ""

    @field_validator("transform")
    @classmethod
    def _check_transform(cls, value: Any) -> Any:
        if isinstance(value, str):
            module, sep, attr = value.partition(":")
            if not sep or not module or not attr:
                raise _rule_error(f"transform {value!r} is not of the form package.module:function",
                                  "write e.g. `transform: platform_kit.quality.pipeline:stage_orders`")
        return value

    @field_validator("inputs")
    @classmethod
    def _check_inputs(cls, value: list[Input] | dict[str, Input]) -> list[Input] | dict[str, Input]:
        from platform_kit.datasets import TABLES

        names = value.values() if isinstance(value, dict) else value
        unknown = [n for n in names if isinstance(n, str) and n not in TABLES]
        if unknown:
            raise _rule_error(f"unknown table(s) {unknown}", f"use tables of the generator: {', '.join(TABLES)}")
        return value

    @field_validator("scale")
    @classmethod
    def _check_scale(cls, value: str | float) -> str | float:
        from platform_kit.datasets._scales import resolve_factor

        try:
            resolve_factor(value)  # type: ignore[arg-type]
        except WorkbenchError as exc:
            raise _rule_error(exc.message, exc.fix or "use tiny, small, medium or large") from None
        return value


class QualityGate(_GateFields):
    """One gate: transform, inputs, contract and failure policy.

    Attributes:
        name: Identifier used on the command line and in reports.
        transform: A callable, or ``"package.module:function"`` imported when the gate runs.
        inputs: Table names of the synthetic company (see ``platform_kit.datasets.TABLES``) or
            DataFrames; a list is passed positionally, a mapping as keyword arguments.
        contract: A bundled contract name, a path, YAML text or a DataContract.
        scale: Scale of the generated tables.
        seed: Seed of the generated tables.
        max_failed_expectations: Blocking failures tolerated before the gate fails.
        allow: Failures that only warn: an expectation type, a column, a contract rule
            (``primary_key``, ``columns.total_amount.min/max``) or ``expectation:column``.
        description: Free text shown in reports.
    """

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<gate>"
            fix = (first.get("ctx") or {}).get("fix") or f"fix the value of `{where}` (see QualityGate's fields)"
            raise InputError(f"invalid quality gate: {where}: {first['msg']}", fix=fix) from None

    @property
    def transform_name(self) -> str:
        """``package.module:function`` of the transform (its qualified name when given a callable)."""
        if isinstance(self.transform, str):
            return self.transform
        module = getattr(self.transform, "__module__", None) or "?"
        return f"{module}:{getattr(self.transform, '__qualname__', repr(self.transform))}"

    def load_contract(self) -> DataContract:
        """The contract the output must meet.

        Raises:
            ConfigError: The named contract cannot be read or is invalid.
        """
        return self.contract if isinstance(self.contract, DataContract) else load_contract(self.contract)

    def allows(self, outcome: ExpectationOutcome) -> bool:
        """Whether ``outcome`` (a failure) is on the ``allow`` list and so only warns."""
        keys = {outcome.expectation, outcome.rule, outcome.column, f"{outcome.expectation}:{outcome.column}"}
        return any(entry in keys for entry in self.allow)


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of one gate: the validation report split into blocking failures and warnings.

    Attributes:
        gate: The gate's name.
        passed: No more blocking failures than the gate tolerates, and the transform ran.
        report: The validation report (``None`` when the transform crashed).
        blocking: Failures not on the allow list.
        warnings: Failures on the allow list.
        seconds: Wall time of input generation, transform and validation.
        transform: ``package.module:function`` of the transform.
        contract: Name of the contract.
        max_failed_expectations: The gate's tolerance.
        error: Why the transform produced no DataFrame (``None`` when it did).
    """

    gate: str
    passed: bool
    report: ValidationReport | None
    blocking: tuple[ExpectationOutcome, ...]
    warnings: tuple[ExpectationOutcome, ...]
    seconds: float
    transform: str
    contract: str
    max_failed_expectations: int = 0
    error: str | None = None

    @property
    def exit_code(self) -> int:
        """``0`` when the gate passed, ``1`` when it failed (a CI job's exit status)."""
        return 0 if self.passed else 1

    def summary(self) -> str:
        """One line: gate, verdict, blocking and warning counts, the report's summary."""
        head = f"gate {self.gate} {'PASS' if self.passed else 'FAIL'}"
        if self.error is not None:
            return f"{head}: {self.error}"
        assert self.report is not None
        line = (f"{head}: {len(self.blocking)} blocking failure(s) (max {self.max_failed_expectations}), "
                f"{len(self.warnings)} warning(s); {self.report.contract} v{self.report.version} "
                f"{self.report.evaluated} expectations, {self.report.rows} rows, {self.seconds:.2f} s")
        if self.blocking:
            line += "; blocking: " + ", ".join(f"{o.expectation}({o.column})" if o.column else o.expectation
                                               for o in self.blocking[:4])
        return line

    def frame(self) -> pd.DataFrame:
        """One row per failure: severity (blocking/warning), expectation, column, rule, unexpected, sample."""
        return pd.DataFrame(failure_rows(self.blocking, self.warnings),
                            columns=["severity", "expectation", "column", "rule", "unexpected", "sample"])

    def failure_table(self) -> str:
        """The failures as a compact fixed-width text table (empty string when there are none)."""
        return render_text_table(failure_rows(self.blocking, self.warnings))

    def to_markdown(self) -> str:
        """A Markdown block for a CI comment: verdict heading, one line of context, the failure table."""
        if self.report is None:
            context = f"`{self.transform}` crashed: {self.error}"
        else:
            r = self.report
            context = (f"`{self.transform}` -> contract `{r.contract}` v{r.version} ({r.engine}, {r.rows} rows, "
                       f"{self.seconds:.2f} s): {len(self.blocking)} blocking failure(s) "
                       f"(max {self.max_failed_expectations}), {len(self.warnings)} warning(s), "
                       f"{r.evaluated - r.failed}/{r.evaluated} expectations met.")
        return render_markdown(self.gate, self.passed, context, failure_rows(self.blocking, self.warnings))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (the report's outcomes included)."""
        return {"gate": self.gate, "passed": self.passed, "exit_code": self.exit_code,
                "transform": self.transform, "contract": self.contract,
                "max_failed_expectations": self.max_failed_expectations, "seconds": self.seconds,
                "error": self.error, "blocking": [asdict(o) for o in self.blocking],
                "warnings": [asdict(o) for o in self.warnings],
                "report": None if self.report is None else self.report.to_dict()}


@functools.lru_cache(maxsize=1)
def _default_context() -> QualityContext:
    # one in-memory GX context per process: creating one costs about a second
    return QualityContext()


def _materialise(gate: QualityGate) -> tuple[list[pd.DataFrame], dict[str, pd.DataFrame]]:
    """Generate the named tables once, copy given frames so the transform cannot change them."""
    from platform_kit.datasets import generate_company

    items = gate.inputs.values() if isinstance(gate.inputs, dict) else gate.inputs
    names = sorted({i for i in items if isinstance(i, str)})
    tables = generate_company(gate.scale, gate.seed, tables=names) if names else {}  # type: ignore[arg-type]

    def frame(item: Input) -> pd.DataFrame:
        return tables[item].copy() if isinstance(item, str) else item.copy()

    if isinstance(gate.inputs, dict):
        return [], {key: frame(item) for key, item in gate.inputs.items()}
    return [frame(item) for item in gate.inputs], {}


def run_gate(gate: QualityGate, *, context: QualityContext | None = None) -> GateVerdict:
    """Run the transform on the gate's inputs and judge its output against the contract.

    Args:
        gate: The gate to run.
        context: The QualityContext to validate with (default: one shared in-memory context);
            pass your own to collect the runs in its Data Docs or results file.

    Returns:
        The verdict. A transform that raises or returns no DataFrame gives a failed verdict with
        ``error`` set, so one broken change does not stop the other gates.

    Raises:
        InputError: ``gate`` is not a QualityGate or its transform cannot be imported.
        ConfigError: Its contract cannot be loaded.
    """
    if not isinstance(gate, QualityGate):
        raise InputError(f"expected a QualityGate, got {type(gate).__name__}",
                         fix="build one with QualityGate(...) or load_gates('gates.yml')")
    started = time.perf_counter()
    func = resolve_transform(gate.transform)
    contract = gate.load_contract()
    args, kwargs = _materialise(gate)

    def crashed(error: str) -> GateVerdict:
        _log.warning("gate %s: %s", gate.name, error)
        return GateVerdict(gate.name, False, None, (), (), round(time.perf_counter() - started, 4),
                           gate.transform_name, contract.name, gate.max_failed_expectations, error)

    try:
        output = func(*args, **kwargs)
    except Exception as exc:  # the change under test crashed: a failed gate, not a crashed CI run
        return crashed(f"transform {gate.transform_name} raised {type(exc).__name__}: {exc}")
    try:
        detect_engine(output)
    except InputError:
        return crashed(f"transform {gate.transform_name} returned a {type(output).__name__}, not a DataFrame")
    report = (context or _default_context()).validate(output, contract)
    warnings = tuple(o for o in report.failures if gate.allows(o))
    blocking = tuple(o for o in report.failures if not gate.allows(o))
    verdict = GateVerdict(gate.name, len(blocking) <= gate.max_failed_expectations, report, blocking, warnings,
                          round(time.perf_counter() - started, 4), gate.transform_name, contract.name,
                          gate.max_failed_expectations)
    _log.info("%s", verdict.summary())
    return verdict


def run_gates(gates: Iterable[QualityGate], *, context: QualityContext | None = None) -> list[GateVerdict]:
    """Run several gates with one context (see :func:`run_gate`)."""
    context = context or _default_context()
    return [run_gate(g, context=context) for g in gates]


def assert_gate(gate: QualityGate, *, context: QualityContext | None = None) -> GateVerdict:
    """Run ``gate`` and fail the calling test unless it passes (for a project's pytest suite).

    Returns:
        The passing verdict (warnings may be inspected).

    Raises:
        AssertionError: The gate failed; the message holds the summary and the failure table.
    """
    verdict = run_gate(gate, context=context)
    if not verdict.passed:
        table = verdict.failure_table()
        raise AssertionError(verdict.summary() + (f"\n{table}" if table else ""))
    return verdict


def load_gates(source: str | Path) -> dict[str, QualityGate]:
    """Read gates from a YAML file or text (``gates:`` list of QualityGate fields), by name.

    A contract given as a relative path is looked up next to the gates file first.

    Raises:
        ConfigError: The file is unreadable or not YAML, ``gates`` is missing, a key is unknown,
            a value is wrong or two gates share a name; the message names the key path
            (``gates[1] (orders_v2).transform``) and the fix.
    """
    text, origin, folder = read_source(source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin} is not valid YAML: {exc}", fix=f"fix the syntax of {origin}") from None
    if not isinstance(data, dict) or set(data) != {"gates"} or not isinstance(data["gates"], list):
        raise ConfigError(f"{origin} must hold one key, `gates:`, with a list of gates",
                          fix="start from platform_kit/quality/gates.yml")
    gates: dict[str, QualityGate] = {}
    for index, item in enumerate(data["gates"]):
        label = f"gates[{index}]" + (f" ({item['name']})" if isinstance(item, dict) and "name" in item else "")
        if not isinstance(item, dict):
            raise ConfigError(f"{origin}: {label} must be a mapping of gate fields",
                              fix="write each gate as `- name: ...` with transform, inputs and contract")
        item = local_contract(item, folder)
        try:
            fields = _GateFields.model_validate(item)
        except ValidationError as exc:
            raise config_error(exc, origin, label, _GateFields.model_fields) from None
        # already validated: QualityGate's own __init__ would turn key paths into an InputError
        gate = QualityGate.model_construct(_fields_set=fields.model_fields_set, **dict(fields))
        if gate.name in gates:
            raise ConfigError(f"{origin}: {label}.name: gate {gate.name!r} is declared twice",
                              fix="give each gate its own name")
        gates[gate.name] = gate
    _log.debug("loaded %d gate(s) from %s", len(gates), origin)
    return gates
