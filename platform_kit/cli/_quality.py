"""``workbench quality gate|validate``: data-quality gates for CI and one-off contract checks.

Introduced in: Lab 4 (data quality).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from platform_kit.quality.contract import DataContract
    from platform_kit.quality.gate import GateVerdict

console = Console(width=None if sys.stdout.isatty() else 180)

_COLUMNS = ("severity", "expectation", "column", "rule", "unexpected", "sample")
_FILE_SUFFIXES = (".parquet", ".pq", ".csv")

NamesArg = Annotated[list[str] | None, typer.Argument(help="gates to run (default: every gate in the file)")]
GatesOpt = Annotated[Path | None, typer.Option("--gates", "-g", help="gates YAML (default: the bundled gates.yml)")]
ScaleOpt = Annotated[str | None, typer.Option("--scale", "-s", help="override each gate's data scale")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


def _failure_table(title: str, rows: list[dict[str, Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in _COLUMNS:
        table.add_column(column, justify="right" if column == "unexpected" else "left", overflow="fold")
    for row in rows:
        style = "red" if row["severity"] == "blocking" else "yellow"
        table.add_row(*(f"[{style}]{escape(str(row[c]))}[/]" if c == "severity" else escape(str(row[c]))[:120]
                        for c in _COLUMNS))
    return table


def _print_verdict(verdict: GateVerdict) -> None:
    from platform_kit.quality._gate_render import failure_rows

    colour = "green" if verdict.passed else "red"
    console.print(f"[bold {colour}]{'PASS' if verdict.passed else 'FAIL'}[/] {escape(verdict.summary())}",
                  soft_wrap=True)  # one line per gate, however long: CI logs are grepped
    rows = failure_rows(verdict.blocking, verdict.warnings)
    if rows:
        console.print(_failure_table(f"gate {escape(verdict.gate)}: {escape(verdict.transform)}", rows))


def _select(gates: dict[str, Any], names: list[str] | None, origin: str) -> list[Any]:
    from platform_kit.errors import InputError

    unknown = [n for n in names or [] if n not in gates]
    if unknown:
        raise InputError(f"no gate named {', '.join(map(repr, unknown))} in {origin}",
                         fix=f"use one of: {', '.join(gates) or '(the file declares none)'}")
    return [gates[n] for n in names] if names else list(gates.values())


def _read_table(source: str, contract: DataContract, scale: str, seed: int) -> pd.DataFrame:
    """A generated table by name, or a Parquet/CSV file (CSV temporal columns parsed per the contract)."""
    import pandas as pd

    from platform_kit.datasets import TABLES, generate_table
    from platform_kit.errors import InputError

    path = Path(source)
    if path.suffix.lower() in _FILE_SUFFIXES:
        if not path.is_file():
            raise InputError(f"no such file {path}", fix="check the path, or name a generated table")
        try:
            if path.suffix.lower() != ".csv":
                return pd.read_parquet(path)
            df = pd.read_csv(path)
        except (OSError, ValueError, ImportError) as exc:
            raise InputError(f"cannot read {path}: {type(exc).__name__}: {exc}",
                             fix="check that the file is a valid Parquet or CSV file") from exc
        # CSV carries no types: parse what the contract says is a timestamp or a date
        for spec in contract.columns:
            if spec.name in df.columns and spec.type in ("timestamp", "date"):
                parsed = pd.to_datetime(df[spec.name], errors="coerce").astype("datetime64[us]")
                df[spec.name] = parsed.dt.date if spec.type == "date" else parsed
        return df
    if source in TABLES:
        return generate_table(source, scale, seed)  # type: ignore[arg-type]
    raise InputError(f"{source!r} is neither a generated table nor a .parquet/.csv file",
                     fix=f"name one of {', '.join(TABLES)} or pass a path ending in .parquet or .csv")


def register(app: typer.Typer) -> None:
    """Add the ``quality`` sub-app to ``app``."""
    quality = typer.Typer(name="quality", help="Data quality: contract checks and CI gates.", no_args_is_help=True)
    app.add_typer(quality, name="quality")

    @quality.command("gate")
    def gate(
        names: NamesArg = None,
        gates_file: GatesOpt = None,
        scale: ScaleOpt = None,
        docs: Annotated[Path | None, typer.Option("--docs", help="also build GX Data Docs in this folder")] = None,
        markdown: Annotated[Path | None, typer.Option("--markdown", help="write a CI comment (Markdown) here")] = None,
        as_json: JsonOpt = False,
    ) -> int:
        """Run quality gates (transform -> contract); exit 1 when any gate fails."""
        from platform_kit.quality.gate import BUNDLED_GATES, QualityGate, load_gates
        from platform_kit.quality.validate import QualityContext

        source = gates_file or BUNDLED_GATES
        chosen = _select(load_gates(source), names, str(source))
        if scale is not None:
            chosen = [QualityGate(**{**dict(g), "scale": scale}) for g in chosen]
        context = QualityContext()
        verdicts = []
        for item in chosen:
            verdict = _run(item, context)
            verdicts.append(verdict)
            if not as_json:
                _print_verdict(verdict)
        failed = [v.gate for v in verdicts if not v.passed]
        if markdown is not None:
            markdown.parent.mkdir(parents=True, exist_ok=True)
            markdown.write_text("\n".join(v.to_markdown() for v in verdicts), encoding="utf-8")
        if docs is not None:
            index = context.build_docs(docs)
            if not as_json:
                console.print(f"Data Docs: {escape(str(index))}")
        if as_json:
            typer.echo(json.dumps([v.to_dict() for v in verdicts], default=str, indent=2))
        else:
            console.print(f"{len(verdicts) - len(failed)} of {len(verdicts)} gate(s) passed"
                          + (f"; failed: {escape(', '.join(failed))}" if failed else ""))
        return 1 if failed else 0

    @quality.command("validate")
    def validate(
        source: Annotated[str, typer.Argument(help="a generated table name (orders) or a .parquet/.csv file")],
        contract: Annotated[str, typer.Option("--contract", "-c", help="bundled contract name or YAML path")],
        scale: Annotated[str, typer.Option("--scale", "-s", help="scale of a generated table")] = "tiny",
        seed: Annotated[int, typer.Option("--seed", help="seed of a generated table")] = 42,
        as_json: JsonOpt = False,
    ) -> int:
        """Validate a table or file against a contract; exit 1 when an expectation fails."""
        from platform_kit.quality._gate_render import failure_rows
        from platform_kit.quality.contract import load_contract
        from platform_kit.quality.validate import QualityContext

        spec = load_contract(contract)
        report = QualityContext().validate(_read_table(source, spec, scale, seed), spec)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), default=str, indent=2))
        else:
            colour = "green" if report.success else "red"
            console.print(f"[bold {colour}]{'PASS' if report.success else 'FAIL'}[/] {escape(report.summary())}",
                          soft_wrap=True)
            if report.failures:
                console.print(_failure_table(f"{escape(source)} vs {escape(spec.name)}",
                                             failure_rows(report.failures, ())))
        return 0 if report.success else 1


def _run(gate: Any, context: Any) -> GateVerdict:
    from platform_kit.quality.gate import run_gate

    return run_gate(gate, context=context)
