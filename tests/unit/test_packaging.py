"""The tested, resolved set (constraints.txt) agrees with the ranges in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return [Requirement(text) for text in texts]


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _pins()
    problems = []
    for req in _requirements():
        version = pins.get(req.name.lower().replace("_", "-"))
        if version is None:
            problems.append(f"{req.name} is not pinned in constraints.txt (run `make lock`)")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}=={version} is outside {req} (widen the range or re-lock)")
    assert not problems, problems


def test_s3fs_floor_avoids_the_2020_fallback() -> None:
    # Without the floor pip silently resolves s3fs 0.4.2 (shared/TRAPS.md).
    version = _pins()["s3fs"]
    assert int(version.split(".")[0]) >= 2026
