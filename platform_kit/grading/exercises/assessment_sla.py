"""Exercises of lab ``01_assessment``, sections 1 (SLA verdicts) and 8 (baseline regressions)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from platform_kit.assessment._sla_stats import latency_percentiles
from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise

LAB = "01_assessment"
_KEYS = ("p50", "p95", "p99")


# --- assessment.sla_verdict ----------------------------------------------------------------


def reference_sla_verdicts(timings_ms: Any, target_p99_ms: float) -> dict[str, Any]:
    """The package's answer: linear-interpolation percentiles, pass when p99 <= target."""
    pct = latency_percentiles(timings_ms, (50, 95, 99))
    return {
        **pct,
        "verdict": "pass" if pct["p99"] <= target_p99_ms else "fail",
        "headroom_pct": (target_p99_ms - pct["p99"]) / target_p99_ms * 100.0,
    }


def _verdict_cases() -> list[tuple[str, Any, float]]:
    rng = np.random.default_rng(11)
    skewed = [12.0, 15.0, 11.0, 14.0, 13.0, 250.0, 16.0, 12.0, 18.0, 900.0]
    random = rng.lognormal(4.0, 0.6, 400)
    p99 = float(np.percentile(random, 99))
    return [
        ("a skewed sample (mean 126 ms, p99 841.5 ms) against 800 ms", skewed, 800.0),
        ("a single sample equal to its target", [42.0], 42.0),
        ("101 evenly spaced samples whose p99 equals the target exactly", list(np.arange(101.0)), 99.0),
        (
            "five samples [10, 20, 30, 40, 1000] against 980 ms",
            np.array([40.0, 1000.0, 10.0, 30.0, 20.0]),
            980.0,
        ),
        ("400 random latencies (numpy array) with the target just above p99", random, p99 * 1.02),
        (
            "400 random latencies with the target at their p95",
            random.tolist(),
            float(np.percentile(random, 95)),
        ),
    ]


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def _check_verdict(result: Any, samples: Any, target: float, label: str) -> None:
    expected = reference_sla_verdicts(samples, target)
    if not isinstance(result, Mapping):
        fail(f"expected a dict with keys p50, p95, p99, verdict, headroom_pct; got {type(result).__name__}")
    missing = [k for k in (*_KEYS, "verdict", "headroom_pct") if k not in result]
    if missing:
        fail(f"the dict lacks key(s) {missing} (on {label})")
    values = np.asarray(samples, dtype=float)
    for key in _KEYS:
        got = float(result[key])
        if _close(got, expected[key]):
            continue
        if key != "p50" and _close(got, float(values.mean())):
            fail(f"{key} is the mean of the samples on {label}: a tail percentile is not an average")
        nearest = float(np.percentile(values, float(key[1:]), method="inverted_cdf"))
        if _close(got, nearest):
            fail(
                f"{key} = {got:g} on {label} is the nearest-rank value; use linear interpolation between the "
                f"two closest ranks (numpy's default), which gives {expected[key]:g}"
            )
        fail(
            f"{key} is {got:g} on {label}, expected {expected[key]:g} (linear interpolation, numpy's default)"
        )
    if result["verdict"] not in ("pass", "fail"):
        fail(f"verdict must be the string 'pass' or 'fail', got {result['verdict']!r}")
    if result["verdict"] != expected["verdict"]:
        fail(
            f"verdict {result['verdict']!r} on {label}: p99 is {expected['p99']:g} ms against a target of "
            f"{target:g} ms; an SLA passes when p99 <= target (equal passes)"
        )
    room = float(result["headroom_pct"])
    if not _close(room, expected["headroom_pct"]):
        if _close(room * 100, expected["headroom_pct"]):
            fail(f"headroom_pct is a fraction ({room:g}); express it in percent (x 100)")
        if _close(room, -expected["headroom_pct"]):
            fail(
                "headroom_pct has the wrong sign: (target - p99) / target * 100 "
                "is negative when the SLA fails"
            )
        fail(
            f"headroom_pct is {room:g} on {label}, expected (target - p99) / target * 100 = "
            f"{expected['headroom_pct']:g}"
        )


