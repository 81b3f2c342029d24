"""Seeded synthetic data of one fictional company, Northwind Outfitters, for every lab.

Northwind Outfitters is an online outdoor-gear retailer selling in Europe, North America
and Asia-Pacific. Its tables (see :func:`describe_tables`) are generated with numpy,
vectorised, from one seed; each table family has its own child seed, so tables are
identical whether generated together or alone, and adding a table never changes the
others::

    from platform_kit.datasets import generate_company, verify_company
    company = generate_company("tiny", seed=42)          # dict: table -> DataFrame
    verify_company(company, "tiny", seed=42)             # checksums.json says it is intact

Conventions: ids are int64 (``event_id``/``session_id`` are strings), timestamps are
naive UTC ``datetime64[us]`` (Spark 4 cannot read nanosecond Parquet timestamps),
money has two decimals, nullable integer columns use pandas ``Int64``.

Quirks on purpose, for the labs:

* ``products``: ~6% near-duplicate listings, reworded; ground truth in ``duplicate_of``.
* ``clickstream``: rows in arrival (``ingest_ts``) order; delivery delay
  ``ingest_ts - event_ts`` is on time for 92% of events (log-normal, median 1.5 s),
  delayed 30 s-15 min for 6% and late 1-48 h for 2% (:data:`LATENESS`), so events
  arrive out of order; 1% of rows are exact duplicates (same ``event_id``).
* ``support_tickets``: free text leaking e-mails, phone numbers, names and national
  ids; ground-truth ``theme``.
* ``pipeline_metrics``: daily/weekly seasonality; OOM and timeout failures are
  preceded by runs of rising duration and memory.

Command line: ``python -m platform_kit.datasets --out DIR --scale S --seed N`` writes
Parquet files; ``python -m platform_kit.datasets --record-checksums`` re-records
``checksums.json`` after an intentional generator change.
"""

from platform_kit.datasets._api import generate_company, generate_table
from platform_kit.datasets._catalog import DUPLICATE_PRODUCT_FRACTION
from platform_kit.datasets._checksums import table_checksum, verify_company
from platform_kit.datasets._common import COMPANY
from platform_kit.datasets._events import DUPLICATE_EVENT_FRACTION, LATENESS
from platform_kit.datasets._io import write_company
from platform_kit.datasets._people import FX_PER_USD
from platform_kit.datasets._scales import SCALE_FACTORS, SCALES, Scale
from platform_kit.datasets._schema import PII_COLUMNS, TABLES, describe_tables

__all__ = [
    "COMPANY",
    "DUPLICATE_EVENT_FRACTION",
    "DUPLICATE_PRODUCT_FRACTION",
    "FX_PER_USD",
    "LATENESS",
    "PII_COLUMNS",
    "SCALES",
    "SCALE_FACTORS",
    "TABLES",
    "Scale",
    "describe_tables",
    "generate_company",
    "generate_table",
    "table_checksum",
    "verify_company",
    "write_company",
]
