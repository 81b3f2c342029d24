"""Cross-region sync model (Lab 1, section 4): TCP limits, transfer time, appliances, compression."""

from __future__ import annotations

import io
import itertools
import math

import pytest

from platform_kit.assessment import network
from platform_kit.assessment.network import (
    Appliance,
    NetworkPath,
    SyncJob,
    min_link_gbps,
    path_throughput,
    sync_grid,
    transfer_seconds,
)
from platform_kit.datasets import generate_company
from platform_kit.errors import ConfigError
from platform_kit.grading import check


# --- pure formulas ------------------------------------------------------------------------
def test_window_bound_stream_by_hand() -> None:
    # 16 MB window over 80 ms: 16e6 * 8 / 0.08 = 1.6 Gbit/s per stream; 4 streams = 6.4 < 10 Gbit/s link
    limits = path_throughput(NetworkPath(link_gbps=10, rtt_ms=80, streams=4, tcp_window_mb=16))
    assert limits["window_cap_gbps"] == pytest.approx(1.6)
    assert limits["line_gbps"] == pytest.approx(6.4)
    assert limits["goodput_gbps"] == pytest.approx(6.4 * 0.95)
    assert limits["bottleneck"] == "window"


def test_link_bound_when_streams_can_fill_it() -> None:
    limits = path_throughput(NetworkPath(link_gbps=10, rtt_ms=10, streams=16, tcp_window_mb=16))
    assert limits["bottleneck"] == "link"
    assert limits["goodput_gbps"] == pytest.approx(9.5)


def test_mathis_loss_cap_by_hand() -> None:
    # 1.2247 * 1460 B * 8 / (0.1 s * sqrt(1e-4)) = 14.3 Mbit/s per stream
    limits = path_throughput(
        NetworkPath(link_gbps=10, rtt_ms=100, streams=10, tcp_window_mb=64, loss_rate=1e-4)
    )
    assert limits["loss_cap_gbps"] == pytest.approx(math.sqrt(1.5) * 1460 * 8 / (0.1 * 0.01) / 1e9)
    assert limits["bottleneck"] == "loss"
    assert limits["line_gbps"] == pytest.approx(10 * limits["loss_cap_gbps"])


def test_transfer_seconds_by_hand() -> None:
    # 1 TB at 8 Gbit/s = 1000 s; compressed 2x = 500 s
    assert transfer_seconds(1, 8) == pytest.approx(1000)
    assert transfer_seconds(1, 8, compression_ratio=2) == pytest.approx(500)
    assert transfer_seconds(0, 8) == 0


def test_min_link_by_hand() -> None:
    # 2000 TB * 2% / 1.0 = 40 TB = 320,000 Gbit in 8 h = 28,800 s -> 11.11 Gbit/s goodput -> 11.70 link
    # windows: 32 * 16 MB * 8 / 80 ms * 0.95 = 48.6 Gbit/s: enough
    got = min_link_gbps(2000, 8, 80, 32, 16, 1.0, 0.02)
    assert got == pytest.approx(320_000 / 28_800 / 0.95)


def test_min_link_is_infinite_when_windows_bound() -> None:
    # 4 streams * 16 MB * 8 / 150 ms = 3.41 Gbit/s, below the 11.11 needed: no link helps
    assert math.isinf(min_link_gbps(2000, 8, 150, 4, 16, 1.0, 0.02))
    assert min_link_gbps(2000, 8, 150, 4, 16, 1.0, 0.0) == 0.0
    # more streams or compression bring it back
    assert math.isfinite(min_link_gbps(2000, 8, 150, 16, 16, 1.0, 0.02))
    assert math.isfinite(min_link_gbps(2000, 8, 150, 4, 16, 4.0, 0.02))


def test_more_bandwidth_is_never_slower_and_window_bound_is_flat() -> None:
    job = SyncJob(dataset_tb=1000)
    grid = sync_grid(job, [1, 10, 40, 100, 400], [10, 80, 150], [8])
    for _, group in grid.groupby("rtt_ms"):
        days = group.sort_values("link_gbps")["full_copy_days"].to_numpy()
        assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(days))
    far = grid[(grid["rtt_ms"] == 150)].set_index("link_gbps")
    assert far.loc[100, "bottleneck"] == "window"
    assert far.loc[100, "full_copy_days"] == pytest.approx(far.loc[400, "full_copy_days"])


def test_longer_rtt_never_faster() -> None:
    grid = sync_grid(SyncJob(dataset_tb=500), [100], [10, 80, 150], [16])
    days = grid.sort_values("rtt_ms")["full_copy_days"].to_numpy()
    assert days[0] <= days[1] <= days[2]


def test_egress_cost_by_hand() -> None:
    job = SyncJob(dataset_tb=1000, change_rate=0.01, compression_ratio=2, egress_usd_per_gb=0.02)
    row = sync_grid(job, [10], [80]).iloc[0]
    assert row["full_copy_egress_usd"] == pytest.approx(1000 * 1000 / 2 * 0.02)  # 10,000 USD
    assert row["incremental_egress_usd"] == pytest.approx(100)