@exercise(
    id="assessment.sla_verdict",
    lab=LAB,
    kind="function",
    title="p50/p95/p99 and an SLA verdict from raw timings",
    hint="np.percentile(timings, [50, 95, 99]) (linear interpolation, the default) on a float array; "
    "verdict 'pass' when p99 <= target; headroom_pct = (target - p99) / target * 100; "
    "raise ValueError when a timing is NaN; do not sort or modify the caller's array in place",
)
def _grade_sla_verdict(answer: Any, context: dict[str, Any]) -> str:
    for label, samples, target in _verdict_cases():
        pristine = np.array(samples, dtype=float, copy=True)
        result = answer(samples, target)
        if not np.array_equal(np.asarray(samples, dtype=float), pristine):
            fail(
                f"your function changed the timings it was given (on {label}); "
                "sort a copy (np.sort), not in place"
            )
        _check_verdict(result, samples, target, label)
    try:
        outcome = answer([10.0, float("nan"), 30.0], 50.0)
    except ValueError:
        pass
    except Exception as exc:  # noqa: BLE001 - any other error is the learner's, reported as such
        fail(f"timings with a NaN must raise ValueError, got {type(exc).__name__}: {exc}")
    else:
        fail(f"timings with a NaN returned {outcome!r}; a missing timing is not a sample: raise ValueError")
    real = (context or {}).get("timings_ms")
    real_target = (context or {}).get("target_p99_ms")
    if real is not None and real_target is not None:
        result = answer(real, float(real_target))
        _check_verdict(result, real, float(real_target), "the pipeline's measured timings")
        return (
            f"matches on 6 hand-made and random samples and on your pipeline: p99 {result['p99']:,.1f} ms "
            f"vs {float(real_target):g} ms -> {result['verdict']}"
        )
    return "matches on 6 hand-made and random samples, rejects NaN"


# --- assessment.baseline_regressions --------------------------------------------------------


def reference_flag_regressions(
    current: Mapping[str, float],
    baseline: Mapping[str, float],
    directions: Mapping[str, str],
    tolerance_pct: float,
) -> set[str]:
    """Metrics present in both whose worsening (direction-aware) exceeds the tolerance."""
    from platform_kit.assessment.baselines import compare_to_baseline

    shared = {k: directions[k] for k in current if k in baseline}
    if not shared:
        return set()
    report = compare_to_baseline(
        {k: current[k] for k in shared},
        {k: baseline[k] for k in shared},
        tolerance_pct=tolerance_pct,
        directions=shared,
    )
    return set(report.loc[report["regression"], "metric"])


_LOW, _HIGH = "lower_is_better", "higher_is_better"


def _regression_cases() -> list[tuple[str, dict[str, float], dict[str, float], dict[str, str], float]]:
    rng = np.random.default_rng(5)
    names = [f"m{i}_ms" if i % 2 else f"m{i}_rps" for i in range(12)]
    base = {n: float(v) for n, v in zip(names, rng.uniform(50, 500, len(names)), strict=True)}
    cur = {n: v * float(f) for (n, v), f in zip(base.items(), rng.uniform(0.6, 1.4, len(names)), strict=True)}
    dirs = {n: _LOW if n.endswith("_ms") else _HIGH for n in names}
    return [
        (
            "a latency 30 % slower (lower is better)",
            {"p99_ms": 130.0},
            {"p99_ms": 100.0},
            {"p99_ms": _LOW},
            10.0,
        ),
        (
            "throughputs 30 % lower and 30 % higher (higher is better)",
            {"a_rps": 700.0, "b_rps": 1300.0},
            {"a_rps": 1000.0, "b_rps": 1000.0},
            {"a_rps": _HIGH, "b_rps": _HIGH},
            10.0,
        ),
        ("a latency 30 % faster", {"p99_ms": 70.0}, {"p99_ms": 100.0}, {"p99_ms": _LOW}, 10.0),
        (
            "changes exactly at the 25 % tolerance",
            {"p99_ms": 125.0, "x_rps": 150.0},
            {"p99_ms": 100.0, "x_rps": 200.0},
            {"p99_ms": _LOW, "x_rps": _HIGH},
            25.0,
        ),
        (
            "a new metric absent from the baseline",
            {"p99_ms": 100.0, "new_ms": 1e6},
            {"p99_ms": 100.0},
            {"p99_ms": _LOW, "new_ms": _LOW},
            10.0,
        ),
        (
            "a baseline metric absent from the current run",
            {"p99_ms": 100.0},
            {"p99_ms": 100.0, "gone_rps": 50.0},
            {"p99_ms": _LOW, "gone_rps": _HIGH},
            10.0,
        ),
        (
            "a 0.5 % slowdown with zero tolerance",
            {"p99_ms": 100.5, "p50_ms": 10.0},
            {"p99_ms": 100.0, "p50_ms": 10.0},
            {"p99_ms": _LOW, "p50_ms": _LOW},
            0.0,
        ),
        ("12 random metrics of both directions", cur, base, dirs, 15.0),
    ]


