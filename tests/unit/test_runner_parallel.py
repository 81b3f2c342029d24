"""Parallel lab runs give each notebook its own chdb folder (one folder admits one process)."""

from __future__ import annotations

from pathlib import Path

from platform_kit.notebooks._runner import NotebookJob, _separate_chdb_sessions


def _jobs() -> list[NotebookJob]:
    return [NotebookJob("a", Path("a.ipynb"), Path(".")), NotebookJob("b", Path("b.ipynb"), Path("."))]


def test_separate_chdb_sessions_embedded_gets_one_folder_per_notebook(tmp_path: Path) -> None:
    jobs = _separate_chdb_sessions(_jobs(), tmp_path, "embedded")
    paths = [job.env["WORKBENCH__OLAP__PATH"] for job in jobs]
    assert paths == [str(tmp_path / "chdb" / "a"), str(tmp_path / "chdb" / "b")]


def test_separate_chdb_sessions_server_profile_is_untouched(tmp_path: Path) -> None:
    jobs = _separate_chdb_sessions(_jobs(), tmp_path, "compose")
    assert all("WORKBENCH__OLAP__PATH" not in job.env for job in jobs)
