"""The ``support_tickets`` table: themed free text that sometimes leaks PII.

Every ticket starts from an order (returned and cancelled orders attract more
tickets); the theme depends on the order's status. Bodies are assembled from a
greeting, a theme-specific problem and detail sentence, optionally a contact sentence
with the customer's real e-mail or phone (~30%), a national id (~25% of
account_access tickets), a closing line and a sign-off that often carries the name.
The ticket log is a snapshot taken :data:`SNAPSHOT_DAYS` days after the trading year:
tickets not resolved by then are open (``resolved_ts`` null).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._common import (
    END,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_MINUTE,
    choice_per_row,
    join_words,
    render,
)
from platform_kit.datasets._schema import conform
from platform_kit.datasets._support_vocab import CLOSINGS, CONTACT, GREETINGS, ID_MENTION, SIGNOFFS, THEMES

__all__ = ["CONTACT_PII_FRACTION", "SNAPSHOT_DAYS", "build_support_tickets"]

logger = logging.getLogger(__name__)

#: Share of tickets whose body contains the customer's e-mail or phone number.
CONTACT_PII_FRACTION = 0.3
#: The ticket log is exported this many days after the end of the trading year.
SNAPSHOT_DAYS = 45

_THEMES = tuple(THEMES)
_CHANNELS = np.array(["email", "chat", "web_form", "phone"])
_PRIORITIES = np.array(["low", "medium", "high", "urgent"])
#: Theme probabilities by order status (columns follow _THEMES).
_THEME_P = {
    "open": (0.25, 0.05, 0.13, 0.10, 0.15, 0.12, 0.20),
    "returned": (0.03, 0.45, 0.25, 0.20, 0.02, 0.03, 0.02),
    "cancelled": (0.05, 0.50, 0.0, 0.0, 0.10, 0.30, 0.05),
}
_PRIORITY_SPEED = np.array([1.6, 1.0, 0.6, 0.25])  # resolution time multiplier per priority


def _flat(key: str) -> tuple[list[str], int]:
    """All themes' templates under ``key`` in one list, and the count per theme."""
    per = [THEMES[t][key] for t in _THEMES]
    sizes = {len(p) for p in per}  # type: ignore[arg-type]
    assert len(sizes) == 1, f"every theme needs as many {key}"
    return [s for p in per for s in p], sizes.pop()  # type: ignore[attr-defined]


def _text(
    rng: np.random.Generator, theme: np.ndarray, slots: dict[str, np.ndarray]
) -> tuple[np.ndarray, ...]:
    """Subject and body of every ticket."""
    n = len(theme)
    subjects, k_sub = _flat("subjects")
    problems, k_prob = _flat("problems")
    details, k_det = _flat("details")
    subject = render(subjects, theme * k_sub + rng.integers(0, k_sub, n), slots)
    contact_choice = np.where(
        rng.random(n) < CONTACT_PII_FRACTION, rng.integers(0, len(CONTACT), n), len(CONTACT)
    )
    id_choice = np.where((theme == _THEMES.index("account_access")) & (rng.random(n) < 0.25), 0, 1)
    sign_choice = np.where(rng.random(n) < 0.7, rng.integers(0, len(SIGNOFFS), n), len(SIGNOFFS))
    main = join_words(
        render(problems, theme * k_prob + rng.integers(0, k_prob, n), slots).astype(str),
        render(details, theme * k_det + rng.integers(0, k_det, n), slots).astype(str),
        render((*CONTACT, ""), contact_choice, slots).astype(str),
        render((ID_MENTION, ""), id_choice, slots).astype(str),
        np.array(CLOSINGS)[rng.integers(0, len(CLOSINGS), n)],
    )
    body = join_words(
        np.array(GREETINGS)[rng.integers(0, len(GREETINGS), n)],
        main,
        render((*SIGNOFFS, ""), sign_choice, slots).astype(str),
        sep="\n",
    )
    return subject, body.astype(object)


