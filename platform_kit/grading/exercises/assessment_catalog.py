"""Exercise of lab ``01_assessment``, section 7 (metadata harvesting): harvest one more source.

The learner writes a ``CsvHarvester`` following the catalog's ``Harvester`` protocol; the
grader runs it on CSV folders it builds itself and compares the records with the truth.

Introduced in: Lab 1 (assessment).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from platform_kit.grading._context import fail
from platform_kit.grading._registry import exercise

LAB = "01_assessment"
EXERCISE_ID = "assessment.harvest_source"


def csv_dataset_id(path: Path) -> str:
    """The id a CSV file must get: ``csv://`` + its absolute POSIX path."""
    return f"csv://{path.resolve().as_posix()}"


def expected_csv_records(root: Path) -> dict[str, dict[str, Any]]:
    """Truth for every ``*.csv`` directly in ``root``: id -> name, rows, columns, types, size."""
    truth = {}
    for path in sorted(root.glob("*.csv")):
        frame = pd.read_csv(path)
        truth[csv_dataset_id(path)] = {
            "file": path.name, "name": path.stem, "rows": len(frame), "size": path.stat().st_size,
            "columns": [str(c) for c in frame.columns], "types": [str(t) for t in frame.dtypes],
            "lines": sum(1 for _ in path.open(encoding="utf-8")),
        }
    return truth


def build_csv_fixture(root: Path, seed: int, orders: pd.DataFrame | None = None) -> None:
    """Write the grading fixture: orders (a random sample), tickets with quoted multi-line text,
    a header-only file, and a non-CSV file that must be ignored."""
    rng = np.random.default_rng(seed)
    if orders is None or orders.empty:
        size = 60
        orders = pd.DataFrame({
            "order_id": np.arange(1, size + 1), "customer_id": rng.integers(1, 40, size),
            "currency": rng.choice(["EUR", "USD", "JPY"], size),
            "total_amount": rng.gamma(2, 30, size).round(2),
            "gift": rng.random(size) < 0.2,
        })
    rows = int(rng.integers(20, min(len(orders), 90) + 1)) if len(orders) >= 20 else len(orders)
    sample = orders.sample(n=rows, random_state=seed).reset_index(drop=True)
    sample.to_csv(root / "orders.csv", index=False)
    tickets = int(rng.integers(5, 12))
    pd.DataFrame({
        "ticket_id": np.arange(1, tickets + 1),
        "body": [f"Hello,\nmy order {i} arrived \"damaged\", please call +1 555 01{i:02d}.\nThanks" for i in
                 range(tickets)],
        "refund": [None if i % 3 == 0 else float(i * 10) for i in range(tickets)],
    }).to_csv(root / "tickets.csv", index=False)
    (root / "empty.csv").write_text("id,name,created_ts\n", encoding="utf-8")
    (root / "notes.txt").write_text("not,a,catalogued,file\n1,2,3,4\n", encoding="utf-8")


def _records_of(answer: Any, root: Path) -> list[Any]:
    from platform_kit.assessment.catalog import Harvester, validate_records
    from platform_kit.errors import ConfigError

    if not isinstance(answer, type):
        fail(f"expected your harvester class (CsvHarvester, not an instance), got {type(answer).__name__}")
    try:
        harvester = answer(str(root))
    except TypeError as exc:
        fail(f"CsvHarvester(root) must take the folder to harvest as its only argument: {exc}")
    if not isinstance(harvester, Harvester):
        fail("a harvester needs a `source` attribute and a `harvest()` method (the Harvester protocol)")
    if harvester.source != "csv":
        fail(f"source should be 'csv', got {harvester.source!r}")
    try:
        return validate_records(harvester.harvest(), "csv")
    except ConfigError as exc:
        fail(exc.message)


def _compare(records: list[Any], truth: dict[str, dict[str, Any]]) -> None:
    got = {r.id: r for r in records}
    names = {Path(i.split("://", 1)[1]).name: i for i in got}
    if "notes.txt" in names:
        fail("notes.txt is not a CSV file: harvest only files ending in .csv")
    for identifier, want in truth.items():
        record = got.get(identifier)
        if record is None:
            near = names.get(want["file"])
            where = f" (you used id {near!r})" if near else ""
            fail(f"no record for {want['file']}{where}; its id must be {identifier!r}: "
                 "'csv://' + the absolute path")
        if record.name != want["name"]:
            fail(f"{want['file']}: name should be the file stem {want['name']!r}, got {record.name!r}")
        if record.source != "csv":
            fail(f"{want['file']}: source should be 'csv', got {record.source!r}")
        if record.row_count != want["rows"]:
            why = ""
            if record.row_count == want["rows"] + 1:
                why = "; the header line is not a row"
            elif record.row_count in (want["lines"], want["lines"] - 1):
                why = "; counting lines is wrong when a quoted field spans several lines: parse the CSV"
            fail(f"{want['file']}: row_count {record.row_count}, expected {want['rows']}{why}")
        if record.column_names != want["columns"]:
            missing = [c for c in want["columns"] if c not in record.column_names]
            detail = f"missing {missing}" if missing else f"got {record.column_names}"
            fail(f"{want['file']}: columns should be {want['columns']} in file order, {detail}")
        types = [c.type for c in record.columns]
        if types != want["types"]:
            bad = [(c, t, w) for c, t, w in zip(want["columns"], types, want["types"], strict=True) if t != w]
            column, typed, wanted = bad[0]
            fail(f"{want['file']}: column {column!r} has type {typed!r}, expected {wanted!r} "
                 "(the dtype pandas.read_csv infers, as str(dtype))")
        if record.size_bytes is not None and record.size_bytes != want["size"]:
            fail(f"{want['file']}: size_bytes {record.size_bytes}, but the file has {want['size']} bytes")
    extra = sorted(set(got) - set(truth))
    if extra:
        fail(f"records for datasets that are not CSV files of the folder: {extra}")


@exercise(
    id=EXERCISE_ID,
    lab=LAB,
    kind="function",
    title="a harvester for one more source (CSV files)",
    hint="for each sorted(Path(root).glob('*.csv')): frame = pd.read_csv(path); "
    "DatasetRecord(id='csv://' + path.resolve().as_posix(), source='csv', name=path.stem, "
    "row_count=len(frame), "
    "columns=tuple(ColumnRecord(name=c, type=str(t)) for c, t in frame.dtypes.items()))",
)
def _grade_harvest_source(answer: Any, context: dict[str, Any]) -> str:
    orders = context.get("orders")
    orders = orders if isinstance(orders, pd.DataFrame) else None
    checked = 0
    for seed in (11, 29):
        with tempfile.TemporaryDirectory(prefix="grade-csv-") as tmp:
            root = Path(tmp)
            build_csv_fixture(root, seed, orders)
            truth = expected_csv_records(root)
            records = _records_of(answer, root)
            _compare(records, truth)
            checked += len(truth)
    return (f"your harvester catalogued {checked} CSV files in two fresh folders with the right ids, row "
            "counts (multi-line quoted fields included), columns and types, and ignored the non-CSV file")
