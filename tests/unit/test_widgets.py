"""Widget cells show controls only when a person is at the notebook."""

from __future__ import annotations

import pytest

from platform_kit.notebooks import HEADLESS_ENV, widgets_enabled


def test_widgets_enabled_false_when_headless(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HEADLESS_ENV, "1")
    assert widgets_enabled() is False


@pytest.mark.parametrize("value", ["", "0"])
def test_widgets_enabled_true_in_interactive_sessions(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(HEADLESS_ENV, value)
    assert widgets_enabled() is True  # ipywidgets is a core dependency


def test_widgets_enabled_false_without_ipywidgets(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ipywidgets" else real(name, *a))
    assert widgets_enabled() is False


def test_lab_runner_marks_kernels_headless(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from platform_kit.notebooks._runner import NotebookJob, job_env

    env = job_env(NotebookJob(name="x", notebook=tmp_path / "x.ipynb", cwd=tmp_path), tmp_path, "embedded", "tiny", 42)
    assert env[HEADLESS_ENV] == "1"
