"""The progress store: every check attempt, in SQLite under the state directory."""

from __future__ import annotations

import getpass
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from platform_kit._state import state_dir
from platform_kit.errors import GradingError

log = logging.getLogger(__name__)

LEARNER_ENV = "WORKBENCH_LEARNER"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    exercise_id TEXT NOT NULL,
    lab TEXT NOT NULL,
    passed INTEGER NOT NULL,
    message TEXT NOT NULL,
    ts TEXT NOT NULL,
    learner TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_learner ON attempts (learner, exercise_id);
"""


@dataclass(frozen=True)
class ProgressRow:
    """Best result of one learner on one exercise.

    Attributes:
        learner: Who attempted it.
        exercise_id: The exercise.
        lab: Its lab.
        passed: Whether any attempt passed.
        attempts: Number of attempts.
        last_ts: UTC ISO time of the latest attempt.
        message: Message of the latest passing attempt, else of the latest attempt.
    """

    learner: str
    exercise_id: str
    lab: str
    passed: bool
    attempts: int
    last_ts: str
    message: str


def current_learner() -> str:
    """``$WORKBENCH_LEARNER``, else the OS user name, else ``"unknown"``."""
    name = os.environ.get(LEARNER_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def progress_db_path() -> Path:
    """``<state dir>/progress.sqlite``."""
    return state_dir() / "progress.sqlite"


@contextmanager
def _connect(db: Path | None) -> Iterator[sqlite3.Connection]:
    path = db or progress_db_path()
    try:
        with closing(sqlite3.connect(path, timeout=30)) as conn:
            conn.executescript(_SCHEMA)
            with conn:
                yield conn
    except sqlite3.Error as exc:
        raise GradingError(
            f"the progress store {path} cannot be used: {exc}",
            fix="check the folder is writable, or move the file away to start a fresh store",
        ) from exc


def record_attempt(
    exercise_id: str,
    lab: str,
    passed: bool,
    message: str,
    ts: str,
    *,
    learner: str | None = None,
    db: Path | None = None,
) -> None:
    """Append one attempt to the store.

    Args:
        exercise_id: The exercise.
        lab: Its lab.
        passed: The outcome.
        message: The learner-facing message.
        ts: UTC ISO timestamp.
        learner: Defaults to :func:`current_learner`.
        db: The SQLite file; defaults to :func:`progress_db_path`.

    Raises:
        GradingError: The store cannot be opened or written.
    """
    with _connect(db) as conn:
        conn.execute(
            "INSERT INTO attempts (exercise_id, lab, passed, message, ts, learner) VALUES (?, ?, ?, ?, ?, ?)",
            (exercise_id, lab, int(passed), message, ts, learner or current_learner()),
        )


def progress_table(learner: str | None = None, *, db: Path | None = None) -> list[ProgressRow]:
    """Best result per (learner, exercise), ordered by learner, lab, exercise.

    Args:
        learner: Only this learner; all learners when ``None``.
        db: The SQLite file; defaults to :func:`progress_db_path`.

    Raises:
        GradingError: The store cannot be read.
    """
    query = "SELECT learner, exercise_id, lab, passed, message, ts FROM attempts"
    params: tuple[str, ...] = ()
    if learner is not None:
        query, params = query + " WHERE learner = ?", (learner,)
    if not (db or progress_db_path()).is_file():
        return []
    with _connect(db) as conn:
        rows = conn.execute(query + " ORDER BY id", params).fetchall()
    best: dict[tuple[str, str], ProgressRow] = {}
    for who, exercise_id, lab, passed, message, ts in rows:
        previous = best.get((who, exercise_id))
        attempts = previous.attempts + 1 if previous else 1
        ever_passed = bool(passed) or (previous is not None and previous.passed)
        keep_message = previous is not None and previous.passed and not passed
        best[(who, exercise_id)] = ProgressRow(
            learner=who,
            exercise_id=exercise_id,
            lab=lab,
            passed=ever_passed,
            attempts=attempts,
            last_ts=max(ts, previous.last_ts) if previous else ts,
            message=previous.message if keep_message and previous else message,
        )
    return sorted(best.values(), key=lambda r: (r.learner, r.lab, r.exercise_id))
