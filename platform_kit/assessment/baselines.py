"""Versioned baseline metrics of the ingestion, transformation and serving layers (Lab 1, section 8).

A baseline is a JSON file ``<name>-v<N>.json`` under ``<state dir>/baselines`` (``N`` increments, a
version is never overwritten) holding the metrics with their unit and direction, the time, the host
and the profile/scale. :func:`compare_to_baseline` flags regressions beyond a tolerance, respecting
each metric's direction::

    path = record_baseline("lab01_pipeline", layer_metrics(run.measurements()), profile="embedded")
    report = compare_to_baseline(layer_metrics(new_run.measurements()), load_baseline("lab01_pipeline"))

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from platform_kit.assessment._sla_baseline_model import (
    BASELINE_FORMAT,
    LAYER_METRICS,
    Baseline,
    BaselineMetric,
    Direction,
    infer_metric,
    layer_metrics,
    layer_of,
    parse_direction,
)
from platform_kit.errors import ConfigError, CorruptStateError

__all__ = [
    "BASELINE_FORMAT",
    "LAYER_METRICS",
    "Baseline",
    "BaselineMetric",
    "compare_to_baseline",
    "infer_metric",
    "layer_metrics",
    "layer_of",
    "list_baseline_versions",
    "load_baseline",
    "plot_baseline_changes",
    "record_baseline",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")


def _directory(directory: Path | str | None) -> Path:
    if directory is not None:
        return Path(directory).expanduser()
    from platform_kit._state import state_dir

    return state_dir() / "baselines"


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ConfigError(
            f"baseline name {name!r} is not allowed",
            fix="use letters, digits, '_', '-' and '.' (no slashes), e.g. 'lab01_pipeline'",
        )


def list_baseline_versions(name: str, *, directory: Path | str | None = None) -> list[int]:
    """Versions recorded for ``name``, ascending (empty when none)."""
    _check_name(name)
    folder = _directory(directory)
    pattern = re.compile(rf"^{re.escape(name)}-v(\d+)\.json$")
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name)))


def _host() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.system(),
        "machine": platform.machine(),
        "node": platform.node(),
    }


def record_baseline(
    name: str,
    metrics: Mapping[str, float],
    *,
    directory: Path | str | None = None,
    meta: Mapping[str, Any] | None = None,
    profile: str | None = None,
    scale: str | None = None,
    units: Mapping[str, str] | None = None,
    directions: Mapping[str, str] | None = None,
) -> Path:
    """Write the next version of baseline ``name``; earlier versions are never overwritten.

    Args:
        name: Baseline name (file ``<name>-v<N>.json``).
        metrics: Metric name -> value (finite numbers).
        directory: Folder of baselines; default ``<state dir>/baselines`` (wiped by ``workbench reset``).
        meta: Extra JSON-serialisable facts (batch size, git commit...).
        profile, scale: Where it was measured (recorded, shown in comparisons).
        units, directions: Per-metric overrides; otherwise inferred by :func:`infer_metric`.

    Returns:
        The path written.

    Raises:
        ConfigError: Bad name, empty metrics, a non-finite value, unknown unit/direction, or ``meta``
            not JSON-serialisable.

    Introduced in: Lab 1 (assessment).
    """
    _check_name(name)
    if not metrics:
        raise ConfigError("no metrics to record", fix="pass e.g. layer_metrics(run.measurements())")
    units, directions = dict(units or {}), dict(directions or {})
    body: dict[str, Any] = {}
    for metric, value in metrics.items():
        if not isinstance(metric, str) or not _METRIC.match(metric):
            raise ConfigError(f"metric name {metric!r} must be lower_snake_case", fix="rename it")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(
                f"metric {metric!r} must be a finite number, got {value!r}",
                fix="record only measured values (drop NaN/inf ones)",
            )
        if metric in units and metric in directions:
            unit, direction = units[metric], directions[metric]
        else:
            unit, direction = infer_metric(metric)
            unit, direction = units.get(metric, unit), directions.get(metric, direction)
        body[metric] = {
            "value": float(value),
            "unit": str(unit),
            "direction": parse_direction(direction, metric),
        }
    folder = _directory(directory)
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(20):  # another writer may take the same version: link() fails, try the next one
        version = (list_baseline_versions(name, directory=folder) or [0])[-1] + 1
        document = {
            "format": BASELINE_FORMAT,
            "name": name,
            "version": version,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "profile": profile,
            "scale": scale,
            "host": _host(),
            "meta": dict(meta or {}),
            "metrics": body,
        }
        try:
            text = json.dumps(document, indent=2, sort_keys=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"meta is not JSON-serialisable: {exc}", fix="pass plain str/int/float/bool values"
            ) from exc
        path = folder / f"{name}-v{version}.json"
        tmp = folder / f".{name}-{uuid.uuid4().hex}.tmp"
        tmp.write_text(text + "\n", encoding="utf-8")
        try:
            os.link(tmp, path)  # atomic and refuses to overwrite
            return path
        except FileExistsError:
            continue
        finally:
            tmp.unlink(missing_ok=True)
    raise ConfigError(
        f"could not pick a free version for baseline {name!r} in {folder}",
        fix="another process is writing baselines in a loop; retry later",
    )


def _corrupt(path: Path, problem: str) -> CorruptStateError:
    return CorruptStateError(
        f"baseline file {path} is unusable: {problem}",
        fix=f"delete {path} (or restore it from a backup) and record it again with record_baseline",
    )


def _parse(path: Path) -> Baseline:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"cannot be read ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != BASELINE_FORMAT:
        raise _corrupt(path, f"no `format: {BASELINE_FORMAT}` key (not a baseline, or another version)")
    try:
        metrics = {}
        for metric, entry in document["metrics"].items():
            value = entry["value"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"metric {metric!r} has value {value!r}")
            metrics[metric] = BaselineMetric(
                float(value), str(entry["unit"]), parse_direction(entry["direction"], metric)
            )
        if not metrics:
            raise ValueError("no metrics")
        return Baseline(
            name=str(document["name"]),
            version=int(document["version"]),
            path=path,
            recorded_at=str(document["recorded_at"]),
            profile=document.get("profile"),
            scale=document.get("scale"),
            host=dict(document.get("host") or {}),
            meta=dict(document.get("meta") or {}),
            metrics=metrics,
        )
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise _corrupt(path, detail) from exc


def load_baseline(
    name: str | Path, version: int | None = None, *, directory: Path | str | None = None
) -> Baseline:
    """Load baseline ``name`` (the latest version unless ``version`` is given), or a file path.

    Raises:
        ConfigError: No such baseline or version.
        CorruptStateError: The file is not valid JSON or lacks required keys (the message names
            the file and how to fix it).

    Introduced in: Lab 1 (assessment).
    """
    if isinstance(name, Path):
        if not name.is_file():
            raise ConfigError(
                f"baseline file {name} does not exist", fix="pass the path record_baseline returned"
            )
        return _parse(name)
    versions = list_baseline_versions(name, directory=directory)
    folder = _directory(directory)
    if not versions:
        raise ConfigError(
            f"no baseline named {name!r} in {folder}", fix="record one first with record_baseline"
        )
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise ConfigError(
            f"baseline {name!r} has no version {version} (have {versions})", fix="pick one of those"
        )
    baseline = _parse(folder / f"{name}-v{chosen}.json")
    if baseline.name != name or baseline.version != chosen:
        raise _corrupt(
            baseline.path,
            f"it says name={baseline.name!r} version={baseline.version}, "
            f"but the file name says {name!r} v{chosen}",
        )
    return baseline


def compare_to_baseline(
    current: Mapping[str, float] | Baseline,
    baseline: Baseline | Mapping[str, float],
    *,
    tolerance_pct: float = 10.0,
    directions: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Per-metric change against a baseline, with a regression flag that respects direction.

    ``change_pct = (current - baseline) / |baseline| * 100``; ``worse_pct`` is ``change_pct`` for
    lower-is-better metrics and ``-change_pct`` for higher-is-better ones. A metric *regresses*
    when ``worse_pct > tolerance_pct`` (exactly at the tolerance is not a regression). Metrics
    only in ``current`` are ``new``, only in the baseline ``missing``; neither is a regression.

    Args:
        current: This run's metrics (or a loaded baseline).
        baseline: The reference (a :class:`Baseline` carries directions; a mapping uses
            ``directions`` or names, see :func:`infer_metric`).
        tolerance_pct: Allowed worsening in percent (>= 0).
        directions: Per-metric direction overrides.

    Returns:
        Columns ``metric``, ``layer``, ``unit``, ``direction``, ``baseline``, ``current``,
        ``change_pct``, ``worse_pct``, ``regression`` (bool) and ``status``.

    Raises:
        ConfigError: A negative/NaN tolerance, or a metric whose direction cannot be told.

    Introduced in: Lab 1 (assessment).
    """
    if isinstance(tolerance_pct, bool) or not math.isfinite(tolerance_pct) or tolerance_pct < 0:
        raise ConfigError(
            f"tolerance_pct must be a finite number >= 0, got {tolerance_pct}", fix="e.g. 10 for 10 %"
        )
    cur = current.values() if isinstance(current, Baseline) else {k: float(v) for k, v in current.items()}
    base = baseline.values() if isinstance(baseline, Baseline) else {k: float(v) for k, v in baseline.items()}
    known: dict[str, tuple[str, Direction]] = {}
    for source in (current, baseline):
        if isinstance(source, Baseline):
            known |= {k: (m.unit, m.direction) for k, m in source.metrics.items() if k not in known}
    rows = []
    for metric in [*base, *(m for m in cur if m not in base)]:
        unit, direction = known[metric] if metric in known else infer_metric(metric)
        if directions and metric in directions:
            direction = parse_direction(directions[metric], metric)
        b, c = base.get(metric, math.nan), cur.get(metric, math.nan)
        if metric not in base or metric not in cur:
            change = worse = math.nan
            status = "new" if metric not in base else "missing"
        else:
            change = (
                ((c - b) / abs(b) * 100.0) if b != 0 else (0.0 if c == b else math.copysign(math.inf, c - b))
            )
            worse = change if direction == "lower_is_better" else -change
            status = (
                "regression"
                if worse > tolerance_pct + 1e-9
                else "improved"
                if worse < -tolerance_pct - 1e-9
                else "within tolerance"
            )
        rows.append(
            {
                "metric": metric,
                "layer": layer_of(metric),
                "unit": unit,
                "direction": direction,
                "baseline": b,
                "current": c,
                "change_pct": change,
                "worse_pct": worse,
                "regression": status == "regression",
                "status": status,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "metric",
            "layer",
            "unit",
            "direction",
            "baseline",
            "current",
            "change_pct",
            "worse_pct",
            "regression",
            "status",
        ],
    )


def plot_baseline_changes(
    comparison: pd.DataFrame, *, tolerance_pct: float | None = None, ax: Any = None
) -> Any:
    """Horizontal bars of ``worse_pct`` per metric (right = worse), regressions in red.

    Returns:
        The matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    frame = comparison.dropna(subset=["worse_pct"])
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * max(len(frame), 3) + 1))
    colors = [
        "tab:red" if r else ("tab:green" if w < 0 else "tab:gray")
        for r, w in zip(frame["regression"], frame["worse_pct"], strict=True)
    ]
    labels = [f"{m} ({layer})" for m, layer in zip(frame["metric"], frame["layer"], strict=True)]
    ax.barh(labels, frame["worse_pct"].clip(-500, 500), color=colors)
    if tolerance_pct is not None:
        ax.axvline(
            tolerance_pct,
            color="tab:red",
            linestyle="--",
            linewidth=1,
            label=f"tolerance {tolerance_pct:g} %",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("worse than baseline (%)  ->  right is worse, whatever the metric's direction")
    ax.grid(axis="x", alpha=0.3)
    return ax
