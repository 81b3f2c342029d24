"""The ``clickstream`` table: Black Friday week web/app events as they arrived.

Rows are in arrival order (``ingest_ts``). Each event's delivery delay
``ingest_ts - event_ts`` is drawn independently from a three-part mixture
(:data:`LATENESS`):

* on time, 92%: log-normal, median 1.5 s (practically all under 30 s);
* delayed, 6%: log-uniform between 30 s and 15 min (mobile batching, retries);
* late, 2%: log-uniform between 1 h and 48 h (apps that were offline).

So about 2% of events are more than one hour late, and any event delayed past the
next events of its session arrives out of order. In addition
:data:`DUPLICATE_EVENT_FRACTION` of the rows are exact copies of another row
(same ``event_id`` and values: at-least-once delivery); ``drop_duplicates("event_id")``
recovers the unique events.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._common import (
    CLICKSTREAM_END,
    CLICKSTREAM_START,
    US_PER_S,
    hex_ids,
    seasonal_timestamps,
)
from platform_kit.datasets._schema import conform

__all__ = ["DUPLICATE_EVENT_FRACTION", "EVENT_TYPES", "LATENESS", "build_clickstream"]

logger = logging.getLogger(__name__)

#: Delivery delay mixture: kind -> (share of events, lower bound s, upper bound s).
#: "on_time" is log-normal with median 1.5 s; its bounds are indicative only.
LATENESS: dict[str, tuple[float, float, float]] = {
    "on_time": (0.92, 0.0, 30.0),
    "delayed": (0.06, 30.0, 900.0),
    "late": (0.02, 3600.0, 172800.0),
}
#: Share of rows that are exact duplicates of another row.
DUPLICATE_EVENT_FRACTION = 0.01

#: Event types; the first five are browsing events drawn with _BROWSE_P.
EVENT_TYPES = (
    "page_view",
    "product_view",
    "search",
    "add_to_cart",
    "remove_from_cart",
    "checkout",
    "purchase",
)
_PAGE_VIEW, _PRODUCT_VIEW, _SEARCH, _ADD, _REMOVE, _CHECKOUT, _PURCHASE = range(len(EVENT_TYPES))
_BROWSE_P = [0.40, 0.36, 0.14, 0.08, 0.02]
_PAGES = np.array(
    [
        "/",
        "/deals/black-friday",
        "/c/camping",
        "/c/hiking",
        "/c/apparel",
        "/c/climbing",
        "/c/cycling",
        "/c/water-sports",
        "/help/shipping",
        "/help/returns",
        "/account",
        "/account/orders",
        "/cart",
        "/checkout",
        "/checkout/complete",  # the last two only for checkout and purchase events
    ],
    dtype=object,
)
_PAGE_P = np.array([18, 14, 9, 9, 10, 5, 6, 4, 4, 3, 6, 5, 7], dtype=float)
_SEARCHES = np.array(
    [
        "tent",
        "rain+jacket",
        "sleeping+bag",
        "hiking+boots",
        "headlamp",
        "merino",
        "kayak",
        "gravel+bike",
        "climbing+shoes",
        "down+jacket",
        "black+friday",
        "gift+ideas",
        "water+filter",
        "e-bike",
        "dry+bag",
    ]
)
_SEARCH_PAGES = np.char.add("/search?q=", _SEARCHES).astype(object)


def _sessions(rng: np.random.Generator, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Session lengths summing to exactly ``n_events`` and each event's session index."""
    guess = max(8, int(n_events / 6.5 * 1.3) + 8)
    lengths = np.minimum(rng.geometric(1 / 7.0, guess), 60)
    while lengths.sum() < n_events:  # practically never: the guess has 30% headroom
        lengths = np.concatenate([lengths, np.minimum(rng.geometric(1 / 7.0, guess), 60)])
    cum = np.cumsum(lengths)
    n_sessions = int(np.searchsorted(cum, n_events) + 1)
    lengths = lengths[:n_sessions].copy()
    lengths[-1] -= cum[n_sessions - 1] - n_events
    return lengths, np.repeat(np.arange(n_sessions), lengths)


def _event_types(rng: np.random.Generator, lengths: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, ...]:
    """Event type code per event (index into EVENT_TYPES): landing view, browsing, funnel endings."""
    n_sessions = len(lengths)
    session = np.repeat(np.arange(n_sessions), lengths)
    starts = np.cumsum(lengths) - lengths
    pos = np.arange(len(session)) - starts[session]
    from_end = lengths[session] - 1 - pos
    types = rng.choice(len(_BROWSE_P), size=len(session), p=_BROWSE_P)
    types[pos == 0] = _PAGE_VIEW
    u = rng.random(n_sessions)
    converts = known & (lengths >= 4) & (u < 0.3)
    abandons = ~converts & (lengths >= 3) & (u > 0.9)
    conv_e, aband_e = converts[session], abandons[session]
    types[conv_e & (from_end == 0)] = _PURCHASE
    types[conv_e & (from_end == 1)] = _CHECKOUT
    types[conv_e & (from_end == 2)] = _ADD
    types[aband_e & (from_end == 0)] = _CHECKOUT
    types[aband_e & (from_end == 1)] = _ADD
    return types, session, pos


