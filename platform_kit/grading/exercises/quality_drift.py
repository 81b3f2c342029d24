"""Exercise of lab ``04_quality``, section 2: a drift detector for silent corruption (``quality.drift_detector``).

The learner writes ``detect(reference, batch)`` returning what fired, e.g. ``{"total_amount": ["ks"]}`` (``{}``
when nothing did). check() runs it on the lab's demo batches (a clean one and one per corruption: each must be
caught on its column, the clean one must stay quiet), then on a hidden suite: another generated orders table,
split and sampled with other seeds, the corruptions aimed at other columns (a shuffled currency, collapsed
regions, nulls in the status), plus a batch whose column arrived entirely null. It needs recall >= 0.9, at most
10 % false alarms on the clean batches, and the corrupted column named on >= 90 % of the corrupted ones.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.errors import GradingError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "04_quality"
EXERCISE_ID = "quality.drift_detector"
#: the hidden suite: another orders table, other seeds, other target columns
HIDDEN_SEED = 2718
HIDDEN_TARGETS = {"unit_change": "total_amount", "truncate_decimals": "total_amount", "shuffle_column": "currency",
                  "collapse_categories": "region", "null_spike": "status"}
MIN_RECALL = 0.9
MAX_FALSE_ALARM_SHARE = 0.1
MIN_COLUMN_ACCURACY = 0.9
#: naming every watched column on more than this share of the corrupted batches is not "naming the column"
MAX_NAME_ALL_SHARE = 0.25

WHY_MISSED = {
    "unit_change": "amounts x100 move the whole distribution: PSI or KS on the numeric column see it",
    "truncate_decimals": "truncated amounts keep their shape, so KS and PSI barely move: compare how many values "
                         "have non-zero cents (the decimal places), reference vs batch",
    "shuffle_column": "a shuffled column keeps its distribution, so no single-column test can see it: compare its "
                      "association with related columns (kq.drift.find_related_pairs + association_shift)",
    "collapse_categories": "the category shares change: chi-square (with Cramér's V) or Jensen-Shannon distance on "
                           "each categorical column",
    "null_spike": "compare the share of nulls per column, reference vs batch (and skip the other tests when a "
                  "column has no values left)",
}


@functools.lru_cache(maxsize=1)
def hidden_suite() -> tuple[pd.DataFrame, tuple[Any, ...]]:
    """The hidden reference and labelled batches (20 clean, 3 per corruption, one all-null column)."""
    from platform_kit.datasets import generate_table
    from platform_kit.quality import corruption as kc

    reference, pool = kc.split_reference(generate_table("orders", "tiny", HIDDEN_SEED), 0.5, seed=31)
    suite = kc.corruption_suite(pool, seed=97, n_clean=20, n_per_corruption=3, batch_size=250,
                                targets=HIDDEN_TARGETS)
    empty = kc.null_spike(kc.sample_batches(pool, 1, 250, seed=98)[0], "channel", 1.0)
    return reference, (*suite, empty)


def named_columns(result: Any, columns: Iterable[str], label: str) -> set[str]:
    """The columns a detector's result names; ``fail`` for results that name none or unknown ones."""
    from platform_kit.quality.drift import DriftReport

    if isinstance(result, DriftReport):
        result = result.fired
    if result is None:
        fail(f"your detector returned None on {label}: return a dict column -> tests that fired ({{}} when "
             "nothing fired)")
    if isinstance(result, bool | np.bool_):
        fail("your detector returns only True/False: return which column(s) fired, e.g. "
             "{'total_amount': ['ks']}, so that an alert tells on-call where to look")
    if isinstance(result, str):
        fail(f"your detector returned the string {result!r}: return a dict column -> tests (or a list of columns)")
    names: list[str] = []
    if isinstance(result, Mapping):
        names = [str(k) for k, v in result.items() if v is not None and v is not False and v != [] and v != ()]
    elif isinstance(result, Iterable):
        for item in result:
            if isinstance(item, tuple | list) and item and isinstance(item[0], str):
                names.append(item[0])  # (column, test) pairs
            elif isinstance(item, str):
                names.append(item)
            else:
                fail(f"your detector returned {item!r} inside its result on {label}: list column names or "
                     "(column, test) pairs")
    else:
        fail(f"your detector returned a {type(result).__name__}: return a dict column -> tests that fired")
    found = {part for name in names for part in name.split("~")}  # "x~y" names both columns of a pair
    unknown = sorted(found - set(map(str, columns)))
    if unknown:
        fail(f"your detector named {unknown} on {label}, which the batch has no column for: name the "
             "batch's columns (a pair test fires for both of its columns)")
    return found


def _runner(detect: Callable[..., Any], reference: pd.DataFrame) -> Callable[[Any, str], set[str]]:
    def run(batch: Any, label: str) -> set[str]:
        try:
            result = detect(reference.copy(), batch.frame.copy())
        except NotImplementedError:
            raise
        except Exception as exc:  # noqa: BLE001 - the learner's code failed: say on which batch
            first = str(exc).splitlines()[0][:160] if str(exc) else ""
            fail(f"your detector raised {type(exc).__name__}: {first} on {label}; it must handle "
                 "every batch (a column may arrive entirely null)")
        return named_columns(result, batch.frame.columns, label)

    return run