def test_appliance_plan_by_hand() -> None:
    plan = network.appliance_plan(
        1000,
        Appliance(
            capacity_tb=100,
            parallel_devices=5,
            load_gbps=8,
            shipping_days_min=2,
            shipping_days_max=6,
            fee_usd_per_device=300,
        ),
    )
    # 10 devices, 2 batches; one device: 100 TB * 8000 / 8 Gbit/s = 100,000 s = 1.157 days
    load = 100_000 / 86400
    assert plan["devices"] == 10 and plan["batches"] == 2
    assert plan["days_min"] == pytest.approx(3 * load + 2)
    assert plan["days_max"] == pytest.approx(3 * load + 6)
    assert plan["fee_usd"] == 3000


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"link_gbps": 10, "rtt_ms": 0}, "rtt_ms"),
        ({"link_gbps": -1, "rtt_ms": 10}, "link_gbps"),
        ({"link_gbps": 10, "rtt_ms": 10, "streams": 0}, "streams"),
        ({"link_gbps": 10, "rtt_ms": 10, "loss_rate": 1.0}, "loss_rate"),
        ({"link_gbps": 10, "rtt_ms": 10, "protocol_efficiency": 1.5}, "protocol_efficiency"),
        ({"link_gbps": 10, "rtt_ms": 10, "mtu": 9000}, "mtu"),
        ({"link_gbps": float("inf"), "rtt_ms": 10}, "link_gbps"),
    ],
)
def test_bad_path_is_a_clear_config_error(kwargs: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as info:
        NetworkPath(**kwargs)
    assert info.value.fix


def test_bad_sync_inputs() -> None:
    with pytest.raises(ConfigError, match="dataset_tb"):
        SyncJob(dataset_tb=-5)
    with pytest.raises(ConfigError, match="change_rate"):
        SyncJob(dataset_tb=5, change_rate=1.5)
    with pytest.raises(ConfigError, match="rtt_ms"):
        min_link_gbps(100, 4, 0, 4, 16, 1.0, 0.01)
    with pytest.raises(ConfigError, match="window_hours"):
        min_link_gbps(100, 0, 80, 4, 16, 1.0, 0.01)
    with pytest.raises(ConfigError, match="shipping_days_max"):
        Appliance(shipping_days_min=9, shipping_days_max=3)
    with pytest.raises(ConfigError, match="positive"):
        transfer_seconds(1, 0)
    with pytest.raises(ConfigError, match="at least one"):
        sync_grid(SyncJob(dataset_tb=1), [], [10])
    with pytest.raises(ConfigError, match="unknown codec"):
        network.compress_bytes(b"abc", "lz77")


# --- engine: compression measured on the company's data --------------------------------------
def test_compression_measured_on_company_tables() -> None:
    company = generate_company("tiny", 42)
    payloads = network.serialise_tables({name: company[name] for name in ("orders", "clickstream")})
    measured = network.measure_compression(payloads)
    assert set(measured["codec"]) == {"gzip", "zstd"}
    assert set(measured["format"]) == {"csv", "parquet-snappy", "parquet-zstd"}
    assert (measured["compressed_bytes"] > 0).all()
    summary = network.compression_summary(measured).set_index(["format", "codec"])
    # raw CSV compresses well; Parquet is already encoded and compressed, so a second pass gains far less,
    # and least when it was written with zstd
    assert summary.loc[("csv", "zstd"), "ratio"] > 2
    assert summary.loc[("parquet-snappy", "zstd"), "ratio"] < summary.loc[("csv", "zstd"), "ratio"] / 1.5
    assert summary.loc[("parquet-zstd", "zstd"), "ratio"] < summary.loc[("parquet-snappy", "zstd"), "ratio"]
    assert (summary["wire_vs_csv"] > 1).all()
    # the snappy Parquet bytes are the lake's: what pk.store.write_parquet stores (pandas' default codec)
    buffer = io.BytesIO()
    company["orders"].to_parquet(buffer, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)
    assert payloads[("orders", "parquet-snappy")] == buffer.getvalue()


def test_compression_rejects_bad_requests() -> None:
    with pytest.raises(ConfigError, match="unknown formats"):
        network.serialise_tables({"t": generate_company("tiny", 42)["orders"]}, formats=["orc"])
    with pytest.raises(ConfigError, match="empty"):
        network.measure_compression({("t", "csv"): b""})
    with pytest.raises(ConfigError, match="codecs"):
        network.measure_compression({("t", "csv"): b"abc"}, codecs=["brotli"])


# --- exercise --------------------------------------------------------------------------------
def _reference(dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate):
    return min_link_gbps(
        dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate
    )


def _ignores_window(dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate):
    return dataset_tb * change_rate / compression_ratio * 8000 / (window_hours * 3600) / 0.95


def _no_efficiency(dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate):
    return (
        min_link_gbps(
            dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate
        )
        * 0.95
    )


def _ignores_compression(
    dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, compression_ratio, change_rate
):
    return min_link_gbps(dataset_tb, window_hours, rtt_ms, streams, tcp_window_mb, 1.0, change_rate)


SCENARIO = {
    "dataset_tb": 2000,
    "window_hours": 6,
    "rtt_ms": 80,
    "streams": 16,
    "tcp_window_mb": 16,
    "compression_ratio": 1.02,
    "change_rate": 0.02,
}


def test_exercise_accepts_the_reference() -> None:
    assert check("assessment.min_link", _reference, context={"scenario": SCENARIO}, show=False).passed


@pytest.mark.parametrize("wrong", [_ignores_window, _no_efficiency, _ignores_compression])
def test_exercise_rejects_wrong_models(wrong: object) -> None:
    result = check("assessment.min_link", wrong, context={"scenario": SCENARIO}, show=False)
    assert not result.passed and result.attempted


def test_exercise_says_why_a_window_bound_link_fails() -> None:
    result = check("assessment.min_link", _ignores_window, context={}, show=False)
    assert "math.inf" in result.message