def build_support_tickets(
    rng: np.random.Generator,
    counts: dict[str, int],
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    order_items: pd.DataFrame,
    products: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """Generate the ``support_tickets`` table.

    Args:
        rng: The ``support_tickets`` family generator.
        counts: Row counts per table.
        customers: The ``customers`` table.
        orders: The ``orders`` table.
        order_items: The ``order_items`` table.
        products: The ``products`` table.

    Returns:
        ``{"support_tickets": DataFrame}`` sorted by ``created_ts``.
    """
    n = counts["support_tickets"]
    status = orders["status"].to_numpy()
    weight = np.where(np.isin(status, ["returned", "cancelled"]), 6.0, 1.0)
    opos = rng.choice(len(orders), size=n, p=weight / weight.sum())
    group = np.select([status[opos] == "returned", status[opos] == "cancelled"], [1, 2], 0)
    theme = choice_per_row(rng, np.array([_THEME_P[g] for g in ("open", "returned", "cancelled")])[group])
    about_order = np.array([THEMES[t]["about_order"] for t in _THEMES])[theme]
    lo, hi = (np.array([THEMES[t]["days"][i] for t in _THEMES])[theme] for i in (0, 1))  # type: ignore[index]

    order_ts = orders["order_ts"].to_numpy().astype("datetime64[us]").view(np.int64)[opos]
    delay = (lo + rng.random(n) * (hi - lo)) * US_PER_DAY
    created = order_ts + np.maximum(delay.astype(np.int64), 15 * US_PER_MINUTE)

    customer_id = orders["customer_id"].to_numpy()[opos]
    cpos = np.searchsorted(customers["customer_id"].to_numpy(), customer_id)
    full_name = customers["full_name"].to_numpy().astype(str)[cpos]
    order_id = orders["order_id"].to_numpy()[opos]
    first_lines = order_items[order_items["line_no"] == 1]
    first_product = first_lines["product_id"].to_numpy()[
        np.searchsorted(first_lines["order_id"].to_numpy(), order_id)
    ]
    product = (
        products["name"]
        .to_numpy()
        .astype(str)[np.searchsorted(products["product_id"].to_numpy(), first_product)]
    )
    slots = {
        "order_id": order_id.astype(str),
        "product": product,
        "days": np.maximum((created - order_ts) // US_PER_DAY, 1).astype(str),
        "amount": np.char.mod("%.2f", orders["total_amount"].to_numpy()[opos]),
        "currency": orders["currency"].to_numpy().astype(str)[opos],
        "first_name": np.char.partition(full_name, " ")[:, 0],
        "full_name": full_name,
        "email": customers["email"].to_numpy().astype(str)[cpos],
        "phone": customers["phone"].to_numpy().astype(str)[cpos],
        "national_id": customers["national_id"].to_numpy().astype(str)[cpos],
    }
    subject, body = _text(rng, theme, slots)

    priority_p = np.array([THEMES[t]["priority"] for t in _THEMES], dtype=float)
    priority = choice_per_row(rng, priority_p[theme])
    hours = (0.1 + rng.lognormal(np.log(18.0), 1.0, n)) * _PRIORITY_SPEED[priority]
    resolved = created + (hours * US_PER_HOUR).astype(np.int64)
    is_open = (resolved > END + SNAPSHOT_DAYS * US_PER_DAY) | (rng.random(n) < 0.04)

    order = np.argsort(created, kind="stable")
    df = conform(
        "support_tickets",
        {
            "ticket_id": np.arange(1, n + 1, dtype=np.int64),
            "customer_id": customer_id[order],
            "created_ts": created[order],
            "channel": rng.choice(_CHANNELS, size=n, p=[0.4, 0.3, 0.2, 0.1])[order],
            "priority": _PRIORITIES[priority][order],
            "subject": subject[order],
            "body": body[order],
            "resolved_ts": np.where(is_open, np.datetime64("NaT"), resolved.view("datetime64[us]"))[order],
            "order_id": np.where(about_order, order_id, np.nan)[order],
            "theme": np.array(_THEMES)[theme][order],
        },
    )
    logger.debug("support_tickets: %d rows", len(df))
    return {"support_tickets": df}
