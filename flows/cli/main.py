"""The `byok` command: one Typer app, each command group in its own module."""

from __future__ import annotations

import typer

from flows.cli import (
    audit,
    breakers,
    budgets,
    demo,
    deploy,
    keys,
    orgs,
    recipes,
    run,
    serve,
    server,
    simulator,
    usage,
    users,
    vault_admin,
)
from flows.driver_logs import quiet_parameter_loggers

__all__ = ["app", "main"]

app = typer.Typer(
    name="byok",
    help="BYOK Flows: LLM workflows on Prefect, paid with your own provider keys.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(keys.app, name="keys")
app.add_typer(orgs.app, name="orgs")
app.add_typer(users.app, name="users")
app.add_typer(audit.app, name="audit")
app.add_typer(vault_admin.app, name="vault")
app.add_typer(recipes.app, name="recipes")
app.command("simulator")(simulator.simulator)
app.command("run")(run.run)
app.add_typer(usage.app, name="usage")
app.add_typer(budgets.app, name="budgets")
app.command("demo")(demo.demo)
app.command("breakers")(breakers.breakers)
app.command("serve")(serve.serve)
app.command("deploy")(deploy.deploy)
app.add_typer(server.app, name="server")


def main() -> None:
    """Console-script entry point."""
    # Before Prefect configures logging: its temporary API server and this process
    # must not log flow parameters even with the root logger at DEBUG.
    quiet_parameter_loggers()
    app()
