"""Vectorised masking and tokenisation against the naive per-record code it replaces.

The naive baseline is what a first Python consumer usually does: for every decoded record (a
dict), for every PII field, call ``hmac.new(...)`` or a small string function and build a new
dict. The vectorised path runs :func:`~platform_kit.ingestion.pii.apply_policy` on the whole
batch: tokens are computed once per *distinct* value and mapped back, masks run as Arrow
kernels. Both must produce identical output on the data measured, which is checked.

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError
from platform_kit.ingestion._pii_mask import REDACTED
from platform_kit.ingestion._pii_policy import MaskingPolicy, apply_policy
from platform_kit.ingestion._pii_tokens import Tokenizer

__all__ = ["measure_masking", "naive_apply_policy"]


def _naive_last4(value: str) -> str:
    if sum(ch.isdigit() for ch in value) < 7:
        return "".join("*" if ch.isalnum() else ch for ch in value)
    out, seen = [], 0
    for ch in reversed(value):
        if ch.isdigit():
            seen += 1
            out.append(ch if seen <= 4 else "*")
        else:
            out.append("*" if ch.isalnum() and seen >= 4 else ch)
    return "".join(reversed(out))


def _naive_email(value: str) -> str:
    local, at, domain = value.strip().partition("@")
    if not at or not local or "@" in domain or "." not in domain.strip(".") or " " in local + domain:
        return REDACTED
    return local[0] + "***@" + domain


def _naive_initials(value: str) -> str:
    words = value.split()
    return " ".join(w[0] + "." for w in words) if words else REDACTED


def naive_apply_policy(records: list[dict[str, Any]], policy: Any, key: bytes, key_id: str) -> list[dict[str, Any]]:
    """The per-record baseline: one dict in, one dict out, one ``hmac.new`` per tokenised field."""
    actions = MaskingPolicy.parse(policy).columns
    simple: dict[str, Callable[[str], str]] = {
        "mask_email": _naive_email, "last4": _naive_last4, "initials": _naive_initials, "redact": lambda v: REDACTED,
    }
    prefix = f"tok_{key_id}_"
    out = []
    for row in records:
        new = {}
        for column, value in row.items():
            action = actions.get(column, "keep")
            if action == "drop":
                continue
            if value is None or value is pd.NA or (isinstance(value, float) and value != value) or action == "keep":
                new[column] = value
            elif action == "tokenize":
                new[column] = prefix + hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()[:32]
            elif action in simple:
                new[column] = simple[action](str(value))
            else:
                raise ConfigError(f"the naive baseline has no {action!r} action", fix="benchmark another policy")
        out.append(new)
    return out


def _best(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(max(1, repeats)):
        began = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - began)
    return best, result


def measure_masking(frame: pd.DataFrame, policy: Mapping[str, str] | MaskingPolicy, *, key: bytes,
                    key_id: str = "bench", repeats: int = 3) -> dict[str, Any]:
    """Time the naive per-record loop and :func:`apply_policy` on the same rows (best of ``repeats``).

    The records handed to the naive loop are built before timing (a consumer already has them).

    Returns:
        ``rows``, ``naive_s``, ``vectorised_s``, ``naive_rows_per_s``, ``vectorised_rows_per_s``,
        ``speedup`` (vectorised rows/s over naive), ``distinct`` values per tokenised column.

    Raises:
        ConfigError: The two paths disagree on some value (a bug, never a speed trade).
    """
    parsed = MaskingPolicy.parse(dict(policy) if isinstance(policy, Mapping) else policy)
    parsed = MaskingPolicy(columns=parsed.columns, unlisted="keep")
    tokenizer = Tokenizer(key, key_id)
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    naive_apply_policy(records[:50], parsed, key, key_id)  # warm up both paths (imports, regex compiles)
    apply_policy(frame.head(50), parsed, tokenizer=tokenizer)
    naive_s, naive = _best(lambda: naive_apply_policy(records, parsed, key, key_id), repeats)
    fast_s, fast = _best(lambda: apply_policy(frame, parsed, tokenizer=tokenizer), repeats)
    expected = pd.DataFrame(naive, index=frame.index)
    for column in fast.columns:
        if parsed.columns.get(column, "keep") == "keep":
            continue
        a, b = fast[column].astype(object), expected[column].astype(object)
        differ = ~((a == b) | (a.isna() & b.isna()))
        if differ.any():
            first = differ.idxmax()
            raise ConfigError(f"vectorised and naive {column!r} differ at row {first}: {a[first]!r} vs {b[first]!r}",
                              fix="the masking functions disagree on this input; fix one of them")
    rows = len(frame)
    return {
        "rows": rows, "columns": {c: a for c, a in parsed.columns.items() if a != "keep"},
        "distinct": {c: int(frame[c].nunique()) for c, a in parsed.columns.items() if a == "tokenize"},
        "naive_s": naive_s, "vectorised_s": fast_s,
        "naive_rows_per_s": rows / naive_s if naive_s else float("inf"),
        "vectorised_rows_per_s": rows / fast_s if fast_s else float("inf"),
        "speedup": naive_s / fast_s if fast_s else float("inf"),
    }
