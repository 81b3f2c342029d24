"""The ``workbench`` command line: services, labs, grading.

Every :class:`~platform_kit.errors.WorkbenchError` is printed as one message plus its
fix, and the command exits with status 2 instead of a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from platform_kit.errors import WorkbenchError

app = typer.Typer(
    name="workbench",
    help="AI-Ready Data Platform Workbench: run the engines, the labs and the grader.",
    no_args_is_help=True,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register_commands() -> None:
    # Imported here so each command module stays small and owns its own commands.
    from platform_kit.cli import _dlq, _labs, _quality, _services

    _services.register(app)
    _labs.register(app)
    _dlq.register(app)
    _quality.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``workbench`` script; returns the process exit status."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    _register_commands()
    try:
        result = app(args=argv, standalone_mode=False)
    except WorkbenchError as exc:
        err_console.print(f"[bold red]error:[/] {exc.message}")
        if exc.fix:
            err_console.print(f"[bold]fix:[/] {exc.fix}")
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except Exception as exc:  # usage errors from (typer's vendored) click arrive here
        name = type(exc).__name__
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # ClickException and subclasses
            exc.show()
            return int(exc.exit_code)
        if name == "Abort":
            return 1
        raise
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
