"""PII masking and tokenisation at ingestion (Lab 2, section 8).

Four tools, applied to each batch before it lands anywhere:

* **deterministic tokens** (:class:`Tokenizer`): ``tok_v1_<hex>`` = HMAC-SHA256 under a managed
  key (:func:`managed_key`, :class:`KeyRing` with rotation); equal values give equal tokens, so
  joins and counts still work on the tokenised data;
* **display masking** (:func:`mask_email`, :func:`mask_last4`, :func:`initials`...): lossy, for
  people who need to recognise a value, not use it;
* **vault tokens** (:class:`TokenVault`): random tokens mapped back to values in PostgreSQL, only
  for granted (principal, purpose) pairs, every attempt audited;
* **detection** (:func:`detect_pii`, :func:`scan_frame`, :func:`scrub_text`): patterns plus
  validators (Luhn, mod-97) find PII in free text and check that nothing raw reached a sink.

A :class:`MaskingPolicy` names one action per column and :func:`apply_policy` applies it::

    tokenizer = Tokenizer(managed_key("v1"), "v1")
    safe = apply_policy(customers, MaskingPolicy.parse(POLICY_YAML), tokenizer=tokenizer, vault=vault)
    assert scan_frame(safe, known_values={"email": customers["email"]}).empty

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError
from platform_kit.ingestion._pii_bench import measure_masking, naive_apply_policy
from platform_kit.ingestion._pii_corpus import detection_quality, payment_leak_corpus
from platform_kit.ingestion._pii_detect import PII_KINDS, detect_pii, iban_valid, luhn_valid, scan_frame, scrub_text
from platform_kit.ingestion._pii_mask import REDACTED, birth_year, initials, mask_email, mask_last4, redact
from platform_kit.ingestion._pii_policy import ACTIONS, MaskingPolicy, apply_policy
from platform_kit.ingestion._pii_tokens import KEY_ENV_PREFIX, KeyRing, Tokenizer, ensure_same_key, key_id_of, managed_key
from platform_kit.ingestion._pii_vault import VAULT_TOKEN, AccessDeniedError, TokenVault

__all__ = [
    "ACTIONS", "CUSTOMER_PII", "KEY_ENV_PREFIX", "PII_KINDS", "REDACTED", "VAULT_TOKEN",
    "AccessDeniedError", "KeyRing", "MaskingPolicy", "TokenVault", "Tokenizer",
    "apply_policy", "birth_year", "compare_joins", "detect_pii", "detection_quality", "ensure_same_key",
    "iban_valid", "initials", "key_id_of", "known_pii", "land_frame", "luhn_valid", "managed_key", "mask_email",
    "mask_last4", "measure_masking", "naive_apply_policy", "payment_leak_corpus", "read_table", "redact",
    "scan_frame", "scrub_text",
]

#: The personal-data columns of the ``customers`` table, as the datasets module declares them.
CUSTOMER_PII: tuple[str, ...] = ("full_name", "email", "phone", "street_address", "date_of_birth", "national_id")


def compare_joins(left: pd.DataFrame, right: pd.DataFrame, *, on: str, tokenizer: Tokenizer,
                  group_by: str, value: str, masked_left: pd.DataFrame | None = None) -> pd.DataFrame:
    """The same aggregate computed on a raw join and on a tokenised join, side by side.

    ``right`` (e.g. orders) is tokenised on ``on`` with ``tokenizer``; ``left`` (e.g. customers)
    too, unless ``masked_left`` (already masked, with ``on`` tokenised) is given.

    Returns:
        One row per ``group_by`` value: ``raw``, ``tokenised`` sums of ``value``, ``rows_raw`` and
        ``rows_tokenised`` (joined row counts), and ``equal``.
    """
    for frame, name in ((left, "left"), (right, "right")):
        if on not in frame.columns:
            raise ConfigError(f"the {name} frame has no column {on!r}", fix="join on a column both tables have")
    safe_left = masked_left if masked_left is not None else tokenizer.tokenize_frame(left, [on])
    if on not in safe_left.columns or group_by not in safe_left.columns:
        raise ConfigError(f"the masked table lacks {on!r} or {group_by!r}", fix="keep the join key and grouping column")
    safe_right = tokenizer.tokenize_frame(right, [on])
    raw = right.merge(left[[on, group_by]], on=on, how="inner")
    keys_left = safe_left[[on, group_by]].astype({on: object})  # a raw int key then matches no token
    tok = safe_right.astype({on: object}).merge(keys_left, on=on, how="inner")
    out = pd.DataFrame({
        "raw": raw.groupby(group_by)[value].sum(), "tokenised": tok.groupby(group_by)[value].sum(),
        "rows_raw": raw.groupby(group_by).size(), "rows_tokenised": tok.groupby(group_by).size(),
    }).fillna(0)
    out["equal"] = (out["rows_raw"] == out["rows_tokenised"]) & ((out["raw"] - out["tokenised"]).abs() < 1e-6)
    return out


def land_frame(pg: Any, table: str, frame: pd.DataFrame) -> int:
    """Write ``frame`` to PostgreSQL table ``table`` (replaced; every column as text). Returns rows written."""
    from psycopg2 import sql
    from psycopg2.extras import execute_values

    if frame.columns.empty:
        raise ConfigError("nothing to land: the frame has no columns", fix="check the masking policy")
    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            ident = sql.Identifier(table)
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
            cur.execute(sql.SQL("CREATE TABLE {} ({})").format(
                ident, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(str(c))) for c in frame.columns)))
            rows = [tuple(None if pd.isna(v) else str(v) for v in row)
                    for row in frame.itertuples(index=False, name=None)]
            execute_values(cur, sql.SQL("INSERT INTO {} VALUES %s").format(ident).as_string(cur), rows, page_size=1000)
        conn.commit()
    finally:
        conn.close()
    return len(frame)


def read_table(pg: Any, table: str) -> pd.DataFrame:
    """Read a whole PostgreSQL table back (to scan what really landed)."""
    from psycopg2 import sql

    conn = pg.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            columns = [d.name for d in cur.description]
            return pd.DataFrame(cur.fetchall(), columns=columns)
    finally:
        conn.close()


def known_pii(customers: pd.DataFrame, columns: Iterable[str] = CUSTOMER_PII) -> Mapping[str, pd.Series]:
    """Raw PII columns of ``customers`` as :func:`scan_frame`'s ``known_values``."""
    return {c: customers[c] for c in columns if c in customers.columns}

