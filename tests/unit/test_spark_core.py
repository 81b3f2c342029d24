"""Pure tier of Lab 3's shared Spark pieces: cluster state, layouts' executor counts, metrics, data."""

from __future__ import annotations

import pandas as pd
import pytest

from platform_kit import Workbench
from platform_kit.errors import InputError
from platform_kit.services.spark_cluster import ClusterState
from platform_kit.spark._session import _expected_executors
from platform_kit.spark.data import replicate
from platform_kit.spark.monitor import JobMetrics, StageMetrics, _millis


def _stage(stage_id: int, *, tasks: int = 4, run: float = 100.0, median: float = 10.0, longest: float = 10.0,
           shuffle: int = 0) -> StageMetrics:
    return StageMetrics(stage_id, 0, f"s{stage_id}", "COMPLETE", tasks, run, run, run / 2, 1.0, 0.0, 0.0, 100, 10, 0,
                        shuffle, 0, 0.0, shuffle, 0, 0, 0, median, longest)


def test_cluster_state_from_json_counts_only_alive_workers() -> None:
    doc = {"url": "spark://127.0.0.1:7077", "status": "ALIVE", "aliveworkers": 1, "cores": 2, "coresused": 1,
           "memory": 2048, "memoryused": 512, "activeapps": [{"id": "app-1"}],
           "workers": [{"id": "w1", "state": "ALIVE"}, {"id": "w2", "state": "DEAD"}]}
    state = ClusterState.from_json(doc)
    assert (state.alive_workers, state.cores, state.active_apps) == (1, 2, 1)
    assert [w["id"] for w in state.workers] == ["w1"]


def test_cluster_state_from_json_tolerates_missing_fields() -> None:
    state = ClusterState.from_json({})
    assert state.status == "?" and state.alive_workers == 0 and state.workers == ()


@pytest.mark.parametrize(("conf", "expected"), [
    ({}, -1),  # one executor per worker: the master decides
    ({"spark.executor.cores": "1"}, 4),
    ({"spark.executor.cores": "2"}, 2),
    ({"spark.executor.cores": "1", "spark.cores.max": "2"}, 2),
    ({"spark.dynamicAllocation.enabled": "true", "spark.dynamicAllocation.initialExecutors": "1"}, 1),
    ({"spark.dynamicAllocation.enabled": "true"}, 0),
])
def test_expected_executors_follows_the_layout(conf: dict[str, str], expected: int) -> None:
    assert _expected_executors(4, conf) == expected


def test_stage_skew_ratio_is_max_over_median() -> None:
    assert _stage(1, median=10, longest=80).skew_ratio == 8
    assert _stage(2, median=0, longest=0).skew_ratio == 1.0


def test_job_metrics_sum_stages_and_ignore_single_task_skew() -> None:
    job = JobMetrics("j", 1.5, (_stage(1, shuffle=1000, median=10, longest=50), _stage(2, tasks=1, median=1, longest=90)))
    assert job.task_ms == 200 and job.shuffle_bytes == 1000
    assert job.max_skew_ratio == 5  # a one-task stage has no skew to speak of
    row = job.summary()
    assert row["stages"] == 2 and row["tasks"] == 5 and row["shuffle_mb"] == 0.001


def test_millis_parses_rest_api_timestamps() -> None:
    assert _millis("1970-01-01T00:00:01.500GMT") == 1500.0
    assert _millis(None) == 0.0


def test_replicate_offsets_integer_and_string_ids_per_copy() -> None:
    frame = pd.DataFrame({"order_id": [1, 2, 3], "customer_id": [7, 7, 8]})
    out = replicate(frame, "orders", 3)
    assert len(out) == 9 and out["order_id"].is_unique
    assert out["customer_id"].value_counts().to_dict() == {7: 6, 8: 3}  # distribution kept
    clicks = pd.DataFrame({"event_id": ["a", "b"], "session_id": ["s", "s"], "customer_id": [1, 2]})
    out = replicate(clicks, "clickstream", 2)
    assert out["event_id"].is_unique and set(out["session_id"]) == {"s-c0", "s-c1"}


def test_replicate_rejects_non_positive_copies() -> None:
    with pytest.raises(InputError, match="copies must be >= 1"):
        replicate(pd.DataFrame({"order_id": [1]}), "orders", 0)


def test_up_without_names_leaves_on_demand_cluster_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    workbench = Workbench("embedded")
    started: list[str] = []
    for kind in ("object_store", "broker", "schema_registry", "postgres", "spark_cluster"):
        service = workbench.service(kind)
        monkeypatch.setattr(service, "start", lambda *, owned=True, kind=kind: started.append(kind))
        monkeypatch.setattr(service, "status", lambda: None)
    workbench.up()
    assert "spark_cluster" not in started and "broker" in started
    workbench.up(["spark_cluster"])
    assert started[-1] == "spark_cluster"


def test_prepare_lab_data_writes_once_and_reuses(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    from platform_kit.spark.data import prepare_lab_data

    data = prepare_lab_data("tiny", 42, copies=2, root=tmp_path / "lab3")
    assert data.rows["clickstream"] == 2 * 5000 and data.rows["customers"] == 200
    table = pq.read_table(data.path("clickstream"))
    assert table.num_rows == data.rows["clickstream"]
    assert str(table.schema.field("event_ts").type) == "timestamp[us, tz=UTC]"  # Spark TIMESTAMP, not NTZ
    assert len(list((tmp_path / "lab3" / "clickstream").glob("*.parquet"))) == 8
    again = prepare_lab_data("tiny", 42, copies=2, root=tmp_path / "lab3")
    assert again.rows == data.rows and again.bytes == data.bytes
    with pytest.raises(InputError, match="unknown lab table"):
        data.path("invoices")
