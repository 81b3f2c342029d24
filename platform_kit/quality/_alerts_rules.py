"""The alert rule set: pydantic models of the YAML file and its loader (see :mod:`.alerts`).

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from platform_kit.quality._yaml import common_fix, key_path, load_mapping
from platform_kit.errors import ConfigError

_log = logging.getLogger(__name__)

__all__ = ["DEFAULT_RULES_YAML", "SEVERITIES", "FreshnessRule", "NullRateRule", "Rule", "RuleSet", "VolumeRule",
           "default_rules", "load_rules"]

SEVERITIES = ("info", "warning", "critical")

#: Sensible defaults for the ``orders`` history of :func:`~platform_kit.quality.history.synthetic_table_history`.
DEFAULT_RULES_YAML = """\
rules:
  - name: orders_freshness
    kind: freshness
    table: orders
    max_lag_hours: 2.5
    severity: warning
    escalate_factor: 2.0        # lag >= 5 h -> critical
  - name: orders_volume
    kind: volume
    table: orders
    baseline: seasonal          # same hour-of-week over the trailing weeks
    weeks: 4
    method: mad
    max_z: 5.0
    severity: warning
    escalate_factor: 2.0
  - name: orders_customer_id_nulls
    kind: null_rate
    table: orders
    column: customer_id
    max_rate: 0.03
    spike_factor: 5.0
    min_delta: 0.01
    severity: critical
  - name: orders_total_amount_nulls
    kind: null_rate
    table: orders
    column: total_amount
    max_rate: 0.04
    spike_factor: 4.0
    min_delta: 0.02
    severity: warning
    escalate_factor: 3.0
"""


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    table: str = Field(min_length=1)
    severity: Literal["info", "warning", "critical"] = "warning"
    escalate_factor: float | None = Field(default=None, gt=1.0)
    for_hours: float = Field(default=0.0, ge=0.0)
    cooldown_hours: float = Field(default=24.0, gt=0.0)
    resolve_hours: float = Field(default=1.0, ge=1.0)


class FreshnessRule(_RuleBase):
    """Fires while the newest load is older than ``max_lag_hours`` at an hourly check."""

    kind: Literal["freshness"]
    max_lag_hours: float = Field(gt=0.0)


class VolumeRule(_RuleBase):
    """Fires when a load's row count departs from its baseline.

    ``baseline: seasonal`` compares with the median of the same hour-of-week over the
    trailing ``weeks`` weeks; ``global`` with the median of every hour in that window (the
    naive rule, blind to weekends). ``method: mad`` scores the log ratio to the baseline as a
    robust z-score (scale: 1.4826 x median absolute log ratio over the window), ``ratio``
    checks ``min_ratio <= rows/baseline <= max_ratio``.
    """

    kind: Literal["volume"]
    baseline: Literal["seasonal", "global"] = "seasonal"
    weeks: int = Field(default=4, ge=2, le=12)
    method: Literal["mad", "ratio"] = "mad"
    max_z: float = Field(default=5.0, gt=0.0)
    min_ratio: float | None = Field(default=None, gt=0.0)
    max_ratio: float | None = Field(default=None, gt=0.0)

    @model_validator(mode="after")
    def _ratio_bounds(self) -> VolumeRule:
        if self.method == "ratio":
            if self.min_ratio is None and self.max_ratio is None:
                raise ValueError("method: ratio needs min_ratio and/or max_ratio (e.g. min_ratio: 0.5)")
            if self.min_ratio is not None and self.max_ratio is not None and self.min_ratio >= self.max_ratio:
                raise ValueError(f"min_ratio {self.min_ratio} must be below max_ratio {self.max_ratio}")
        return self


class NullRateRule(_RuleBase):
    """Fires when a column's null rate is above ``max_rate``, or spikes above its trailing baseline.

    A spike is ``rate > spike_factor x baseline`` *and* ``rate - baseline >= min_delta``, where the
    baseline is the median rate over the previous ``baseline_hours`` loads.
    """

    kind: Literal["null_rate"]
    column: str = Field(min_length=1)
    max_rate: float | None = Field(default=None, gt=0.0, le=1.0)
    spike_factor: float | None = Field(default=None, gt=1.0)
    min_delta: float = Field(default=0.0, ge=0.0, le=1.0)
    baseline_hours: int = Field(default=168, ge=6)

    @model_validator(mode="after")
    def _some_check(self) -> NullRateRule:
        if self.max_rate is None and self.spike_factor is None:
            raise ValueError("a null_rate rule needs max_rate and/or spike_factor (e.g. max_rate: 0.05)")
        return self


Rule = Annotated[FreshnessRule | VolumeRule | NullRateRule, Field(discriminator="kind")]


class RuleSet(BaseModel):
    """The rules of one YAML file; names are unique."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> RuleSet:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(dupes)}")
        return self

    def __getitem__(self, name: str) -> FreshnessRule | VolumeRule | NullRateRule:
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise KeyError(name)


