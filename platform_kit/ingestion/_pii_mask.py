"""Display masking, vectorised with Arrow compute kernels (RE2 regular expressions in C++).

Masking is one-way and lossy on purpose: it keeps the part a person needs to recognise a value
(an e-mail's domain, the last four digits of a phone or an id, a name's initials) and hides the
rest. Missing values stay missing; a value too short or malformed to mask safely is redacted
whole rather than shown. Each function turns the column into one Arrow array and runs whole-column
kernels on it (pandas' own ``.str`` methods on object columns loop in Python, slower than a plain
per-record loop: measured in ``bench/bench_pii.py``).

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from platform_kit.errors import ConfigError

__all__ = ["REDACTED", "birth_year", "initials", "mask_email", "mask_last4", "redact"]

#: What a redacted value becomes.
REDACTED = "[REDACTED]"
_EMAIL = r"^\s*([^@\s])[^@\s]*@([^@\s]+\.[^@\s]+)\s*$"
_LAST4 = r"^(?P<prefix>.*?)(?P<tail>\d\D*\d\D*\d\D*\d\D*)$"
_ALNUM = r"[\pL\pN]"
#: Fewer digits than this and "the last four" would be most of the value: redact it whole.
_MIN_DIGITS_FOR_LAST4 = 7


def _arrow(values: pd.Series, what: str) -> pa.Array:
    if not isinstance(values, pd.Series):
        raise ConfigError(f"{what} expects a pandas Series, got {type(values).__name__}", fix="pass one column")
    if values.dtype == object:
        try:  # the common case, text and missing values, converts in C
            return pa.array(values.to_numpy(), type=pa.string(), from_pandas=True)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # numbers or other objects in the column
            texts = values.map(lambda v: v if isinstance(v, str) or v is None else (None if pd.isna(v) else str(v)))
            return pa.array(texts.to_numpy(), type=pa.string(), from_pandas=True)
    return pa.array(values.astype("string").to_numpy(dtype=object, na_value=None), type=pa.string())


def _series(array: pa.Array, like: pd.Series) -> pd.Series:
    return pd.Series(array.to_numpy(zero_copy_only=False), index=like.index, name=like.name, dtype=object)


def mask_email(values: pd.Series) -> pd.Series:
    """``nora.weber@mail.example`` -> ``n***@mail.example`` (domain kept; malformed -> ``[REDACTED]``)."""
    text = _arrow(values, "mask_email")
    masked = pc.if_else(pc.match_substring_regex(text, _EMAIL),
                        pc.replace_substring_regex(text, _EMAIL, r"\1***@\2"), REDACTED)
    return _series(masked, values)


def _last4_ascii(text: pa.Array) -> pa.Array:
    """Byte-level :func:`mask_last4` of an all-ASCII string array, in numpy: O(bytes), no regex."""
    text = text.cast(pa.string())
    _validity, offsets_buf, data_buf = text.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32)[text.offset: text.offset + len(text) + 1]
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(data_buf, dtype=np.uint8)[start:stop] if data_buf is not None else np.zeros(0, np.uint8)
    digit = (data >= 48) & (data <= 57)
    alnum = digit | ((data | 32) >= 97) & ((data | 32) <= 122)
    lengths = np.diff(offsets)
    ends = np.repeat(offsets[1:] - start, lengths)  # end (exclusive) of each byte's string
    seen = np.concatenate(([0], np.cumsum(digit, dtype=np.int64)))
    after = seen[ends] - seen[1:]                   # digits after each byte, within its string
    totals = seen[offsets[1:] - start] - seen[offsets[:-1] - start]
    star = alnum & ((after >= 4) | np.repeat(totals < _MIN_DIGITS_FOR_LAST4, lengths))
    masked = np.where(star, np.uint8(42), data)
    rebased = pa.py_buffer((offsets - start).astype(np.int32).tobytes())
    return pa.StringArray.from_buffers(len(text), rebased, pa.py_buffer(masked.tobytes()), text.buffers()[0],
                                       text.null_count, 0)


def mask_last4(values: pd.Series) -> pd.Series:
    """Keep the last four digits, star every other letter or digit, keep separators.

    ``+1 862 3942665`` -> ``+* *** ***2665``; ``933-99-3969`` -> ``***-**-3969``. Values with fewer
    than seven digits are starred whole (their last four would give most of them away). ASCII
    columns (phones, ids, cards) are masked with numpy on the Arrow bytes; others with RE2.
    """
    text = _arrow(values, "mask_last4")
    if len(text) and pc.all(pc.string_is_ascii(text)).as_py() is not False:
        return _series(_last4_ascii(text), values)
    parts = pc.extract_regex(text, _LAST4)
    kept = pc.binary_join_element_wise(pc.replace_substring_regex(pc.struct_field(parts, [0]), _ALNUM, "*"),
                                       pc.struct_field(parts, [1]), "")
    enough = pc.greater_equal(pc.count_substring_regex(text, r"\d"), _MIN_DIGITS_FOR_LAST4)
    return _series(pc.if_else(enough, kept, pc.replace_substring_regex(text, _ALNUM, "*")), values)


def initials(values: pd.Series) -> pd.Series:
    """``Nora Weber`` -> ``N. W.``; ``Seán O'Brien`` -> ``S. O.``."""
    text = _arrow(values, "initials")
    short = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"(\pL)[\pL\pN_'’.-]*\s*", r"\1. "))
    return _series(pc.if_else(pc.match_substring_regex(short, r"\pL"), short, REDACTED), values)


def redact(values: pd.Series) -> pd.Series:
    """Every present value becomes ``[REDACTED]``."""
    if not isinstance(values, pd.Series):
        raise ConfigError(f"redact expects a pandas Series, got {type(values).__name__}", fix="pass one column")
    return pd.Series(REDACTED, index=values.index, name=values.name, dtype=object).where(values.notna(), None)


def birth_year(values: pd.Series) -> pd.Series:
    """Generalise a date to its year (``Int64``); unparseable values become missing."""
    if not isinstance(values, pd.Series):
        raise ConfigError(f"birth_year expects a pandas Series, got {type(values).__name__}", fix="pass one column")
    return pd.to_datetime(values, errors="coerce").dt.year.astype("Int64").rename(values.name)
