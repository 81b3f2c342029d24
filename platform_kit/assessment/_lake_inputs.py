"""Inputs of the data-lake placement model: datasets, residency rules, prices, hardware, staff.

Every model is a frozen pydantic model with ``extra="forbid"``; a bad value raises
:class:`~platform_kit.errors.ConfigError` naming the field, the value and the fix.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from platform_kit.assessment._inputs import StrictInputs
from platform_kit.errors import ConfigError

__all__ = [
    "CLOUD_REGIONS",
    "PRICES_AS_OF",
    "RESIDENCY_ZONES",
    "CloudPrices",
    "ComputeProfile",
    "Dataset",
    "Egress",
    "LakeInputs",
    "OnPremSite",
    "Staff",
    "parse_residency",
    "residency_allows",
]

#: Date of the illustrative default prices below (list prices seen then, not a quote).
PRICES_AS_OF = "2025-01"

_EU = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "HR",
        "CY",
        "CZ",
        "DK",
        "EE",
        "FI",
        "FR",
        "DE",
        "GR",
        "HU",
        "IE",
        "IT",
        "LV",
        "LT",
        "LU",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SK",
        "SI",
        "ES",
        "SE",
    ]
)
#: Zones a ``"<ZONE>-only"`` rule may name, as sets of ISO 3166-1 alpha-2 country codes.
RESIDENCY_ZONES: dict[str, frozenset[str]] = {
    "EU": _EU,
    "EEA": _EU | {"IS", "LI", "NO"},
    "US": frozenset({"US"}),
    "APAC": frozenset({"AU", "IN", "JP", "KR", "NZ", "SG"}),
}
#: Cloud regions of the model (the company's serving regions) -> country of the data centre.
CLOUD_REGIONS: dict[str, str] = {
    "eu-west": "IE",
    "eu-central": "DE",
    "us-east": "US",
    "us-west": "US",
    "ap-south": "IN",
    "ap-southeast": "SG",
}
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_RULE_HELP = "'any', '<ZONE>-only' with ZONE in {zones}, or 'country:<ISO 3166 alpha-2>' such as 'country:DE'"


def _rule_help() -> str:
    return _RULE_HELP.format(zones=", ".join(RESIDENCY_ZONES))


def parse_residency(rule: str) -> tuple[str, str]:
    """Split a residency rule into ``(kind, value)``.

    Args:
        rule: ``"any"``, ``"EU-only"`` (any zone of :data:`RESIDENCY_ZONES`) or
            ``"country:DE"``.

    Returns:
        ``("any", "")``, ``("zone", "EU")`` or ``("country", "DE")``.

    Raises:
        ConfigError: The rule has another form or names an unknown zone or country code.
    """
    if not isinstance(rule, str):
        raise ConfigError(
            f"residency rule must be a string, got {type(rule).__name__}", fix=f"use {_rule_help()}"
        )
    text = rule.strip()
    if text.lower() == "any":
        return "any", ""
    if text.lower().startswith("country:"):
        code = text.split(":", 1)[1].strip().upper()
        if not _COUNTRY.match(code):
            raise ConfigError(
                f"residency rule {rule!r} does not name a two-letter country code", fix=f"use {_rule_help()}"
            )
        return "country", code
    if text.lower().endswith("-only"):
        zone = text[: -len("-only")].strip().upper()
        if zone not in RESIDENCY_ZONES:
            raise ConfigError(
                f"residency rule {rule!r} names unknown zone {zone!r}", fix=f"use {_rule_help()}"
            )
        return "zone", zone
    raise ConfigError(f"unknown residency rule format {rule!r}", fix=f"use {_rule_help()}")


def residency_allows(rule: str, country: str) -> bool:
    """True when data under ``rule`` may be stored in ``country`` (ISO alpha-2).

    Introduced in: Lab 1 (assessment).
    """
    kind, value = parse_residency(rule)
    if kind == "any":
        return True
    if kind == "country":
        return country.upper() == value
    return country.upper() in RESIDENCY_ZONES[value]


class _Inputs(StrictInputs):
    """Strict, frozen base of this module's inputs."""

    help_module = "platform_kit.assessment.lake"


class Dataset(_Inputs):
    """One dataset of the lake.

    Attributes:
        name: Unique name.
        size_tb: Size today in TB (10^12 bytes), as stored (compressed).
        growth_pct_per_year: Yearly growth in percent (compounded).
        residency: ``"any"``, ``"EU-only"`` or ``"country:DE"`` (see :func:`parse_residency`).
        sensitivity: ``public``, ``internal``, ``confidential`` or ``pii``.
    """

    name: str = Field(min_length=1, max_length=100)
    size_tb: float = Field(ge=0, le=1e6)
    growth_pct_per_year: float = Field(0.0, ge=-50, le=1000)
    residency: str = "any"
    sensitivity: Literal["public", "internal", "confidential", "pii"] = "internal"

    @field_validator("residency")
    @classmethod
    def _check_residency(cls, value: str) -> str:
        try:
            parse_residency(value)
        except ConfigError as exc:
            raise ValueError(exc.message + "; valid forms: " + _rule_help()) from None
        return value.strip()

    @property
    def restricted(self) -> bool:
        """True when the hybrid option keeps this dataset on-prem (a residency rule, PII or confidential)."""
        return parse_residency(self.residency)[0] != "any" or self.sensitivity in ("pii", "confidential")