def _delays(rng: np.random.Generator, n: int) -> np.ndarray:
    """Delivery delay per event in microseconds, from :data:`LATENESS`."""
    kinds = list(LATENESS)
    kind = rng.choice(len(kinds), size=n, p=[LATENESS[k][0] for k in kinds])
    on_time = rng.lognormal(np.log(1.5), 0.8, n)
    _, lo_d, hi_d = LATENESS["delayed"]
    _, lo_l, hi_l = LATENESS["late"]
    delayed = np.exp(rng.uniform(np.log(lo_d), np.log(hi_d), n))
    late = np.exp(rng.uniform(np.log(lo_l), np.log(hi_l), n))
    seconds = np.choose(kind, [np.minimum(on_time, LATENESS["on_time"][2] - 0.001), delayed, late])
    return (seconds * US_PER_S).astype(np.int64)


def build_clickstream(
    rng: np.random.Generator, counts: dict[str, int], customers: pd.DataFrame, products: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Generate the ``clickstream`` table (see the module docstring for its quirks).

    Args:
        rng: The ``clickstream`` family generator.
        counts: Row counts per table; ``clickstream`` counts duplicates too.
        customers: The ``customers`` table.
        products: The ``products`` table.

    Returns:
        ``{"clickstream": DataFrame}`` sorted by ``ingest_ts``.
    """
    n_rows = counts["clickstream"]
    n_dup = round(n_rows * DUPLICATE_EVENT_FRACTION)
    n = n_rows - n_dup
    lengths, _ = _sessions(rng, n)
    n_sessions = len(lengths)

    session_start = seasonal_timestamps(rng, n_sessions, CLICKSTREAM_START, CLICKSTREAM_END)
    signup = customers["signup_ts"].to_numpy().astype("datetime64[us]").view(np.int64)
    eligible = np.searchsorted(signup, session_start, side="left")
    known = (rng.random(n_sessions) < 0.6) & (eligible > 0)
    cust_pos = np.minimum((rng.random(n_sessions) * eligible).astype(np.int64), np.maximum(eligible - 1, 0))
    session_customer = np.where(known, customers["customer_id"].to_numpy()[cust_pos], -1)

    types, session, pos = _event_types(rng, lengths, known)
    gaps = ((2 + rng.exponential(35.0, n)) * US_PER_S).astype(np.int64)
    gaps[pos == 0] = 0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[np.cumsum(lengths) - lengths], lengths)
    event_ts = session_start[session] + elapsed

    n_products = len(products)
    popularity = 1.0 / (rng.permutation(n_products) + 1.0) ** 0.8
    product_pos = rng.choice(n_products, size=n, p=popularity / popularity.sum())
    has_product = (types == _PRODUCT_VIEW) | (types == _ADD) | (types == _REMOVE)
    product_id = np.where(has_product, products["product_id"].to_numpy()[product_pos], -1)

    # Pages as codes into one small vocabulary: static pages, searches, product pages.
    product_pages = np.char.add("/p/", products["product_id"].to_numpy().astype(str)).astype(object)
    vocabulary = np.concatenate([_PAGES, _SEARCH_PAGES, product_pages])
    page = rng.choice(len(_PAGES) - 2, size=n, p=_PAGE_P / _PAGE_P.sum())
    page[has_product] = len(_PAGES) + len(_SEARCH_PAGES) + product_pos[has_product]
    is_search = types == _SEARCH
    page[is_search] = len(_PAGES) + rng.integers(0, len(_SEARCH_PAGES), int(is_search.sum()))
    page[types == _CHECKOUT] = len(_PAGES) - 2
    page[types == _PURCHASE] = len(_PAGES) - 1

    ingest_ts = event_ts + _delays(rng, n)
    event_key, session_key = (int(k) for k in rng.integers(0, 2**63, 2))
    customer_id = session_customer[session].astype(float)
    customer_id[customer_id < 0] = np.nan
    product_col = product_id.astype(float)
    product_col[product_col < 0] = np.nan

    # Exact duplicates (same row twice), then arrival order; copies sit next to originals.
    rows = np.concatenate([np.arange(n), np.sort(rng.choice(n, size=n_dup, replace=False))])
    rows = rows[np.lexsort((np.arange(len(rows)), ingest_ts[rows]))]
    session_ids = hex_ids("s_", n_sessions, session_key, width=12)
    df = conform(
        "clickstream",
        {
            "event_id": hex_ids("ev_", rows, event_key),
            "session_id": session_ids[session[rows]],
            "customer_id": customer_id[rows],
            "event_type": np.array(EVENT_TYPES, dtype=object)[types[rows]],
            "page": vocabulary[page[rows]],
            "product_id": product_col[rows],
            "event_ts": event_ts[rows],
            "ingest_ts": ingest_ts[rows],
        },
    )
    logger.debug("clickstream: %d rows, %d sessions, %d duplicates", len(df), n_sessions, n_dup)
    return {"clickstream": df}
