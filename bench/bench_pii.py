"""Benchmark: vectorised PII masking and tokenisation vs naive per-record Python, as ratios.

``run(scale)`` applies the same masking policy two ways to the same rows of the synthetic company
and checks the outputs are identical: the naive loop (one dict per record, ``hmac.new`` per
tokenised field, small string functions per masked field) and
:func:`platform_kit.ingestion.pii.apply_policy` (tokens once per distinct value, Arrow/numpy
masks). Scenarios cover the best case for de-duplication (event streams, where a customer id
repeats on every click) and the worst (a customers table, where every e-mail is distinct).
No engine is needed. ``python bench/bench_pii.py [scale]`` prints the JSON.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from typing import Any

#: scenario -> (table, policy)
SCENARIOS: dict[str, tuple[str, dict[str, str]]] = {
    "clickstream_tokenize_ids": ("clickstream", {"customer_id": "tokenize", "session_id": "tokenize"}),
    "orders_tokenize_customer": ("orders", {"customer_id": "tokenize"}),
    "customers_tokenize_emails": ("customers", {"email": "tokenize"}),
    "customers_display_masking": ("customers", {"email": "mask_email", "phone": "last4", "national_id": "last4",
                                                "full_name": "initials", "street_address": "redact"}),
    "customers_full_policy": ("customers", {"customer_id": "tokenize", "email": "mask_email", "phone": "last4",
                                            "national_id": "last4", "full_name": "initials",
                                            "street_address": "drop"}),
}


def run(scale: str = "small", *, repeats: int = 3, scenarios: list[str] | None = None) -> dict[str, Any]:
    """Measure every scenario at ``scale``; JSON-serialisable results with the speedup ratios.

    Args:
        scale: Dataset scale (``tiny``, ``small``, ``medium``...).
        repeats: Runs per timing (the best is kept, for both paths).
        scenarios: Subset of :data:`SCENARIOS` (default: all).
    """
    from platform_kit.datasets import generate_company
    from platform_kit.ingestion.pii import measure_masking

    began = time.perf_counter()
    company = generate_company(scale)
    key = secrets.token_bytes(32)  # a throwaway key: the benchmark never sees a managed one
    results: dict[str, Any] = {}
    for name in scenarios or list(SCENARIOS):
        table, policy = SCENARIOS[name]
        results[name] = {"table": table, **measure_masking(company[table], policy, key=key, repeats=repeats)}
    return {
        "scale": scale, "repeats": repeats, "baseline": "naive per-record loop (dict per row, hmac.new per field)",
        "seconds": time.perf_counter() - began, "results": results,
        "ratios": {name: r["speedup"] for name, r in results.items()},
    }


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1] if len(sys.argv) > 1 else "small"), indent=2, default=str))
