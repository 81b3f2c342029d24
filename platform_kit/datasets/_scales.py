"""Scales (row counts) and seeds: validation and the per-table child random generators.

A scale is either a name from :data:`SCALES` or a positive number, the factor relative
to ``tiny``. Most tables grow linearly with the factor; the product catalogue and the
pipeline run log grow with its square root (a retailer ten times bigger does not sell
ten times more distinct products).
"""

from __future__ import annotations

import math
import numbers
import zlib

import numpy as np

from platform_kit.errors import DatasetError

__all__ = [
    "SCALES",
    "SCALE_FACTORS",
    "Scale",
    "child_rng",
    "counts_for",
    "resolve_factor",
    "scale_label",
    "validate_seed",
]

#: A scale name (``"tiny"``...) or a positive factor relative to ``tiny``.
Scale = str | float | int

#: Factor of each named scale relative to ``tiny``.
SCALE_FACTORS: dict[str, float] = {"tiny": 1.0, "small": 10.0, "medium": 100.0, "large": 1000.0}

#: Row counts at factor 1 (``tiny``). ``order_items`` (~2.3 per order) and ``payments``
#: (~1.04 per order) are derived from ``orders`` and have no count of their own.
_BASE_COUNTS: dict[str, int] = {
    "customers": 200,
    "products": 120,
    "orders": 1_000,
    "clickstream": 5_000,
    "support_tickets": 150,
    "pipeline_metrics": 800,
}
#: Exponent applied to the factor per table (1 = linear).
_GROWTH: dict[str, float] = {"products": 0.5, "pipeline_metrics": 0.5}
#: Smallest count per table, so tiny fractional factors still give a usable company.
_MINIMUM: dict[str, int] = {
    "customers": 5,
    "products": 10,
    "orders": 5,
    "clickstream": 50,
    "support_tickets": 2,
    "pipeline_metrics": 40,
}


def counts_for(factor: float) -> dict[str, int]:
    """Return the controlled row count of every table at ``factor`` times ``tiny``.

    Args:
        factor: Positive size factor relative to ``tiny``.

    Returns:
        Table name -> row count.
    """
    return {
        table: max(_MINIMUM[table], round(base * factor ** _GROWTH.get(table, 1.0)))
        for table, base in _BASE_COUNTS.items()
    }


#: Scale name -> controlled row count per table.
SCALES: dict[str, dict[str, int]] = {name: counts_for(f) for name, f in SCALE_FACTORS.items()}

_VALID_HINT = f"one of {', '.join(repr(s) for s in SCALES)} or a positive number (factor relative to 'tiny')"


def resolve_factor(scale: Scale) -> float:
    """Validate ``scale`` and return its factor relative to ``tiny``.

    Args:
        scale: A name from :data:`SCALES` or a positive finite number.

    Returns:
        The size factor.

    Raises:
        DatasetError: If the scale is unknown, non-positive or not a number.
    """
    if isinstance(scale, str):
        key = scale.strip().lower()
        if key in SCALE_FACTORS:
            return SCALE_FACTORS[key]
        try:
            value = float(key)
        except ValueError:
            raise DatasetError(f"unknown dataset scale {scale!r}", fix=f"use {_VALID_HINT}") from None
        return resolve_factor(value)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise DatasetError(
            f"invalid dataset scale {scale!r} ({type(scale).__name__})", fix=f"use {_VALID_HINT}"
        )
    value = float(scale)
    if not math.isfinite(value) or value <= 0:
        raise DatasetError(f"invalid dataset scale {scale!r}: must be positive", fix=f"use {_VALID_HINT}")
    return value


def scale_label(scale: Scale) -> str:
    """Return the canonical label of ``scale``: its name, or ``x<factor>`` for a factor.

    A factor equal to a named scale's factor gets that name (``10`` -> ``"small"``).
    """
    factor = resolve_factor(scale)
    for name, named_factor in SCALE_FACTORS.items():
        if factor == named_factor:
            return name
    return f"x{factor:g}"


def validate_seed(seed: int) -> int:
    """Return ``seed`` as an ``int`` or raise :class:`DatasetError` if it is not a non-negative integer."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise DatasetError(f"invalid seed {seed!r}", fix="use a non-negative integer such as 42")
    return int(seed)


def child_rng(seed: int, unit: str) -> np.random.Generator:
    """Return the generator of one table family, independent of every other family.

    The stream depends only on ``seed`` and the family name, so adding a table (or
    generating a subset) never changes the others.

    Args:
        seed: The company seed.
        unit: The generator family (``"customers"``, ``"orders"``...).
    """
    return np.random.default_rng([seed, zlib.crc32(unit.encode("utf-8"))])
