"""Exercises of lab ``01_assessment``, storage sections: pick a format, pick a layout, from measurements.

Both are decision exercises graded against numbers: the grader recomputes the right answer
from the table the learner measured in the notebook (``context``), then from hand-made
tables whose right answers differ from the usual ones, so neither a fixed string nor the
wrong metric passes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from platform_kit.assessment.formats import WORKLOADS, acceptable_formats
from platform_kit.assessment.layouts import acceptable_layouts, weighted_bytes
from platform_kit.errors import ConfigError, GradingError
from platform_kit.grading._context import context_value, fail
from platform_kit.grading._registry import exercise

LAB = "01_assessment"
FORMAT_ID = "assessment.format_choice"
LAYOUT_ID = "assessment.layout_choice"


# --- formats -----------------------------------------------------------------------------------
def _format_row(fmt: str, codec: str, size: int, write: float, full: float, projected: float,
                safe: bool, status: str = "ok") -> dict[str, Any]:
    return {"format": fmt, "codec": codec, "status": status, "rows": 1000, "file_bytes": size, "write_s": write,
            "full_read_s": full, "projected_read_s": projected, "filtered_read_s": full, "evolves_safely": safe}


def handmade_format_tables() -> list[pd.DataFrame]:
    """Results tables whose winners are not the usual ones.

    The first: Avro/gzip is smallest, Parquet/snappy reads the projection fastest while ORC
    reads everything fastest, and only ORC evolves safely (its uncompressed file writes
    fastest while Avro writes faster still). An unavailable row has the best numbers of all
    and must be ignored. The second moves every winner elsewhere.
    """
    first = pd.DataFrame([
        _format_row("parquet", "none", 9000, 0.020, 0.030, 0.0040, False),
        _format_row("parquet", "snappy", 6000, 0.030, 0.025, 0.0010, False),
        _format_row("orc", "none", 9500, 0.012, 0.002, 0.0030, True),
        _format_row("orc", "zstd", 4000, 0.040, 0.010, 0.0020, True),
        _format_row("avro", "none", 12000, 0.008, 0.300, 0.2500, False),
        _format_row("avro", "gzip", 3500, 0.060, 0.200, 0.1800, False),
        _format_row("avro", "snappy", 10, 0.001, 0.001, 0.0001, True, status="unavailable: no library"),
    ])
    second = pd.DataFrame([
        _format_row("parquet", "zstd", 2500, 0.090, 0.050, 0.0200, True),
        _format_row("parquet", "gzip", 5000, 0.015, 0.040, 0.0300, True),
        _format_row("orc", "snappy", 7000, 0.005, 0.010, 0.0250, False),
        _format_row("orc", "gzip", 3000, 0.050, 0.012, 0.0080, False),
        _format_row("avro", "zstd", 4500, 0.020, 0.100, 0.0900, True),
    ])
    return [first, second]


def _check_pick(got: Any, expected: set[tuple[str, str]], table: pd.DataFrame, workload: str, where: str) -> None:
    if not isinstance(got, tuple) or len(got) != 2 or not all(isinstance(part, str) for part in got):
        fail(f"choose_format must return a (format, codec) tuple of two strings, got {got!r}")
    if got in expected:
        return
    metric = WORKLOADS[workload][0]
    rows = table[(table["format"] == got[0]) & (table["codec"] == got[1])]
    if rows.empty:
        fail(f"{where}, workload {workload!r}: {got} is not a row of the results table")
    row = rows.iloc[0]
    if "status" in table.columns and str(row["status"]) != "ok":
        fail(f"{where}, workload {workload!r}: {got} was not measured (status {row['status']!r}); "
             "skip rows whose status is not 'ok'")
    if workload == "streaming_append_with_evolution" and not bool(row["evolves_safely"]):
        fail(f"{where}, workload {workload!r}: {got[0]} breaks under schema evolution (evolves_safely is "
             "False); only formats that evolve safely qualify, then the fastest write wins")
    fail(f"{where}, workload {workload!r}: {got} has {metric} = {float(row[metric]):.6g}, but another "
         f"qualifying row is lower; this workload minimises {metric}")


@exercise(
    id=FORMAT_ID,
    lab=LAB,
    kind="function",
    title="choose a storage format and codec from the measured bake-off",
    hint="filter status == 'ok'; analytics_projection -> smallest projected_read_s, archive -> smallest "
    "file_bytes, streaming_append_with_evolution -> rows with evolves_safely, then smallest write_s; "
    "return (format, codec) of that row",
)
def _grade_format_choice(answer: Callable[[pd.DataFrame, str], Any], context: dict[str, Any]) -> str:
    measured = context_value(context, "results", pd.DataFrame, exercise_id=FORMAT_ID)
    try:
        for workload in WORKLOADS:
            acceptable_formats(measured, workload)
    except ConfigError as exc:  # the notebook passed the wrong table: the author's mistake, not the learner's
        raise GradingError(f"check({FORMAT_ID!r}) cannot use context['results']: {exc.message}",
                           fix="pass attach_evolution(measure_formats(...), evolve_schemas(...))") from None
    picks = {}
    cases = [("on your measured table", measured)] + [(f"on hand-made table {i}", t)
                                                       for i, t in enumerate(handmade_format_tables(), 1)]
    for where, table in cases:
        for workload in WORKLOADS:
            expected = acceptable_formats(table, workload)
            given = table.copy()
            got = answer(given, workload)
            if not given.equals(table):
                fail("your function changed the results table it was given; work on a copy")
            _check_pick(got, expected, table, workload, where)
            if where == cases[0][0]:
                picks[workload] = got
    summary = "; ".join(f"{w}: {f}/{c}" for w, (f, c) in picks.items())
    return f"right on your measurements ({summary}) and on 2 hand-made tables"


# --- layouts -----------------------------------------------------------------------------------
def handmade_scan_table() -> pd.DataFrame:
    """Bytes per (layout, query) where a lookup-heavy mix, a day-heavy mix and the unweighted
    sum each pick a different layout."""
    data = {
        "flat": {"point_lookup": 500, "one_day": 500, "full_aggregation": 500},
        "dated": {"point_lookup": 900, "one_day": 50, "full_aggregation": 650},
        "bucketed": {"point_lookup": 40, "one_day": 900, "full_aggregation": 700},
    }
    return pd.DataFrame([{"layout": layout, "query": query, "bytes_scanned": value}
                         for layout, queries in data.items() for query, value in queries.items()])


def _candidate_mixes(queries: list[str]) -> list[dict[str, float]]:
    mixes = []
    for query in queries:
        rest = [q for q in queries if q != query]
        mixes.append({query: 0.8, **{q: 0.2 / len(rest) for q in rest}} if rest else {query: 1.0})
    mixes += [{a: 0.9, b: 0.1} for a, b in itertools.permutations(queries, 2)]
    return mixes


def _unweighted_pick(table: pd.DataFrame, queries: list[str]) -> str:
    return str(weighted_bytes(table, dict.fromkeys(queries, 1.0)).index[0])


def grading_mixes(table: pd.DataFrame) -> list[dict[str, float]]:
    """Query mixes to grade on: two with different answers when the data has them, and ones
    where ignoring the weights (within the mix, or over every query) gives a wrong answer."""
    queries = list(dict.fromkeys(table["query"].astype(str)))
    candidates = _candidate_mixes(queries)
    answers = [acceptable_layouts(table, mix) for mix in candidates]
    chosen = [0]
    chosen += [i for i, a in enumerate(answers) if not a & answers[0]][:1]
    everything = _unweighted_pick(table, queries)
    chosen += [i for i, mix in enumerate(candidates) if _unweighted_pick(table, list(mix)) not in answers[i]][:1]
    chosen += [i for i, a in enumerate(answers) if everything not in a][:1]
    return [candidates[i] for i in dict.fromkeys(chosen)]


def _check_layout(got: Any, table: pd.DataFrame, mix: Mapping[str, float], where: str) -> None:
    if not isinstance(got, str):
        fail(f"choose_layout must return a layout name (str), got {type(got).__name__} {got!r}")
    expected = acceptable_layouts(table, mix)
    if got in expected:
        return
    totals = weighted_bytes(table, mix)
    if got not in totals.index:
        fail(f"{where}: {got!r} is not a layout of the scan table ({', '.join(map(str, totals.index))})")
    fail(f"{where}, mix {dict(mix)}: {got!r} scans {totals[got]:,.0f} weighted bytes, but another layout scans "
         f"fewer; weight each query's bytes_scanned by its share of the mix before summing per layout")


@exercise(
    id=LAYOUT_ID,
    lab=LAB,
    kind="function",
    title="choose the layout that minimises weighted bytes scanned",
    hint="for each layout sum weight[query] * bytes_scanned over the queries of the mix (queries not in the "
    "mix weigh 0) and return the layout with the smallest sum",
)
def _grade_layout_choice(answer: Callable[[pd.DataFrame, dict[str, float]], Any], context: dict[str, Any]) -> str:
    measured = context_value(context, "scan_table", pd.DataFrame, exercise_id=LAYOUT_ID)
    try:
        measured_mixes = grading_mixes(measured)
    except (ConfigError, KeyError) as exc:
        raise GradingError(f"check({LAYOUT_ID!r}) cannot use context['scan_table']: {exc}",
                           fix="pass the table measure_layouts() returned") from None
    handmade = handmade_scan_table()
    cases = [("on your measurements", measured, mix) for mix in measured_mixes]
    cases += [("on a hand-made table", handmade, mix) for mix in grading_mixes(handmade)]
    picked = []
    for where, table, mix in cases:
        given = table.copy()
        got = answer(given, dict(mix))
        if not given.equals(table):
            fail("your function changed the scan table it was given; work on a copy")
        _check_layout(got, table, mix, where)
        if table is measured:
            picked.append(f"{got} for {', '.join(f'{q}={w:.2g}' for q, w in mix.items())}")
    return f"right for {len(cases)} query mixes, e.g. {picked[0]}" + (f"; {picked[1]}" if len(picked) > 1 else "")
