"""Synthetic edge cases: contract-driven hypothesis strategies, seeded edge batches, "what breaks" tables.

Three tools to push a pipeline stage past the happy path::

    contract = load_contract("orders_raw")
    frames_for(contract)                         # hypothesis strategy: nulls, bounds, unicode, tz, dup keys
    frames_for(contract, drift=True)             # ... plus one schema drift per frame
    batches = edge_case_batches(generate_table("orders", "tiny", 42), seed=42)  # named, no randomness
    run_pipeline_on(batches, check_rules=True)   # one row per batch: crashed? rows in/out, contract problems
    sample_frames(frames_for(contract), 30, seed=42)         # hypothesis examples as a seeded list
    before_after(batches, buggy)                 # the buggy transform next to the fixed one, batch by batch
    exposes_bug(frames_for(contract), buggy, stage_orders)   # does this generator catch that bug?

:data:`BUGGY_TRANSFORMS` holds variants of ``stage_orders`` with one bug each (for the exercise).

:func:`contract_problems` checks a frame against a contract's rules in plain pandas (milliseconds,
where a Great Expectations validation takes about a second), for loops over many small frames.

Hypothesis and Faker are optional dependencies (the ``labs`` extra), imported when first needed.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from platform_kit._deps import require
from platform_kit.errors import InputError
from platform_kit.quality._edge_examples import BUGGY_TRANSFORMS
from platform_kit.quality.contract import DataContract, load_contract
from platform_kit.quality.pipeline import stage_orders

if TYPE_CHECKING:
    from platform_kit.quality.validate import QualityContext

_log = logging.getLogger(__name__)

__all__ = ["BUGGY_TRANSFORMS", "EDGE_KINDS", "REPORT_COLUMNS", "before_after", "compare_transforms", "contract_problems",
           "edge_case_batches", "exposes_bug", "frames_for", "plot_outcomes", "run_pipeline_on", "sample_frames"]

#: the batches :func:`edge_case_batches` returns, in order
EDGE_KINDS = ("clean", "nulls", "extremes", "unicode", "whitespace_case", "duplicates", "late_out_of_order",
              "tz_aware", "tz_mixed", "far_future", "drift_extra_column", "drift_missing_column", "drift_renamed_column",
              "drift_amount_as_text")
REPORT_COLUMNS = ["batch", "outcome", "error", "rows_in", "rows_out", "dropped", "contract_failures",
                  "failed_rules"]
Transform = Callable[[pd.DataFrame], pd.DataFrame]


def _as_contract(contract: DataContract | str) -> DataContract:
    return contract if isinstance(contract, DataContract) else load_contract(contract)


def frames_for(contract: DataContract | str, *, edge: bool = True, min_rows: int = 1, max_rows: int = 12,
               drift: bool = False, timestamp_modes: tuple[str, ...] | None = None) -> Any:
    """A hypothesis strategy of pandas DataFrames shaped by ``contract``.

    Clean frames (``edge=False``) hold in-contract values only. Edge frames keep the column list but
    push every rule: nulls in any column, bounds and just-outside values, NaN/inf/huge floats,
    case/whitespace/zero-width/full-width spellings of allowed values, empty and RTL/emoji text,
    timestamps at and past the bounds or far in the future, landed naive, tz-aware, mixed or as
    ISO text with offsets, and re-sent rows with a duplicated primary key.

    Args:
        contract: A contract or a bundled contract name such as ``"orders_raw"``.
        edge: Push the edges (True) or stay inside the contract (False).
        min_rows: Fewest rows per frame.
        max_rows: Most rows per frame.
        drift: Apply one schema drift per frame (extra, missing or renamed column, or a numeric column
            as text such as ``"12,50"``); the kind is kept in ``frame.attrs["drift"]``.
        timestamp_modes: Restrict how timestamps land, a subset of ``("naive", "aware", "mixed",
            "text")``; by default all of them for edge frames and ``("naive",)`` for clean ones.

    Returns:
        A ``hypothesis`` search strategy; use it with ``@given`` or ``exposes_bug``.

    Raises:
        InputError: Bad row bounds or an unknown timestamp mode.
        DependencyMissingError: hypothesis is not installed.
    """
    require("hypothesis")
    from platform_kit.quality._edge_strategies import TIMESTAMP_MODES, build_frames

    if not 0 <= min_rows <= max_rows:
        raise InputError(f"need 0 <= min_rows <= max_rows, got {min_rows} and {max_rows}",
                         fix="e.g. frames_for(contract, min_rows=1, max_rows=12)")
    modes = tuple(timestamp_modes) if timestamp_modes else (TIMESTAMP_MODES if edge else ("naive",))
    unknown = [m for m in modes if m not in TIMESTAMP_MODES]
    if unknown:
        raise InputError(f"unknown timestamp mode(s) {unknown}", fix=f"use some of {', '.join(TIMESTAMP_MODES)}")
    return build_frames(_as_contract(contract), edge=edge, min_rows=min_rows, max_rows=max_rows, drift=drift,
                        timestamp_modes=modes)


def edge_case_batches(base_df: pd.DataFrame, seed: int = 42, *, rows: int = 40) -> dict[str, pd.DataFrame]:
    """Named, deterministic edge-case batches, each derived from a sample of real generated orders.

    The same ``base_df`` and ``seed`` give the same batches (numpy and Faker are seeded), so a lab
    can run the pipeline on them without hypothesis randomness. Kinds: see :data:`EDGE_KINDS`.

    Args:
        base_df: Orders shaped like the generator's ``orders`` table.
        seed: Seed for the sample and every injected value.
        rows: Rows per batch (at most ``len(base_df)``).

    Returns:
        Batch name -> a new DataFrame.

    Raises:
        InputError: ``base_df`` is not an orders frame, or is empty.
    """
    from platform_kit.quality._edge_batches import ORDERS_NEEDED, make_batches

    if not isinstance(base_df, pd.DataFrame) or base_df.empty:
        raise InputError("base_df must be a non-empty pandas DataFrame of orders",
                         fix='pass generate_table("orders", "tiny", 42)')
    missing = [c for c in ORDERS_NEEDED if c not in base_df.columns]
    if missing:
        raise InputError(f"base_df lacks column(s) {missing}", fix='pass generate_table("orders", "tiny", 42)')
    if rows < 4:
        raise InputError(f"rows must be at least 4, got {rows}", fix="use rows=40")
    sample = base_df.sample(n=min(rows, len(base_df)), random_state=seed).sort_values("order_id")
    return make_batches(sample.reset_index(drop=True), np.random.default_rng(seed), seed)


def sample_frames(strategy: Any, n: int = 20, seed: int = 0) -> list[pd.DataFrame]:
    """Up to ``n`` examples of a hypothesis strategy (e.g. :func:`frames_for`), the same for the same seed.

    Only hypothesis' generate phase runs (no example database, no shrinking), so a lab can tabulate
    what the examples do to a pipeline. Hypothesis may return fewer than ``n`` when the strategy
    has few distinct values.

    Raises:
        InputError: ``strategy`` is not a hypothesis strategy, or ``n`` is not a positive integer.
    """
    hypothesis = require("hypothesis")
    if not isinstance(strategy, hypothesis.strategies.SearchStrategy):
        raise InputError(f"strategy must be a hypothesis strategy, got {type(strategy).__name__}",
                         fix='pass frames_for("orders_raw")')
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InputError(f"n must be a positive integer, got {n!r}", fix="e.g. n=20")
    frames: list[pd.DataFrame] = []

    @hypothesis.settings(max_examples=n, database=None, deadline=None, phases=[hypothesis.Phase.generate],
                         suppress_health_check=list(hypothesis.HealthCheck))
    @hypothesis.seed(seed)
    @hypothesis.given(strategy)
    def draw(frame: pd.DataFrame) -> None:
        frames.append(frame)

    draw()
    return frames[:n]


def contract_problems(frame: pd.DataFrame, contract: DataContract | str) -> list[str]:
    """The contract rules ``frame`` breaks, checked in pandas: one line per broken rule (empty when none).

    Covers the columns (missing, extra or out of order, by ``column_match``), the row count, the
    primary key, and per column: nulls, values that are not of the column's type, ``min``/``max``
    (inclusive, as Great Expectations checks them), ``allowed_values``, ``regex`` and
    ``max_length``. Fast enough to run on every frame a generator or a hypothesis search produces.

    Raises:
        InputError: ``frame`` is not a DataFrame.
    """
    from platform_kit.quality._edge_batches import column_problems

    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"frame must be a pandas DataFrame, got {type(frame).__name__}",
                         fix="pass the transform's output frame")
    spec = _as_contract(contract)
    names, present = spec.column_names, list(frame.columns)
    problems = []
    missing = [c for c in names if c not in present]
    extra = [c for c in present if c not in names]
    if missing:
        problems.append(f"missing column(s) {missing}")
    if extra and spec.column_match in ("set", "ordered"):
        problems.append(f"unexpected column(s) {extra}")
    if not missing and not extra and spec.column_match == "ordered" and present != names:
        problems.append(f"columns out of order: {present}")
    if spec.row_count is not None:
        low, high = spec.row_count.min, spec.row_count.max
        if (low is not None and len(frame) < low) or (high is not None and len(frame) > high):
            problems.append(f"row count {len(frame)} outside [{low}, {high}]")
    key = [c for c in spec.primary_key if c in present]
    if key and len(key) == len(spec.primary_key) and frame.duplicated(key).any():
        problems.append(f"primary key {key}: {int(frame.duplicated(key).sum())} duplicated row(s)")
    for column in spec.columns:
        if column.name in present:
            problems.extend(f"{column.name}: {p}" for p in column_problems(frame[column.name], column))
    return problems


def _run_one(transform: Transform, frame: pd.DataFrame) -> tuple[pd.DataFrame | None, str | None]:
    try:
        return transform(frame.copy()), None
    except Exception as exc:  # noqa: BLE001 - reporting what breaks is the point
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]


def run_pipeline_on(batches: Mapping[str, pd.DataFrame], transform: Transform = stage_orders, *,
                    contract: DataContract | str = "orders_staged",
                    quality: QualityContext | None = None, check_rules: bool = False) -> pd.DataFrame:
    """Run ``transform`` on every batch and tabulate what breaks.

    Args:
        batches: Batch name -> input frame (e.g. from :func:`edge_case_batches`).
        transform: One frame in, one frame out (default :func:`~platform_kit.quality.pipeline.stage_orders`).
        contract: The contract the output should meet (checked only with ``quality``).
        quality: A :class:`~platform_kit.quality.validate.QualityContext`; without it only crashes and
            row counts are reported (``contract_failures`` is then null).
        check_rules: Without ``quality``, check the output with :func:`contract_problems` (pandas, fast):
            ``contract_failures`` counts the broken rules and ``failed_rules`` lists them.

    Returns:
        One row per batch with :data:`REPORT_COLUMNS`: ``outcome`` is ``"ok"``, ``"crashed"``,
        ``"contract_failed"`` or ``"validation_error"``; ``error`` the exception type and message.

    Raises:
        InputError: ``batches`` is not a mapping of DataFrames.
    """
    if not isinstance(batches, Mapping) or not all(isinstance(b, pd.DataFrame) for b in batches.values()):
        raise InputError("batches must map names to pandas DataFrames", fix="pass edge_case_batches(orders)")
    spec = _as_contract(contract) if quality is not None or check_rules else None
    return _tabulate(batches, {name: _run_one(transform, frame) for name, frame in batches.items()}, spec, quality)


def _tabulate(batches: Mapping[str, pd.DataFrame], results: Mapping[str, tuple[pd.DataFrame | None, str | None]],
              spec: DataContract | None, quality: QualityContext | None) -> pd.DataFrame:
    records = []
    for name, frame in batches.items():
        out, error = results[name]
        record: dict[str, Any] = {"batch": name, "outcome": "crashed" if error else "ok",
                                  "error": error, "rows_in": len(frame), "rows_out": None, "dropped": None,
                                  "contract_failures": None, "failed_rules": None}
        if out is not None:
            record.update(outcome="ok", rows_out=len(out), dropped=len(frame) - len(out))
            if spec is not None and quality is not None:
                try:
                    report = quality.validate(out, spec)
                except Exception as exc:  # noqa: BLE001 - GX can choke on what the transform let through
                    record.update(outcome="validation_error", error=f"{type(exc).__name__}: {exc}"[:300])
                else:
                    record["contract_failures"] = report.failed
                    record["failed_rules"] = "; ".join(f"{col or '<table>'}: {exp}"
                                                       for exp, col in report.failed_expectations) or None
                    if report.failed:
                        record["outcome"] = "contract_failed"
            elif spec is not None:
                problems = contract_problems(out, spec)
                record.update(contract_failures=len(problems), failed_rules="; ".join(problems) or None)
                if problems:
                    record["outcome"] = "contract_failed"
        records.append(record)
        _log.info("edge batch %s: %s", name, record["outcome"])
    table = pd.DataFrame.from_records(records, columns=REPORT_COLUMNS)
    return table.astype({"rows_in": "int64", "rows_out": "Int64", "dropped": "Int64", "contract_failures": "Int64"})


def compare_transforms(frame: pd.DataFrame, buggy: Transform, fixed: Transform, *,
                       contract: DataContract | str | None = None,
                       quality: QualityContext | None = None) -> str | None:
    """How ``buggy`` misbehaves on ``frame`` where ``fixed`` does not, or None.

    Misbehaving means: ``buggy`` raises, its output differs from ``fixed``'s, or (with ``quality``
    and ``contract``) its output fails the contract while ``fixed``'s passes. A frame on which
    ``fixed`` itself raises exposes nothing.
    """
    return _difference(_run_one(buggy, frame), _run_one(fixed, frame), contract=contract, quality=quality)


def _difference(buggy_result: tuple[pd.DataFrame | None, str | None], fixed_result: tuple[pd.DataFrame | None, str | None],
                *, contract: DataContract | str | None = None, quality: QualityContext | None = None) -> str | None:
    (bad, bad_error), (good, good_error) = buggy_result, fixed_result
    if good_error is not None or good is None:
        return None
    if bad_error is not None:
        return f"buggy transform raised {bad_error}"
    try:
        pd.testing.assert_frame_equal(bad, good)
    except AssertionError as exc:
        return f"outputs differ: {' '.join(str(exc).split())[:200]}"
    if quality is not None and contract is not None:
        spec = _as_contract(contract)
        if not quality.validate(bad, spec).success and quality.validate(good, spec).success:
            return "buggy output fails the contract"
    return None


def before_after(batches: Mapping[str, pd.DataFrame], buggy: Transform, fixed: Transform = stage_orders, *,
                 contract: DataContract | str = "orders_staged") -> pd.DataFrame:
    """The buggy and the fixed transform side by side on every batch (contract checked in pandas).

    Returns:
        Indexed by batch: ``buggy`` and ``fixed`` (outcome as in :func:`run_pipeline_on`),
        ``buggy_rows_out``, ``fixed_rows_out``, ``buggy_error``, ``fixed_failed_rules`` (the contract
        rules the fixed output breaks) and ``exposed`` (how the batch exposes the bug, as
        :func:`compare_transforms` says, or None).
    """
    if not isinstance(batches, Mapping) or not all(isinstance(b, pd.DataFrame) for b in batches.values()):
        raise InputError("batches must map names to pandas DataFrames", fix="pass edge_case_batches(orders)")
    spec = _as_contract(contract)
    bad = {name: _run_one(buggy, frame) for name, frame in batches.items()}
    good = {name: _run_one(fixed, frame) for name, frame in batches.items()}
    before = _tabulate(batches, bad, spec, None).set_index("batch")
    after = _tabulate(batches, good, spec, None).set_index("batch")
    return pd.DataFrame({"buggy": before["outcome"], "fixed": after["outcome"],
                         "buggy_rows_out": before["rows_out"], "fixed_rows_out": after["rows_out"],
                         "buggy_error": before["error"], "fixed_failed_rules": after["failed_rules"],
                         "exposed": [_difference(bad[name], good[name]) for name in before.index]})


def plot_outcomes(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, ax: Any = None) -> Any:
    """Rows in and rows out per batch, coloured by outcome, one panel per table of :func:`run_pipeline_on`.

    Args:
        tables: A table of :func:`run_pipeline_on`, or title -> table (e.g. the buggy and the fixed
            transform on the same batches).
        ax: Axes, one per table (new figure when None).

    Returns:
        The array of axes.
    """
    from platform_kit.quality._edge_batches import draw_outcomes

    named = {"pipeline": tables} if isinstance(tables, pd.DataFrame) else tables
    if not isinstance(named, Mapping) or not named or not all(
            isinstance(t, pd.DataFrame) and set(REPORT_COLUMNS) <= set(t.columns) for t in named.values()):
        raise InputError("tables must be a run_pipeline_on table or a mapping of title -> such tables",
                         fix="pass run_pipeline_on(batches) or {'buggy': ..., 'fixed': ...}")
    return draw_outcomes(dict(named), ax)


class _Exposed(Exception):
    """Stops the hypothesis search at the first exposing frame."""


def exposes_bug(generator: Any, buggy: Transform, fixed: Transform = stage_orders, *,
                contract: DataContract | str | None = None, quality: QualityContext | None = None,
                max_examples: int = 30, seed: int = 0) -> bool:
    """Whether ``generator`` produces a frame on which ``buggy`` misbehaves and ``fixed`` is fine.

    Args:
        generator: A DataFrame, a mapping of DataFrames (e.g. :func:`edge_case_batches`), a callable
            ``seed -> DataFrame`` (called with ``seed .. seed + max_examples - 1``), or a hypothesis
            strategy such as :func:`frames_for` (searched with up to ``max_examples`` examples).
        buggy: The transform with the bug.
        fixed: The correct transform.
        contract: Contract for the optional contract check.
        quality: QualityContext for the optional contract check (slow; None skips it).
        max_examples: Frames to try from a callable or a strategy.
        seed: First seed for a callable generator.

    Returns:
        True when some frame exposes the bug (see :func:`compare_transforms`).

    Raises:
        InputError: ``generator`` is none of the accepted kinds.
    """
    def exposing(frame: pd.DataFrame) -> bool:
        why = compare_transforms(frame, buggy, fixed, contract=contract, quality=quality)
        if why:
            _log.info("frame of %d rows exposes the bug: %s", len(frame), why)
        return why is not None

    if isinstance(generator, pd.DataFrame):
        return exposing(generator)
    if isinstance(generator, Mapping):
        return any(exposing(f) for f in generator.values() if isinstance(f, pd.DataFrame))
    hypothesis = require("hypothesis")
    if isinstance(generator, hypothesis.strategies.SearchStrategy):
        # generate only: shrinking re-runs both transforms hundreds of times for a yes/no answer
        quiet = hypothesis.settings(max_examples=max_examples, database=None, derandomize=True, deadline=None,
                                    phases=[hypothesis.Phase.generate],
                                    suppress_health_check=list(hypothesis.HealthCheck))

        @quiet
        @hypothesis.given(generator)
        def search(frame: pd.DataFrame) -> None:
            if exposing(frame):
                raise _Exposed

        try:
            search()
        except _Exposed:
            return True
        return False
    if callable(generator):
        return any(exposing(generator(s)) for s in range(seed, seed + max_examples))
    raise InputError(f"cannot draw frames from a {type(generator).__name__}",
                     fix="pass a DataFrame, a dict of DataFrames, a callable seed -> DataFrame or frames_for(...)")

