"""PII detection in free text and in whole tables: patterns first, then validators.

A pattern alone over-reports: any 16-digit reference number looks like a card number and any
``DDD-DD-DDDD`` looks like a national id. Each pattern therefore has a validator (Luhn for cards,
ISO 13616 mod-97 for IBANs, digit counts for phones) and only
candidates that pass are findings. Overlapping findings are resolved by priority (an IBAN's
digits are not also a card). Names cannot be found by pattern: pass the known names (e.g. the
customers table) and they are matched as whole words.

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError

__all__ = [
    "FINDING_COLUMNS", "PII_KINDS", "PiiPattern", "detect_pii", "iban_valid", "luhn_valid", "scan_frame",
    "scrub_text",
]

FINDING_COLUMNS = ["row", "kind", "start", "end", "match", "valid"]


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` (separators ignored) pass the Luhn check and count 13-19."""
    digits = _digits(str(number))
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """True when ``text`` (spaces ignored) is 15-34 characters and passes the ISO 13616 mod-97 check."""
    compact = re.sub(r"\s", "", str(text)).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _phone_valid(text: str) -> bool:
    return 8 <= len(_digits(text)) <= 15  # E.164 allows at most 15 digits


@dataclass(frozen=True)
class PiiPattern:
    """A kind of PII: the regex that finds candidates and the validator that confirms them."""

    kind: str
    regex: re.Pattern[str]
    validator: Callable[[str], bool] | None
    placeholder: str


#: Patterns in priority order: when findings overlap, the earlier kind wins. Numbers must stand alone
#: (no letter, digit or underscore around them), so digit runs inside tokens and ids are not findings.
PII_KINDS: tuple[PiiPattern, ...] = (
    PiiPattern("email", re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"),
               None, "[EMAIL]"),
    PiiPattern("iban", re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![A-Za-z0-9])"),
               iban_valid, "[IBAN]"),
    PiiPattern("card", re.compile(r"(?<![\w+-])\d(?:[ -]?\d){12,18}(?![\w-])"), luhn_valid, "[CARD]"),
    PiiPattern("national_id", re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), None, "[NATIONAL_ID]"),
    PiiPattern("phone", re.compile(r"(?<![\w+])(?:\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,5}|\(\d{2,4}\)[ .-]?\d{3,4}[ .-]?\d{3,4})(?!\d)"),
               _phone_valid, "[PHONE]"),
)
_PLACEHOLDER = {p.kind: p.placeholder for p in PII_KINDS} | {"name": "[NAME]"}
_PRIORITY = {p.kind: i for i, p in enumerate(PII_KINDS)} | {"name": len(PII_KINDS)}


def _names_regex(names: Iterable[str] | None) -> re.Pattern[str] | None:
    if names is None:
        return None
    unique = sorted({str(n).strip() for n in names if isinstance(n, str) and len(str(n).strip()) >= 3},
                    key=len, reverse=True)
    if not unique:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(n) for n in unique) + r")(?!\w)", re.IGNORECASE)


def _find(text: str, validate: bool, names: re.Pattern[str] | None) -> list[tuple[str, int, int, str, bool]]:
    found: list[tuple[str, int, int, str, bool]] = []
    for pattern in PII_KINDS:
        for match in pattern.regex.finditer(text):
            ok = pattern.validator is None or pattern.validator(match.group())
            if ok or not validate:
                found.append((pattern.kind, match.start(), match.end(), match.group(), ok))
    if names is not None:
        found += [("name", m.start(), m.end(), m.group(), True) for m in names.finditer(text)]
    found.sort(key=lambda f: (_PRIORITY[f[0]], f[1]))
    kept: list[tuple[str, int, int, str, bool]] = []
    for item in found:  # keep the higher-priority finding where two overlap
        if all(item[2] <= k[1] or item[1] >= k[2] for k in kept):
            kept.append(item)
    return sorted(kept, key=lambda f: f[1])


