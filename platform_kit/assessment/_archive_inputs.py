"""Inputs of the archive TCO model: workload, owned distributed file system, object storage tiers.

Frozen pydantic models with ``extra="forbid"``; a bad value raises
:class:`~platform_kit.errors.ConfigError` naming the field, the value and the fix. Default
prices are illustrative list prices seen in 2025-01 (AWS us-east-1 S3 tiers; hardware street
prices), not quotes.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations


from pydantic import Field

from platform_kit.assessment._inputs import StrictInputs

__all__ = ["DEFAULT_DFS", "DEFAULT_TIERS", "PRICES_AS_OF", "ArchiveWorkload", "DfsOption", "ObjectTier"]

#: Date of the illustrative default prices.
PRICES_AS_OF = "2025-01"


class _Inputs(StrictInputs):
    """Strict, frozen base of this module's inputs."""

    help_module = "platform_kit.assessment.archive"


class ArchiveWorkload(_Inputs):
    """What is archived and how it is read.

    Attributes:
        initial_tb: TB (10^12 bytes) archived at the start (loaded in year 1).
        growth_pct_per_year: Yearly growth of the archive in percent (compounded).
        years: Horizon N; years are numbered 1..N.
        avg_object_mb: Mean object (file) size in MB: sets the number of PUTs.
        gets_per_month: Read requests a month.
        retrieved_pct_per_month: Share of the archive read back each month, in percent.
    """

    initial_tb: float = Field(gt=0, le=1e7)
    growth_pct_per_year: float = Field(25.0, ge=0, le=500)
    years: int = Field(7, ge=1, le=30)
    avg_object_mb: float = Field(64.0, gt=0, le=5e6)
    gets_per_month: float = Field(1e6, ge=0, le=1e13)
    retrieved_pct_per_month: float = Field(1.0, ge=0, le=100)


class DfsOption(_Inputs):
    """A distributed file system on owned nodes (HDFS-like).

    The layout stores ``data_units + parity_units`` blocks per ``data_units`` of data:
    3-way replication is ``(1, 2)`` (overhead 3.0), Reed-Solomon RS-6-3 is ``(6, 3)`` (1.5).
    At least ``data_units + parity_units`` nodes are needed (one block per node).

    Attributes:
        name: Option label.
        data_units: Data blocks per stripe (1 for replication).
        parity_units: Extra copies or parity blocks per stripe.
        node_usd: Price of one storage node with its disks.
        disks_per_node: Disks per node.
        disk_tb: TB per disk.
        fill_ratio: Usable share of raw capacity (headroom for rebalancing and failures).
        power_colo_usd_per_node_month: Power, cooling, rack space per node.
        refresh_years: Nodes are replaced (bought again) after this many years.
        fte_base: Staff in FTE to run the cluster at all.
        fte_per_pb_raw: Extra FTE per PB of raw capacity.
        fte_usd_per_year: Loaded cost of one FTE.
    """

    name: str = Field(min_length=1, max_length=60)
    data_units: int = Field(ge=1, le=64)
    parity_units: int = Field(ge=0, le=64)
    node_usd: float = Field(25_000.0, ge=0, le=1e7)
    disks_per_node: int = Field(12, ge=1, le=1000)
    disk_tb: float = Field(20.0, gt=0, le=1000)
    fill_ratio: float = Field(0.8, gt=0, le=1)
    power_colo_usd_per_node_month: float = Field(400.0, ge=0, le=1e6)
    refresh_years: int = Field(5, ge=1, le=30)
    fte_base: float = Field(1.0, ge=0, le=1000)
    fte_per_pb_raw: float = Field(0.1, ge=0, le=1000)
    fte_usd_per_year: float = Field(150_000.0, ge=0, le=1e7)

    @property
    def overhead(self) -> float:
        """Raw bytes stored per byte of data."""
        return (self.data_units + self.parity_units) / self.data_units

    @property
    def min_nodes(self) -> int:
        """Fewest nodes that can hold one block of every stripe on a different node."""
        return self.data_units + self.parity_units


class ObjectTier(_Inputs):
    """An object storage class (illustrative list prices, AWS us-east-1, 2025-01).

    Attributes:
        name: Option label.
        storage_usd_per_gb_month: Capacity price.
        put_usd_per_1k: Price per 1,000 PUT/COPY/POST/LIST requests.
        get_usd_per_1k: Price per 1,000 GET requests.
        retrieval_usd_per_gb: Price per GB read back (0 for the standard tier).
        first_byte_latency: Time to first byte, for display (``"ms"``, ``"3-5 h"``...).
        ops_fte: Staff in FTE to run it; ``fte_usd_per_year`` its loaded cost.
    """

    name: str = Field(min_length=1, max_length=60)
    storage_usd_per_gb_month: float = Field(ge=0, le=10)
    put_usd_per_1k: float = Field(ge=0, le=100)
    get_usd_per_1k: float = Field(ge=0, le=100)
    retrieval_usd_per_gb: float = Field(0.0, ge=0, le=100)
    first_byte_latency: str = "ms"
    ops_fte: float = Field(0.1, ge=0, le=1000)
    fte_usd_per_year: float = Field(150_000.0, ge=0, le=1e7)


#: Two owned-cluster layouts: 3-way replication and Reed-Solomon 6+3 erasure coding.
DEFAULT_DFS: tuple[DfsOption, ...] = (
    DfsOption(name="dfs-rep3", data_units=1, parity_units=2),
    DfsOption(name="dfs-rs-6-3", data_units=6, parity_units=3),
)
#: Three S3 storage classes (Standard, Standard-IA, Glacier Flexible Retrieval), 2025-01 list prices.
DEFAULT_TIERS: tuple[ObjectTier, ...] = (
    ObjectTier(
        name="object-standard",
        storage_usd_per_gb_month=0.023,
        put_usd_per_1k=0.005,
        get_usd_per_1k=0.0004,
        retrieval_usd_per_gb=0.0,
        first_byte_latency="ms",
    ),
    ObjectTier(
        name="object-infrequent",
        storage_usd_per_gb_month=0.0125,
        put_usd_per_1k=0.01,
        get_usd_per_1k=0.001,
        retrieval_usd_per_gb=0.01,
        first_byte_latency="ms",
    ),
    ObjectTier(
        name="object-archive",
        storage_usd_per_gb_month=0.0036,
        put_usd_per_1k=0.03,
        get_usd_per_1k=0.0004,
        retrieval_usd_per_gb=0.01,
        first_byte_latency="3-5 h (restore first)",
    ),
)
