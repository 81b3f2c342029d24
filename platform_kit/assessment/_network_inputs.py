"""Inputs of the cross-region sync model: a network path, a sync job, a transfer appliance.

Frozen pydantic models with ``extra="forbid"``; a bad value raises
:class:`~platform_kit.errors.ConfigError` naming the field, the value and the fix.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations


from pydantic import Field, model_validator

from platform_kit.assessment._inputs import StrictInputs

__all__ = ["PRICES_AS_OF", "Appliance", "NetworkPath", "SyncJob"]

#: Date of the illustrative default prices (list prices seen then, not a quote).
PRICES_AS_OF = "2025-01"


class _Inputs(StrictInputs):
    """Strict, frozen base of this module's inputs."""

    help_module = "platform_kit.assessment.network"


class NetworkPath(_Inputs):
    """A path between two clusters and how the sync tool uses it.

    Attributes:
        link_gbps: Link capacity available to the sync (Gbit/s, 10^9 bits).
        rtt_ms: Round-trip time (10 intra-region, ~80 transatlantic, ~150 transpacific).
        streams: Parallel TCP streams (e.g. ``distcp`` mappers, ``rclone --transfers``).
        tcp_window_mb: Largest TCP window per stream in MB (10^6 bytes); a stream never
            carries more than ``window / RTT``.
        loss_rate: Packet loss probability; above 0 the Mathis bound
            ``1.22 * MSS / (RTT * sqrt(loss))`` also caps each stream.
        mss_bytes: TCP maximum segment size.
        protocol_efficiency: Goodput over line rate (headers, TLS, retransmits): 0.95 default.
    """

    link_gbps: float = Field(gt=0, le=100_000)
    rtt_ms: float = Field(gt=0, le=2_000)
    streams: int = Field(1, ge=1, le=100_000)
    tcp_window_mb: float = Field(16.0, gt=0, le=4_096)
    loss_rate: float = Field(0.0, ge=0, lt=1)
    mss_bytes: int = Field(1460, ge=500, le=9_000)
    protocol_efficiency: float = Field(0.95, gt=0, le=1)


class SyncJob(_Inputs):
    """What is synchronised.

    Attributes:
        dataset_tb: Dataset size in TB (10^12 bytes) as stored.
        change_rate: Fraction of the dataset changed between two incremental syncs (0-1).
        compression_ratio: Stored bytes over bytes on the wire (1.0: no gain; measured).
        egress_usd_per_gb: Price per GB leaving the source (illustrative 0.02 inter-region,
            0.09 to the internet; 2025-01 list prices).
    """

    dataset_tb: float = Field(gt=0, le=1e6)
    change_rate: float = Field(0.02, ge=0, le=1)
    compression_ratio: float = Field(1.0, gt=0.1, le=1_000)
    egress_usd_per_gb: float = Field(0.02, ge=0, le=10)


class Appliance(_Inputs):
    """A physical transfer appliance (illustrative, modelled on 80 TB rugged devices, 2025-01).

    Attributes:
        capacity_tb: Usable TB per device.
        fee_usd_per_device: Service fee per device and job.
        load_gbps: Copy rate onto (and off) one device.
        parallel_devices: Devices loaded at the same time.
        shipping_days_min: Best-case door-to-door shipping.
        shipping_days_max: Worst-case shipping (customs, handling).
    """

    capacity_tb: float = Field(80.0, gt=0, le=10_000)
    fee_usd_per_device: float = Field(300.0, ge=0, le=1e6)
    load_gbps: float = Field(8.0, gt=0, le=10_000)
    parallel_devices: int = Field(10, ge=1, le=10_000)
    shipping_days_min: float = Field(3.0, ge=0, le=365)
    shipping_days_max: float = Field(7.0, ge=0, le=365)

    @model_validator(mode="after")
    def _check(self) -> Appliance:
        if self.shipping_days_max < self.shipping_days_min:
            raise ValueError("shipping_days_max must be >= shipping_days_min")
        return self