class Egress(_Inputs):
    """Data read out of the cloud each month (to users, partners, other clouds), and its price."""

    tb_per_month: float = Field(ge=0, le=1e6)
    usd_per_gb: float = Field(0.09, ge=0, le=10)


class ComputeProfile(_Inputs):
    """Monthly compute demand; ``bursty`` work must be sized for its peak on owned hardware.

    Attributes:
        vcpu_hours_per_month: Mean demand.
        pattern: ``steady`` (peak = mean) or ``bursty``.
        peak_to_mean: Peak over mean vCPUs for ``bursty`` (ignored and 1.0 for ``steady``).
    """

    vcpu_hours_per_month: float = Field(ge=0, le=1e9)
    pattern: Literal["steady", "bursty"] = "steady"
    peak_to_mean: float = Field(3.0, ge=1, le=100)

    @property
    def peak_factor(self) -> float:
        """Peak over mean demand used to size owned hardware."""
        return 1.0 if self.pattern == "steady" else self.peak_to_mean


class OnPremSite(_Inputs):
    """The existing data centre (illustrative defaults, 2025-01).

    Attributes:
        country: ISO alpha-2 country of the site.
        usable_capacity_tb: Usable storage already owned.
        owned_vcpus: vCPUs already owned.
        remaining_depreciation_usd: Book value not yet depreciated: sunk, reported, never added.
        power_colo_usd_per_tb_month: Power, cooling, rack space and transit per usable TB kept.
        power_usd_per_vcpu_month: The same per owned vCPU.
        expansion_usd_per_tb: Capex per extra usable TB (servers, disks, replication overhead).
        vcpu_capex_usd: Capex per extra vCPU.
    """

    country: str = "DE"
    usable_capacity_tb: float = Field(ge=0, le=1e7)
    owned_vcpus: int = Field(ge=0, le=10_000_000)
    remaining_depreciation_usd: float = Field(0.0, ge=0)
    power_colo_usd_per_tb_month: float = Field(5.0, ge=0, le=1000)
    power_usd_per_vcpu_month: float = Field(2.5, ge=0, le=1000)
    expansion_usd_per_tb: float = Field(120.0, ge=0, le=100_000)
    vcpu_capex_usd: float = Field(230.0, ge=0, le=100_000)

    @field_validator("country")
    @classmethod
    def _check_country(cls, value: str) -> str:
        code = value.strip().upper()
        if not _COUNTRY.match(code):
            raise ValueError("country must be a two-letter ISO 3166 code such as 'DE'")
        return code


class Staff(_Inputs):
    """Operations staff per option, in full-time equivalents, and their loaded yearly cost."""

    fte_usd_per_year: float = Field(150_000.0, ge=0, le=10_000_000)
    onprem_fte: float = Field(3.0, ge=0, le=10_000)
    hybrid_fte: float = Field(3.5, ge=0, le=10_000)
    cloud_fte: float = Field(1.5, ge=0, le=10_000)
    cloud_multi_region_fte: float = Field(2.0, ge=0, le=10_000)


class CloudPrices(_Inputs):
    """Illustrative on-demand list prices (AWS us-east-1 as seen in 2025-01; not a quote).

    Attributes:
        storage_usd_per_gb_month: Object storage, standard tier (S3 Standard first 50 TB: 0.023).
        vcpu_usd_per_hour: General-purpose on-demand vCPU (m6i: 0.192 per 4 vCPU-hours).
        inter_region_usd_per_gb: Transfer between two regions of the provider.
        as_of: When these prices were looked at.
    """

    storage_usd_per_gb_month: float = Field(0.023, ge=0, le=10)
    vcpu_usd_per_hour: float = Field(0.048, ge=0, le=100)
    inter_region_usd_per_gb: float = Field(0.02, ge=0, le=10)
    as_of: str = PRICES_AS_OF


class LakeInputs(_Inputs):
    """Everything the on-prem / hybrid / cloud-native comparison needs.

    Attributes:
        datasets: The lake's datasets (unique names).
        egress: Monthly egress and its price.
        compute: Compute demand.
        site: The existing on-prem site.
        staff: Operations staff per option.
        cloud: Cloud list prices.
        primary_region: Cloud region of the single-region option (a key of :data:`CLOUD_REGIONS`).
        extra_regions: More regions the multi-region option may place data in.
        cross_site_tb_per_month: Data moved between locations each month when data is split
            (hybrid: cloud <-> on-prem at the egress price; multi-region: between regions).
        years: Horizon of the comparison.
    """

    datasets: tuple[Dataset, ...] = Field(min_length=1)
    egress: Egress
    compute: ComputeProfile
    site: OnPremSite
    staff: Staff = Staff()
    cloud: CloudPrices = CloudPrices()
    primary_region: str = "us-east"
    extra_regions: tuple[str, ...] = ("eu-central",)
    cross_site_tb_per_month: float = Field(5.0, ge=0, le=1e6)
    years: int = Field(3, ge=1, le=15)

    @model_validator(mode="after")
    def _check(self) -> LakeInputs:
        names = [d.name for d in self.datasets]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"dataset names must be unique; repeated: {duplicates}")
        for region in (self.primary_region, *self.extra_regions):
            if region not in CLOUD_REGIONS:
                raise ValueError(f"unknown cloud region {region!r}; known: {sorted(CLOUD_REGIONS)}")
        return self

    def with_egress_price(self, usd_per_gb: float) -> LakeInputs:
        """A copy with another egress price (validated)."""
        data = self.model_dump()
        data["egress"]["usd_per_gb"] = usd_per_gb
        return LakeInputs(**data)
