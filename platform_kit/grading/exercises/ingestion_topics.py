"""Exercises of lab ``02_ingestion``, sections 1 (retention and replication) and 7 (partitions)."""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Mapping
from typing import Any

from platform_kit.errors import WorkbenchError
from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise

LAB = "02_ingestion"

# --- ingestion.durable_settings -------------------------------------------------------------------

SCENARIO_KEYS = ("write_rate_per_s", "record_bytes", "partitions", "usd_per_gb_month", "min_retention_hours",
                 "broker_failures", "stay_writable", "budget_usd_month", "brokers")


def evaluate_choice(scenario: Mapping[str, Any], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The package calculator's verdict on ``settings`` for ``scenario`` (``problems`` empty = accepted)."""
    from platform_kit.ingestion.retention import DurabilityTarget, Workload, evaluate_settings

    workload = Workload(write_rate_per_s=scenario["write_rate_per_s"], record_bytes=scenario["record_bytes"],
                        partitions=scenario["partitions"], usd_per_gb_month=scenario["usd_per_gb_month"])
    target = DurabilityTarget(scenario["broker_failures"], scenario["stay_writable"])
    row = evaluate_settings(workload, settings, target, scenario["budget_usd_month"], scenario["brokers"])
    if float(row["retention_hours"]) < scenario["min_retention_hours"]:
        row["problems"].insert(0, f"retention {row['retention_hours']:g} h is shorter than the "
                                  f"{scenario['min_retention_hours']:g} h required")
    return row


def reference_choice(scenario: Mapping[str, Any]) -> Any:
    """The package's cheapest answer (a RetentionSettings) or None when nothing fits."""
    from platform_kit.ingestion.retention import DurabilityTarget, Workload, cheapest_settings

    workload = Workload(write_rate_per_s=scenario["write_rate_per_s"], record_bytes=scenario["record_bytes"],
                        partitions=scenario["partitions"], usd_per_gb_month=scenario["usd_per_gb_month"])
    return cheapest_settings(workload, DurabilityTarget(scenario["broker_failures"], scenario["stay_writable"]),
                             min_retention_hours=scenario["min_retention_hours"],
                             budget_usd_month=scenario["budget_usd_month"], brokers=scenario["brokers"])


def _scenario(**changes: Any) -> dict[str, Any]:
    base = {"write_rate_per_s": 2000.0, "record_bytes": 500.0, "partitions": 6, "usd_per_gb_month": 0.08,
            "min_retention_hours": 72.0, "broker_failures": 1, "stay_writable": True,
            "budget_usd_month": 100.0, "brokers": 3}
    return base | changes


def _settings_cases() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("survive 1 broker loss and stay writable, 3 brokers, 100 USD", _scenario()),
        ("survive 1 loss without losing data but writes may pause, 50 USD", _scenario(stay_writable=False,
                                                                                     budget_usd_month=50.0)),
        ("survive 2 losses and stay writable, 5 brokers, 200 USD", _scenario(broker_failures=2, brokers=5,
                                                                              budget_usd_month=200.0)),
        ("survive 1 loss and stay writable on only 40 USD", _scenario(budget_usd_month=40.0)),
        ("survive 1 loss and stay writable on a 2-broker cluster", _scenario(brokers=2, budget_usd_month=500.0)),
        ("no failure to survive, 1 week, 60 USD", _scenario(broker_failures=0, min_retention_hours=168.0,
                                                            budget_usd_month=60.0)),
    ]


def _check_choice(answer: Any, scenario: dict[str, Any], label: str) -> str:
    pristine = copy.deepcopy(scenario)
    try:
        chosen = answer(scenario)
    except Exception as exc:  # noqa: BLE001 - the learner's error, reported as such
        fail(f"your function raised {type(exc).__name__}: {exc} (on {label})")
    if scenario != pristine:
        fail(f"your function changed the scenario dict it was given (on {label})")
    best = reference_choice(pristine)
    if chosen is None:
        if best is None:
            return "none fits"
        row = evaluate_choice(pristine, {"replication_factor": best.replication_factor,
                                         "min_insync_replicas": best.min_insync_replicas, "acks": best.acks,
                                         "retention_hours": best.retention_hours})
        fail(f"you returned None on {label}, but settings meeting the target exist within the budget "
             f"(the cheapest costs {row['usd_month']:,.2f} USD/month)")
    if not isinstance(chosen, Mapping):
        fail(f"return a dict of settings (or None), got {type(chosen).__name__} (on {label})")
    try:
        row = evaluate_choice(pristine, chosen)
    except WorkbenchError as exc:
        fail(f"settings {dict(chosen)!r} are invalid on {label}: {exc.message}")
    if best is None and not row["problems"]:  # cannot happen if the reference is right; guard anyway
        return "fits"
    if best is None:
        fail(f"nothing can meet {label}: return None rather than settings that break it "
             f"({row['problems'][0]})")
    if row["problems"]:
        fail(f"settings {dict(chosen)!r} fail {label}: " + "; ".join(row["problems"]))
    return f"RF={row['replication_factor']}, min.insync={row['min_insync_replicas']}, acks={row['acks']}, " \
           f"{row['usd_month']:,.2f} USD/month"


