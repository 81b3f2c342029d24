"""A labelled corpus for PII detection: support tickets with card numbers, IBANs and look-alikes added.

The synthetic tickets leak e-mails, phones, names and national ids but no payment data, so the lab
adds sentences with known ground truth: real-looking card numbers (Luhn-valid), 16-digit parcel
references that merely *look* like cards (random digits: about one in ten passes Luhn by chance),
valid IBANs and IBANs with a typo (failing mod-97). Pattern-only and validated detection are then
scored against the truth.

Introduced in: Lab 2 (ingestion), section 8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from platform_kit.errors import ConfigError
from platform_kit.ingestion._pii_detect import detect_pii, iban_valid, luhn_valid

__all__ = ["detection_quality", "payment_leak_corpus"]

_CARD = "I paid with my card {} and was charged twice."
_REF = "The parcel reference on the label is {}."
_IBAN = "Please refund to my account {}."


def _luhn_complete(body: str) -> str:
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always completes a Luhn number")


def _group(digits: str) -> str:
    return " ".join(digits[i:i + 4] for i in range(0, len(digits), 4))


def _iban(rng: np.random.Generator) -> str:
    bban = "".join(rng.choice(list("0123456789"), 18))
    moved = bban + "DE00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    return _group(f"DE{check:02d}{bban}")


def payment_leak_corpus(texts: pd.Series, *, seed: int = 7, cards: int = 12, references: int = 30,
                        ibans: int = 6) -> pd.DataFrame:
    """Copies of ``texts`` with payment sentences appended, and what each really contains.

    Returns:
        Columns ``text``, ``true_cards``, ``lookalike_cards`` (references that are not cards),
        ``true_ibans``, ``typo_ibans``, one row per input text.
    """
    if not isinstance(texts, pd.Series) or texts.empty:
        raise ConfigError("payment_leak_corpus needs a non-empty Series of texts", fix="pass tickets['body']")
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"text": texts.astype(str).to_numpy(), "true_cards": 0, "lookalike_cards": 0,
                          "true_ibans": 0, "typo_ibans": 0})
    slots = rng.integers(0, len(frame), cards + references + 2 * ibans)
    for i, row in enumerate(slots):
        if i < cards:
            sentence, column = _CARD.format(_group(_luhn_complete("4" + "".join(rng.choice(list("0123456789"), 14))))), "true_cards"
        elif i < cards + references:
            sentence, column = _REF.format(_group("".join(rng.choice(list("123456789"), 16)))), "lookalike_cards"
        elif i < cards + references + ibans:
            sentence, column = _IBAN.format(_iban(rng)), "true_ibans"
        else:
            good = _iban(rng)
            typo = good[:-1] + str((int(good[-1]) + 1) % 10)
            assert not iban_valid(typo)
            sentence, column = _IBAN.format(typo), "typo_ibans"
        frame.loc[row, "text"] += " " + sentence
        frame.loc[row, column] += 1
    return frame


def detection_quality(corpus: pd.DataFrame, kind: str = "card") -> pd.DataFrame:
    """Precision and recall of pattern-only vs validated detection of ``kind`` (``card`` or ``iban``).

    A finding counts as a true positive up to the number of true items in its text.
    """
    truth, decoy = {"card": ("true_cards", "lookalike_cards"), "iban": ("true_ibans", "typo_ibans")}[kind]
    rows = []
    for label, validate in (("pattern only", False), (f"pattern + {'Luhn' if kind == 'card' else 'mod-97'}", True)):
        found = detect_pii(corpus["text"], validate=validate)
        per_text = found[found["kind"] == kind].groupby("row").size().reindex(corpus.index, fill_value=0)
        true_pos = int(np.minimum(per_text, corpus[truth]).sum())
        flagged = int(per_text.sum())
        total = int(corpus[truth].sum())
        rows.append({"detector": label, "flagged": flagged, "true_positives": true_pos,
                     "false_positives": flagged - true_pos, "missed": total - true_pos,
                     "precision": true_pos / flagged if flagged else 1.0, "recall": true_pos / total if total else 1.0,
                     "decoys_in_text": int(corpus[decoy].sum())})
    return pd.DataFrame(rows)