def _check_regressions(
    result: Any,
    current: Mapping[str, float],
    baseline: Mapping[str, float],
    directions: Mapping[str, str],
    tolerance: float,
    label: str,
) -> set[str]:
    expected = reference_flag_regressions(current, baseline, directions, tolerance)
    if not isinstance(result, set | frozenset):
        fail(f"expected a set of metric names, got {type(result).__name__} (on {label})")
    if result == expected:
        return expected
    extra, missed = sorted(result - expected), sorted(expected - result)
    if any(m not in baseline for m in extra):
        fail(f"you flagged {extra} on {label}, but a metric with no baseline value cannot regress: skip it")
    wrong_way = [
        m
        for m in extra
        if m in baseline and m in current and ((current[m] > baseline[m]) == (directions[m] == _HIGH))
    ]
    if wrong_way:
        fail(
            f"you flagged {wrong_way} on {label}, which got better; respect each metric's direction "
            "(higher throughput is good, higher latency is bad)"
        )
    if extra:
        fail(
            f"you flagged {extra} on {label}: worsening of exactly the tolerance or less "
            "is not a regression (use >)"
        )
    fail(
        f"you missed {missed} on {label}: they worsened by more than {tolerance:g} % "
        "(for higher-is-better metrics a drop is the worsening)"
    )


@exercise(
    id="assessment.baseline_regressions",
    lab=LAB,
    kind="function",
    title="flag the metrics that regressed against a baseline",
    hint="for each metric in both dicts: change = (current - baseline) / baseline * 100; worse = change for "
    "'lower_is_better', -change for 'higher_is_better'; flag when worse > tolerance_pct (not >=); "
    "return a set of names",
)
def _grade_baseline_regressions(answer: Any, context: dict[str, Any]) -> str:
    for label, current, baseline, directions, tolerance in _regression_cases():
        snapshot = (dict(current), dict(baseline))
        try:
            result = answer(current, baseline, directions, tolerance)
        except KeyError as exc:
            fail(
                f"your code raised KeyError {exc} on {label}: a metric present in only one of the two dicts "
                "cannot be compared, skip it"
            )
        if (current, baseline) != snapshot:
            fail(f"your function changed the dicts it was given (on {label})")
        _check_regressions(result, current, baseline, directions, tolerance, label)
    keys = ("current", "baseline", "directions", "tolerance_pct")
    if context and all(k in context for k in keys):
        cur, base, dirs, tol = (context[k] for k in keys)
        found = _check_regressions(
            answer(dict(cur), dict(base), dict(dirs), float(tol)),
            cur,
            base,
            dirs,
            float(tol),
            "the notebook's baseline comparison",
        )
        return (
            f"matches on 8 hand-made and random cases and on your runs: "
            f"{', '.join(sorted(found)) or 'no metric'} regressed beyond {float(tol):g} %"
        )
    return "matches on 8 hand-made and random cases"
