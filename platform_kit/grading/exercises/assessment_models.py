"""Exercises of lab ``01_assessment`` on its decision models: lake option, minimum link, archive break-even.

Each grader recomputes the answer with the package model (``platform_kit.assessment.lake``,
``.network``, ``.archive``) on the learner's own notebook data (``context``) and on hand-made
cases built so that the usual shortcuts fail.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import pandas as pd

from platform_kit.errors import GradingError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "01_assessment"


# --------------------------------------------------------------------------- lake option
def _lake_case(
    totals: dict[str, float], capex: dict[str, float], violations: dict[str, list[str]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made costs and verdicts: every option stores datasets d1..d3; ``violations`` break some."""
    costs = pd.DataFrame(
        {
            "option": list(totals),
            "total_usd": list(totals.values()),
            "hardware_usd": [capex[o] for o in totals],
        }
    )
    for column in ("storage_usd", "compute_usd", "egress_usd", "ops_usd"):
        costs[column] = 0.0
    verdicts = pd.DataFrame(
        [
            {"option": option, "dataset": dataset, "compliant": dataset not in violations.get(option, [])}
            for option in totals
            for dataset in ("d1", "d2", "d3")
        ]
    )
    return costs, verdicts


def _explain_lake(
    answer: Any,
    expected: str | None,
    costs: pd.DataFrame,
    verdicts: pd.DataFrame,
    cap: float | None,
    where: str,
) -> None:
    if answer == expected:
        return
    if answer is not None and not isinstance(answer, str):
        fail(f"{where}: expected an option name (str) or None, got {type(answer).__name__} {answer!r}")
    if expected is None:
        fail(
            f"{where}: no option is both compliant and within the capex budget {cap}, so the answer is None; "
            f"you returned {answer!r}"
        )
    if answer is None:
        fail(f"{where}: {expected!r} is compliant and affordable, but you returned None")
    if answer not in set(costs["option"]):
        fail(f"{where}: {answer!r} is not one of the options {list(costs['option'])}")
    bad = verdicts[(verdicts["option"] == answer) & ~verdicts["compliant"].astype(bool)]["dataset"].tolist()
    cheapest = str(costs.set_index("option")["total_usd"].idxmin())
    if bad:
        extra = " (it is the cheapest option overall)" if answer == cheapest else ""
        fail(
            f"{where}: you chose {answer!r}{extra}, but it stores {bad} where their residency rule "
            "forbids it; "
            "an option is compliant only when EVERY one of its datasets is"
        )
    hardware = float(costs.set_index("option").loc[answer, "hardware_usd"])
    if cap is not None and hardware > cap:
        fail(f"{where}: {answer!r} needs {hardware:,.0f} USD of capex, above the budget of {cap:,.0f}")
    fail(
        f"{where}: {answer!r} is compliant and affordable but {expected!r} costs less in total "
        "(compare total_usd among the feasible options)"
    )


