"""Exercise of lab ``02_ingestion``, section 5 (change data capture): apply change events to a replica."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise
from platform_kit.ingestion._cdc_replica import apply_changes, reconcile

LAB = "02_ingestion"
KEY = "order_id"
_COLUMNS = ["status", "amount"]
Event = dict[str, Any]


# --- event streams -----------------------------------------------------------------------------


def _ev(op: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, lsn: int) -> Event:
    key = (after or before or {}).get(KEY)
    return {"op": op, "before": dict(before) if before else None, "after": dict(after) if after else None,
            "key": None if op == "t" else {KEY: key},
            "source": {"lsn": lsn, "commit_lsn": lsn, "seq": 1, "schema": "shop", "table": "orders",
                       "txid": lsn, "commit_ts": "2024-01-01T00:00:00+00:00"}}


def _row(key: int, status: str, amount: float) -> dict[str, Any]:
    return {KEY: key, "status": status, "amount": amount}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[KEY, *_COLUMNS], dtype=object).set_index(KEY)
    return frame


def _random_stream(seed: int, *, keys: int = 40, events: int = 300) -> tuple[pd.DataFrame, list[Event]]:
    """A valid history from a snapshot, with key changes and a truncate, then interleaved across keys.

    Per-key order is kept, and the truncate stays a barrier (nothing crosses it), which is what a
    consumer of per-key ordered partitions that honours truncates sees.
    """
    rng = np.random.default_rng(seed)
    state = {k: _row(k, "placed", float(k)) for k in range(1, keys + 1)}
    snapshot = _frame(list(state.values()))
    history: list[Event] = []
    next_key = keys + 1
    for lsn in range(1, events + 1):
        roll = rng.random()
        if lsn == events // 2:
            history.append(_ev("t", None, None, lsn))
            state.clear()
        elif roll < 0.25 or not state:
            row = _row(next_key, "placed", round(float(rng.uniform(1, 99)), 2))
            next_key += 1
            state[row[KEY]] = row
            history.append(_ev("c", None, row, lsn))
        elif roll < 0.40:
            old = state.pop(int(rng.choice(list(state))))
            history.append(_ev("d", old if rng.random() < 0.5 else {KEY: old[KEY]}, None, lsn))
        elif roll < 0.47:
            old = state.pop(int(rng.choice(list(state))))
            new = {**old, KEY: next_key, "status": "rekeyed"}
            next_key += 1
            state[new[KEY]] = new
            history.append(_ev("u", old, new, lsn))
        else:
            key = int(rng.choice(list(state)))
            old = state[key]
            new = {**old, "status": str(rng.choice(["paid", "shipped", "delivered"])),
                   "amount": round(old["amount"] + 1.5, 2)}
            state[key] = new
            history.append(_ev("u", old if rng.random() < 0.7 else None, new, lsn))
    return snapshot, _interleave(history, rng)


def _interleave(history: list[Event], rng: np.random.Generator) -> list[Event]:
    """Shuffle across keys, keep each key's order (a key change ties its two keys), keep truncates in place."""
    out: list[Event] = []
    segment: list[Event] = []
    for event in [*history, None]:
        if event is not None and event["op"] != "t":
            segment.append(event)
            continue
        owner: dict[Any, int] = {}
        queues: list[list[Event]] = []
        for e in segment:
            keys = {(e["before"] or {}).get(KEY), (e["after"] or {}).get(KEY)} - {None}
            groups = {owner[k] for k in keys if k in owner}
            if not groups:
                queues.append([])
                target = len(queues) - 1
            else:
                target = min(groups)
                for other in sorted(groups - {target}, reverse=True):  # merge: rare, keeps order
                    queues[target] = sorted(queues[target] + queues[other], key=lambda x: x["source"]["lsn"])
                    queues[other] = []
                    for k, g in owner.items():
                        if g == other:
                            owner[k] = target
            queues[target].append(e)
            for k in keys:
                owner[k] = target
        live = [q for q in queues if q]
        while live:
            pick = int(rng.integers(len(live)))
            out.append(live[pick].pop(0))
            live = [q for q in live if q]
        segment = []
        if event is not None:
            out.append(event)
    return out


