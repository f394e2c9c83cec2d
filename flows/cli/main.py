"""The `byok` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

from flows.cli import demo, keys, recipes, run, simulator, usage

__all__ = ["app", "main"]

app = typer.Typer(
    name="byok",
    help="BYOK Flows: LLM workflows on Prefect, paid with your own provider keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(recipes.app, name="recipes")
app.command("simulator")(simulator.simulator)
app.command("run")(run.run)
app.command("usage")(usage.usage)
app.command("demo")(demo.demo)


def main() -> None:
    """Console-script entry point."""
    app()
