"""Exercise of lab ``02_ingestion``, section 8: a masking policy for the customers table.

The grader applies the learner's policy to the customers (plus a few hostile rows), scans the
result for raw PII with the package's detector and the raw values themselves, checks that the
tokenised customer key still joins the orders tokenised at ingestion, and that the columns the
analysts and the marketing team need survive.
"""

from __future__ import annotations

import secrets
from typing import Any

import pandas as pd

from platform_kit.errors import ConfigError
from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise

LAB = "02_ingestion"
_ID = "ingestion.masking_policy"
#: Columns the analytics team reads as they are (not personal data).
ANALYTICS_COLUMNS = ("city", "country", "region", "signup_ts", "segment", "marketing_opt_in")
_GRADER_KEY = b"grader-only key, never used to tokenise real data."


class _MemoryVault:
    """Vault stand-in for grading: random tokens, one per distinct value (no database needed)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def tokenize(self, values: pd.Series, kind: str = "value") -> pd.Series:
        def token(value: Any) -> Any:
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                return None
            return self.values.setdefault(str(value), f"vlt_{secrets.token_hex(12)}")

        return values.map(token).astype(object)


def hostile_customers(customers: pd.DataFrame) -> pd.DataFrame:
    """``customers`` plus rows with PII in awkward shapes (upper case, odd separators, accents, gaps)."""
    base = customers.tail(4).copy()
    start = int(customers["customer_id"].max()) + 1
    base["customer_id"] = range(start, start + len(base))
    edits: list[dict[str, Any]] = [
        {"email": "  SEAN.OBRIEN42@MAIL.EXAMPLE ", "full_name": "Seán O'Brien", "phone": "+353-87-555-0142"},
        {"email": None, "full_name": "Anne-Marie Lefèvre", "phone": "+33 (0)6 12 34 56 78"},
        {"email": "zoe+orders@shop.example.org", "phone": None, "national_id": "078-05-1120"},
        {"email": "ALL.CAPS@EXAMPLE.COM", "full_name": "Jo Ng", "street_address": "Flat 2, 9 Quay Street"},
    ]
    for i, changes in enumerate(edits[: len(base)]):
        for column, value in changes.items():
            base.iloc[i, base.columns.get_loc(column)] = value
    return pd.concat([customers, base], ignore_index=True)


def _policy_of(answer: Any) -> Any:
    from platform_kit.ingestion.pii import MaskingPolicy

    policy = answer()
    try:
        return MaskingPolicy.parse(policy)
    except ConfigError as exc:
        fail(f"the policy is not valid: {exc.message}")


def grade_policy(policy: Any, customers: pd.DataFrame, orders: pd.DataFrame) -> str:
    """Apply ``policy`` and raise AssertionError (via ``fail``) on any leak, broken join or lost column."""
    from platform_kit.ingestion.pii import Tokenizer, apply_policy, compare_joins, known_pii, scan_frame

    tokenizer = Tokenizer(_GRADER_KEY, "grade")
    frame = hostile_customers(customers)
    try:
        masked = apply_policy(frame, policy, tokenizer=tokenizer, vault=_MemoryVault(), names=frame["full_name"])
    except ConfigError as exc:
        fail(f"applying the policy to the customers table failed: {exc.message}")
    findings = scan_frame(masked, known_values=known_pii(frame), names=frame["full_name"])
    if not findings.empty:
        per_column = findings.groupby("column").agg(kind=("kind", "first"), match=("match", "first"),
                                                    n=("kind", "size"))
        detail = "; ".join(f"{col}: {row.n} finding(s), e.g. {row.kind} {str(row.match)[:40]!r}"
                           for col, row in per_column.iterrows())
        fail(f"raw PII reached the sink: {detail}")
    for column in ANALYTICS_COLUMNS:
        if column not in masked.columns:
            fail(f"{column!r} was dropped, but the analytics team needs it and it is not personal data: keep it")
        if not masked[column].equals(frame[column]):
            fail(f"{column!r} was changed, but the analytics team needs it as it is: keep it")
    if "customer_id" not in masked.columns:
        fail("customer_id was dropped: analysts can no longer join customers to their orders; tokenise it")
    if masked["customer_id"].astype(str).equals(frame["customer_id"].astype(str)):
        fail("customer_id is still the raw id, which links every landed table back to the person: tokenise it "
             "(deterministically, so it still matches orders.customer_id tokenised at ingestion)")
    joined = compare_joins(frame, orders, on="customer_id", tokenizer=tokenizer, group_by="segment",
                           value="total_amount", masked_left=masked)
    raw_rows, tok_rows = int(joined["rows_raw"].sum()), int(joined["rows_tokenised"].sum())
    if tok_rows != raw_rows or not bool(joined["equal"].all()):
        fail(f"the tokenised join matched {tok_rows:,} order rows where the raw join matches {raw_rows:,}: the "
             "customer key must get the same deterministic token (action 'tokenize') that the ingestion pipeline "
             "gives orders.customer_id; 'vault' tokens are random and 'redact'/'drop' lose the key")
    if "email" not in masked.columns:
        fail("marketing needs each customer's e-mail domain (which providers they use): mask the e-mail, don't drop it")
    raw = frame["email"].dropna().astype(str).str.strip()
    domains = raw.str.split("@").str[-1].str.lower()
    shown = masked.loc[raw.index, "email"].astype(str).str.lower()
    kept = [d in s for d, s in zip(domains, shown, strict=True)]
    if not all(kept):
        fail("marketing needs each customer's e-mail domain, and some masked e-mails lost it: use an action that "
             "keeps the domain")
    return (f"no raw PII in {len(masked):,} rows x {masked.shape[1]} columns (detector + raw-value scan), "
            f"{tok_rows:,} orders join on the tokenised key exactly as on the raw one, analytics columns intact")


@exercise(
    id=_ID,
    lab=LAB,
    kind="function",
    title="a masking policy for the customers table that leaks nothing and keeps joins working",
    hint="every personal column needs an action that hides its raw value (look at what each action leaves); "
    "the join key needs the same deterministic token the pipeline gives orders; marketing's column must keep "
    "the e-mail domain; the six analytics columns stay as they are",
)
def _grade_masking_policy(answer: Any, context: dict[str, Any]) -> str:
    from platform_kit.datasets import generate_company

    customers, orders = (context or {}).get("customers"), (context or {}).get("orders")
    if not isinstance(customers, pd.DataFrame) or not isinstance(orders, pd.DataFrame):
        company = generate_company("tiny", 42)
        customers, orders = company["customers"], company["orders"]
    return grade_policy(_policy_of(answer), customers, orders)
