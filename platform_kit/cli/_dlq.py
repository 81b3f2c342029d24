"""``workbench dlq show|replay``: inspect a dead-letter topic and re-drive its records after a fix."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 180)

ProfileOpt = Annotated[Optional[str], typer.Option("--profile", "-p", help="embedded | compose | ...")]  # noqa: UP007
IdleOpt = Annotated[float, typer.Option("--idle", min=0.1, help="stop reading after this many idle seconds")]


def _broker(profile: str | None):  # type: ignore[no-untyped-def]
    from platform_kit._workbench import Workbench

    return Workbench(profile).broker


def _summary_table(frame, title: str) -> Table:  # type: ignore[no-untyped-def]
    table = Table(title=title)
    for column in ("reason", "stage", "count", "max attempts", "replayed", "original topics", "last failed (UTC)"):
        table.add_column(column, justify="right" if column in ("count", "max attempts", "replayed") else "left")
    for row in frame.itertuples(index=False):
        table.add_row(escape(row.reason), row.stage, str(row.count), str(row.max_attempts), str(row.replayed),
                      escape(row.topics), row.last_failed.strftime("%Y-%m-%d %H:%M:%S"))
    return table


def register(app: typer.Typer) -> None:
    """Add the ``dlq`` sub-app to ``app``."""
    dlq = typer.Typer(name="dlq", help="Dead-letter topics: counts by reason, and replay after a fix.",
                      no_args_is_help=True)
    app.add_typer(dlq, name="dlq")

    @dlq.command("show")
    def show(
        topic: Annotated[str, typer.Argument(help="the DLQ topic, e.g. lab02.orders.dlq")],
        profile: ProfileOpt = None,
        idle: IdleOpt = 1.5,
    ) -> int:
        """Count the dead letters of TOPIC by reason and stage."""
        from platform_kit.ingestion import read_dead_letters
        from platform_kit.ingestion.pipeline import dlq_summary

        letters = read_dead_letters(_broker(profile), topic, idle_s=idle)
        frame = dlq_summary(letters)
        if frame.empty:
            console.print(f"{escape(topic)}: no dead letters")
            return 0
        console.print(_summary_table(frame, f"{escape(topic)}: {len(letters)} dead letter(s)"))
        return 0

    @dlq.command("replay")
    def replay(
        topic: Annotated[str, typer.Argument(help="the DLQ topic to re-drive")],
        to: Annotated[Optional[str], typer.Option("--to", help="send here instead of each original topic")] = None,  # noqa: UP007
        reason: Annotated[Optional[list[str]], typer.Option("--reason", "-r",  # noqa: UP007
                                                            help="only this reason (repeatable)")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be replayed, send nothing")] = False,
        profile: ProfileOpt = None,
        idle: IdleOpt = 1.5,
    ) -> int:
        """Re-produce the dead letters of TOPIC to their original topic (or --to), key and value unchanged."""
        from collections import Counter

        from platform_kit.ingestion import drain_topic
        from platform_kit.ingestion.dlq import DeadLetter
        from platform_kit.ingestion.pipeline import replay_dead_letters

        broker = _broker(profile)
        records = drain_topic(broker, topic, idle_s=idle)
        if dry_run:
            letters = [DeadLetter.from_dlq_record(r) for r in records]
            chosen = [x for x in letters if not reason or x.reason in reason]
            counts = Counter((to or x.topic, x.reason) for x in chosen)
            for (target, why), n in sorted(counts.items()):
                console.print(f"would replay {n} x {escape(why)} -> {escape(target)}")
            console.print(f"{len(chosen)} of {len(letters)} dead letter(s) would be replayed (dry run)")
            return 0
        report = replay_dead_letters(broker, topic, to=to, reasons=reason, records=records)
        for target, n in sorted(report.by_target.items()):
            console.print(f"replayed {n} record(s) -> {escape(target)}")
        console.print(f"{report.replayed} of {report.read} dead letter(s) replayed"
                      + (f" ({report.skipped} skipped by --reason)" if report.skipped else "")
                      + "; replayed records carry replay.of / replay.reason / replay.count headers")
        return 0
