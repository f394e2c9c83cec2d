"""`byok run`: run a recipe once, here, and print its outputs and cost.

Everything a user can get wrong (an unreadable recipe, a bad input, a model
whose key is missing) is checked before Prefect starts, and reported in one
line; only then does the flow run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from flows.cli.console import err, fail, out, print_json
from flows.recipe import Recipe, RecipeError, load_recipe

__all__ = ["authorize", "authorize_read", "parse_inputs", "run"]


def run(
    recipe_path: Annotated[Path, typer.Argument(metavar="RECIPE", help="Recipe YAML file.")],
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            metavar="KEY=VALUE",
            help="A recipe input; repeatable. Sensitive inputs take a reference: "
            "KEY=file:PATH, KEY=secret:NAME or KEY=- (stdin).",
        ),
    ] = None,
    org: Annotated[
        str | None,
        typer.Option(help="Organisation whose keys pay for the run (default: 'default' or yours)."),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help="User the run executes as: BYOK_TOKEN's user (default), nobody else."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    *,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the worst-case cost; call no provider.")
    ] = False,
) -> None:
    """Run RECIPE once and wait for it; exit status 0 only when it completed."""
    from deployments.local_server import use_running_server

    use_running_server()  # first: loading a recipe may import Prefect, which reads the URL once
    try:
        recipe = load_recipe(recipe_path)
        values = recipe.coerce_inputs(parse_inputs(inputs or []))
    except RecipeError as error:
        fail(str(error))
    if dry_run:
        from flows.cli.estimate import print_estimate

        # It reads which provider the org's keys bill through: any role may.
        org = authorize_read(org)
        print_estimate(recipe, values, org=org, json_output=json_output)
        return
    org, user = authorize(org, user)
    check_keys(recipe, org)
    from flows.cli.sensitive import read_stdin_inputs

    stdin = read_stdin_inputs(recipe, values)
    _say_if_ephemeral()

    from flows.engine.running import run_recipe

    result = asyncio.run(run_recipe(recipe, values, org=org, user=user, stdin=stdin))
    if json_output:
        print_json(result.to_json())
    else:
        from flows.cli.report import print_run

        print_run(out, result)
    if result.state != "COMPLETED":
        if json_output:
            err.print(f"[bold red]error:[/] {escape(result.error or '')}")
        raise typer.Exit(1)


def parse_inputs(pairs: list[str]) -> dict[str, Any]:
    """`KEY=VALUE` strings to a dict; values stay strings until the recipe types them."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--input expects KEY=VALUE, got {key!r}" if key else "--input expects KEY=VALUE")
        values[key.strip()] = value
    return values


def authorize(org: str | None, user: str | None) -> tuple[str, str]:
    """The org and user the run executes as, once BYOK_TOKEN's principal may run there."""
    from vault import VaultError, authorize_run

    try:
        grant = authorize_run(org, user)
    except VaultError as error:
        fail(str(error))
    return grant.org, grant.user


def authorize_read(org: str | None) -> str:
    """The org a dry run estimates for, once BYOK_TOKEN's principal may see its keys."""
    from flows.cli.signin import open_vault, vault_errors
    from vault.access import Action

    vault = open_vault()
    with vault_errors():
        return vault.authorize(org, Action.KEY_LIST)


def check_keys(recipe: Recipe, org: str) -> None:
    """Fail before starting Prefect when a step's model has no key in `org`."""
    from vault import KeyStore, VaultError

    try:
        store = KeyStore.open()
        for step in recipe.steps:
            for model in (step.model, *step.fallbacks):
                store.find_key(org, model.partition(":")[0])
    except VaultError as error:
        fail(str(error))


def _say_if_ephemeral() -> None:
    """Say that Prefect's ephemeral API is slow when neither a server nor a profile is set."""
    from prefect.settings import get_current_settings

    if get_current_settings().api.url is None:
        err.print(
            "[dim]starting Prefect's ephemeral API (15-25 s); "
            "`byok server start` makes later runs start in a few seconds[/]"
        )
