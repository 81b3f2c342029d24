"""Synchronising petabyte-scale datasets between distant clusters: what the network allows.

The model (units: Gbit/s = 10^9 bit/s, TB = 10^12 bytes, MB = 10^6 bytes):

* one TCP stream never carries more than its window per round trip:
  ``window_cap = tcp_window_mb * 8 / rtt_ms`` Gbit/s;
* with packet loss ``p > 0``, the Mathis bound ``1.22 * mss * 8 / (rtt_s * sqrt(p))`` also caps it;
* ``streams`` parallel streams share the link, so the line rate is
  ``min(link_gbps, streams * min(window_cap, mathis_cap))`` and the goodput is that times
  ``protocol_efficiency``;
* bytes on the wire = stored bytes / ``compression_ratio`` (measure it: see
  :func:`measure_compression`); a full copy moves the whole dataset, an incremental sync
  ``change_rate`` of it;
* egress is billed on bytes on the wire.

When the windows are the bottleneck a bigger link does not help: :func:`min_link_gbps`
returns ``math.inf`` then (more streams, bigger windows or a closer site do help).

Default prices are illustrative 2025-01 list prices (:data:`PRICES_AS_OF`), not quotes.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from platform_kit.assessment._network_compression import (
    CODECS,
    FORMATS,
    compress_bytes,
    compression_summary,
    measure_compression,
    serialise_tables,
)
from platform_kit.assessment._network_inputs import PRICES_AS_OF, Appliance, NetworkPath, SyncJob
from platform_kit.errors import ConfigError

__all__ = [
    "CODECS",
    "FORMATS",
    "PRICES_AS_OF",
    "RTT_PRESETS_MS",
    "Appliance",
    "NetworkPath",
    "SyncJob",
    "appliance_plan",
    "compress_bytes",
    "compression_summary",
    "measure_compression",
    "min_link_gbps",
    "path_throughput",
    "plot_sync_days",
    "serialise_tables",
    "sync_grid",
    "transfer_seconds",
]

#: Typical round-trip times: same region, transatlantic, transpacific.
RTT_PRESETS_MS: dict[str, float] = {"intra-region": 10.0, "transatlantic": 80.0, "transpacific": 150.0}
_MATHIS_C = math.sqrt(1.5)  # ~1.22


def path_throughput(path: NetworkPath) -> dict[str, Any]:
    """Goodput of a path and what limits it.

    Returns:
        ``window_cap_gbps`` and ``loss_cap_gbps`` (per stream), ``line_gbps`` (all streams),
        ``goodput_gbps`` (after protocol efficiency) and ``bottleneck``
        (``"link"``, ``"window"`` or ``"loss"``).

    Introduced in: Lab 1 (assessment).
    """
    window_cap = path.tcp_window_mb * 8 / path.rtt_ms
    loss_cap = (
        math.inf
        if path.loss_rate == 0
        else _MATHIS_C * path.mss_bytes * 8 / (path.rtt_ms / 1000 * math.sqrt(path.loss_rate)) / 1e9
    )
    per_stream = min(window_cap, loss_cap)
    streams_cap = path.streams * per_stream
    line = min(path.link_gbps, streams_cap)
    bottleneck = "link" if path.link_gbps <= streams_cap else ("window" if window_cap <= loss_cap else "loss")
    return {
        "window_cap_gbps": window_cap,
        "loss_cap_gbps": loss_cap,
        "line_gbps": line,
        "goodput_gbps": line * path.protocol_efficiency,
        "bottleneck": bottleneck,
    }


def transfer_seconds(stored_tb: float, goodput_gbps: float, compression_ratio: float = 1.0) -> float:
    """Seconds to move ``stored_tb`` at ``goodput_gbps`` once compressed by ``compression_ratio``.

    Raises:
        ConfigError: Negative size or non-positive goodput or ratio.

    Introduced in: Lab 1 (assessment).
    """
    if stored_tb < 0 or goodput_gbps <= 0 or compression_ratio <= 0:
        raise ConfigError(
            f"cannot time a transfer of {stored_tb} TB at {goodput_gbps} Gbit/s "
            f"with compression ratio {compression_ratio}",
            fix="use a size >= 0 and a positive goodput and compression ratio",
        )
    return stored_tb * 1e12 / compression_ratio * 8 / (goodput_gbps * 1e9)


def min_link_gbps(
    dataset_tb: float,
    window_hours: float,
    rtt_ms: float,
    streams: int,
    tcp_window_mb: float,
    compression_ratio: float,
    change_rate: float,
    *,
    protocol_efficiency: float = 0.95,
    loss_rate: float = 0.0,
    mss_bytes: int = 1460,
) -> float:
    """Smallest link (Gbit/s) that finishes an incremental sync within the replication window.

    Needed goodput ``g = dataset_tb * change_rate / compression_ratio * 8000 / (window_hours * 3600)``
    Gbit/s. The link must carry ``g / protocol_efficiency``; the streams can carry at most
    ``streams * min(window_cap, loss_cap) * protocol_efficiency`` whatever the link.

    Returns:
        The link in Gbit/s, ``0.0`` when nothing changes, or ``math.inf`` when the TCP windows
        (or loss) cap the streams below the need, so no link is fast enough.

    Raises:
        ConfigError: A value out of range (zero RTT, negative size, no streams...).

    Introduced in: Lab 1 (assessment).
    """
    if not (math.isfinite(window_hours) and window_hours > 0):
        raise ConfigError(
            f"window_hours must be a positive number, got {window_hours!r}",
            fix="give the replication window in hours, e.g. 6",
        )
    job = SyncJob(dataset_tb=dataset_tb, change_rate=change_rate, compression_ratio=compression_ratio)
    path = NetworkPath(
        link_gbps=1.0,
        rtt_ms=rtt_ms,
        streams=streams,
        tcp_window_mb=tcp_window_mb,
        loss_rate=loss_rate,
        mss_bytes=mss_bytes,
        protocol_efficiency=protocol_efficiency,
    )
    needed = job.dataset_tb * job.change_rate / job.compression_ratio * 8000 / (window_hours * 3600)
    if needed == 0:
        return 0.0
    limits = path_throughput(path)
    ceiling = (
        path.streams * min(limits["window_cap_gbps"], limits["loss_cap_gbps"]) * path.protocol_efficiency
    )
    if needed > ceiling * (1 + 1e-12):
        return math.inf
    return needed / path.protocol_efficiency


def sync_grid(
    job: SyncJob,
    link_speeds: Sequence[float],
    rtts_ms: Sequence[float],
    streams: Sequence[int] = (16,),
    *,
    tcp_window_mb: float = 16.0,
    loss_rate: float = 0.0,
    protocol_efficiency: float = 0.95,
) -> pd.DataFrame:
    """Full-copy days, incremental hours and egress cost for every link x RTT x streams.

    Returns:
        Tidy rows ``link_gbps, rtt_ms, streams, goodput_gbps, bottleneck, full_copy_days,
        incremental_hours, full_copy_egress_usd, incremental_egress_usd``.

    Introduced in: Lab 1 (assessment).
    """
    if not link_speeds or not rtts_ms or not streams:
        raise ConfigError(
            "sync_grid needs at least one link speed, RTT and stream count",
            fix="e.g. link_speeds=[1, 10, 40, 100], rtts_ms=[10, 80, 150], streams=[16]",
        )
    wire_gb = job.dataset_tb * 1000 / job.compression_ratio
    rows = []
    for link in link_speeds:
        for rtt in rtts_ms:
            for n in streams:
                path = NetworkPath(
                    link_gbps=link,
                    rtt_ms=rtt,
                    streams=n,
                    tcp_window_mb=tcp_window_mb,
                    loss_rate=loss_rate,
                    protocol_efficiency=protocol_efficiency,
                )
                limits = path_throughput(path)
                full_s = transfer_seconds(job.dataset_tb, limits["goodput_gbps"], job.compression_ratio)
                rows.append(
                    {
                        "link_gbps": float(link),
                        "rtt_ms": float(rtt),
                        "streams": int(n),
                        "goodput_gbps": limits["goodput_gbps"],
                        "bottleneck": limits["bottleneck"],
                        "full_copy_days": full_s / 86400,
                        "incremental_hours": full_s * job.change_rate / 3600,
                        "full_copy_egress_usd": wire_gb * job.egress_usd_per_gb,
                        "incremental_egress_usd": wire_gb * job.change_rate * job.egress_usd_per_gb,
                    }
                )
    return pd.DataFrame(rows)


def appliance_plan(dataset_tb: float, appliance: Appliance | None = None) -> dict[str, float]:
    """Days and fees to ship ``dataset_tb`` on transfer appliances.

    Devices are loaded ``parallel_devices`` at a time; batches ship as they fill, so the
    last one lands after ``batches * load_days + shipping + load_days`` (its copy off the
    device at the destination).

    Returns:
        ``devices, batches, load_days, days_min, days_max, fee_usd``.

    Introduced in: Lab 1 (assessment).
    """
    appliance = appliance or Appliance()
    if not (math.isfinite(dataset_tb) and dataset_tb > 0):
        raise ConfigError(
            f"dataset_tb must be a positive number, got {dataset_tb!r}", fix="give the size in TB"
        )
    devices = math.ceil(dataset_tb / appliance.capacity_tb)
    batches = math.ceil(devices / appliance.parallel_devices)
    per_device_tb = min(appliance.capacity_tb, dataset_tb)
    load_days = per_device_tb * 8000 / appliance.load_gbps / 86400
    base = batches * load_days + load_days
    return {
        "devices": float(devices),
        "batches": float(batches),
        "load_days": load_days,
        "days_min": base + appliance.shipping_days_min,
        "days_max": base + appliance.shipping_days_max,
        "fee_usd": devices * appliance.fee_usd_per_device,
    }


def plot_sync_days(grid: pd.DataFrame, appliance: dict[str, float] | None = None, ax: Any = None) -> Any:
    """Log-log days of a full copy vs link speed, a line per RTT and streams, the appliance as a band.

    Returns:
        The matplotlib Axes.

    Introduced in: Lab 1 (assessment).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4))
    for (rtt, n), group in grid.groupby(["rtt_ms", "streams"]):
        group = group.sort_values("link_gbps")
        ax.plot(group["link_gbps"], group["full_copy_days"], marker="o", label=f"RTT {rtt:g} ms, {n} streams")
    if appliance is not None:
        ax.axhspan(
            appliance["days_min"],
            appliance["days_max"],
            color="orange",
            alpha=0.25,
            label=f"appliances ({appliance['devices']:.0f} devices)",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("link speed (Gbit/s)")
    ax.set_ylabel("full copy (days)")
    ax.set_title("Full copy time vs link speed: flat lines are window-bound")
    ax.legend(fontsize=8)
    return ax
