"""Validate pandas or Spark DataFrames against data contracts with Great Expectations checkpoints.

:func:`build_suite` turns a :class:`~platform_kit.quality.contract.DataContract` into a GX
expectation suite (type names for the engine at hand); :class:`QualityContext` holds one quiet GX
context (in memory, or file-backed under a folder) and runs a Checkpoint per contract and engine::

    qc = QualityContext(results_path="runs/quality.jsonl")    # history: one JSON line per run
    report = qc.validate(raw_orders, load_contract("orders_raw"))
    report.summary()        # 'orders_raw v1.0.0 [raw/pandas] PASS 29/29 expectations, 1000 rows, 0.4 s'
    report.frame()          # one row per expectation: column, success, unexpected count, bad values
    qc.build_docs("site")   # GX Data Docs -> site/index.html

Corrupting a batch on purpose (:class:`Break`, :func:`corrupt`) and asking which breaks a suite
catches (:func:`catch_breaks`) live in ``_validate_breaks``; :func:`plot_reports` draws runs.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from platform_kit.errors import InputError, WorkbenchError
from platform_kit.quality._gx import contract_expectations, import_gx, make_context, outcome_fields
from platform_kit.quality.contract import DataContract

_log = logging.getLogger(__name__)

__all__ = ["Break", "CatchReport", "ExpectationOutcome", "QualityContext", "ValidationReport", "build_suite",
           "catch_breaks", "contracts_table", "corrupt", "detect_engine", "expectation_table", "plot_reports",
           "read_results", "runs_frame"]

Engine = Literal["pandas", "spark"]
_SITE = "platform_kit"
_FRAME_COLUMNS = ["expectation", "column", "rule", "success", "unexpected_count", "unexpected_percent",
                  "sample", "observed", "error"]


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result: what was checked, whether it held, and a sample of bad values."""

    expectation: str
    column: str | None
    rule: str | None
    success: bool
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    sample: tuple[Any, ...] = ()
    observed: Any = None
    error: str | None = None


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of validating one DataFrame against one contract."""

    contract: str
    version: str
    stage: str
    engine: str
    success: bool
    evaluated: int
    failed: int
    rows: int
    seconds: float
    run_at: str
    outcomes: tuple[ExpectationOutcome, ...] = field(default=(), repr=False)

    @property
    def failures(self) -> tuple[ExpectationOutcome, ...]:
        """The outcomes that did not hold."""
        return tuple(o for o in self.outcomes if not o.success)

    @property
    def failed_expectations(self) -> list[tuple[str, str | None]]:
        """``(expectation type, column)`` of each failure, e.g. ``("expect_column_values_to_not_be_null", "id")``."""
        return [(o.expectation, o.column) for o in self.failures]

    def frame(self, *, failed_only: bool = False) -> pd.DataFrame:
        """One row per expectation (or per failure): column, success, unexpected count and share, bad values."""
        rows = [asdict(o) for o in (self.failures if failed_only else self.outcomes)]
        return pd.DataFrame(rows, columns=_FRAME_COLUMNS)

    def summary(self) -> str:
        """One line: contract, stage, engine, verdict, counts and time."""
        verdict = "PASS" if self.success else "FAIL"
        line = (f"{self.contract} v{self.version} [{self.stage}/{self.engine}] {verdict} "
                f"{self.evaluated - self.failed}/{self.evaluated} expectations, {self.rows} rows, {self.seconds:.2f} s")
        if self.failures:
            shown = ", ".join(f"{e}({c})" if c else e for e, c in self.failed_expectations[:4])
            more = f" +{self.failed - 4} more" if self.failed > 4 else ""
            line += f"; failed: {shown}{more}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (outcomes as a list of dicts)."""
        out = asdict(self)
        out["outcomes"] = [asdict(o) for o in self.outcomes]
        return out


def detect_engine(df: Any) -> Engine:
    """``"pandas"`` or ``"spark"`` from the DataFrame's class (classic or Spark Connect).

    Raises:
        InputError: ``df`` is neither.
    """
    if isinstance(df, pd.DataFrame):
        return "pandas"
    cls = type(df)
    if cls.__module__.startswith("pyspark.sql") and cls.__name__ == "DataFrame":
        return "spark"
    raise InputError(f"cannot validate a {cls.__module__}.{cls.__name__}: expected a pandas or Spark DataFrame",
                     fix="pass a pandas.DataFrame or pyspark.sql.DataFrame (convert with pd.DataFrame(...))")


def _check_engine(engine: str) -> Engine:
    if engine not in ("pandas", "spark"):
        raise InputError(f"unknown engine {engine!r}", fix="use engine='pandas' or engine='spark'")
    return engine  # type: ignore[return-value]


