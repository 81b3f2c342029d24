"""Lab 1 section 8: versioned baselines, regression flags, and the baseline_regressions exercise."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import pytest

from platform_kit.assessment import baselines as bl
from platform_kit.assessment.baselines import (
    BASELINE_FORMAT,
    LAYER_METRICS,
    Baseline,
    compare_to_baseline,
    infer_metric,
    layer_metrics,
    list_baseline_versions,
    load_baseline,
    plot_baseline_changes,
    record_baseline,
)
from platform_kit.assessment.sla import METRICS
from platform_kit.errors import ConfigError, CorruptStateError
from platform_kit.grading import check

METRICS_V1 = {"transport_p99_ms": 200.0, "produce_rps": 1000.0, "serving_p50_ms": 5.0}


# --- record / load --------------------------------------------------------------------------


def test_record_writes_incrementing_versions_with_host_units_and_directions(tmp_path: Path) -> None:
    first = record_baseline(
        "pipe", METRICS_V1, directory=tmp_path, profile="embedded", scale="tiny", meta={"batch_size": 100}
    )
    second = record_baseline("pipe", METRICS_V1 | {"produce_rps": 900.0}, directory=tmp_path)
    assert (first.name, second.name) == ("pipe-v1.json", "pipe-v2.json")
    document = json.loads(first.read_text())
    assert document["format"] == BASELINE_FORMAT and document["version"] == 1
    assert document["host"]["cpu_count"] == os.cpu_count() and document["host"]["python"]
    assert (document["profile"], document["scale"], document["meta"]) == (
        "embedded",
        "tiny",
        {"batch_size": 100},
    )
    assert document["metrics"]["transport_p99_ms"] == {
        "value": 200.0,
        "unit": "ms",
        "direction": "lower_is_better",
    }
    assert document["metrics"]["produce_rps"]["direction"] == "higher_is_better"
    assert document["recorded_at"].endswith("+00:00")
    assert list_baseline_versions("pipe", directory=tmp_path) == [1, 2]
    assert not list(tmp_path.glob(".*.tmp"))


def test_load_latest_a_version_or_a_path(tmp_path: Path) -> None:
    p1 = record_baseline("pipe", METRICS_V1, directory=tmp_path)
    record_baseline("pipe", METRICS_V1 | {"produce_rps": 1.0}, directory=tmp_path)
    latest = load_baseline("pipe", directory=tmp_path)
    assert latest.version == 2 and latest.values()["produce_rps"] == 1.0
    assert load_baseline("pipe", 1, directory=tmp_path).values() == METRICS_V1
    assert load_baseline(p1).version == 1
    assert load_baseline(p1).directions()["serving_p50_ms"] == "lower_is_better"


def test_default_directory_is_the_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    path = record_baseline("pipe", METRICS_V1)
    assert path.parent == tmp_path / "home" / "baselines"
    assert load_baseline("pipe").path == path


def test_versions_ignore_other_files_and_another_name(tmp_path: Path) -> None:
    (tmp_path / "pipe-vX.json").write_text("{}")
    (tmp_path / "pipe-v3.json.bak").write_text("{}")
    record_baseline("pipe-other", METRICS_V1, directory=tmp_path)
    assert list_baseline_versions("pipe", directory=tmp_path) == []
    assert record_baseline("pipe", METRICS_V1, directory=tmp_path).name == "pipe-v1.json"


def test_a_concurrent_writer_taking_a_version_is_never_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record_baseline("pipe", METRICS_V1, directory=tmp_path)
    (tmp_path / "pipe-v2.json").write_text("taken by someone else")
    calls = iter([[1], [1, 2]])
    monkeypatch.setattr(bl, "list_baseline_versions", lambda name, directory=None: next(calls))
    path = record_baseline("pipe", METRICS_V1, directory=tmp_path)
    assert path.name == "pipe-v3.json"
    assert (tmp_path / "pipe-v2.json").read_text() == "taken by someone else"


def test_units_and_directions_can_be_given_for_unconventional_names(tmp_path: Path) -> None:
    path = record_baseline(
        "pipe",
        {"accuracy": 0.93},
        directory=tmp_path,
        units={"accuracy": "ratio"},
        directions={"accuracy": "higher"},
    )
    assert load_baseline(path).metrics["accuracy"] == bl.BaselineMetric(0.93, "ratio", "higher_is_better")


@pytest.mark.parametrize(
    ("name", "metrics", "kwargs", "words"),
    [
        ("../escape", METRICS_V1, {}, "not allowed"),
        ("a/b", METRICS_V1, {}, "not allowed"),
        ("", METRICS_V1, {}, "not allowed"),
        ("pipe", {}, {}, "no metrics"),
        ("pipe", {"p99_ms": float("nan")}, {}, "finite number"),
        ("pipe", {"p99_ms": "fast"}, {}, "finite number"),
        ("pipe", {"p99_ms": True}, {}, "finite number"),
        ("pipe", {"P99 ms": 1.0}, {}, "lower_snake_case"),
        ("pipe", {"accuracy": 0.9}, {}, "cannot tell the unit and direction"),
        ("pipe", {"p99_ms": 1.0}, {"directions": {"p99_ms": "down"}}, "lower_is_better"),
        ("pipe", {"p99_ms": 1.0}, {"meta": {"when": object()}}, "JSON-serialisable"),
    ],
)
def test_record_rejects_bad_input(
    tmp_path: Path, name: str, metrics: dict[str, Any], kwargs: dict[str, Any], words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        record_baseline(name, metrics, directory=tmp_path, **kwargs)
    assert words in str(info.value) and info.value.fix
    assert not list(tmp_path.glob("*.json"))


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "no `format"),
        (json.dumps({"format": "other/9"}), "no `format"),
        (json.dumps({"format": BASELINE_FORMAT, "name": "pipe", "version": 1}), "missing key 'metrics'"),
        (
            json.dumps(
                {
                    "format": BASELINE_FORMAT,
                    "name": "pipe",
                    "version": 1,
                    "recorded_at": "x",
                    "metrics": {"p99_ms": {"value": "NaN", "unit": "ms", "direction": "lower_is_better"}},
                }
            ),
            "has value",
        ),
        (
            '{"format": "' + BASELINE_FORMAT + '", "name": "pipe", "version": 1, "recorded_at": "x", '
            '"metrics": {"p99_ms": {"value": NaN, "unit": "ms", "direction": "lower_is_better"}}}',
            "has value",
        ),
        (
            json.dumps(
                {
                    "format": BASELINE_FORMAT,
                    "name": "pipe",
                    "version": 1,
                    "recorded_at": "x",
                    "metrics": {"p99_ms": {"value": 1, "unit": "ms", "direction": "up"}},
                }
            ),
            "direction",
        ),
        (
            json.dumps(
                {"format": BASELINE_FORMAT, "name": "pipe", "version": 1, "recorded_at": "x", "metrics": {}}
            ),
            "no metrics",
        ),
        (
            json.dumps(
                {
                    "format": BASELINE_FORMAT,
                    "name": "other",
                    "version": 7,
                    "recorded_at": "x",
                    "metrics": {"p99_ms": {"value": 1, "unit": "ms", "direction": "lower_is_better"}},
                }
            ),
            "file name says",
        ),
    ],
)
def test_corrupt_files_name_the_file_and_the_fix(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "pipe-v1.json"
    path.write_text(content)
    with pytest.raises(CorruptStateError) as info:
        load_baseline("pipe", directory=tmp_path)
    assert words in str(info.value), str(info.value)
    assert str(path) in str(info.value) and "record_baseline" in (info.value.fix or "")


def test_missing_baselines_and_versions_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no baseline named 'pipe'"):
        load_baseline("pipe", directory=tmp_path)
    record_baseline("pipe", METRICS_V1, directory=tmp_path)
    with pytest.raises(ConfigError, match=r"no version 5 \(have \[1\]\)"):
        load_baseline("pipe", 5, directory=tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_baseline(tmp_path / "nope.json")


# --- compare --------------------------------------------------------------------------------


def test_compare_respects_direction_tolerance_and_new_or_missing_metrics() -> None:
    base = {"lat_ms": 100.0, "thr_rps": 1000.0, "edge_ms": 100.0, "up_rps": 1000.0, "gone_ms": 1.0}
    cur = {"lat_ms": 130.0, "thr_rps": 700.0, "edge_ms": 125.0, "up_rps": 1500.0, "fresh_ms": 9.0}
    report = compare_to_baseline(cur, base, tolerance_pct=25).set_index("metric")
    assert report.loc["lat_ms", ["change_pct", "worse_pct", "regression"]].tolist() == pytest.approx(
        [30.0, 30.0, True]
    )
    assert report.loc["thr_rps", "worse_pct"] == pytest.approx(30.0) and report.loc["thr_rps", "regression"]
    assert report.loc["edge_ms", "status"] == "within tolerance" and not report.loc["edge_ms", "regression"]
    assert report.loc["up_rps", "status"] == "improved" and report.loc[
        "up_rps", "worse_pct"
    ] == pytest.approx(-50)
    assert report.loc["fresh_ms", "status"] == "new" and not report.loc["fresh_ms", "regression"]
    assert report.loc["gone_ms", "status"] == "missing" and math.isnan(report.loc["gone_ms", "current"])
    assert list(report.index) == ["lat_ms", "thr_rps", "edge_ms", "up_rps", "gone_ms", "fresh_ms"]


def test_compare_with_baseline_objects_and_direction_overrides(tmp_path: Path) -> None:
    path = record_baseline(
        "pipe",
        {"accuracy": 0.9},
        directory=tmp_path,
        units={"accuracy": "ratio"},
        directions={"accuracy": "higher_is_better"},
    )
    report = compare_to_baseline({"accuracy": 0.7}, load_baseline(path))
    assert report.loc[0, ["unit", "direction", "regression"]].tolist() == ["ratio", "higher_is_better", True]
    flipped = compare_to_baseline({"accuracy": 0.7}, load_baseline(path), directions={"accuracy": "lower"})
    assert flipped.loc[0, "status"] == "improved"
    same = compare_to_baseline(load_baseline(path), load_baseline(path))
    assert same.loc[0, ["change_pct", "status"]].tolist() == [0.0, "within tolerance"]


def test_compare_zero_baselines_and_bad_tolerance() -> None:
    report = compare_to_baseline({"a_ms": 0.0, "b_ms": 5.0}, {"a_ms": 0.0, "b_ms": 0.0}).set_index("metric")
    assert report.loc["a_ms", "change_pct"] == 0.0 and not report.loc["a_ms", "regression"]
    assert report.loc["b_ms", "change_pct"] == math.inf and report.loc["b_ms", "regression"]
    for bad in (-1.0, float("nan")):
        with pytest.raises(ConfigError, match="tolerance_pct"):
            compare_to_baseline({"a_ms": 1.0}, {"a_ms": 1.0}, tolerance_pct=bad)
    with pytest.raises(ConfigError, match="cannot tell"):
        compare_to_baseline({"accuracy": 1.0}, {"accuracy": 1.0})


def test_layer_metrics_and_inference_cover_the_pipeline_metrics() -> None:
    measured = {name: 1.0 for name in METRICS}
    picked = layer_metrics(measured)
    assert list(picked) == [m for names in LAYER_METRICS.values() for m in names]
    assert all(
        infer_metric(name)[1] == ("higher_is_better" if METRICS[name].bound == "min" else "lower_is_better")
        for name in METRICS
    )
    with pytest.raises(ConfigError, match="lack"):
        layer_metrics({"produce_rps": 1.0})
    report = compare_to_baseline(picked, picked)
    assert set(report["layer"]) == {"ingestion", "transformation", "serving"}


def test_plot_baseline_changes_draws_one_bar_per_compared_metric() -> None:
    report = compare_to_baseline({"a_ms": 130.0, "b_rps": 50.0, "c_ms": 1.0}, {"a_ms": 100.0, "b_rps": 100.0})
    ax = plot_baseline_changes(report, tolerance_pct=10)
    assert len(ax.patches) == 2


def test_baseline_dataclass_helpers() -> None:
    baseline = Baseline(
        "n", 1, Path("x"), "t", None, None, metrics={"a_ms": bl.BaselineMetric(1.0, "ms", "lower_is_better")}
    )
    assert baseline.values() == {"a_ms": 1.0} and baseline.directions() == {"a_ms": "lower_is_better"}


# --- exercise: assessment.baseline_regressions ----------------------------------------------


def flag_regressions(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    flagged = set()
    for metric, value in current.items():
        if metric not in baseline:
            continue
        change = (value - baseline[metric]) / baseline[metric] * 100
        worse = change if directions[metric] == "lower_is_better" else -change
        if worse > tolerance_pct:
            flagged.add(metric)
    return flagged


def test_baseline_regressions_accepts_the_right_function_with_and_without_context() -> None:
    assert check("assessment.baseline_regressions", flag_regressions, show=False).passed
    context = {
        "current": {"a_ms": 130.0, "b_rps": 90.0},
        "baseline": {"a_ms": 100.0, "b_rps": 100.0},
        "directions": {"a_ms": "lower_is_better", "b_rps": "higher_is_better"},
        "tolerance_pct": 10.0,
    }
    result = check("assessment.baseline_regressions", flag_regressions, context=context, show=False)
    assert result.passed and "a_ms regressed" in (result.message or "")


def _ignores_direction(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    return {
        m
        for m, v in current.items()
        if m in baseline and (v - baseline[m]) / baseline[m] * 100 > tolerance_pct
    }


def _inclusive(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    out = set()
    for m, v in current.items():
        if m in baseline:
            change = (v - baseline[m]) / baseline[m] * 100
            if (change if directions[m] == "lower_is_better" else -change) >= tolerance_pct and v != baseline[
                m
            ]:
                out.add(m)
    return out


def _flags_new(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    return flag_regressions(current, baseline, directions, tolerance_pct) | {
        m for m in current if m not in baseline
    }


def _as_list(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> list[str]:
    return sorted(flag_regressions(current, baseline, directions, tolerance_pct))


def _crashes_on_new(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    sign = {"lower_is_better": 1, "higher_is_better": -1}
    return {
        m
        for m, v in current.items()
        if sign[directions[m]] * (v - baseline[m]) / baseline[m] * 100 > tolerance_pct
    }


def _absolute(
    current: dict[str, float], baseline: dict[str, float], directions: dict[str, str], tolerance_pct: float
) -> set[str]:
    return {
        m
        for m, v in current.items()
        if m in baseline and abs(v - baseline[m]) / baseline[m] * 100 > tolerance_pct
    }


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_ignores_direction, "direction"),
        (_inclusive, "exactly the tolerance"),
        (_flags_new, "no baseline value"),
        (_as_list, "expected a set"),
        (_crashes_on_new, "KeyError"),
        (_absolute, "got better"),
    ],
)
def test_baseline_regressions_rejects_wrong_functions(wrong: Any, words: str) -> None:
    result = check("assessment.baseline_regressions", wrong, show=False)
    assert not result.passed and words in (result.message or ""), result.message
