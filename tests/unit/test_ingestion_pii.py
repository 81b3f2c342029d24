"""Lab 2 section 8: tokens, keys, masking, detection, policies, the vault and the masking-policy exercise."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from platform_kit.datasets import generate_company
from platform_kit.errors import ConfigError
from platform_kit.grading import check
from platform_kit.ingestion import pii
from platform_kit.ingestion.pii import (
    AccessDeniedError,
    KeyRing,
    MaskingPolicy,
    Tokenizer,
    apply_policy,
    detect_pii,
    ensure_same_key,
    iban_valid,
    initials,
    key_id_of,
    luhn_valid,
    managed_key,
    mask_email,
    mask_last4,
    scan_frame,
    scrub_text,
)

KEY = bytes(range(32))
GOOD_POLICY = {
    "customer_id": "tokenize", "full_name": "initials", "email": "mask_email", "phone": "last4",
    "street_address": "drop", "date_of_birth": "year", "national_id": "last4", "city": "keep", "country": "keep",
    "region": "keep", "signup_ts": "keep", "segment": "keep", "marketing_opt_in": "keep",
}


@pytest.fixture(scope="module")
def company() -> dict[str, pd.DataFrame]:
    return generate_company("tiny", 42)


# --- tokens and keys -----------------------------------------------------------------------------


def test_tokens_are_keyed_hmac_with_the_key_id_and_keep_index_name_and_missing_values() -> None:
    tok = Tokenizer(KEY, "v1")
    values = pd.Series(["a@x.org", None, "b@y.org", "a@x.org", np.nan], index=[10, 11, 12, 13, 14], name="email")
    out = tok.tokenize(values)
    expected = "tok_v1_" + hmac.new(KEY, b"a@x.org", hashlib.sha256).hexdigest()[:32]
    assert out[10] == out[13] == expected
    assert out[11] is None and out[14] is None and out[12] != out[10]
    assert list(out.index) == [10, 11, 12, 13, 14] and out.name == "email"
    assert Tokenizer(b"another key of 32 bytes........!", "v1").tokenize(values)[10] != expected
    assert "key" not in repr(tok).replace("key_id", "")  # the key is never shown


def test_int_ids_and_their_text_share_a_token_and_normalize_folds_case() -> None:
    tok = Tokenizer(KEY, "v1")
    assert tok.tokenize(pd.Series([7], dtype="Int64"))[0] == tok.tokenize(pd.Series(["7"]))[0]
    a = tok.tokenize(pd.Series([" Ann@X.org "]), normalize=True)[0]
    assert a == tok.tokenize_value("ann@x.org") and a != tok.tokenize_value(" Ann@X.org ")
    assert tok.tokenize(pd.Series([], dtype=object)).empty
    mixed = tok.tokenize(pd.Series([b"7", 7, "7", "x" * 10_000, "😀", pd.NA], dtype=object))
    assert mixed[0] == mixed[1] == mixed[2] and mixed[5] is None and mixed[3].startswith("tok_v1_")
    assert tok.tokenize(pd.Series(["a", "b", "a"], dtype="category")).tolist()[0] == tok.tokenize_value("a")


def test_tokenizer_rejects_short_keys_bad_ids_floats_and_non_series() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        Tokenizer(b"short", "v1")
    with pytest.raises(ConfigError, match="must be bytes"):
        Tokenizer("a text password of many characters", "v1")  # type: ignore[arg-type]
    for bad in ("V1", "v_1", "", "x" * 17):
        with pytest.raises(ConfigError, match="key id"):
            Tokenizer(KEY, bad)
    with pytest.raises(ConfigError, match="float"):
        Tokenizer(KEY, "v1").tokenize(pd.Series([1.0, 2.0]))
    with pytest.raises(ConfigError, match="Series"):
        Tokenizer(KEY, "v1").tokenize(["a", "b"])  # type: ignore[arg-type]


def test_key_ids_are_read_back_and_mixed_keys_refuse_to_join() -> None:
    v1, v2 = Tokenizer(KEY, "v1"), Tokenizer(KEY[::-1], "v2")
    a, b = v1.tokenize(pd.Series(["x", "y"])), v2.tokenize(pd.Series(["x", None]))
    assert key_id_of(pd.Series([a[0], b[0], "plain", None])).tolist() == ["v1", "v2", None, None]
    assert ensure_same_key(a, v1.tokenize(pd.Series(["z"]))) == "v1"
    with pytest.raises(ConfigError, match="different keys"):
        ensure_same_key(a, b)
    with pytest.raises(ConfigError, match="not a token"):
        ensure_same_key(pd.Series(["raw@mail.example"], name="email"))


def test_managed_key_prefers_the_environment_then_a_0600_file(tmp_path: Path) -> None:
    env_key = managed_key("v1", env={"WORKBENCH_PII_KEY_V1": KEY.hex()}, key_dir=tmp_path)
    assert env_key == KEY and not any(tmp_path.iterdir())
    first = managed_key("v1", env={}, key_dir=tmp_path)
    path = tmp_path / "pii-v1.key"
    assert len(first) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert managed_key("v1", env={}, key_dir=tmp_path) == first  # stable across calls
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="group or others"):
        managed_key("v1", env={}, key_dir=tmp_path)
    with pytest.raises(ConfigError, match="neither hex nor base64"):
        managed_key("v1", env={"WORKBENCH_PII_KEY_V1": "not a key!"}, key_dir=tmp_path)
    with pytest.raises(ConfigError, match="at least 16"):
        managed_key("v1", env={"WORKBENCH_PII_KEY_V1": "abcd"}, key_dir=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        managed_key("v9", env={}, key_dir=tmp_path, create=False)


def test_key_ring_rotates_to_a_new_key_and_keeps_the_old_one(tmp_path: Path) -> None:
    ring = KeyRing("v1", env={}, key_dir=tmp_path)
    old = ring.tokenizer().tokenize_value("ann@x.org")
    new = ring.rotate("v2").tokenize_value("ann@x.org")
    assert ring.current == "v2" and ring.key_ids == ["v1", "v2"]
    assert old != new and old.startswith("tok_v1_") and new.startswith("tok_v2_")
    assert ring.tokenizer("v1").tokenize_value("ann@x.org") == old
    assert ring.rotate("v1").tokenize_value("ann@x.org") == old and ring.current == "v1"  # a rollback
    with pytest.raises(ConfigError, match="not loaded"):
        ring.tokenizer("v7")


# --- masking ------------------------------------------------------------------------------------


def test_display_masks_keep_only_what_people_need() -> None:
    emails = pd.Series(["weber_nora1@mail.example", "  ALL.CAPS@EXAMPLE.COM ", "no-at-sign", "a@b", None])
    assert mask_email(emails).tolist() == ["w***@mail.example", "A***@EXAMPLE.COM", "[REDACTED]", "[REDACTED]", None]
    phones = pd.Series(["+1 862 3942665", "933-99-3969", "4111 1111 1111 1111", "12", None, 12345678])
    assert mask_last4(phones).tolist() == ["+* *** ***2665", "***-**-3969", "**** **** **** 1111", "**", None,
                                           "****5678"]
    assert mask_last4(pd.Series(["Ünï 1234567 89"])).tolist() == ["*** *****67 89"]  # the non-ASCII path agrees
    assert initials(pd.Series(["Nora Weber", "Seán O'Brien", "Anne-Marie Li", "  ", None])).tolist() == [
        "N. W.", "S. O.", "A. L.", "[REDACTED]", None]
    assert pii.birth_year(pd.Series(pd.to_datetime(["1992-08-16", None]))).tolist()[0] == 1992


def test_masks_match_the_naive_per_record_baseline_on_the_company(company: dict[str, pd.DataFrame]) -> None:
    result = pii.measure_masking(company["customers"], {k: v for k, v in GOOD_POLICY.items() if v != "year"},
                                 key=KEY, repeats=1)  # raises if the two paths disagree on any value
    assert result["rows"] == 200 and result["speedup"] > 0 and result["distinct"] == {"customer_id": 200}


# --- detection ----------------------------------------------------------------------------------


def test_validators() -> None:
    assert luhn_valid("4111 1111 1111 1111") and luhn_valid("4539-1488-0343-6467")
    assert not luhn_valid("4111 1111 1111 1112") and not luhn_valid("411111")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and iban_valid("GB82WEST12345698765432")
    assert not iban_valid("DE89 3704 0044 0532 0130 01") and not iban_valid("DE89")


def test_detector_finds_each_kind_and_luhn_rejects_lookalikes() -> None:
    texts = pd.Series([
        "mail me at ann.lee@mail.example or call +44 20 7946 0958",
        "card 4111 1111 1111 1111, parcel ref 1234 5678 9012 3456",
        "my id is 933-99-3969, refund to DE89 3704 0044 0532 0130 00. Thanks, Nora Weber",
        "token tok_v1_4111111111111111aa and order 2024-06-01 are not PII",
        None,
    ])
    found = detect_pii(texts, names=["Nora Weber"])
    assert sorted(found["kind"]) == ["card", "email", "iban", "name", "national_id", "phone"]
    loose = detect_pii(texts, validate=False)
    assert (loose["kind"] == "card").sum() == 2 and not loose.loc[loose["match"] == "1234 5678 9012 3456", "valid"].iat[0]
    scrubbed = scrub_text(texts, names=["Nora Weber"])
    assert scrubbed[2] == "my id is [NATIONAL_ID], refund to [IBAN]. Thanks, [NAME]"
    assert scrubbed[3] == texts[3] and scrubbed[4] is None
    with pytest.raises(ConfigError, match="Series"):
        detect_pii("a string")  # type: ignore[arg-type]


def test_payment_corpus_shows_luhn_cutting_false_positives(company: dict[str, pd.DataFrame]) -> None:
    corpus = pii.payment_leak_corpus(company["support_tickets"]["body"], seed=7)
    cards = pii.detection_quality(corpus, "card").set_index("detector")
    assert cards["recall"].tolist() == [1.0, 1.0]
    assert cards.loc["pattern only", "false_positives"] > 3 * max(1, cards.loc["pattern + Luhn", "false_positives"])
    ibans = pii.detection_quality(corpus, "iban").set_index("detector")
    assert ibans.loc["pattern + mod-97", "precision"] == 1.0 and ibans.loc["pattern only", "false_positives"] == 6


def test_scan_frame_finds_patterns_and_raw_values_but_not_tokens(company: dict[str, pd.DataFrame]) -> None:
    customers = company["customers"]
    raw = scan_frame(customers, known_values=pii.known_pii(customers), names=customers["full_name"])
    assert {"raw:street_address", "raw:date_of_birth", "email", "phone", "name"} <= set(raw["kind"])
    safe = apply_policy(customers, GOOD_POLICY, tokenizer=Tokenizer(KEY, "v1"))
    assert scan_frame(safe, known_values=pii.known_pii(customers), names=customers["full_name"]).empty
    with pytest.raises(ConfigError, match="DataFrame"):
        scan_frame(customers["email"])  # type: ignore[arg-type]


# --- policies -----------------------------------------------------------------------------------


def test_policy_parses_yaml_mappings_and_files_and_rejects_unknown_actions(tmp_path: Path) -> None:
    text = "columns:\n  email: mask_email\n  notes: scrub\nunlisted: drop\n"
    policy = MaskingPolicy.parse(text)
    assert policy.columns == {"email": "mask_email", "notes": "scrub"} and policy.unlisted == "drop"
    assert MaskingPolicy.parse({"email": "mask_email"}).unlisted == "error"
    (tmp_path / "p.yml").write_text(text)
    assert MaskingPolicy.parse(tmp_path / "p.yml") == policy
    assert MaskingPolicy.parse(policy.to_yaml()) == policy
    with pytest.raises(ConfigError, match="'hash' is not valid \\(choose from tokenize, mask_email"):
        MaskingPolicy.parse({"email": "hash"})
    with pytest.raises(ConfigError, match="not valid YAML"):
        MaskingPolicy.parse("columns: [unclosed")
    with pytest.raises(ConfigError, match="mapping"):
        MaskingPolicy.parse(["email"])
    with pytest.raises(ConfigError, match="unlisted"):
        MaskingPolicy.parse({"columns": {}, "unlisted": "maybe"})


def test_apply_policy_errors_are_clear_and_the_input_is_untouched(company: dict[str, pd.DataFrame]) -> None:
    customers = company["customers"]
    before = customers.copy()
    with pytest.raises(ConfigError, match=r"\['phone'\] have no action"):
        apply_policy(customers, {k: v for k, v in GOOD_POLICY.items() if k != "phone"}, tokenizer=Tokenizer(KEY, "v1"))
    with pytest.raises(ConfigError, match="lacks"):
        apply_policy(customers, {**GOOD_POLICY, "ssn": "drop"}, tokenizer=Tokenizer(KEY, "v1"))
    with pytest.raises(ConfigError, match="no tokenizer"):
        apply_policy(customers, GOOD_POLICY)
    with pytest.raises(ConfigError, match="no vault"):
        apply_policy(customers, {**GOOD_POLICY, "national_id": "vault"}, tokenizer=Tokenizer(KEY, "v1"))
    out = apply_policy(customers, {"columns": {"email": "mask_email"}, "unlisted": "drop"})
    assert list(out.columns) == ["email"] and customers.equals(before)


def test_scrub_action_cleans_free_text(company: dict[str, pd.DataFrame]) -> None:
    tickets = company["support_tickets"][["ticket_id", "body"]]
    out = apply_policy(tickets, {"ticket_id": "keep", "body": "scrub"}, names=company["customers"]["full_name"])
    assert detect_pii(tickets["body"]).shape[0] > 20
    assert detect_pii(out["body"], names=company["customers"]["full_name"]).empty


def test_tokenised_join_gives_the_raw_answer(company: dict[str, pd.DataFrame]) -> None:
    joined = pii.compare_joins(company["customers"], company["orders"], on="customer_id",
                               tokenizer=Tokenizer(KEY, "v1"), group_by="segment", value="total_amount")
    assert joined["equal"].all() and joined["rows_tokenised"].sum() == len(company["orders"])


# --- the exercise -------------------------------------------------------------------------------


def _check(policy: object, company: dict[str, pd.DataFrame]) -> object:
    return check("ingestion.masking_policy", lambda: policy,
                 context={"customers": company["customers"], "orders": company["orders"]}, show=False)


def test_exercise_accepts_a_safe_policy_in_several_forms(company: dict[str, pd.DataFrame]) -> None:
    assert _check(GOOD_POLICY, company).passed
    assert _check(MaskingPolicy(columns={**GOOD_POLICY, "national_id": "vault", "street_address": "redact"}),
                  company).passed
    assert _check({"columns": {k: v for k, v in GOOD_POLICY.items() if k != "date_of_birth"}, "unlisted": "drop"},
                  company).passed


@pytest.mark.parametrize(("column", "action", "message"), [
    ("email", "keep", "raw PII reached the sink: email"),
    ("phone", "keep", "phone"),
    ("full_name", "keep", "full_name"),
    ("date_of_birth", "keep", "raw:date_of_birth"),
    ("customer_id", "drop", "customer_id was dropped"),
    ("customer_id", "vault", "tokenised join matched 0"),
    ("customer_id", "keep", "still the raw id"),
    ("email", "tokenize", "e-mail domain"),
    ("segment", "drop", "'segment' was dropped"),
    ("email", "hash", "not valid"),
])
def test_exercise_rejects_leaks_broken_joins_and_lost_columns(company: dict[str, pd.DataFrame], column: str,
                                                              action: str, message: str) -> None:
    result = _check({**GOOD_POLICY, column: action}, company)
    assert not result.passed and message in result.message


def test_exercise_stub_counts_as_not_attempted() -> None:
    def stub() -> None:
        raise NotImplementedError

    result = check("ingestion.masking_policy", stub, show=False)
    assert not result.passed and not result.attempted


# --- the vault (live PostgreSQL) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg() -> Any:
    import platform_kit

    return platform_kit.connect("embedded").pg  # shared with the other engine tests of this session


def test_vault_round_trip_grants_denials_and_audit(pg: object) -> None:
    vault = pii.TokenVault(pg, KEY, name=f"t_vault_{uuid.uuid4().hex[:6]}")
    values = pd.Series(["933-99-3969", None, "934-04-2240", "933-99-3969"], name="national_id")
    tokens = vault.tokenize(values, kind="national_id")
    assert tokens[0] == tokens[3] and tokens[1] is None and tokens[0] != tokens[2]
    assert tokens.dropna().str.fullmatch(pii.VAULT_TOKEN.pattern).all()
    assert vault.tokenize(values[:1])[0] == tokens[0]  # same value, same token, across calls
    with pytest.raises(AccessDeniedError, match="may not detokenise.*audited"):
        vault.detokenize(tokens, principal="marketing", purpose="campaign")
    vault.grant("fraud_analyst", "fraud_investigation")
    back = vault.detokenize(tokens, principal="fraud_analyst", purpose="fraud_investigation")
    assert back.tolist() == ["933-99-3969", None, "934-04-2240", "933-99-3969"]
    with pytest.raises(AccessDeniedError):
        vault.detokenize(tokens, principal="fraud_analyst", purpose="marketing")  # a grant is per purpose
    with pytest.raises(ConfigError, match="not vault tokens"):
        vault.detokenize(pd.Series(["933-99-3969"]), principal="fraud_analyst", purpose="fraud_investigation")
    with pytest.raises(ConfigError, match="unknown to vault"):
        vault.detokenize(pd.Series(["vlt_" + "0" * 24]), principal="fraud_analyst", purpose="fraud_investigation")
    vault.revoke("fraud_analyst", "fraud_investigation")
    with pytest.raises(AccessDeniedError):
        vault.detokenize(tokens, principal="fraud_analyst", purpose="fraud_investigation")
    audit = vault.audit_log()  # newest first: every attempt is there, denied ones included
    assert audit["allowed"].tolist() == [False, True, False, False, True, False]
    assert audit["principal"].iloc[-1] == "marketing" and audit["detail"].iloc[-1] == "denied: no grant"


def test_land_and_read_back_a_masked_table(pg: object, company: dict[str, pd.DataFrame]) -> None:
    table = f"t_masked_{uuid.uuid4().hex[:6]}"
    safe = apply_policy(company["customers"], GOOD_POLICY, tokenizer=Tokenizer(KEY, "v1"))
    assert pii.land_frame(pg, table, safe) == 200
    back = pii.read_table(pg, table)
    assert back.shape == safe.shape
    assert scan_frame(back, known_values=pii.known_pii(company["customers"])).empty
    leaky = pii.read_table(pg, table).assign(email=company["customers"]["email"])
    assert not scan_frame(leaky).empty