@exercise(
    id="assessment.lake_option",
    lab=LAB,
    kind="function",
    title="cheapest lake option that is sovereign and fits the capex budget",
    hint="keep options whose every dataset is compliant (group verdicts by option, .all()), drop those whose "
    "hardware_usd exceeds max_capex_usd (when it is not None), return the one with the smallest total_usd, "
    "or None when nothing is left",
)
def _grade_lake_option(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.assessment.lake import LakeInputs, compare_lake_options, recommend_option

    inputs = context_value(context, "inputs", LakeInputs, exercise_id="assessment.lake_option")
    cap = context.get("max_capex_usd")
    cases: list[tuple[str, pd.DataFrame, pd.DataFrame, float | None]] = []
    for price in sorted({0.0, inputs.egress.usd_per_gb, 0.3}):
        costs, verdicts = compare_lake_options(inputs.with_egress_price(price))
        for budget in (None, cap) if cap is not None else (None,):
            cases.append(
                (f"your lake at egress ${price:.3f}/GB, capex cap {budget}", costs, verdicts, budget)
            )
    hand = {"on-prem": 900.0, "hybrid": 1200.0, "cloud-single": 700.0, "cloud-multi": 800.0}
    capex = {"on-prem": 300.0, "hybrid": 100.0, "cloud-single": 0.0, "cloud-multi": 0.0}
    cases += [
        (
            "cheapest option violates residency for one dataset",
            *_lake_case(hand, capex, {"cloud-single": ["d2"]}),
            None,
        ),
        (
            "capex budget rules out the cheapest compliant option",
            *_lake_case({**hand, "on-prem": 600.0}, capex, {"cloud-single": ["d1"]}),
            250.0,
        ),
        (
            "nothing compliant within budget",
            *_lake_case(hand, capex, {"cloud-single": ["d3"], "cloud-multi": ["d1"]}),
            50.0,
        ),
    ]
    for where, costs, verdicts, budget in cases:
        pristine = (costs.copy(), verdicts.copy())
        result = answer(costs, verdicts, budget)
        if not (costs.equals(pristine[0]) and verdicts.equals(pristine[1])):
            fail("your function changed the costs or verdicts DataFrame it was given; work on copies")
        _explain_lake(result, recommend_option(costs, verdicts, budget), costs, verdicts, budget, where)
    costs, verdicts = compare_lake_options(inputs)
    best = recommend_option(costs, verdicts, cap)
    return f"right on {len(cases)} cases; for your lake: {best} under a capex cap of {cap}"


# --------------------------------------------------------------------------- minimum link
#: The learner's positional parameters, in order.
_LINK_ARGS = (
    "dataset_tb",
    "window_hours",
    "rtt_ms",
    "streams",
    "tcp_window_mb",
    "compression_ratio",
    "change_rate",
)
_LINK_CASES: list[tuple[str, dict[str, float]]] = [
    (
        "2 PB transatlantic, 16 streams x 16 MB",
        {
            "dataset_tb": 2000,
            "window_hours": 6,
            "rtt_ms": 80,
            "streams": 16,
            "tcp_window_mb": 16,
            "compression_ratio": 1.05,
            "change_rate": 0.02,
        },
    ),
    (
        "the same over the Pacific (window-bound)",
        {
            "dataset_tb": 2000,
            "window_hours": 6,
            "rtt_ms": 150,
            "streams": 16,
            "tcp_window_mb": 16,
            "compression_ratio": 1.05,
            "change_rate": 0.02,
        },
    ),
    (
        "5 PB intra-region, compressible data",
        {
            "dataset_tb": 5000,
            "window_hours": 4,
            "rtt_ms": 10,
            "streams": 8,
            "tcp_window_mb": 32,
            "compression_ratio": 2.5,
            "change_rate": 0.05,
        },
    ),
    (
        "one stream, big window, small change",
        {
            "dataset_tb": 100,
            "window_hours": 4,
            "rtt_ms": 150,
            "streams": 1,
            "tcp_window_mb": 64,
            "compression_ratio": 1.0,
            "change_rate": 0.01,
        },
    ),
    (
        "one stream, small window (window-bound)",
        {
            "dataset_tb": 100,
            "window_hours": 1,
            "rtt_ms": 80,
            "streams": 1,
            "tcp_window_mb": 4,
            "compression_ratio": 1.0,
            "change_rate": 0.01,
        },
    ),
    (
        "nothing changed",
        {
            "dataset_tb": 1000,
            "window_hours": 2,
            "rtt_ms": 80,
            "streams": 4,
            "tcp_window_mb": 16,
            "compression_ratio": 1.0,
            "change_rate": 0.0,
        },
    ),
]


def _explain_link(got: float, expected: float, case: dict[str, float], where: str) -> None:
    from platform_kit.assessment.network import NetworkPath, path_throughput

    ceiling = (
        case["streams"]
        * path_throughput(
            NetworkPath(
                link_gbps=1.0,
                rtt_ms=case["rtt_ms"],
                streams=int(case["streams"]),
                tcp_window_mb=case["tcp_window_mb"],
            )
        )["window_cap_gbps"]
        * 0.95
    )
    if math.isinf(expected):
        fail(
            f"{where}: you returned {got:g} Gbit/s, but {case['streams']:g} streams x "
            f"{case['tcp_window_mb']:g} MB windows at {case['rtt_ms']:g} ms RTT carry at most {ceiling:.2f} "
            "Gbit/s whatever the link, less than the sync needs: no link is enough, return math.inf "
            "(per stream: window / RTT)"
        )
    if math.isinf(got):
        fail(
            f"{where}: you returned math.inf, but the streams can carry {ceiling:.2f} Gbit/s, enough here; "
            f"a {expected:.3f} Gbit/s link does it"
        )
    ratio = got / expected if expected else math.inf
    clues = {
        0.95: "apply the 0.95 protocol efficiency (the link must carry goodput / 0.95)",
        1 / 8: "a byte is 8 bits",
        8.0: "a byte is 8 bits",
        1 / 1.048576: "1 MB = 10^6 bytes and 1 TB = 10^12 bytes (decimal units)",
    }
    clue = next((text for factor, text in clues.items() if math.isclose(ratio, factor, rel_tol=2e-3)), None)
    if (
        clue is None
        and case["compression_ratio"] != 1
        and math.isclose(ratio, case["compression_ratio"], rel_tol=2e-3)
    ):
        clue = "divide the bytes to send by the compression ratio"
    fail(
        f"{where}: expected {expected:.4f} Gbit/s, got {got:.4f}"
        + (
            f"; {clue}"
            if clue
            else "; bytes to send = dataset_tb x change_rate / compression_ratio, over window_hours x 3600 s"
        )
    )


@exercise(
    id="assessment.min_link",
    lab=LAB,
    kind="function",
    title="minimum link for an incremental sync within its window",
    hint="needed goodput (Gbit/s) = dataset_tb * change_rate / compression_ratio * 8000 / "
    "(window_hours * 3600); the streams carry at most streams * tcp_window_mb * 8 / rtt_ms * 0.95 "
    "whatever the link: if that is below the need return math.inf, else return need / 0.95",
)
def _grade_min_link(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.assessment.network import min_link_gbps

    cases = list(_LINK_CASES)
    scenario = (context or {}).get("scenario")
    if scenario is not None:
        if not isinstance(scenario, dict) or set(scenario) != set(_LINK_ARGS):
            raise GradingError(
                "check('assessment.min_link') needs context['scenario'] as a dict with keys "
                f"{list(_LINK_ARGS)}",
                fix="pass context={'scenario': {...}} as the lab's check cell does",
            )
        cases.insert(0, ("your notebook's scenario", dict(scenario)))
    summary = []
    for where, case in cases:
        expected = min_link_gbps(**case)
        got = answer(*(case[name] for name in _LINK_ARGS))
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            fail(f"{where}: expected a number of Gbit/s (or math.inf), got {type(got).__name__} {got!r}")
        got = float(got)
        if math.isnan(got):
            fail(f"{where}: you returned NaN; return math.inf when no link is enough")
        same = (math.isinf(got) and math.isinf(expected)) or (
            not math.isinf(got)
            and not math.isinf(expected)
            and math.isclose(got, expected, rel_tol=1e-3, abs_tol=1e-9)
        )
        if not same:
            _explain_link(got, expected, case, where)
        summary.append("inf" if math.isinf(expected) else f"{expected:.2f}")
    return f"matches the model on {len(cases)} cases (Gbit/s: {', '.join(summary)})"


# --------------------------------------------------------------------------- archive break-even
def _cumulative(annual: dict[str, list[float]], shuffle: bool = False) -> pd.DataFrame:
    rows = []
    for option, values in annual.items():
        total = 0.0
        for year, value in enumerate(values, start=1):
            total += value
            rows.append({"year": year, "option": option, "annual_usd": value, "cumulative_usd": total})
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=3).reset_index(drop=True) if shuffle else frame


def _annual_answer(table: pd.DataFrame, a: str, b: str) -> int | None:
    wide = table.pivot(index="year", columns="option", values="annual_usd").sort_index()
    years = wide.index[wide[b] < wide[a]]
    return None if len(years) == 0 else int(years[0])


_BREAKEVEN_CASES = [
    (
        "capex up front, cheaper to run: crosses in year 4",
        _cumulative({"cloud": [100, 100, 100, 100, 100], "owned": [250, 40, 40, 40, 40]}),
        "cloud",
        "owned",
    ),
    (
        "never cheaper within the horizon",
        _cumulative({"cloud": [100, 100, 100], "owned": [400, 40, 40]}),
        "cloud",
        "owned",
    ),
    ("cheaper from year 1", _cumulative({"cloud": [100, 100], "owned": [90, 95]}), "cloud", "owned"),
    (
        "equal in year 3 is not below: year 4",
        _cumulative({"cloud": [100, 100, 100, 100], "owned": [200, 50, 50, 40]}),
        "cloud",
        "owned",
    ),
    (
        "rows in any order, a third option present",
        _cumulative(
            {
                "cloud": [100, 100, 100, 100, 100, 100],
                "owned": [330, 30, 30, 30, 30, 30],
                "tape": [50, 50, 50, 50, 50, 50],
            },
            shuffle=True,
        ),
        "cloud",
        "owned",
    ),
]


@exercise(
    id="assessment.archive_breakeven",
    lab=LAB,
    kind="function",
    title="break-even year of two archive options",
    hint="pivot to one cumulative_usd column per option indexed by year (sorted), keep the years where "
    "option_b "
    "< option_a, return the first such year value as an int, or None",
)
def _grade_archive_breakeven(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.assessment.archive import ArchiveWorkload, archive_tco, breakeven_year

    tco = context_value(context, "tco", pd.DataFrame, exercise_id="assessment.archive_breakeven")
    cases = list(_BREAKEVEN_CASES)
    options = list(dict.fromkeys(tco["option"]))
    cases += [(f"your TCO table: {b} vs {a}", tco, a, b) for a in options for b in options if a != b]
    other = archive_tco(ArchiveWorkload(initial_tb=3000, years=8))
    cases += [
        (f"a 3 PB archive: {b} vs object-standard", other, "object-standard", b)
        for b in dict.fromkeys(other["option"])
        if b != "object-standard"
    ]
    for where, table, a, b in cases:
        pristine = table.copy()
        got = answer(table, a, b)
        if not table.equals(pristine):
            fail("your function changed the DataFrame it was given; work on a copy")
        expected = breakeven_year(table, a, b)
        if got is not None and (isinstance(got, bool) or not isinstance(got, numbers.Integral)):
            fail(f"{where}: expected an int year or None, got {type(got).__name__} {got!r}")
        if got == expected:
            continue
        if expected is not None and got == expected - 1:
            fail(
                f"{where}: you returned {got}, one too early: years are numbered 1..N, return the value "
                "of the "
                "year column, not a position"
            )
        if "annual_usd" in table.columns and got == _annual_answer(table, a, b):
            fail(
                f"{where}: you returned {got}, the first year {b}'s ANNUAL cost is below {a}'s; break-even "
                "compares cumulative_usd (the money spent so far)"
            )
        fail(
            f"{where}: expected {expected}, got {got} (first year where {b}'s cumulative_usd is "
            "strictly below "
            f"{a}'s; None when it never is)"
        )
    return f"right on {len(cases)} comparisons, including your own TCO table"
