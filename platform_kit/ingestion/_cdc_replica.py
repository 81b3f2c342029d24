"""The consumer side of CDC: read events back, drop redelivered copies, apply them, reconcile.

* :func:`events_from_records` parses the JSON values of consumed records (unparseable ones
  become dead letters, never silently dropped);
* :func:`dedupe_events` drops copies re-sent after a connector crash, by
  ``(lsn, table, key, op)``, and restores commit order (``commit_lsn``, position in the
  transaction) across partitions;
* :func:`apply_changes` applies events to a replica DataFrame (the exercise's reference);
* :func:`reconcile` compares a replica with the source table; :func:`compare_with_truth`
  compares each key's sequence of operations with the changes the workload made.

Introduced in: Lab 2 (ingestion), section 5.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from platform_kit.ingestion._cdc_events import event_identity
from platform_kit.ingestion._topics import Record
from platform_kit.ingestion.dlq import DeadLetter, Stage

__all__ = ["apply_changes", "compare_with_truth", "dedupe_events", "events_from_records", "reconcile"]


def events_from_records(records: Iterable[Record]) -> tuple[list[dict[str, Any]], list[DeadLetter]]:
    """Decode change-event records; records that are not change events become dead letters."""
    events: list[dict[str, Any]] = []
    letters: list[DeadLetter] = []
    for record in records:
        try:
            event = json.loads(record.value or b"")
            if not isinstance(event, dict) or event.get("op") not in ("c", "u", "d", "t", "r"):
                raise ValueError(f"not a change event (op={event.get('op') if isinstance(event, dict) else None!r})")
            event_identity(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            letters.append(DeadLetter.from_record(record, reason="not-a-change-event", stage=Stage.DECODE, error=exc))
            continue
        events.append(event)
    return events, letters


def dedupe_events(events: Iterable[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Drop redelivered copies and sort into commit order.

    Returns:
        ``(events, duplicates)``: unique events ordered by (commit LSN, position in the
        transaction), and how many copies were dropped.
    """
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    duplicates = 0
    for event in events:
        identity = event_identity(event)
        if identity in seen:
            duplicates += 1
            continue
        seen[identity] = dict(event)
    ordered = sorted(seen.values(), key=lambda e: (int(e["source"]["commit_lsn"]), int(e["source"].get("seq", 0)),
                                                   int(e["source"]["lsn"])))
    return ordered, duplicates


def apply_changes(replica: pd.DataFrame, events: Iterable[Mapping[str, Any]], key: str) -> pd.DataFrame:
    """Apply change events, in order, to a replica indexed by ``key``; returns a new DataFrame.

    ``c``/``r`` upsert ``after``; ``u`` removes the old key when it changed, then upserts ``after``
    (``before`` is history, never state); ``d`` removes the key of ``before`` (or ``key``);
    ``t`` empties the table. The input frame is not modified.

    Raises:
        ValueError: An unknown op, or an event without the image its op needs.
    """
    columns = [c for c in replica.columns]
    rows: dict[Any, dict[str, Any]] = {k: dict(v) for k, v in replica.to_dict(orient="index").items()}
    for event in events:
        op = event.get("op")
        if op == "t":
            rows.clear()
            continue
        after, before = event.get("after"), event.get("before")
        if op in ("c", "r", "u"):
            if not after or key not in after:
                raise ValueError(f"a {op!r} event needs an 'after' image with {key!r}: {event}")
            if op == "u" and before and key in before and before[key] != after[key]:
                rows.pop(before[key], None)
            rows[after[key]] = {c: v for c, v in after.items() if c != key}
            columns += [c for c in after if c != key and c not in columns]
        elif op == "d":
            image = before or event.get("key")
            if not image or key not in image:
                raise ValueError(f"a 'd' event needs a 'before' image or a 'key' with {key!r}: {event}")
            rows.pop(image[key], None)
        else:
            raise ValueError(f"unknown op {op!r} (expected c, r, u, d or t)")
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=columns, dtype=object)
    frame.index.name = key
    return frame.sort_index()


def _same(a: Any, b: Any) -> bool:
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return bool(a == b)


def reconcile(replica: pd.DataFrame, source: pd.DataFrame, *, ignore: Sequence[str] = ()) -> dict[str, Any]:
    """Compare a replica with the source (both indexed by the key) on the source's columns.

    Returns:
        ``{"source_rows", "replica_rows", "missing", "extra", "different", "matching", "in_sync",
        "examples"}``: ``missing`` keys are in the source only, ``extra`` in the replica only,
        ``different`` in both with some differing column.
    """
    columns = [c for c in source.columns if c not in ignore]
    src = source.to_dict(orient="index")
    rep = replica.to_dict(orient="index")
    missing = sorted(set(src) - set(rep), key=str)
    extra = sorted(set(rep) - set(src), key=str)
    different = []
    for k in set(src) & set(rep):
        bad = [c for c in columns if not _same(src[k].get(c), rep[k].get(c))]
        if bad:
            different.append((k, bad))
    different.sort(key=lambda item: str(item[0]))
    return {
        "source_rows": len(src), "replica_rows": len(rep), "missing": len(missing), "extra": len(extra),
        "different": len(different), "matching": len(src) - len(missing) - len(different),
        "in_sync": not (missing or extra or different),
        "examples": {"missing": missing[:5], "extra": extra[:5], "different": different[:5]},
    }


def compare_with_truth(events: Sequence[Mapping[str, Any]],
                       truth: Sequence[tuple[str, tuple[Any, ...], str]]) -> dict[str, Any]:
    """Each key's ordered operations in the (deduplicated, ordered) events vs the changes made.

    Returns:
        ``{"changes", "events", "keys", "keys_matching", "lost", "unexpected", "mismatched_keys"}``.
    """
    made: dict[tuple[str, tuple[Any, ...]], list[str]] = defaultdict(list)
    for table, key, op in truth:
        made[(table, tuple(key))].append(op)
    got: dict[tuple[str, tuple[Any, ...]], list[str]] = defaultdict(list)
    for event in events:
        key = tuple((event.get("key") or {}).values())
        got[(event["source"]["table"], key)].append(event["op"])
    lost = unexpected = 0
    mismatched = []
    for k in set(made) | set(got):
        a, b = made.get(k, []), got.get(k, [])
        if a != b:
            mismatched.append(k)
            lost += max(0, len(a) - len(b))
            unexpected += max(0, len(b) - len(a))
    keys = set(made) | set(got)
    return {"changes": len(truth), "events": len(events), "keys": len(keys),
            "keys_matching": len(keys) - len(mismatched), "lost": lost, "unexpected": unexpected,
            "mismatched_keys": sorted(mismatched, key=str)[:10]}