def _cases() -> list[tuple[str, pd.DataFrame, list[Event]]]:
    a1, a2, b1 = _row(1, "placed", 10.0), _row(1, "paid", 12.5), _row(2, "placed", 20.0)
    c1 = _row(3, "placed", 30.0)
    snapshot, stream = _random_stream(7)
    tail = stream[-30:]
    return [
        ("two inserts into an empty replica", _frame([]), [_ev("c", None, a1, 1), _ev("c", None, b1, 2)]),
        ("an update with a full before image (REPLICA IDENTITY FULL)", _frame([a1, b1]), [_ev("u", a1, a2, 3)]),
        ("an update with no before image (REPLICA IDENTITY DEFAULT)", _frame([a1, b1]), [_ev("u", None, a2, 3)]),
        ("a delete with a full before image, and one with only the key (REPLICA IDENTITY DEFAULT)",
         _frame([a1, b1, c1]), [_ev("d", a1, None, 4), _ev("d", {KEY: 3}, None, 5)]),
        ("an update that changes the primary key from 2 to 9", _frame([a1, b1]),
         [_ev("u", b1, {**b1, KEY: 9, "status": "paid"}, 6)]),
        ("a key change sent as delete of the old key + create of the new one", _frame([a1, b1]),
         [_ev("d", b1, None, 6), _ev("c", None, {**b1, KEY: 9}, 6)]),
        ("a truncate followed by a new insert", _frame([a1, b1]), [_ev("t", None, None, 7), _ev("c", None, c1, 8)]),
        ("an insert, three updates and a delete of other rows, interleaved", _frame([b1, c1]),
         [_ev("c", None, a1, 1), _ev("u", b1, {**b1, "status": "paid"}, 2), _ev("u", a1, a2, 3),
          _ev("d", c1, None, 4), _ev("u", a2, {**a2, "status": "shipped"}, 5)]),
        ("300 events over 40+ keys from a snapshot, interleaved across keys but ordered per key, with key "
         "changes and a truncate", snapshot, stream),
        ("the same 300 events with the last 30 redelivered (at-least-once)", snapshot, stream + tail),
    ]


# --- comparison --------------------------------------------------------------------------------


def _rows(frame: Any, key: str, label: str) -> dict[Any, dict[str, Any]]:
    if not isinstance(frame, pd.DataFrame):
        fail(f"expected a pandas DataFrame, got {type(frame).__name__} (on {label})")
    if key in frame.columns:
        frame = frame.set_index(key)
    elif frame.index.name != key:
        fail(f"the DataFrame you returned is neither indexed by {key!r} nor has a {key!r} column (on {label}): "
             "keep the replica indexed by its primary key")
    if not frame.index.is_unique:
        dupes = frame.index[frame.index.duplicated()].unique().tolist()[:3]
        fail(f"your replica has several rows for key(s) {dupes} (on {label}): an update replaces the row")
    return {(int(k) if isinstance(k, np.integer) else k): row for k, row in frame.to_dict(orient="index").items()}


def _same(a: Any, b: Any) -> bool:
    missing = [x is None or (isinstance(x, float) and math.isnan(x)) for x in (a, b)]
    if any(missing):
        return all(missing)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _equal(got: dict[Any, dict[str, Any]], want: dict[Any, dict[str, Any]], columns: list[str]) -> bool:
    return set(got) == set(want) and all(_same(got[k].get(c), want[k].get(c)) for k in want for c in columns)