def _describe(batch: Any, where: str) -> str:
    return f"{where} clean batch" if not batch.corrupted else f"{where} {batch.kind} batch ({batch.detail})"


def _check_lab_batches(run: Callable[[Any, str], set[str]], batches: Mapping[str, Any]) -> None:
    for batch in batches.values():
        label = _describe(batch, "the lab's")
        named = run(batch, label)
        if not batch.corrupted and named:
            fail(f"on {label} your detector fired on {sorted(named)}: a clean batch must not raise an alert; "
                 "require a small p-value (about 0.001, you run many tests) and an effect size above a cut")
        if batch.corrupted and batch.column not in named:
            said = f"named {sorted(named)}" if named else "fired nothing"
            fail(f"on {label} your detector {said}; it must name {batch.column!r}: "
                 f"{WHY_MISSED.get(batch.kind, '')}")


def _check_hidden(run: Callable[[Any, str], set[str]]) -> Any:
    from platform_kit.quality.corruption import ORDERS_COLUMNS, score_detector

    named = {id(b.frame): run(b, _describe(b, "a hidden")) for b in hidden_suite()[1]}
    score = score_detector(lambda frame: named[id(frame)], hidden_suite()[1])
    results = score.results
    clean = results[results["kind"] == "clean"]
    bad = results[results["kind"] != "clean"]
    allowed = int(MAX_FALSE_ALARM_SHARE * len(clean))
    if score.fp > allowed:
        counts = Counter(c for cols in clean.loc[clean["fired"], "fired_columns"] for c in cols).most_common(2)
        fail(f"your detector raised {score.fp} false alarms on {len(clean)} hidden clean batches (at most "
             f"{allowed}), most often on {', '.join(f'{c} ({n}x)' for c, n in counts)}: on a few hundred rows "
             "noise alone gives small p-values and small effects; use alpha about 0.001 and require each effect "
             "above its cut (KS D > 0.1, PSI > 0.25, Cramér's V > 0.1, null share +0.05, association change 0.2)")
    if score.recall < MIN_RECALL:
        missed = {k: r for k, r in score.per_corruption_recall.items() if r < 1.0}
        detail = "; ".join(f"{k} caught {r:.0%}: {WHY_MISSED.get(k, '')}" for k, r in sorted(missed.items()))
        fail(f"your detector caught {score.tp} of {len(bad)} hidden corrupted batches (recall {score.recall:.2f}, "
             f"need {MIN_RECALL}). {detail}")
    if score.column_accuracy < MIN_COLUMN_ACCURACY:
        wrong = bad[bad["fired"] & ~bad["hit_column"].astype(bool)].iloc[0]
        fail(f"your detector fired on the corrupted batches but named the corrupted column on only "
             f"{score.column_accuracy:.0%} of them (need {MIN_COLUMN_ACCURACY:.0%}): on a hidden {wrong['kind']} "
             f"batch of {wrong['column']!r} it named {wrong['fired_columns']}; report the column whose test fired")
    everything = bad["fired_columns"].map(lambda cols: set(ORDERS_COLUMNS) <= set(cols)).mean()
    if everything > MAX_NAME_ALL_SHARE:
        fail(f"your detector names every watched column on {everything:.0%} of the corrupted batches: name only "
             "the columns whose tests fired (and both columns of a broken pair)")
    return score


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="a drift detector that names the corrupted column and stays quiet on clean batches",
    hint="per watched column: null share change > 0.05; numbers: KS (p < 0.001 and D > 0.1) or PSI > 0.25, plus "
         "the share of values with cents; categories: chi-square p < 0.001 and Cramér's V > 0.1; then "
         "association_shift over find_related_pairs(reference) for shuffles; return {column: [tests]}",
)
def _grade_drift_detector(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.quality.corruption import LabelledBatch

    reference = context_value(context, "reference", pd.DataFrame, exercise_id=EXERCISE_ID)
    batches = context_value(context, "batches", dict, exercise_id=EXERCISE_ID)
    if not batches or not all(isinstance(b, LabelledBatch) for b in batches.values()):
        raise GradingError(f"check({EXERCISE_ID!r}) needs context['batches'] as a dict of LabelledBatch",
                           fix="pass the section's demo batches, e.g. {b.kind: b for b in corruption_suite(...)}")
    if not callable(answer):
        fail(f"pass your detector function itself (detect(reference, batch)), not a {type(answer).__name__}")
    _check_lab_batches(_runner(answer, reference), batches)
    score = _check_hidden(_runner(answer, hidden_suite()[0]))
    return (f"on the lab's {len(batches)} batches it named each corrupted column and stayed quiet on the clean one; "
            f"on a hidden suite of {len(score.results)} batches (another orders table, other seeds and target "
            f"columns): precision {score.precision:.2f}, recall {score.recall:.2f}, column accuracy "
            f"{score.column_accuracy:.2f}, {score.fp} false alarms on {score.fp + score.tn} clean batches")
