"""Benchmark: Lab 3 sections 1 and 5, as ratios measured in one run.

* caching: the sessionised clicks read by three aggregations, recomputed every time vs read from a
  ``MEMORY_ONLY`` cache (total and per-reuse speed-up, task-time ratio, cache size);
* layouts: the measured job on the default layout (the bench's shared application) vs the
  right-sized layout (one new application: 1-core executors, as many cores as physical ones):
  steady job time, core-seconds per job and task time as ratios, plus the recommendation. The
  shared application is restarted on the default layout afterwards, so later benchmarks of the
  same process keep working.

``python -m bench.bench_spark_layouts [scale] [copies]`` prints the JSON.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _ratio(before: float, after: float) -> float | None:
    return round(before / after, 3) if after > 0 else None


def _caching(spark: Any, data: Any) -> dict[str, Any]:
    from platform_kit.spark import caching

    levels = caching.measure_levels(spark, lambda: caching.sessionised_clicks(spark, data), caching.downstream_uses(),
                                    ("NONE", "MEMORY_ONLY"), name="bench")
    none, cached = levels
    return {"levels": [r.row() for r in levels],
            "total_speedup": _ratio(none.total_s, cached.total_s),
            "reuse_speedup": _ratio(none.reuse_s, cached.reuse_s),
            "task_time_ratio": _ratio(none.task_s, cached.task_s),
            "cache_mb": round(cached.memory_bytes / 1e6, 3)}


def _layouts(spark: Any, target: Any, data: Any) -> dict[str, Any]:
    import platform_kit
    from platform_kit.spark import layouts

    pk = platform_kit.connect()
    shape = layouts.ClusterShape.from_workbench(pk)
    job = layouts.layout_job(data)
    default = layouts.measure_layout(spark, job, layouts.DEFAULT_LAYOUT, target=target, shape=shape, runs=3)
    cores = max(1, min(shape.cores // 2, shape.physical_cores or shape.cores))
    right = layouts.run_layout(pk, layouts.ExecutorLayout(name="right-sized", executor_cores=1, executor_memory="1g",
                                                          cores_max=cores), job, runs=3, shape=shape)
    verdict = layouts.judge_layout(default, right)
    recommendation = layouts.recommend_layout([default, right])
    return {"default": default.row(), "right_sized": right.row(),
            "steady_speedup": _ratio(default.steady_s, right.steady_s),
            "core_seconds_ratio": round(right.steady_core_s / default.steady_core_s, 3),
            "task_time_ratio": _ratio(default.task_s, right.task_s),
            "shuffle_bytes_ratio": _ratio(default.steady.metrics.shuffle_bytes, right.steady.metrics.shuffle_bytes),
            "app_start_s": round(right.app_start_s or 0.0, 2),
            "beats_default": verdict.passed, "recommended": recommendation.name}


#: Replication of the fact tables per scale: ~200k-500k clicks, so one run stays near a minute on 2 cores.
DEFAULT_COPIES = {"tiny": 40, "small": 8, "medium": 1, "large": 1}


def run(scale: str = "tiny", *, copies: int | None = None, with_layouts: bool = True) -> dict[str, Any]:
    """Measure caching and (optionally, one new application) the right-sized layout at ``scale``.

    Args:
        scale: Dataset scale of the lab data.
        copies: Replication factor of the fact tables (default :data:`DEFAULT_COPIES`: 200k clicks at
            tiny, 400k at small).
        with_layouts: Also start the right-sized layout's application (~20 s on two cores).
    """
    from bench._spark import lab_spark, restart_lab_spark

    began = time.perf_counter()
    copies = copies or DEFAULT_COPIES.get(scale, 1)
    spark, target, data = lab_spark(scale, copies=copies)
    out: dict[str, Any] = {"scale": scale, "copies": copies, "mode": target.mode, "reason": target.reason,
                           "caching": _caching(spark, data)}
    if with_layouts and target.on_cluster:
        try:
            out["layouts"] = _layouts(spark, target, data)
        finally:
            restart_lab_spark()  # run_layout replaced the shared application
    elif with_layouts:
        out["layouts"] = {"skipped": f"executor layouts need the standalone cluster ({target.reason})"}
    out["elapsed_s"] = round(time.perf_counter() - began, 1)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(run(args[0] if args else "tiny", copies=int(args[1]) if len(args) > 1 else None), indent=1))
