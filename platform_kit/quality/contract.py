"""Data contracts: one YAML file per table and stage, the single source of its quality rules.

A contract names the table, its owner and pipeline stage, and lists the columns with a logical
type (``integer``, ``float``, ``string``, ``boolean``, ``timestamp``, ``date``) and constraints
(nullable, unique, min/max, allowed values, regex, max length), plus table rules (row count,
primary key, how strictly the column list must match). Validation suites are generated from it
(:func:`platform_kit.quality.validate.build_suite`), so a rule changes in one place::

    contract = load_contract("orders_raw")          # a bundled contract, a path or YAML text
    contract.column("total_amount").min             # 0.0
    load_contract(contract.to_yaml()) == contract   # True: the YAML round-trips

A bad file raises :class:`~platform_kit.errors.ConfigError` naming the file, the key path
(``columns[7] (total_amount).min``) and a fix.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from platform_kit.quality._yaml import common_fix, key_path, load_mapping
from platform_kit.errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = [
    "CONTRACTS_DIR",
    "LOGICAL_TYPES",
    "STAGES",
    "ColumnSpec",
    "DataContract",
    "EscalationStep",
    "Owner",
    "RowCount",
    "ServiceLevels",
    "bundled_contracts",
    "load_contract",
]

#: Folder of the example contracts shipped with the package.
CONTRACTS_DIR = Path(__file__).with_name("contracts")
LOGICAL_TYPES = ("integer", "float", "string", "boolean", "timestamp", "date")
STAGES = ("raw", "staged", "feature")

LogicalType = Literal["integer", "float", "string", "boolean", "timestamp", "date"]
Bound = int | float | str | dt.datetime | dt.date
_NUMERIC = ("integer", "float")
_TEMPORAL = ("timestamp", "date")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


def _rule_error(key: str, detail: str, fix: str) -> PydanticCustomError:
    """A validation error that carries the offending sub-key and a fix through pydantic."""
    return PydanticCustomError("contract_rule", "{detail}", {"detail": detail, "key": key, "fix": fix})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Owner(_Strict):
    """Who answers for the table."""

    team: str = Field(min_length=1)
    email: str

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise _rule_error("email", f"{value!r} is not an e-mail address", "write it as team@company.example")
        return value


class ColumnSpec(_Strict):
    """One column: its logical type and constraints (``None`` means unconstrained)."""

    name: str = Field(min_length=1)
    type: LogicalType
    description: str = ""
    nullable: bool = True
    unique: bool = False
    min: Bound | None = None
    max: Bound | None = None
    allowed_values: list[Any] | None = None
    regex: str | None = None
    max_length: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _check_rules(self) -> ColumnSpec:
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is None:
                continue
            if self.type in _NUMERIC:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _rule_error(key, f"{key} must be a number for a {self.type} column, got {value!r}",
                                      f"write {key} as a number, e.g. `{key}: 0`")
            elif self.type in _TEMPORAL:
                # normalised to ISO text so that the YAML round-trips and GX gets one representation
                object.__setattr__(self, key, _iso_bound(key, value, self.type))
            else:
                raise _rule_error(key, f"{key} does not apply to a {self.type} column",
                                  "use allowed_values, regex or max_length, or remove the key")
        if self.min is not None and self.max is not None and _order_key(self.min) > _order_key(self.max):
            raise _rule_error("min", f"min ({self.min}) is greater than max ({self.max})",
                              "swap the two values or fix the typo")
        if self.type != "string":
            for key in ("regex", "max_length"):
                if getattr(self, key) is not None:
                    raise _rule_error(key, f"{key} applies to string columns only, not {self.type}",
                                      f"remove {key} or change the column type to string")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise _rule_error("regex", f"regex {self.regex!r} does not compile: {exc}",
                                  "fix the pattern (quote it in YAML, e.g. regex: '^[A-Z]{3}$')") from None
        if self.allowed_values is not None and not self.allowed_values:
            raise _rule_error("allowed_values", "allowed_values is empty, so every row would fail",
                              "list at least one value or remove the key")
        return self


def _iso_bound(key: str, value: Bound, logical: str) -> str:
    if isinstance(value, bool | int | float):
        raise _rule_error(key, f"{key} must be an ISO {logical} for a {logical} column, got {value!r}",
                          f"write {key} as e.g. '2024-01-01'")
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _rule_error(key, f"{key} {value!r} is not an ISO {logical}",
                              f"write {key} as e.g. '2024-01-01' or '2024-01-01T00:00:00'") from None
    if logical == "date":
        return (value.date() if isinstance(value, dt.datetime) else value).isoformat()
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.isoformat()


def _order_key(value: Bound) -> Any:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


class RowCount(_Strict):
    """Bounds on the number of rows (inclusive)."""

    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check_order(self) -> RowCount:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _rule_error("min", f"min ({self.min}) is greater than max ({self.max})",
                              "swap the two values or fix the typo")
        return self


class ServiceLevels(_Strict):
    """Targets later checks measure against: freshness in hours, completeness and validity as fractions."""

    freshness_hours: float | None = Field(default=None, gt=0)
    completeness: float | None = Field(default=None, ge=0, le=1)
    validity: float | None = Field(default=None, ge=0, le=1)


class EscalationStep(_Strict):
    """Who is told when the contract is breached, how, and after how long."""

    contact: str = Field(min_length=1)
    channel: Literal["email", "slack", "pager", "ticket"] = "email"
    after_hours: float = Field(default=0, ge=0)


class DataContract(_Strict):
    """A table's contract at one pipeline stage (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    version: str = Field(min_length=1)
    owner: Owner
    description: str = ""
    stage: Literal["raw", "staged", "feature"]
    columns: list[ColumnSpec] = Field(min_length=1)
    #: "set": exactly these columns in any order; "ordered": exactly this order; "subset": extras allowed
    column_match: Literal["set", "ordered", "subset"] = "set"
    row_count: RowCount | None = None
    primary_key: list[str] = Field(default_factory=list)
    sla: ServiceLevels | None = None
    escalation: list[EscalationStep] = Field(default_factory=list)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        # `version: 1.0` in YAML is a float; a version is text
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value

    @model_validator(mode="after")
    def _check_columns(self) -> DataContract:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise _rule_error("columns", f"column(s) {duplicates} are listed more than once",
                              "keep one entry per column")
        for key_col in self.primary_key:
            if key_col not in names:
                raise _rule_error("primary_key", f"primary key column {key_col!r} is not among the columns",
                                  f"add {key_col!r} to columns or fix the name (columns: {', '.join(names)})")
            if self.column(key_col).nullable:
                raise _rule_error("primary_key", f"primary key column {key_col!r} is nullable",
                                  f"set `nullable: false` on column {key_col!r}")
        if len(set(self.primary_key)) != len(self.primary_key):
            raise _rule_error("primary_key", "primary_key repeats a column", "list each key column once")
        return self

    @property
    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name``.

        Raises:
            KeyError: No such column in the contract.
        """
        for spec in self.columns:
            if spec.name == name:
                return spec
        raise KeyError(f"{name!r} is not a column of contract {self.name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON types), leaving out keys at their defaults."""
        return self.model_dump(mode="json", exclude_defaults=True)

    def to_yaml(self) -> str:
        """The contract as YAML text that :func:`load_contract` reads back to an equal contract."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def bundled_contracts() -> dict[str, Path]:
    """Names and paths of the example contracts shipped in ``platform_kit/quality/contracts``."""
    return {p.stem: p for p in sorted(CONTRACTS_DIR.glob("*.yml"))}


def load_contract(source: str | Path) -> DataContract:
    """Read a contract from a file path, a bundled contract name (``"orders_raw"``) or YAML text.

    Raises:
        ConfigError: The file is missing or not YAML, a key is unknown or misspelled, a value has
            the wrong type, or a rule contradicts itself (min > max, a regex that does not compile,
            a primary key that is not a non-null column). The message names the file and key path.
    """
    text, origin = _read_source(source)
    data = load_mapping(text, origin, syntax_fix="indentation, quotes around patterns",
                        shape="a mapping (name:, version:, owner:, stage:, columns:)",
                        shape_fix="start from a bundled contract, e.g. platform_kit/quality/contracts/orders_raw.yml")
    try:
        contract = DataContract.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, data, origin) from None
    _log.debug("loaded contract %s v%s (%d columns) from %s", contract.name, contract.version,
               len(contract.columns), origin)
    return contract


def _read_source(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and ("\n" in source or ":" in source and not Path(source).exists()):
        return source, "<contract text>"
    bundled = bundled_contracts()
    if isinstance(source, str) and source in bundled:
        source = bundled[source]
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read contract {path}: {exc.strerror or exc}",
                          fix=f"check the path, or use a bundled contract: {', '.join(bundled)}") from None


def _config_error(exc: ValidationError, data: dict[str, Any], origin: str) -> ConfigError:
    lines, fixes = [], []
    for err in exc.errors():
        loc = list(err["loc"])
        ctx = err.get("ctx") or {}
        if err["type"] == "contract_rule":
            loc.append(ctx["key"])
            fixes.append(ctx["fix"])
        else:
            fixes.append(_generic_fix(err))
        lines.append(f"{key_path(loc, data)}: {err['msg'] if err['type'] != 'contract_rule' else ctx['detail']}")
    head = f"contract {origin} is invalid: " + lines[0]
    more = "".join(f"\n  also {line}" for line in lines[1:])
    return ConfigError(head + more, fix=fixes[0])


def _generic_fix(err: dict[str, Any]) -> str:
    key = err["loc"][-1] if err["loc"] else ""
    return common_fix(err, key, "the DataContract fields in platform_kit.quality.contract") or f"fix the value of `{key}`"