def _wrong_variants() -> dict[str, Callable[[pd.DataFrame, list[Event]], pd.DataFrame]]:
    def ignore(op: str) -> Callable[[pd.DataFrame, list[Event]], pd.DataFrame]:
        return lambda replica, events: apply_changes(replica, [e for e in events if e["op"] != op], KEY)

    def before_images(replica: pd.DataFrame, events: list[Event]) -> pd.DataFrame:
        flipped = [{**e, "after": e["before"] if e["op"] == "u" and e["before"] and KEY in e["before"] and
                    set(e["before"]) == set(e["after"] or {}) else e["after"]} for e in events]
        return apply_changes(replica, flipped, KEY)

    def keep_old_key(replica: pd.DataFrame, events: list[Event]) -> pd.DataFrame:
        return apply_changes(replica, [{**e, "before": None} if e["op"] == "u" else e for e in events], KEY)

    return {
        "deletes": ignore("d"),
        "truncate": ignore("t"),
        "before": before_images,
        "key change": keep_old_key,
    }


_MESSAGES = {
    "deletes": "rows deleted at the source are still in your replica: a 'd' event removes the row whose key is "
               "in before (or in event['key'] when before carries only the key)",
    "truncate": "after a truncate ('t') every row must go: your replica kept rows from before it",
    "before": "your replica holds the before image of updates: before is what the row WAS; the new state is after",
    "key change": "an update that changed the primary key left the old key behind: when before[key] != "
                  "after[key], remove the old row, then write the new one",
}


@exercise(
    id="ingestion.cdc_apply_changes",
    lab=LAB,
    kind="function",
    title="apply CDC change events to a replica and reconcile it with the source",
    hint="rows = {k: dict(v) for k, v in replica.to_dict(orient='index').items()}; per event: 't' -> clear; "
    "'d' -> pop (before or key)[key]; 'c'/'u' -> if a 'u' changed the key pop before[key], then "
    "rows[after[key]] = after without the key; rebuild with pd.DataFrame.from_dict(rows, orient='index') "
    "and set index.name = key; never modify the replica you were given",
)
def _grade_apply_changes(answer: Any, context: dict[str, Any]) -> str:
    wrong = _wrong_variants()
    for label, replica, events in _cases():
        pristine = replica.copy(deep=True)
        result = answer(replica, [dict(e) for e in events], KEY)
        if not replica.equals(pristine):
            fail(f"your function modified the replica it was given (on {label}); build and return a new DataFrame")
        got = _rows(result, KEY, label)
        want = _rows(apply_changes(pristine, events, KEY), KEY, label)
        if _equal(got, want, _COLUMNS):
            continue
        for name, variant in wrong.items():
            if _equal(got, _rows(variant(pristine, events), KEY, label), _COLUMNS):
                fail(f"{_MESSAGES[name]} (on {label})")
        missing, extra = sorted(set(want) - set(got), key=str)[:3], sorted(set(got) - set(want), key=str)[:3]
        if missing or extra:
            fail(f"on {label}: key(s) {missing} missing from your replica, {extra} should not be there")
        bad = next(k for k in want if not all(_same(got[k].get(c), want[k].get(c)) for c in _COLUMNS))
        fail(f"on {label}: row {bad} is {got[bad]}, expected {want[bad]}")
    keys = ("snapshot", "events", "source", "key")
    if context and all(k in context for k in keys):
        snapshot, source, key = context["snapshot"], context["source"], context["key"]
        result = answer(snapshot, list(context["events"]), key)
        if isinstance(result, pd.DataFrame) and key in result.columns:
            result = result.set_index(key)
        report = reconcile(result, source)
        if not report["in_sync"]:
            fail(f"your replica of the lab's {key.replace('_id', 's')} table does not reconcile with PostgreSQL: "
                 f"{report['missing']} row(s) missing, {report['extra']} extra, {report['different']} different "
                 f"(e.g. {report['examples']})")
        return (f"matches on 10 event streams and reconciles with the source: {report['matching']:,} rows "
                f"identical after {len(context['events']):,} change events")
    return "matches on 10 event streams (inserts, updates, deletes, key changes, truncate, interleaving, replays)"
