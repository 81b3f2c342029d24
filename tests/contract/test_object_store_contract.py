"""Contract of the object_store kind: every backend must pass all of these."""

from __future__ import annotations

import uuid

import pandas as pd
import pyarrow.dataset as ds
import pytest

from tests.contract._creators import PROFILES, started_service

pytestmark = pytest.mark.contract


@pytest.fixture(params=[*PROFILES, "local_folders"])
def store(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return started_service(request, "object_store")


def test_store_buckets_exist_after_start(store) -> None:  # type: ignore[no-untyped-def]
    fs = store.filesystem()
    for bucket in store.buckets:
        assert fs.exists(store.uri(bucket)), bucket


def test_store_bytes_round_trip_and_listing(store) -> None:  # type: ignore[no-untyped-def]
    fs = store.filesystem()
    prefix = store.uri("lake", f"contract/{uuid.uuid4().hex}")
    fs.pipe(f"{prefix}/a.txt", b"alpha")
    fs.pipe(f"{prefix}/b.txt", b"beta")
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(prefix))
    assert names == ["a.txt", "b.txt"]
    assert fs.cat(f"{prefix}/b.txt") == b"beta"
    fs.rm(f"{prefix}/a.txt")
    assert not fs.exists(f"{prefix}/a.txt")


def test_store_parquet_round_trip_keeps_microsecond_timestamps(store) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({
        "id": [1, 2, 3],
        "ts": pd.to_datetime(["2026-01-01 00:00:00.000001", "2026-01-02 00:00:00.000000", "2026-01-03 00:00:00.000000"]).astype("datetime64[us]"),
        "region": ["eu", "us", "eu"],
    })
    uri = store.write_parquet(frame, "lake", f"contract/{uuid.uuid4().hex}/t.parquet")
    pd.testing.assert_frame_equal(store.read_parquet(uri), frame)
    # the uri also works with plain pandas + storage_options
    pd.testing.assert_frame_equal(pd.read_parquet(uri, storage_options=store.storage_options()), frame)


def test_store_arrow_dataset_reads_partitioned_data(store) -> None:  # type: ignore[no-untyped-def]
    import pyarrow as pa

    base = store.uri("lake", f"contract/{uuid.uuid4().hex}/ds")
    table = pa.table({"region": ["eu", "us", "eu", "ap"], "amount": [1.0, 2.0, 3.0, 4.0]})
    fs = store.arrow_filesystem()
    ds.write_dataset(table, store.strip_protocol(base), filesystem=fs, format="parquet",
                     partitioning=["region"], partitioning_flavor="hive")
    dataset = ds.dataset(store.strip_protocol(base), filesystem=fs, format="parquet", partitioning="hive")
    eu = dataset.to_table(filter=ds.field("region") == "eu").to_pandas()
    assert sorted(eu["amount"]) == [1.0, 3.0]


def test_store_missing_object_raises_file_not_found(store) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FileNotFoundError):
        store.filesystem().cat(store.uri("lake", f"contract/{uuid.uuid4().hex}/nope"))


def test_store_data_survives_restart(store) -> None:  # type: ignore[no-untyped-def]
    if not hasattr(store, "restart"):
        pytest.skip(f"{store.config.type} is not managed by the workbench; restart is not ours to test")
    uri = store.uri("lake", f"contract/{uuid.uuid4().hex}/keep.txt")
    store.filesystem().pipe(uri, b"durable")
    store.restart()
    assert store.filesystem().cat(uri) == b"durable"