@exercise(
    id="ingestion.durable_settings",
    lab=LAB,
    kind="function",
    title="replication, ISR, acks and retention that meet a durability target within a storage budget",
    hint="an acks=all write survives min.insync.replicas - 1 broker losses and stays writable through "
    "RF - min.insync.replicas of them; acks=1 or 0 survive none; cost grows with RF x retention "
    "(retention.evaluate_settings prices a choice); return None when no RF <= brokers fits the budget",
)
def _grade_durable_settings(answer: Any, context: dict[str, Any]) -> str:
    if not callable(answer):
        fail(f"pass your function itself (choose_settings), not {type(answer).__name__}")
    for label, scenario in _settings_cases():
        _check_choice(answer, scenario, label)
    notebook = (context or {}).get("scenario")
    if isinstance(notebook, Mapping) and all(k in notebook for k in SCENARIO_KEYS):
        verdict = _check_choice(answer, dict(notebook), "the notebook's scenario")
        return f"meets 6 hand-made scenarios and yours: {verdict}"
    return "meets 6 hand-made scenarios"


# --- ingestion.partitions_for_target --------------------------------------------------------------


def reference_partitions(target_rate: float, per_consumer_rate: float, headroom: float) -> int:
    """The package formula: ceil(target * (1 + headroom) / per-consumer rate), at least 1."""
    from platform_kit.ingestion.partitions import partitions_needed

    return partitions_needed(target_rate, per_consumer_rate, headroom)


def _partition_cases() -> list[tuple[str, float, float, float]]:
    return [
        ("1000 rec/s at 250 rec/s per consumer, no headroom (divides exactly)", 1000.0, 250.0, 0.0),
        ("1000 rec/s at 300 rec/s per consumer, 25 % headroom", 1000.0, 300.0, 0.25),
        ("10 rec/s at 1000 rec/s per consumer", 10.0, 1000.0, 0.25),
        ("an idle topic (0 rec/s)", 0.0, 500.0, 0.2),
        ("50,000 rec/s at 850 rec/s per consumer, 20 % headroom", 50_000.0, 850.0, 0.2),
        ("1440 rec/s at 360 rec/s per consumer, no headroom", 1440.0, 360.0, 0.0),
    ]


def _check_partitions(answer: Any, target: float, rate: float, headroom: float, label: str) -> int:
    try:
        got = answer(target, rate, headroom)
    except Exception as exc:  # noqa: BLE001
        fail(f"your function raised {type(exc).__name__}: {exc} (on {label})")
    if isinstance(got, bool) or not isinstance(got, numbers.Integral):
        if isinstance(got, float) and got.is_integer():
            fail(f"return an int, not the float {got!r} (on {label}): partitions are counted")
        fail(f"return a whole number of partitions, got {got!r} (on {label})")
    got = int(got)
    need = reference_partitions(target, rate, headroom)
    capacity = got * rate
    if got < 1:
        fail(f"{got} partitions on {label}: a topic needs at least one partition, even an idle one")
    if got < need:
        ignored_headroom = headroom > 0 and got == max(1, math.ceil(target / rate - 1e-9))
        rounded_down = got >= 1 and got == math.floor(target * (1 + headroom) / rate)
        if ignored_headroom or rounded_down:
            fail(f"{got} partitions on {label}: {got} x {rate:,.0f} = {capacity:,.0f} rec/s < "
                 f"{target * (1 + headroom):,.0f} = target x (1 + headroom)"
                 + ("; include the headroom" if ignored_headroom else "")
                 + ("; round up" if rounded_down else ""))
        fail(f"{got} partition(s) on {label} carry {capacity:,.0f} rec/s with one consumer each, less than the "
             f"target with headroom ({target * (1 + headroom):,.0f} rec/s): under-provisioned")
    if got > max(need, 2 * need - 1):
        fail(f"{got} partitions on {label} is over-provisioned: {need} already carry the target with headroom "
             "(every partition costs broker memory, file handles and rebalance time)")
    return got


@exercise(
    id="ingestion.partitions_for_target",
    lab=LAB,
    kind="function",
    title="how many partitions a target rate needs, from the measured per-consumer throughput",
    hint="one consumer per partition at most, so partitions = ceil(target * (1 + headroom) / per-consumer "
    "rate), and at least 1; raise ValueError when the rate is not positive or the headroom is negative",
)
def _grade_partitions_for_target(answer: Any, context: dict[str, Any]) -> str:
    if not callable(answer):
        fail(f"pass your function itself (partitions_for), not {type(answer).__name__}")
    for label, target, rate, headroom in _partition_cases():
        _check_partitions(answer, target, rate, headroom, label)
    for args, what in (((1000.0, 0.0, 0.2), "a per-consumer rate of 0"), ((1000.0, -5.0, 0.2), "a negative rate"),
                       ((1000.0, 100.0, -0.5), "a negative headroom")):
        try:
            outcome = answer(*args)
        except (ValueError, WorkbenchError):
            continue
        except Exception as exc:  # noqa: BLE001
            fail(f"{what} must raise ValueError, got {type(exc).__name__}: {exc}")
        fail(f"{what} returned {outcome!r}: a measurement like that is a bug upstream; raise ValueError")
    ctx = context or {}
    keys = ("target_rate", "per_consumer_rate", "headroom")
    if all(isinstance(ctx.get(k), numbers.Real) for k in keys):
        target, rate, headroom = (float(ctx[k]) for k in keys)
        got = _check_partitions(answer, target, rate, headroom, "your measured per-consumer rate")
        return (f"matches the formula on 6 cases and on your measurement: {got} partitions x {rate:,.0f} rec/s "
                f"carry {target:,.0f} rec/s with {headroom:.0%} headroom")
    return "matches the formula on 6 cases and rejects bad rates"
