"""Placeholder until the lab commands land."""
import typer


def register(app: typer.Typer) -> None:
    """No lab commands yet."""
