"""``workbench up|down|status|reset|doctor``: the embedded (or compose) services."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

import sys

# Wide enough for paths when piped (CI logs); a terminal keeps its own width.
console = Console(width=None if sys.stdout.isatty() else 180)

ProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="embedded | compose | ...")]  # noqa: UP007
ServicesArg = Annotated[Optional[list[str]], typer.Argument(help="object_store broker postgres olap spark")]  # noqa: UP007


def _status_table(rows: list) -> Table:  # type: ignore[type-arg]
    table = Table(title="workbench services")
    for column in ("service", "type", "state", "healthy", "endpoint", "pid", "data / detail"):
        table.add_column(column)
    colours = {"running": "green", "in-process": "cyan", "external": "green", "stopped": "yellow",
               "crashed": "red", "unreachable": "red"}
    for row in rows:
        colour = colours.get(row.state, "white")
        detail = "\n".join(x for x in (row.data_dir, row.detail) if x)
        table.add_row(row.kind, row.type, f"[{colour}]{row.state}[/]", "yes" if row.healthy else "no",
                      row.endpoint or "-", str(row.pid or "-"), detail)
    return table


def register(app: typer.Typer) -> None:
    """Add the service commands to ``app``."""

    @app.command()
    def up(services: ServicesArg = None, profile: ProfileOpt = None) -> int:
        """Start services (default: all) and leave them running for notebooks."""
        from platform_kit._workbench import Workbench

        workbench = Workbench(profile)
        began = time.monotonic()
        rows = workbench.up(services)
        console.print(_status_table(rows))
        console.print(f"started in {time.monotonic() - began:.1f} s; stop with `workbench down`")
        return 0 if all(r.healthy for r in rows) else 1

    @app.command()
    def down(services: ServicesArg = None, profile: ProfileOpt = None) -> int:
        """Stop services started by `workbench up` (data is kept)."""
        from platform_kit._workbench import Workbench

        workbench = Workbench(profile)
        workbench.down(services)
        console.print(_status_table(workbench.status(services)))
        return 0

    @app.command()
    def status(services: ServicesArg = None, profile: ProfileOpt = None) -> int:
        """Health, ports and data folders of each service (starts nothing)."""
        from platform_kit._workbench import Workbench

        rows = Workbench(profile).status(services)
        console.print(_status_table(rows))
        return 1 if any(r.state in {"crashed", "unreachable"} for r in rows) else 0

    @app.command()
    def reset(
        services: ServicesArg = None,
        profile: ProfileOpt = None,
        yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    ) -> int:
        """Stop services and wipe lab state back to a clean seed."""
        from platform_kit._workbench import Workbench

        if not yes and not typer.confirm("Wipe service data and lab progress?", default=False):
            return 1
        for line in Workbench(profile).reset(services):
            console.print(f"wiped {line}")
        return 0

    @app.command()
    def doctor(profile: ProfileOpt = None) -> int:
        """Preflight: Python, Java, RAM, disk, ports, binaries, Docker."""
        from platform_kit.doctor import run_doctor

        findings = run_doctor(profile)
        table = Table(title="workbench doctor")
        for column in ("check", "result", "finding", "fix"):
            table.add_column(column)
        marks = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[red]FAIL[/]"}
        for item in findings:
            table.add_row(item.check, marks[item.level], item.message, item.fix)
        console.print(table)
        return 1 if any(f.level == "fail" for f in findings) else 0