def _as_text(texts: Any, what: str) -> pd.Series:
    if not isinstance(texts, pd.Series):
        raise ConfigError(f"{what} expects a pandas Series of text, got {type(texts).__name__}",
                          fix="pass one column, e.g. tickets['body']")
    return texts


def detect_pii(texts: pd.Series, *, validate: bool = True, names: Iterable[str] | None = None) -> pd.DataFrame:
    """Every PII finding in ``texts``: one row per finding.

    Args:
        texts: Free text (non-string values are skipped).
        validate: Keep only candidates that pass their validator (Luhn, mod-97...). With
            ``False`` every pattern match is reported (``valid`` says which would pass).
        names: Known personal names (e.g. ``customers['full_name']``) to find as whole words.

    Returns:
        Columns ``row`` (the Series' index label), ``kind``, ``start``, ``end``, ``match``, ``valid``.
    """
    texts = _as_text(texts, "detect_pii")
    names_re = _names_regex(names)
    rows = [(label, *item) for label, text in texts.items() if isinstance(text, str)
            for item in _find(text, validate, names_re)]
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def scrub_text(texts: pd.Series, *, names: Iterable[str] | None = None) -> pd.Series:
    """``texts`` with every validated finding replaced by a placeholder (``[EMAIL]``, ``[CARD]``...)."""
    texts = _as_text(texts, "scrub_text")
    names_re = _names_regex(names)

    def scrub(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        for kind, start, end, _match, _ok in reversed(_find(text, True, names_re)):
            text = text[:start] + _PLACEHOLDER[kind] + text[end:]
        return text

    return pd.Series([scrub(t) for t in texts], index=texts.index, name=texts.name, dtype=object)


def _known_lookup(known_values: Mapping[str, Iterable[Any]]) -> dict[str, tuple[set[str], re.Pattern[str] | None]]:
    lookup: dict[str, tuple[set[str], re.Pattern[str] | None]] = {}
    for name, values in known_values.items():
        series = pd.Series(list(values)).dropna()
        exact = set(series.astype(str))
        texts = sorted({v for v in exact if len(v) >= 5}, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(t) for t in texts), re.IGNORECASE) if texts else None
        lookup[name] = (exact, pattern)
    return lookup


def scan_frame(frame: pd.DataFrame, *, known_values: Mapping[str, Iterable[Any]] | None = None,
               names: Iterable[str] | None = None) -> pd.DataFrame:
    """Scan every column of a landed table for raw PII.

    Text columns are searched with :func:`detect_pii`. With ``known_values`` (e.g. the raw PII
    columns of the source, ``{"email": customers["email"], ...}``) every column is also checked
    for those exact values, and text columns for them as substrings (case-insensitive), which
    finds raw values no pattern recognises (street addresses, dates of birth, names).

    Returns:
        One row per finding: ``column``, ``row``, ``kind`` (``email``... or ``raw:<name>``), ``match``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"scan_frame expects a DataFrame, got {type(frame).__name__}", fix="pass the landed table")
    lookup = _known_lookup(known_values or {})
    found: list[tuple[str, Any, str, str]] = []
    for column in frame.columns:
        series = frame[column]
        as_text = series.dropna().astype(str)
        is_text = series.dtype == object or pd.api.types.is_string_dtype(series.dtype)
        if is_text:
            hits = detect_pii(series.where(series.map(lambda v: isinstance(v, str)), None), names=names)
            found += [(str(column), r.row, r.kind, r.match) for r in hits.itertuples(index=False)]
        for name, (exact, pattern) in lookup.items():
            matched = as_text[as_text.isin(exact)]
            found += [(str(column), label, f"raw:{name}", value) for label, value in matched.items()]
            if is_text and pattern is not None:
                rest = as_text[~as_text.isin(exact)]
                for label, value in rest.items():
                    hit = pattern.search(value)
                    if hit:
                        found.append((str(column), label, f"raw:{name}", hit.group()))
    return pd.DataFrame(found, columns=["column", "row", "kind", "match"])
