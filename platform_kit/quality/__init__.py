"""Lab 4: data quality and observability.

Contracts are the single source: a YAML data contract (columns, types, constraints, owner,
SLAs) generates the Great Expectations suites that validate each pipeline stage on pandas or
Spark. Each area is its own module, imported on first use::

    contract    DataContract loaded from YAML (load_contract), bundled example contracts
    validate    GX 1.x suites from a contract, checkpoints per stage, reports, Data Docs
    pipeline    the small orders pipeline the lab validates (raw -> staged -> features); rejects
                with their reason (stage_orders_with_rejects)
    drift       PSI/KS for numbers, chi-square/Jensen-Shannon for categories, pair checks
    corruption  seeded silent-corruption injectors and detector scoring (precision/recall)
    history     a labelled, seasonal metrics history of a table (loads, rows, null rates)
    alerts      YAML alert rules (freshness, volume vs a seasonal baseline, null-rate spikes),
                deduplicated alerts, incident matching and a timeline plot
    tuning      threshold sweeps (precision/recall, alerts per week) and an on-call budget
    gate        quality gates for CI: a transform's output against its contract (`workbench quality`)
    edge_cases  hypothesis strategies and seeded edge-case batches from a contract; what breaks
    sla         ownership/SLA document from contracts, measured SLA compliance, contract audit

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from platform_kit.quality.contract import DataContract, bundled_contracts, load_contract

SECTION_MODULES = ("contract", "validate", "pipeline", "drift", "corruption", "history", "alerts", "tuning", "sla", "gate", "edge_cases")

__all__ = ["DataContract", "bundled_contracts", "load_contract", *SECTION_MODULES]


def __getattr__(name: str) -> ModuleType:
    if name in SECTION_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
