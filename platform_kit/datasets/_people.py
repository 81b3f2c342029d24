"""The ``customers`` table: people, places and their (fake) personal data."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from platform_kit.datasets._common import END, START, US_PER_DAY, join_words, us_of
from platform_kit.datasets._schema import conform

__all__ = ["COUNTRIES", "FX_PER_USD", "build_customers"]

logger = logging.getLogger(__name__)

#: Country code -> (calling code, currency).
COUNTRIES: dict[str, tuple[str, str]] = {
    "GB": ("+44", "GBP"),
    "IE": ("+353", "EUR"),
    "FR": ("+33", "EUR"),
    "NL": ("+31", "EUR"),
    "ES": ("+34", "EUR"),
    "PT": ("+351", "EUR"),
    "DE": ("+49", "EUR"),
    "AT": ("+43", "EUR"),
    "CH": ("+41", "CHF"),
    "PL": ("+48", "PLN"),
    "CZ": ("+420", "CZK"),
    "US": ("+1", "USD"),
    "CA": ("+1", "CAD"),
    "IN": ("+91", "INR"),
    "SG": ("+65", "SGD"),
    "AU": ("+61", "AUD"),
}

#: Units of each currency per US dollar (fixed for the whole year; prices are in USD).
FX_PER_USD: dict[str, float] = {
    "USD": 1.0,
    "EUR": 0.92,
    "GBP": 0.79,
    "CHF": 0.88,
    "PLN": 4.0,
    "CZK": 23.2,
    "CAD": 1.36,
    "INR": 83.2,
    "SGD": 1.34,
    "AUD": 1.52,
}

#: (city, country, region, relative weight)
_PLACES: tuple[tuple[str, str, str, float], ...] = (
    ("London", "GB", "eu-west", 5.0),
    ("Manchester", "GB", "eu-west", 2.0),
    ("Edinburgh", "GB", "eu-west", 1.2),
    ("Dublin", "IE", "eu-west", 1.5),
    ("Paris", "FR", "eu-west", 3.0),
    ("Lyon", "FR", "eu-west", 1.0),
    ("Amsterdam", "NL", "eu-west", 2.0),
    ("Madrid", "ES", "eu-west", 2.0),
    ("Lisbon", "PT", "eu-west", 1.0),
    ("Berlin", "DE", "eu-central", 3.0),
    ("Munich", "DE", "eu-central", 2.5),
    ("Hamburg", "DE", "eu-central", 1.5),
    ("Vienna", "AT", "eu-central", 1.5),
    ("Zurich", "CH", "eu-central", 1.5),
    ("Warsaw", "PL", "eu-central", 1.5),
    ("Prague", "CZ", "eu-central", 1.0),
    ("New York", "US", "us-east", 5.0),
    ("Boston", "US", "us-east", 2.0),
    ("Atlanta", "US", "us-east", 2.0),
    ("Chicago", "US", "us-east", 3.0),
    ("Toronto", "CA", "us-east", 2.5),
    ("Montreal", "CA", "us-east", 1.5),
    ("Seattle", "US", "us-west", 3.0),
    ("Denver", "US", "us-west", 2.5),
    ("San Francisco", "US", "us-west", 2.5),
    ("Los Angeles", "US", "us-west", 3.0),
    ("Vancouver", "CA", "us-west", 2.0),
    ("Salt Lake City", "US", "us-west", 1.5),
    ("Mumbai", "IN", "ap-south", 2.0),
    ("Bengaluru", "IN", "ap-south", 2.5),
    ("Delhi", "IN", "ap-south", 2.0),
    ("Singapore", "SG", "ap-southeast", 2.0),
    ("Sydney", "AU", "ap-southeast", 2.0),
    ("Melbourne", "AU", "ap-southeast", 1.5),
)

_FIRST = (
    "Anna",
    "Ben",
    "Chloe",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Karin",
    "Liam",
    "Maya",
    "Noah",
    "Olivia",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Umar",
    "Vera",
    "Wei",
    "Ximena",
    "Yara",
    "Zoe",
    "Aarav",
    "Priya",
    "Lukas",
    "Sofia",
    "Mateo",
    "Elena",
    "Jonas",
    "Amelie",
    "Kenji",
    "Aiko",
    "Omar",
    "Leila",
    "Tomasz",
    "Zuzana",
    "Carlos",
    "Ines",
    "Ravi",
    "Ananya",
    "Finn",
    "Nora",
    "Ethan",
    "Hannah",
)
_LAST = (
    "Smith",
    "Jones",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Bernard",
    "Dubois",
    "Schmidt",
    "Muller",
    "Schneider",
    "Fischer",
    "Weber",
    "Novak",
    "Kowalski",
    "Nowak",
    "Garcia",
    "Martinez",
    "Lopez",
    "Silva",
    "Santos",
    "Rossi",
    "Bianchi",
    "Jansen",
    "de Vries",
    "Murphy",
    "Kelly",
    "Patel",
    "Sharma",
    "Gupta",
    "Iyer",
    "Tan",
    "Lim",
    "Wong",
    "Nguyen",
    "Chen",
    "Sato",
    "Tanaka",
    "Johnson",
    "Williams",
    "Miller",
    "Davis",
    "Anderson",
    "Thomas",
    "Moore",
    "Clark",
    "Walker",
    "Young",
)
_STREETS = (
    "Maple",
    "Oak",
    "Harbour",
    "Station",
    "Mill",
    "Church",
    "Park",
    "Lake",
    "River",
    "Hill",
    "Cedar",
    "Elm",
    "Birch",
    "King",
    "Queen",
    "Market",
    "Garden",
    "Meadow",
    "Forest",
    "Bridge",
    "Willow",
    "Pine",
)
_SUFFIXES = ("Street", "Road", "Avenue", "Lane", "Way", "Drive", "Close", "Terrace")
_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")
_SEGMENTS = ("consumer", "premium", "business")
_SIGNUP_START = us_of("2021-01-01T00:00:00")
_DOB_REFERENCE = us_of("2024-07-01T00:00:00")


def _email_local(first: np.ndarray, last: np.ndarray, cid: np.ndarray, style: np.ndarray) -> np.ndarray:
    first = np.char.lower(first)
    last = np.char.replace(np.char.lower(last), " ", "")
    variants = (
        np.char.add(np.char.add(np.char.add(first, "."), last), cid),
        np.char.add(np.char.add(first.astype("U1"), last), cid),
        np.char.add(np.char.add(np.char.add(last, "_"), first), cid),
    )
    return np.select([style == 0, style == 1], variants[:2], variants[2])


def build_customers(rng: np.random.Generator, counts: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Generate the ``customers`` table.

    Ids follow signup order; the first customer signed up before the trading year so
    every order can find an eligible buyer.

    Args:
        rng: The ``customers`` family generator.
        counts: Row counts per table.

    Returns:
        ``{"customers": DataFrame}``.
    """
    n = counts["customers"]
    cid = np.arange(1, n + 1, dtype=np.int64)
    cid_str = cid.astype(str)

    # Signups accelerate over time (u ** 0.7 leans recent); ids follow signup order.
    signup = np.sort(_SIGNUP_START + (rng.random(n) ** 0.7 * (END - 1 - _SIGNUP_START)).astype(np.int64))
    signup[0] = min(signup[0], START - 30 * US_PER_DAY)

    first = np.array(_FIRST)[rng.integers(0, len(_FIRST), n)]
    last = np.array(_LAST)[rng.integers(0, len(_LAST), n)]
    full_name = np.char.add(np.char.add(first, " "), last)

    local = _email_local(first, last, cid_str, rng.integers(0, 3, n))
    email = np.char.add(np.char.add(local, "@"), np.array(_DOMAINS)[rng.integers(0, len(_DOMAINS), n)])

    weights = np.array([p[3] for p in _PLACES])
    place = rng.choice(len(_PLACES), size=n, p=weights / weights.sum())
    city = np.array([p[0] for p in _PLACES])[place]
    country = np.array([p[1] for p in _PLACES])[place]
    region = np.array([p[2] for p in _PLACES])[place]

    calling = np.array([COUNTRIES[p[1]][0] for p in _PLACES])[place]
    phone = join_words(
        calling,
        rng.integers(100, 1000, n).astype(str),
        np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7),
    )
    street = join_words(
        rng.integers(1, 251, n).astype(str),
        np.array(_STREETS)[rng.integers(0, len(_STREETS), n)],
        np.array(_SUFFIXES)[rng.integers(0, len(_SUFFIXES), n)],
    )

    age_days = (np.clip(rng.normal(41, 13, n), 18.2, 85) * 365.25).astype(np.int64)
    dob = (_DOB_REFERENCE // US_PER_DAY - age_days) * US_PER_DAY

    # Bijection of the id onto 0..10**8-1 keeps national ids unique.
    serial = (cid * 48_271 + int(rng.integers(0, 10**8))) % 10**8
    national_id = np.char.add(
        np.char.add(np.char.add("9", np.char.zfill((serial // 10**6).astype(str), 2)), "-"),
        np.char.add(
            np.char.add(np.char.zfill((serial // 10**4 % 100).astype(str), 2), "-"),
            np.char.zfill((serial % 10**4).astype(str), 4),
        ),
    )
    segment = np.array(_SEGMENTS)[rng.choice(3, size=n, p=[0.78, 0.17, 0.05])]
    opt_in = rng.random(n) < np.where(segment == "premium", 0.72, 0.55)

    df = conform(
        "customers",
        {
            "customer_id": cid,
            "full_name": full_name,
            "email": email,
            "phone": phone,
            "street_address": street,
            "city": city,
            "country": country,
            "region": region,
            "date_of_birth": dob,
            "national_id": national_id,
            "signup_ts": signup,
            "segment": segment,
            "marketing_opt_in": opt_in,
        },
    )
    logger.debug("customers: %d rows", len(df))
    return {"customers": df}
