"""The ``products`` table: an outdoor-gear catalogue with reworded near-duplicates."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._catalog_vocab import ADJECTIVES, BODIES, BRANDS, CATEGORIES, OPENERS
from platform_kit.datasets._common import join_words, render
from platform_kit.datasets._schema import conform

__all__ = ["DUPLICATE_PRODUCT_FRACTION", "build_products"]

logger = logging.getLogger(__name__)

#: Share of catalogue rows that are near-duplicates of another listing.
DUPLICATE_PRODUCT_FRACTION = 0.06


def _title(text: str) -> str:
    return " ".join(w if w.isupper() or not w[0].isalpha() else w[0].upper() + w[1:] for w in text.split(" "))


def _per_category(key: str) -> np.ndarray:
    rows = [CATEGORIES[c][key] for c in CATEGORIES]
    assert len({len(r) for r in rows}) == 1, f"every category needs as many {key}"  # type: ignore[arg-type]
    return np.array(rows, dtype=str)


_CATS = tuple(CATEGORIES)
_CODES = np.array([CATEGORIES[c]["code"] for c in _CATS])
_NOUN_ROWS = [
    (ci, sub, noun, price)
    for ci, cat in enumerate(_CATS)
    for sub, nouns in CATEGORIES[cat]["subcategories"].items()  # type: ignore[attr-defined]
    for noun, price in nouns
]
_NOUN_CAT = np.array([r[0] for r in _NOUN_ROWS])
_NOUN_SUB = np.array([r[1] for r in _NOUN_ROWS])
_NOUN = np.array([r[2] for r in _NOUN_ROWS])
_NOUN_TITLE = np.array([_title(r[2]) for r in _NOUN_ROWS])
_NOUN_PRICE = np.array([r[3] for r in _NOUN_ROWS])
_MATERIALS = _per_category("materials")
_FEATURES = _per_category("features")
_USES = _per_category("uses")
_CLOSERS = _per_category("closers")
_ADJ = np.array(ADJECTIVES)
_ADJ_TITLE = np.array([[_title(a) for a in group] for group in ADJECTIVES])
_BRANDS = np.array(BRANDS)


def _draw_originals(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    n_feat = _FEATURES.shape[1]
    f1 = rng.integers(0, n_feat, n)
    noun = rng.integers(0, len(_NOUN), n)
    return {
        "noun": noun,
        "brand": rng.integers(0, len(_BRANDS), n),
        "adj_group": rng.integers(0, len(_ADJ), n),
        "adj_word": rng.integers(0, _ADJ.shape[1], n),
        "material": rng.integers(0, _MATERIALS.shape[1], n),
        "feature": f1,
        "feature2": (f1 + rng.integers(1, n_feat, n)) % n_feat,
        "use": rng.integers(0, _USES.shape[1], n),
        "opener": rng.integers(0, len(OPENERS), n),
        "body": rng.integers(0, len(BODIES), n),
        "closer": rng.integers(0, _CLOSERS.shape[1], n),
        "name_style": np.zeros(n, dtype=np.int64),
        "price": np.floor(_NOUN_PRICE[noun] * rng.lognormal(0.0, 0.22, n)) + 0.99,
    }


def _reword(rng: np.random.Generator, orig: dict[str, np.ndarray], src: np.ndarray) -> dict[str, np.ndarray]:
    """Attributes of near-duplicates of rows ``src``: same facts, different words."""
    m = len(src)
    dup = {k: v[src] for k, v in orig.items()}
    dup["feature"], dup["feature2"] = dup["feature2"], dup["feature"]
    dup["adj_word"] = (dup["adj_word"] + rng.integers(1, _ADJ.shape[1], m)) % _ADJ.shape[1]
    dup["opener"] = (dup["opener"] + rng.integers(1, len(OPENERS), m)) % len(OPENERS)
    dup["body"] = (dup["body"] + rng.integers(1, len(BODIES), m)) % len(BODIES)
    dup["closer"] = (dup["closer"] + rng.integers(1, _CLOSERS.shape[1], m)) % _CLOSERS.shape[1]
    dup["name_style"] = rng.integers(1, 3, m)
    dup["price"] = np.floor(dup["price"] * rng.uniform(0.95, 1.05, m)) + 0.99
    return dup


def build_products(rng: np.random.Generator, counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Generate the ``products`` table.

    About :data:`DUPLICATE_PRODUCT_FRACTION` of the rows re-list an existing product
    (same category, noun, brand, material, features and use, price within 5%) with a
    reworded name and description; ``duplicate_of`` names the original.

    Args:
        rng: The ``products`` family generator.
        counts: Row counts per table.

    Returns:
        ``{"products": DataFrame}`` sorted by ``product_id``.
    """
    total = counts["products"]
    n_dup = round(total * DUPLICATE_PRODUCT_FRACTION)
    n_orig = total - n_dup
    orig = _draw_originals(rng, n_orig)
    src = rng.choice(n_orig, size=n_dup, replace=False)
    dup = _reword(rng, orig, src)
    a = {k: np.concatenate([orig[k], dup[k]]) for k in orig}

    # Interleave duplicates with originals: ids are a random permutation of rows.
    row_id = rng.permutation(total).astype(np.int64) + 1
    duplicate_of = np.full(total, np.nan)
    duplicate_of[n_orig:] = row_id[src]
    cat = _NOUN_CAT[a["noun"]]

    adj = _ADJ[a["adj_group"], a["adj_word"]]
    adj_title = _ADJ_TITLE[a["adj_group"], a["adj_word"]]
    brand = _BRANDS[a["brand"]]
    noun_title = _NOUN_TITLE[a["noun"]]
    name = render(
        ("{brand} {adj} {noun}", "{adj} {noun} by {brand}", "{brand} {noun} ({adj_lower})"),
        a["name_style"],
        {"brand": brand, "adj": adj_title, "noun": noun_title, "adj_lower": adj},
    )
    slots = {
        "brand": brand,
        "noun": _NOUN[a["noun"]],
        "adj": adj,
        "use": _USES[cat, a["use"]],
        "material": _MATERIALS[cat, a["material"]],
        "feature": _FEATURES[cat, a["feature"]],
        "feature2": _FEATURES[cat, a["feature2"]],
    }
    description = join_words(
        render(OPENERS, a["opener"], slots).astype(str),
        render(BODIES, a["body"], slots).astype(str),
        _CLOSERS[cat, a["closer"]],
    )
    sku = np.char.add(
        np.char.add(np.char.add("NWO-", _CODES[cat]), "-"), np.char.zfill(row_id.astype(str), 6)
    )
    price = a["price"]
    cost = np.round(price * rng.uniform(0.35, 0.65, total), 2)

    order = np.argsort(row_id, kind="stable")
    df = conform(
        "products",
        {
            "product_id": row_id[order],
            "sku": sku[order],
            "name": name[order],
            "category": np.array(_CATS)[cat][order],
            "subcategory": _NOUN_SUB[a["noun"]][order],
            "price": price[order],
            "cost": cost[order],
            "description": description[order],
            "duplicate_of": duplicate_of[order],
        },
    )
    logger.debug("products: %d rows, %d near-duplicates", len(df), n_dup)
    return {"products": df}
