"""Exercise of lab ``04_quality``, section 8: a generator that exposes a given bug (``quality.edge_case_generator``).

The learner writes ``generator(seed) -> DataFrame``, a raw orders batch on which one of the buggy variants of
``stage_orders`` (``kq.edge_cases.BUGGY_TRANSFORMS``, named by the notebook in ``context["bug"]``) gives another
result than the fixed ``stage_orders``. check() calls it with hidden seeds and requires, for each: the same frame
on a second call with the same seed (seeded), other frames for other seeds, the raw orders columns, a batch that
``stage_orders`` accepts and turns into output meeting the ``orders_staged`` contract (so the batch is dirty only
in ways the pipeline is meant to clean, not invalid), and a different result from the buggy transform. When the
batch exposes another bug instead, the message says which.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from platform_kit.errors import GradingError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
EXERCISE_ID = "quality.edge_case_generator"
HIDDEN_SEEDS = (3, 1009, 77777)
RAW_COLUMNS = ("order_id", "customer_id", "order_ts", "status", "channel", "region", "currency", "total_amount")

#: how each bug can be exposed, without giving a batch away
BUG_HINTS = {
    "case_sensitive": "it keeps only rows whose status, channel and region are already trimmed and lower-case, so "
                      "give some rows a valid code spelled another way (capitals, surrounding spaces)",
    "naive_timestamps": "it casts order_ts to naive timestamps without converting the zone, so land order_ts with a "
                        "zone (tz-aware, several zones, or ISO text with an offset) inside 2024",
}


def _call(generator: Callable[..., Any], seed: int) -> pd.DataFrame:
    try:
        frame = generator(seed)
    except NotImplementedError:
        raise
    except Exception as exc:  # noqa: BLE001 - the learner's code failed: say for which seed
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        fail(f"your generator raised {type(exc).__name__}: {first} for seed={seed}")
    if not isinstance(frame, pd.DataFrame):
        fail(f"your generator returned a {type(frame).__name__} for seed={seed}: return a pandas DataFrame of raw "
             "orders (the columns of company['orders'])")
    if frame.empty:
        fail(f"your generator returned an empty frame for seed={seed}: a batch needs rows to expose anything")
    return frame


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    try:
        pd.testing.assert_frame_equal(a, b)
    except AssertionError:
        return False
    return True


def _check_frame(frame: pd.DataFrame, seed: int, bug: str) -> str:
    from platform_kit.quality.edge_cases import BUGGY_TRANSFORMS, compare_transforms, contract_problems
    from platform_kit.quality.pipeline import stage_orders

    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        fail(f"your batch for seed={seed} lacks column(s) {missing}: keep every raw orders column; a missing column "
             "is a schema break that stage_orders rejects, not the bug to expose")
    try:
        fixed = stage_orders(frame.copy())
    except Exception as exc:  # noqa: BLE001 - the fixed transform rejects the batch: the input is invalid
        fail(f"stage_orders itself rejects your batch for seed={seed} ({type(exc).__name__}: "
             f"{str(exc).splitlines()[0][:120]}): expose the bug with input the fixed pipeline accepts")
    if fixed.empty:
        fail(f"stage_orders drops every row of your batch for seed={seed} (nulls, unparseable or non-positive "
             "values): keep rows the pipeline can clean")
    problems = contract_problems(fixed, "orders_staged")
    if problems:
        fail(f"after stage_orders your batch for seed={seed} still breaks the orders_staged contract "
             f"({'; '.join(problems[:2])}): that is invalid input, which any transform gets wrong; make the batch "
             "dirty only in ways stage_orders is meant to clean, and valid once cleaned")
    buggy = BUGGY_TRANSFORMS[bug]
    if compare_transforms(frame, buggy, stage_orders) is None:
        others = sorted(name for name, buggy in BUGGY_TRANSFORMS.items()
                        if name != bug and compare_transforms(frame, buggy, stage_orders) is not None)
        instead = f"; it exposes {', '.join(others)} instead" if others else ""
        fail(f"on your batch for seed={seed} the {bug!r} transform returns the same as stage_orders, so the bug "
             f"stays hidden{instead}: {BUG_HINTS.get(bug, '')}")
    try:
        wrong = buggy(frame.copy())
    except Exception as exc:  # noqa: BLE001 - raising is one way to misbehave
        return f"raises {type(exc).__name__}"
    return (f"returns {len(wrong)} of the {len(fixed)} rows" if len(wrong) != len(fixed)
            else "returns other values")


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="a seeded generator of raw orders that exposes a given bug of the staging transform",
    hint="start from company['orders'].sample(n, random_state=seed), draw every change from "
         "np.random.default_rng(seed), and change only what the named bug mishandles while keeping every value "
         "valid once stage_orders has cleaned it",
)
def _grade_edge_case_generator(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.quality.edge_cases import BUGGY_TRANSFORMS

    bug = context_value(context, "bug", str, exercise_id=EXERCISE_ID)
    if bug not in BUGGY_TRANSFORMS:
        raise GradingError(f"check({EXERCISE_ID!r}) got context['bug']={bug!r}, not a known bug",
                           fix=f"use one of {sorted(BUGGY_TRANSFORMS)}")
    if not callable(answer):
        fail(f"pass your generator function itself (generator(seed) -> DataFrame), not a {type(answer).__name__}")
    frames = {}
    for seed in HIDDEN_SEEDS:
        frame = _call(answer, seed)
        if not _same(frame, _call(answer, seed)):
            fail(f"two calls with seed={seed} returned different frames: derive every random choice from seed "
                 "(np.random.default_rng(seed), df.sample(..., random_state=seed), Faker's seed_instance(seed)) so "
                 "that a failing batch can be reproduced")
        frames[seed] = frame
    first = next(iter(frames.values()))
    if all(_same(first, frame) for frame in frames.values()):
        fail(f"your generator returns the same frame for seeds {list(HIDDEN_SEEDS)}: use seed, so that each seed "
             "gives another batch")
    effects = "; ".join(f"seed {seed}: {_check_frame(frame, seed, bug)}" for seed, frame in frames.items())
    return (f"seeded and deterministic; on {len(frames)} hidden seeds stage_orders cleans every batch into output "
            f"that meets orders_staged, while the {bug!r} transform misbehaves ({effects})")
