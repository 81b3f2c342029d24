"""Lab 3 section 1: executor layouts, what they held, the recommendation, the exercise's grader."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from platform_kit.errors import InputError
from platform_kit.grading import check
from platform_kit.spark import layouts
from platform_kit.spark.layouts import ClusterShape, ExecutorLayout, LayoutResult, LayoutRun
from platform_kit.spark.monitor import JobMetrics, StageMetrics

SHAPE = ClusterShape.uniform(2, 2, "2g", physical_cores=2)
T0 = 1_800_000_000.0


def stage(run_ms: float = 1000.0, cpu_ms: float = 500.0, gc_ms: float = 10.0, spill: int = 0, tasks: int = 4) -> StageMetrics:
    return StageMetrics(stage_id=1, attempt=0, name="collect", status="COMPLETE", num_tasks=tasks, duration_ms=run_ms,
                        executor_run_ms=run_ms, executor_cpu_ms=cpu_ms, gc_ms=gc_ms, result_serialization_ms=0.0,
                        deserialize_ms=0.0, input_bytes=0, input_records=0, output_bytes=0, shuffle_read_bytes=0,
                        shuffle_remote_bytes=0, shuffle_fetch_wait_ms=0.0, shuffle_write_bytes=1000,
                        memory_spilled_bytes=spill, disk_spilled_bytes=spill, peak_execution_memory=0,
                        task_ms_median=100.0, task_ms_max=150.0)


def fake_result(name: str, cores: int, walls: tuple[float, ...], *, layout: ExecutorLayout | None = None,
                task_ms: float = 2000.0, gc_ms: float = 10.0, spill: int = 0, mode: str = "cluster",
                app_start_s: float | None = 10.0, executors: int | None = None) -> LayoutResult:
    """A result as measure_layout would build it: ``executors`` spans of cores/executors cores each."""
    count = executors or max(1, cores // 2)
    spans = tuple(layouts.ExecutorSpan(str(i), cores // count, 434_000_000, T0 - 5) for i in range(count))
    runs, began = [], T0
    for wall in walls:
        metrics = JobMetrics(name, wall, (stage(task_ms, task_ms / 4, gc_ms, spill),))
        runs.append(LayoutRun(metrics, began, layouts.core_seconds(spans, began, began + wall), count, cores))
        began += wall + 1
    return LayoutResult(layout or ExecutorLayout(name=name), mode, app_start_s, tuple(runs), spans, count)


# --- parsing and validation ------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "mb"), [("512m", 512), ("1g", 1024), ("2G", 2048), (" 768M ", 768), ("1gb", 1024),
                                          (900, 900)])
def test_memory_strings(text: Any, mb: int) -> None:
    assert layouts.parse_memory_mb(text) == mb


@pytest.mark.parametrize("text", ["1.5g", "lots", "", "-1g", "12", True, 0, "1t"])
def test_bad_memory_strings(text: Any) -> None:
    with pytest.raises(InputError) as err:
        layouts.parse_memory_mb(text)
    assert err.value.fix


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"executor_cores": 0}, "executor_cores must be >= 1"),
    ({"executor_cores": 1.5}, "whole number"),
    ({"executor_cores": True}, "whole number"),
    ({"executor_memory": "256m"}, "minimum of 450"),
    ({"executor_memory": "1.5g"}, "whole number of MiB"),
    ({"memory_overhead": "big"}, "memory_overhead"),
    ({"executor_cores": 2, "cores_max": 1}, "no executor could start"),
    ({"dynamic_allocation": True}, "set executor_cores"),
    ({"dynamic_allocation": True, "executor_cores": 1, "shuffle_tracking": False}, "external shuffle service"),
    ({"dynamic_allocation": True, "executor_cores": 1, "min_executors": 2, "initial_executors": 1}, "below min"),
    ({"dynamic_allocation": True, "executor_cores": 1, "initial_executors": 3, "max_executors": 2}, "below min/initial"),
    ({"idle_timeout_s": "soon"}, "duration"),
    ({"idle_timeout_s": -1}, "positive"),
    ({"backlog_timeout_s": 0.5}, "whole seconds"),
    ({"idle_timeout_s": "500ms"}, "whole seconds"),
    ({"idle_timeout_s": 2.5}, "whole seconds"),
    ({"name": " "}, "non-empty name"),
    ({"dynamic_allocation": "yes"}, "True or False"),
])
def test_layout_validation(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(InputError) as err:
        ExecutorLayout(**kwargs)
    assert words in err.value.message
    assert err.value.fix


def test_to_conf_and_back() -> None:
    layout = ExecutorLayout(name="dyn", executor_cores=1, executor_memory="512m", memory_overhead="384m",
                            shuffle_partitions=8, dynamic_allocation=True, min_executors=1, max_executors=4,
                            idle_timeout_s="5s", shuffle_tracking_timeout_s=5)
    conf = layout.to_conf()
    assert conf["spark.executor.memory"] == "512m" and conf["spark.executor.memoryOverhead"] == "384m"
    assert conf["spark.dynamicAllocation.initialExecutors"] == "1"  # defaults to min_executors
    assert conf["spark.dynamicAllocation.executorIdleTimeout"] == "5s"
    assert ExecutorLayout(idle_timeout_s="2min").idle_timeout_s == 120
    assert conf["spark.dynamicAllocation.shuffleTracking.enabled"] == "true"
    assert ExecutorLayout.from_conf(conf, name="dyn").to_conf() == conf
    assert layouts.DEFAULT_LAYOUT.to_conf() == {}


def test_from_conf_rejects_what_is_not_a_layout() -> None:
    with pytest.raises(InputError) as err:
        ExecutorLayout.from_conf({"spark.driver.memory": "4g", "spark.executor.cores": "1"})
    assert "spark.driver.memory" in err.value.message
    with pytest.raises(InputError, match="whole number"):
        ExecutorLayout.from_conf({"spark.executor.cores": "two"})
    with pytest.raises(InputError, match="'true' or 'false'"):
        ExecutorLayout.from_conf({"spark.dynamicAllocation.enabled": "yes"})
    with pytest.raises(InputError, match="ExecutorLayout or a dict"):
        ExecutorLayout.coerce(["spark.executor.cores", "1"])


# --- fitting the cluster ---------------------------------------------------------------------------


def test_capacity_and_planned_cores() -> None:
    assert layouts.DEFAULT_LAYOUT.planned_cores(SHAPE) == 4 and layouts.DEFAULT_LAYOUT.planned_executors(SHAPE) == 2
    small = ExecutorLayout(name="small", executor_cores=1, executor_memory="512m")
    assert small.capacity(SHAPE) == 4 and small.planned_cores(SHAPE) == 4
    right = ExecutorLayout(name="right", executor_cores=1, executor_memory="1g", cores_max=2)
    assert right.planned_executors(SHAPE) == 2 and right.planned_cores(SHAPE) == 2
    fat = ExecutorLayout(name="fat", executor_cores=1, executor_memory="1600m")
    assert fat.capacity(SHAPE) == 2  # memory, not cores, limits it: one per worker
    mixed = ClusterShape((4, 2), (4096, 1024))
    assert small.capacity(mixed) == 4 + 2 and fat.capacity(mixed) == 2
    assert "2 workers x 2 cores x 2048 MiB (2 physical cores)" == SHAPE.describe()
    assert "4c/4096MiB" in mixed.describe()


@pytest.mark.parametrize(("kwargs", "words", "fix"), [
    ({"executor_cores": 3}, "largest worker offers 2 cores", "executor_cores <= 2"),
    ({"executor_memory": "2g"}, "2432 MiB but a worker offers 2048", "at most '1664m'"),
    ({"executor_memory": "1g", "memory_overhead": "1200m"}, "overhead", "memory_overhead"),
    ({"executor_cores": 1, "dynamic_allocation": True, "max_executors": 9}, "up to 9 executors", "<= 4"),
])
def test_layouts_that_do_not_fit(kwargs: dict[str, Any], words: str, fix: str) -> None:
    with pytest.raises(InputError) as err:
        ExecutorLayout(name="x", **kwargs).check_fits(SHAPE)
    assert words in err.value.message and fix in err.value.fix


def test_shape_from_master_state() -> None:
    state = SimpleNamespace(alive_workers=2, cores=4, memory_mb=4096, workers=(
        {"cores": 2, "memory": 2048, "state": "ALIVE"}, {"cores": 2, "memory": 2048, "state": "ALIVE"},
        {"cores": 8, "memory": 8192, "state": "DEAD"}))
    assert ClusterShape.from_state(state, 2) == SHAPE
    bare = SimpleNamespace(alive_workers=2, cores=4, memory_mb=4096, workers=())
    assert ClusterShape.from_state(bare).worker_cores == (2, 2)
    with pytest.raises(InputError):
        ClusterShape.uniform(0, 2, "2g")
    with pytest.raises(InputError):
        ClusterShape((2,), (1024, 1024))



def test_shape_from_workbench_without_a_cluster_reads_config_or_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from platform_kit.errors import ServiceError
    from platform_kit.services.spark_cluster import EmbeddedSparkClusterConfig, ExternalSparkClusterConfig

    class NoCluster:  # like Workbench: the spark_cluster property starts the cluster, and raises here
        def __init__(self, cfg: Any) -> None:
            self.cfg = cfg

        def service(self, name: str) -> Any:
            return SimpleNamespace(config=self.cfg)

        @property
        def spark_cluster(self) -> Any:
            raise ServiceError("Spark master UI at http://127.0.0.1:9 did not answer", fix="start it")

    workbench = NoCluster

    embedded = EmbeddedSparkClusterConfig(type="embedded", workers=3, worker_cores=1, worker_memory="1g")
    assert ClusterShape.from_workbench(workbench(embedded)).worker_cores == (1, 1, 1)
    external = ExternalSparkClusterConfig(type="external", master_url="spark://127.0.0.1:9", ui_url="http://127.0.0.1:9")
    shape = ClusterShape.from_workbench(workbench(external))
    assert shape.worker_cores == (2, 2) and shape.worker_memory_mb == (2048, 2048)

# --- what a layout held --------------------------------------------------------------------------


def test_spans_core_seconds_and_concurrency() -> None:
    docs = [{"id": "driver", "totalCores": 0, "maxMemory": 1, "addTime": "2027-01-15T08:00:00.000GMT"},
            {"id": "1", "totalCores": 1, "maxMemory": 5, "addTime": "2027-01-15T08:00:01.000GMT",
             "removeTime": "2027-01-15T08:00:05.000GMT", "removeReason": "idle"},
            {"id": "2", "totalCores": 2, "maxMemory": 5, "addTime": "2027-01-15T08:00:03.000GMT"},
            {"id": "3", "totalCores": 1, "maxMemory": 5}]  # no addTime yet: skipped
    spans = layouts.executor_spans(docs)
    assert [s.executor_id for s in spans] == ["1", "2"]
    start = spans[0].added
    assert layouts.core_seconds(spans, start, start + 6) == pytest.approx(4 * 1 + 4 * 2)
    from platform_kit.spark._layouts_run import concurrent

    assert concurrent(spans, start, start + 6) == (2, 3)
    local = layouts.executor_spans([{"id": "driver", "totalCores": 2, "maxMemory": 1,
                                     "addTime": "2027-01-15T08:00:00.000GMT"}])
    assert local[0].cores == 2  # local[*]: the driver runs the tasks
    with pytest.raises(InputError):
        layouts.core_seconds(spans, start + 1, start)
    assert layouts.utilisation(2.0, 8.0) == 0.25 and layouts.utilisation(1.0, 0.0) == 0.0
    with pytest.raises(InputError):
        layouts.utilisation(-1.0, 2.0)


def test_result_properties_and_timeline() -> None:
    result = fake_result("default", 4, (7.0, 1.2, 1.0), task_ms=2000)
    assert result.first_s == 7.0 and result.steady_s == 1.0 and result.warmup_s == pytest.approx(6.0)
    assert result.steady_core_s == pytest.approx(4.0)
    assert result.utilisation == pytest.approx(0.5)
    row = result.row()
    assert row["cores"] == 4 and row["core_s"] == 4.0 and row["utilisation"] == 0.5
    points = result.timeline(step_s=1.0)
    assert points[0] == (0.0, 2, 4) and len(points) >= 10


# --- judging and recommending ---------------------------------------------------------------------


def test_judge_layout() -> None:
    default = fake_result("default", 4, (7.0, 1.1, 1.0))
    half = fake_result("half", 2, (6.0, 1.1, 1.05), executors=2)
    assert layouts.judge_layout(default, half).passed
    slow = fake_result("one-core", 1, (9.0, 2.6, 2.7), executors=1)
    verdict = layouts.judge_layout(default, slow)
    assert not verdict.passed and "slower" in verdict.reason
    same = fake_result("same", 4, (7.0, 0.95, 0.9))
    verdict = layouts.judge_layout(default, same)
    assert not verdict.passed and "core-seconds" in verdict.reason
    local = fake_result("local", 2, (1.0, 0.5), mode="local")
    assert not layouts.judge_layout(default, local).passed
    with pytest.raises(InputError):
        layouts.judge_layout(fake_result("zero", 4, (0.0, 0.0)), half)


def test_recommend_layout_picks_fewest_core_seconds_within_noise() -> None:
    dyn = ExecutorLayout(name="dynamic", executor_cores=1, executor_memory="512m", dynamic_allocation=True,
                         min_executors=1, max_executors=4)
    results = [fake_result("default", 4, (7.0, 1.0, 1.0), app_start_s=None),
               fake_result("dynamic", 4, (9.0, 1.1), layout=dyn, executors=4, spill=5_000_000),
               fake_result("right", 2, (5.0, 1.1, 1.1), gc_ms=900)]
    rec = layouts.recommend_layout(results)
    assert rec.name == "right"
    text = str(rec)
    assert "dynamic allocation" in text and "spilled 5.0 MB" in text and "GC" in text
    assert list(rec.table.loc[rec.table["recommended"], "layout"]) == ["right"]
    slow = [results[0], fake_result("right", 2, (5.0, 3.0, 3.0))]
    assert layouts.recommend_layout(slow).name == "default"


@pytest.mark.parametrize(("results", "words"), [
    ([], "no layout results"),
    ([fake_result("a", 4, (1.0, 1.0)), fake_result("a", 2, (1.0, 1.0))], "unique"),
    ([fake_result("a", 4, (1.0, 1.0), mode="local")], "local mode"),
])
def test_recommend_layout_rejects(results: list[LayoutResult], words: str) -> None:
    with pytest.raises(InputError, match=words):
        layouts.recommend_layout(results)


def test_plot_layouts() -> None:
    import matplotlib

    matplotlib.use("Agg")
    fig = layouts.plot_layouts([fake_result("default", 4, (7.0, 1.0)), fake_result("right", 2, (5.0, 1.0))],
                               recommended="right")
    assert len(fig.axes) == 3
    with pytest.raises(InputError):
        layouts.plot_layouts([])


# --- the trial, the hand-off and the grader ---------------------------------------------------------


class FakeTrial(layouts.LayoutTrial):
    """Runs nothing: returns a fabricated result whose cores follow the layout."""

    def __init__(self, baseline: LayoutResult, wall: float = 1.05) -> None:
        super().__init__(workbench=None, job=lambda spark: None, baseline=baseline, shape=SHAPE)
        self.wall = wall
        self.executed: list[ExecutorLayout] = []

    def _execute(self, layout: ExecutorLayout) -> LayoutResult:
        self.executed.append(layout)
        cores = layout.planned_cores(SHAPE)
        return fake_result(layout.name, cores, (5.0, self.wall, self.wall), layout=layout,
                           executors=layout.planned_executors(SHAPE))


DEFAULT = fake_result("default", 4, (7.0, 1.0, 1.0), app_start_s=None)


def right_sized(shape: ClusterShape) -> ExecutorLayout:
    return ExecutorLayout(name="right-sized", executor_cores=1, executor_memory="1g",
                          cores_max=min(shape.cores // 2, shape.physical_cores or shape.cores))


def test_grader_accepts_a_right_sized_layout() -> None:
    trial = FakeTrial(DEFAULT)
    result = check("spark.beat_default_layout", right_sized, context={"trial": trial}, show=False)
    assert result.passed, result.message
    assert trial.verdict is not None and trial.verdict.passed
    conf_trial = FakeTrial(DEFAULT)
    as_conf = check("spark.beat_default_layout", lambda shape: {"spark.executor.cores": "2", "spark.cores.max": "2"},
                    context={"trial": conf_trial}, show=False)
    assert as_conf.passed and conf_trial.executed[0].name == "yours"


@pytest.mark.parametrize(("answer", "words"), [
    (lambda shape: layouts.DEFAULT_LAYOUT, "default layout itself"),
    (lambda shape: ExecutorLayout(name="greedy", executor_cores=1, executor_memory="512m"), "core-seconds"),
    (lambda shape: ExecutorLayout(name="huge", executor_cores=1, executor_memory="3g"), "cannot run on this cluster"),
    (lambda shape: {"spark.driver.memory": "8g"}, "not valid"),
    (lambda shape: None, "returned None"),
])
def test_grader_rejects_wrong_layouts(answer: Any, words: str) -> None:
    result = check("spark.beat_default_layout", answer, context={"trial": FakeTrial(DEFAULT)}, show=False)
    assert not result.passed and result.attempted
    assert words in result.message


def test_grader_rejects_a_slow_layout_and_stubs_count_as_not_attempted() -> None:
    slow = check("spark.beat_default_layout", right_sized, context={"trial": FakeTrial(DEFAULT, wall=2.6)}, show=False)
    assert not slow.passed and "slower" in slow.message
    costly = check("spark.beat_default_layout", right_sized, context={"trial": FakeTrial(DEFAULT, wall=1.9)}, show=False)
    assert not costly.passed and "core-seconds, needs <= 0.75x" in costly.message

    def stub(shape: ClusterShape) -> ExecutorLayout:
        raise NotImplementedError

    result = check("spark.beat_default_layout", stub, context={"trial": FakeTrial(DEFAULT)}, show=False)
    assert not result.passed and not result.attempted


def test_grader_refuses_local_mode() -> None:
    local = fake_result("default", 4, (7.0, 1.0, 1.0), mode="local")
    result = check("spark.beat_default_layout", right_sized, context={"trial": FakeTrial(local)}, show=False)
    assert not result.passed and "local mode" in result.message


def test_handoff_keeps_a_passing_static_layout_else_restarts_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform_kit.spark._layouts_advice as advice
    import platform_kit.spark._session as session_module

    started: list[str] = []
    conf_set: dict[str, str] = {}
    fake_spark = SimpleNamespace(conf=SimpleNamespace(set=lambda k, v: conf_set.__setitem__(k, v)))
    monkeypatch.setattr(session_module, "cluster_session",
                        lambda wb, conf=None, **kw: (started.append("default") or fake_spark, "default-target"))
    monkeypatch.setattr(advice, "quiet_active_session", lambda: None)
    workbench = SimpleNamespace(service=lambda name: SimpleNamespace(
        builder_conf=lambda: {"spark.sql.shuffle.partitions": "4"}))

    trial = FakeTrial(DEFAULT)
    trial.workbench = workbench
    assert trial.handoff()[1] == "default-target" and not trial.kept and "no layout" in trial.handoff_reason

    trial.run(right_sized(SHAPE))
    own = SimpleNamespace(conf=SimpleNamespace(set=lambda k, v: conf_set.__setitem__("own:" + k, v)))
    trial.result = LayoutResult(trial.result.layout, "cluster", 1.0, trial.result.runs, trial.result.spans, 2,
                                session=own, target="own-target")
    monkeypatch.setattr(advice, "_active", lambda session: session is own)
    assert trial.handoff() == (own, "own-target") and trial.kept
    assert conf_set["own:spark.sql.shuffle.partitions"] == "4"

    dyn = FakeTrial(DEFAULT)
    dyn.workbench = workbench
    dyn.run(ExecutorLayout(name="dyn", executor_cores=1, executor_memory="1g", dynamic_allocation=True,
                           min_executors=1, max_executors=2))
    dyn.verdict = layouts.Verdict(True, "forced", 0.5, 1.0)
    dyn.handoff()
    assert not dyn.kept and "dynamic allocation" in dyn.handoff_reason and started.count("default") == 2


def test_trial_rejects_a_layout_before_starting_anything() -> None:
    trial = FakeTrial(DEFAULT)
    with pytest.raises(InputError):
        trial.run(ExecutorLayout(name="x", executor_cores=4))
    assert trial.executed == [] and trial.result is None


# --- engine tier: the measured job on a local session -----------------------------------------------


@pytest.fixture(scope="module")
def local_spark() -> Any:
    import platform_kit

    return platform_kit.connect().spark


def test_layout_job_matches_pandas(local_spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    from platform_kit.spark import prepare_lab_data

    data = prepare_lab_data("tiny", 7, copies=2, root=tmp_path_factory.mktemp("lab3data"))
    began = time.perf_counter()
    rows = layouts.layout_job(data)(local_spark)
    assert time.perf_counter() - began < 60
    import pandas as pd

    clicks = pd.read_parquet(data.path("clickstream"))
    orders = pd.read_parquet(data.path("orders"))
    customers = pd.read_parquet(data.path("customers"))
    with_orders = set(orders["customer_id"]) & set(clicks["customer_id"])
    expected_sessions = clicks[clicks["customer_id"].isin(with_orders)].groupby("customer_id")["session_id"].nunique()
    merged = expected_sessions.rename("sessions").reset_index().merge(customers[["customer_id", "segment"]])
    got = pd.DataFrame([r.asDict() for r in rows]).groupby("segment")["sessions"].sum()
    assert got.to_dict() == merged.groupby("segment")["sessions"].sum().to_dict()