def build_suite(contract: DataContract, engine: Engine = "pandas") -> Any:
    """A GX ExpectationSuite named ``<contract>-<engine>`` with the contract's rules.

    Args:
        contract: The contract to translate.
        engine: Whose type names the type checks use (pandas dtypes or Spark SQL types).

    Returns:
        A new, unsaved ``great_expectations.ExpectationSuite``; each expectation's ``meta["rule"]``
        names the contract key it comes from.

    Raises:
        InputError: Unknown engine or not a DataContract.
        DependencyMissingError: great_expectations is not installed.
    """
    if not isinstance(contract, DataContract):
        raise InputError(f"expected a DataContract, got {type(contract).__name__}",
                         fix="load one first: load_contract('orders_raw')")
    _check_engine(engine)
    gx = import_gx()
    # expectations go in through the constructor: add_expectation() needs an active GX context
    return gx.ExpectationSuite(name=f"{contract.name}-{engine}",
                               expectations=contract_expectations(contract, engine),
                               meta={"contract": contract.name, "version": contract.version,
                                     "owner": contract.owner.email, "stage": contract.stage})


class QualityContext:
    """One quiet GX context that validates DataFrames against contracts and builds Data Docs.

    Args:
        root: Folder for a file-backed GX project (suites, checkpoints and results as JSON under
            ``root/gx``); ``None`` keeps everything in memory.
        results_path: A JSON-lines file that every run appends its report to (optional).
        partial_unexpected_count: How many bad values GX samples per expectation.
    """

    def __init__(self, root: str | Path | None = None, *, results_path: str | Path | None = None,
                 partial_unexpected_count: int = 5) -> None:
        self.root = None if root is None else Path(root).resolve()
        self.results_path = None if results_path is None else Path(results_path)
        self._result_format = {"result_format": "SUMMARY", "partial_unexpected_count": partial_unexpected_count}
        try:
            self.context = make_context(self.root)
        except WorkbenchError:
            raise
        except Exception as exc:
            raise InputError(f"cannot create a GX context under {self.root}: {type(exc).__name__}: {exc}",
                             fix="use an empty or existing GX project folder, or root=None for memory") from exc
        self._sources: dict[str, Any] = {}
        # (contract name, engine) -> (contract, checkpoint): refreshing a suite in GX costs ~0.4 s,
        # most of a small batch's validation, so an unchanged contract reuses its checkpoint
        self._checkpoints: dict[tuple[str, str], tuple[DataContract, Any]] = {}

    def __repr__(self) -> str:
        return f"QualityContext(root={str(self.root) if self.root else None!r}, results_path={self.results_path!r})"

    def _checkpoint(self, contract: DataContract, engine: Engine) -> Any:
        """Create or refresh the suite, batch, validation definition and checkpoint (idempotent)."""
        cached = self._checkpoints.get((contract.name, engine))
        if cached is not None and cached[0] == contract:
            return cached[1]
        gx = import_gx()
        ctx = self.context
        suite = ctx.suites.add_or_update(build_suite(contract, engine))
        if engine not in self._sources:
            add = ctx.data_sources.add_or_update_pandas if engine == "pandas" else ctx.data_sources.add_or_update_spark
            self._sources[engine] = add(name=f"platform_kit_{engine}")
        source = self._sources[engine]
        try:
            asset = source.get_asset(suite.name)
        except LookupError:
            asset = source.add_dataframe_asset(name=suite.name)
        try:
            batch = asset.get_batch_definition("whole_dataframe")
        except (KeyError, LookupError):
            batch = asset.add_batch_definition_whole_dataframe("whole_dataframe")
        definition = ctx.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))
        checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
            name=suite.name, validation_definitions=[definition], result_format=self._result_format))
        self._checkpoints[(contract.name, engine)] = (contract, checkpoint)
        return checkpoint

    def validate(self, df: Any, contract: DataContract, *, stage: str | None = None) -> ValidationReport:
        """Run the contract's checkpoint on a pandas or Spark DataFrame.

        Args:
            df: The batch to check (its engine is detected from its class).
            contract: The contract it must meet.
            stage: Label for the report and results history; defaults to ``contract.stage``.

        Returns:
            The report (a failed contract is a report with ``success=False``, not an exception).

        Raises:
            InputError: ``df`` is not a pandas/Spark DataFrame, or GX cannot run the checkpoint.
        """
        engine = detect_engine(df)
        if not isinstance(contract, DataContract):
            raise InputError(f"expected a DataContract, got {type(contract).__name__}",
                             fix="load one first: load_contract('orders_raw')")
        started = time.perf_counter()
        try:
            checkpoint = self._checkpoint(contract, engine)
            result = checkpoint.run(batch_parameters={"dataframe": df})
        except WorkbenchError:
            raise
        except Exception as exc:  # GX raises many unrelated types; none may leak
            raise InputError(f"GX could not validate {contract.name} on {engine}: {type(exc).__name__}: {exc}",
                             fix="check that the DataFrame is materialised and its Spark session is alive") from exc
        seconds = time.perf_counter() - started
        report = self._report(result, df, contract, engine, stage or contract.stage, seconds)
        _log.info("%s", report.summary())
        if self.results_path is not None:
            self._append(report)
        return report

    def _report(self, result: Any, df: Any, contract: DataContract, engine: Engine, stage: str,
                seconds: float) -> ValidationReport:
        suite_result = next(iter(result.run_results.values()))
        outcomes = tuple(ExpectationOutcome(**outcome_fields(r)) for r in suite_result.results)
        stats = suite_result.statistics
        return ValidationReport(
            contract=contract.name, version=contract.version, stage=stage, engine=engine,
            success=bool(suite_result.success), evaluated=int(stats["evaluated_expectations"]),
            failed=int(stats["unsuccessful_expectations"]), rows=_row_count(df, suite_result),
            seconds=round(seconds, 4), run_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            outcomes=outcomes)

    def _append(self, report: ValidationReport) -> None:
        assert self.results_path is not None
        self.results_path.parent.mkdir(parents=True, exist_ok=True)
        with self.results_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(report.to_dict(), default=str) + "\n")

    def build_docs(self, folder: str | Path) -> Path:
        """Build GX Data Docs for every run so far into ``folder`` and return its ``index.html``.

        Raises:
            InputError: The folder cannot be written or GX fails to render.
        """
        target = Path(folder).resolve()
        site = {"class_name": "SiteBuilder",
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                # absolute: a relative base_directory is resolved against the GX project root
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(target)}}
        try:
            target.mkdir(parents=True, exist_ok=True)
            for name in list(self.context.list_data_docs_sites()):
                self.context.delete_data_docs_site(name)
            self.context.add_data_docs_site(site_name=_SITE, site_config=site)
            self.context.build_data_docs(site_names=[_SITE])
        except OSError as exc:
            raise InputError(f"cannot write Data Docs to {target}: {exc}", fix="pick a writable folder") from exc
        except Exception as exc:
            raise InputError(f"GX could not build Data Docs in {target}: {type(exc).__name__}: {exc}",
                             fix="validate at least one batch first, then build again") from exc
        index = target / "index.html"
        if not index.is_file():
            raise InputError(f"Data Docs build wrote no {index}", fix="validate at least one batch first")
        return index


