"""Exercise of lab ``03_spark``, section 5: which intermediates to cache, from measured reuse, cost and size."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from platform_kit.errors import InputError
from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise
from platform_kit.spark._caching_choose import CacheCandidate, as_candidates, choose_caches, total_saved

LAB = "03_spark"
EXERCISE_ID = "spark.choose_caches"

Case = tuple[str, list[dict[str, Any]], int]


def _row(name: str, uses: int, compute_s: float, size_bytes: int, read_s: float = 0.0,
         fill_s: float | None = None) -> dict[str, Any]:
    return {"name": name, "uses": uses, "compute_s": compute_s, "read_s": read_s,
            "fill_s": compute_s if fill_s is None else fill_s, "size_bytes": size_bytes}


def hidden_cases() -> list[Case]:
    """Tables on which the usual wrong rules choose badly (each case defeats at least one)."""
    return [
        ("a big cache saving most alone vs two smaller ones saving more together",
         [_row("enriched", 2, 10.0, 100), _row("sessions", 3, 3.0, 50), _row("daily", 3, 3.0, 50)], 100),
        ("a much-reused but cheap intermediate vs an expensive one used twice",
         [_row("lookup", 5, 0.2, 50), _row("features", 2, 5.0, 50)], 60),
        ("a tiny cache worth little vs a large one worth a lot",
         [_row("tiny", 2, 0.1, 10), _row("large", 3, 4.0, 95)], 100),
        ("one-use and no-cheaper-to-read intermediates among useful ones",
         [_row("report_input", 1, 9.0, 10), _row("raw_scan", 4, 1.0, 10, read_s=1.2),
          _row("sessions", 2, 2.0, 10, read_s=0.5)], 1000),
        ("a candidate that does not fit after the best one, and a smaller one that does",
         [_row("a", 3, 4.0, 80), _row("b", 4, 1.2, 40), _row("c", 2, 1.0, 20)], 100),
        ("a cache that costs more to fill than its reuses save",
         [_row("wide_join", 2, 1.0, 10, read_s=0.1, fill_s=2.5), _row("sessions", 3, 1.0, 10, read_s=0.2, fill_s=1.2)],
         1000),
        ("two caches that fill the budget exactly",
         [_row("x", 2, 5.0, 50), _row("y", 3, 2.0, 50)], 100),
        ("no storage budget at all", [_row("x", 3, 5.0, 10)], 0),
        ("nothing worth caching", [_row("once", 1, 20.0, 5), _row("cheap", 3, 0.1, 5, read_s=0.1)], 10_000),
    ]


def _names(result: Any, label: str) -> list[str]:
    if isinstance(result, str) or not isinstance(result, Iterable):
        fail(f"expected a list of candidate names, got {type(result).__name__} (on {label})")
    names = list(result)
    if not all(isinstance(n, str) for n in names):
        fail(f"return candidate names (strings), got {names!r} (on {label})")
    return names


def check_choice(result: Any, rows: list[dict[str, Any]], budget: int, label: str) -> float:
    """Fail unless ``result`` fits, caches nothing useless and saves at least what the package's rule saves."""
    candidates = {c.name: c for c in as_candidates(rows)}
    names = _names(result, label)
    unknown = sorted(set(names) - set(candidates))
    if unknown:
        fail(f"{unknown} are not candidates (on {label}); choose among {sorted(candidates)}")
    if len(set(names)) != len(names):
        fail(f"a candidate is listed twice in {names} (on {label})")
    size = sum(candidates[n].size_bytes for n in names)
    if size > budget:
        fail(f"{names} take {size:,} bytes but the budget is {budget:,} (on {label}): the caches must fit "
             "together, skip what no longer fits")
    useless = [n for n in names if candidates[n].saved_s <= 0]
    if useless:
        why = "; ".join(_why_useless(candidates[n]) for n in useless)
        fail(f"caching {useless} saves nothing (on {label}): {why}")
    expected = choose_caches(rows, budget)
    got, best = total_saved(rows, names), total_saved(rows, expected)
    if got + 1e-9 < best:
        fail(f"{sorted(names)} save {got:.2f} s (on {label}) but {sorted(expected)} save {best:.2f} s within the same "
             "budget: rank by seconds saved per byte, (uses x compute_s - fill_s - (uses - 1) x read_s) / "
             "size_bytes, and keep going past a candidate that does not fit")
    return got


def _why_useless(candidate: CacheCandidate) -> str:
    if candidate.uses <= 1:
        return f"{candidate.name} is used {candidate.uses} time(s), so nothing is recomputed"
    fill = candidate.compute_s if candidate.fill_s is None else candidate.fill_s
    return (f"{candidate.name}: {candidate.uses} x {candidate.compute_s:g} s uncached <= {fill:g} s to fill + "
            f"{candidate.uses - 1} x {candidate.read_s:g} s to read")


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="choose which intermediates to cache within a storage budget",
    hint="saved = uses x compute_s - fill_s - (uses - 1) x read_s; drop candidates saving nothing; sort by "
    "saved / size_bytes (highest first) and take each one that still fits the remaining budget",
)
def _grade_choose_caches(answer: Any, context: dict[str, Any]) -> str:
    for label, rows, budget in hidden_cases():
        pristine = [dict(r) for r in rows]
        result = answer([dict(r) for r in rows], budget)
        check_choice(result, pristine, budget, label)
    rows, budget = (context or {}).get("candidates"), (context or {}).get("budget_bytes")
    if rows is None or budget is None:
        return f"matches the benefit-per-byte rule on {len(hidden_cases())} hand-made tables"
    try:
        records = [c.as_dict() for c in as_candidates(rows)]
    except InputError as exc:
        fail(f"the notebook's candidate table is malformed: {exc.message}")
    records = [{k: r[k] for k in ("name", "uses", "compute_s", "read_s", "fill_s", "size_bytes")} for r in records]
    for record in records:
        record["fill_s"] = record["compute_s"] if record["fill_s"] is None else record["fill_s"]
    if isinstance(budget, bool) or not isinstance(budget, int | float) or not math.isfinite(budget):
        fail(f"the notebook's budget_bytes is {budget!r}, not a number of bytes")
    chosen = _names(answer([dict(r) for r in records], int(budget)), "the measured table")
    saved = check_choice(chosen, records, int(budget), "the measured table")
    return (f"matches the benefit-per-byte rule on {len(hidden_cases())} hand-made tables and on your measurements: "
            f"cache {sorted(chosen) or 'nothing'} to save {saved:.2f} s within {int(budget) / 1e6:,.1f} MB")