def default_rules() -> RuleSet:
    """The rule set of :data:`DEFAULT_RULES_YAML` (for the ``orders`` history)."""
    return load_rules(DEFAULT_RULES_YAML)


def load_rules(source: str | Path | dict[str, Any]) -> RuleSet:
    """Read a rule set from a YAML file path, YAML text, or an already parsed mapping.

    Raises:
        ConfigError: The file is missing or not YAML, or a rule has an unknown kind, a
            misspelled key, a missing key or a bad value; the message gives the key path
            (``rules[1] (orders_volume).max_z``) and the fix.
    """
    if isinstance(source, dict):
        data, origin = source, "<rules mapping>"
    else:
        text, origin = _read(source)
        data = load_mapping(text, origin, syntax_fix="indentation, `- ` before each rule",
                            shape="a mapping with a `rules:` list",
                            shape_fix="start from platform_kit.quality.alerts.DEFAULT_RULES_YAML")
    if not isinstance(data, dict):
        raise ConfigError(f"{origin} must hold a mapping with a `rules:` list",
                          fix="start from platform_kit.quality.alerts.DEFAULT_RULES_YAML")
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        raise _config_error(exc, data, origin) from None
    _log.debug("loaded %d alert rules from %s", len(rules.rules), origin)
    return rules


def _read(source: str | Path) -> tuple[str, str]:
    if isinstance(source, str) and ("\n" in source or source.lstrip().startswith("rules")):
        return source, "<rules text>"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as exc:
        raise ConfigError(f"cannot read rule file {path}: {exc.strerror or exc}",
                          fix="check the path, or pass the YAML text itself") from None


def _config_error(exc: ValidationError, data: dict[str, Any], origin: str) -> ConfigError:
    lines, fixes = [], []
    for err in exc.errors():
        # drop the discriminator tag pydantic inserts into the location (rules.0.volume.max_z)
        loc = [p for i, p in enumerate(err["loc"]) if not (i > 0 and isinstance(err["loc"][i - 1], int)
                                                           and p in ("freshness", "volume", "null_rate"))]
        lines.append(f"{key_path(loc, data)}: {err['msg']}")
        fixes.append(_fix(err, loc))
    more = "".join(f"\n  also {line}" for line in lines[1:])
    return ConfigError(f"alert rules {origin} are invalid: {lines[0]}{more}", fix=fixes[0])


def _fix(err: dict[str, Any], loc: list[Any]) -> str:
    kind, key = err["type"], loc[-1] if loc else ""
    common = common_fix(err, key, "FreshnessRule, VolumeRule, NullRateRule")
    if common:
        return common
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return "set `kind:` to one of freshness, volume, null_rate"
    if kind == "value_error":
        return str(err.get("ctx", {}).get("error", err["msg"])).removeprefix("Value error, ")
    return f"fix the value of `{key}` ({err['msg']})"