def expectation_table(contract: DataContract, engine: Engine = "pandas") -> pd.DataFrame:
    """The expectations a contract generates: one row each with its type, column, contract rule and arguments."""
    rows = []
    for exp in build_suite(contract, engine).expectations:
        config = exp.configuration
        kwargs = {k: v for k, v in config.kwargs.items() if k not in ("column", "batch_id")}
        rows.append({"expectation": config.type, "column": config.kwargs.get("column"),
                     "rule": (config.meta or {}).get("rule"),
                     "arguments": ", ".join(f"{k}={v}" for k, v in kwargs.items())[:80]})
    return pd.DataFrame(rows, columns=["expectation", "column", "rule", "arguments"])


def contracts_table(contracts: Any, engine: Engine = "pandas") -> pd.DataFrame:
    """One row per contract: stage, owning team, columns, primary key, column match and expectations generated.

    Args:
        contracts: DataContract objects (a list, or a mapping of them).
        engine: Whose suite to count (the count is the same for both engines).
    """
    items = list(contracts.values()) if isinstance(contracts, dict) else list(contracts)
    rows = [{"contract": c.name, "version": c.version, "stage": c.stage, "owner": c.owner.team,
             "columns": len(c.columns), "primary_key": ", ".join(c.primary_key), "column_match": c.column_match,
             "expectations": len(contract_expectations(c, engine))} for c in items]
    return pd.DataFrame(rows).set_index("contract")


def _row_count(df: Any, suite_result: Any) -> int:
    if isinstance(df, pd.DataFrame):
        return len(df)
    for r in suite_result.results:  # reuse a count GX already computed instead of a Spark job
        res = r.result or {}
        if r.expectation_config.type == "expect_table_row_count_to_be_between" and "observed_value" in res:
            return int(res["observed_value"])
        if isinstance(res.get("element_count"), int):
            return int(res["element_count"])
    return int(df.count())


def read_results(path: str | Path) -> pd.DataFrame:
    """The run history a QualityContext appended to ``path``: one row per run (outcomes left out).

    Raises:
        InputError: The file is missing or a line is not JSON.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read results {path}: {exc.strerror or exc}",
                         fix="pass the results_path given to QualityContext") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{number} is not JSON ({exc.msg})",
                             fix="remove the broken line; each line is one run") from exc
        record.pop("outcomes", None)
        rows.append(record)
    return pd.DataFrame(rows)


# re-exported here, where the lab looks for validation tools (imported last: they use this module lazily)
from platform_kit.quality._validate_breaks import Break, CatchReport, catch_breaks, corrupt  # noqa: E402
from platform_kit.quality._validate_plot import plot_reports, runs_frame  # noqa: E402
