"""`byok serve [PATH ...]`: every recipe found, served as a Prefect deployment from here.

Like `prefect serve`: this process registers one deployment per recipe (its
parameters are the recipe's inputs, its schedule the recipe's `schedule`) and
runs their flow runs, each in a subprocess, until stopped with Ctrl-C. Runs are
triggered from the Prefect UI, the API or `prefect deployment run`. Restarting
after editing a recipe registers the new version and says which recipes changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from flows.cli.console import err, fail
from flows.cli.run import authorize
from flows.recipe import Recipe, RecipeError, find_recipes, load_recipe

__all__ = [
    "RECIPE_PATHS",
    "RUN_ORG",
    "RUN_USER",
    "load_recipes",
    "require_prefect_api",
    "serve",
    "ui_url",
]

# Who the served or deployed runs execute as, and whose keys pay (`serve` and `deploy`).
RUN_ORG = Annotated[
    str | None,
    typer.Option(help="Organisation whose keys pay for the runs (default: 'default' or yours)."),
]
RUN_USER = Annotated[
    str | None,
    typer.Option(help="User the runs execute as: BYOK_TOKEN's user (default), nobody else."),
]
RECIPE_PATHS = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="PATH",
        help="Recipe files or folders of *.yaml/*.yml (default: $BYOK_RECIPES or ./recipes)",
        show_default=False,
    ),
]


def serve(
    paths: RECIPE_PATHS = None,
    org: RUN_ORG = None,
    user: RUN_USER = None,
    limit: Annotated[
        int | None,
        typer.Option(min=1, help="Most runs in progress at once (default: Prefect's runner limit)"),
    ] = None,
) -> None:
    """Serve every recipe in PATHs as a Prefect deployment from this process."""
    recipes = load_recipes(paths)
    org, user = authorize(org, user)  # runs execute as you: you must be allowed to
    api = require_prefect_api("byok serve")
    _warn_missing_keys(recipes, org)

    from deployments.serving import serve as serve_deployments
    from deployments.spec import RecipeDeployment

    deployments = [RecipeDeployment(recipe, org=org, user=user) for recipe in recipes]

    def ready() -> None:
        err.print(
            f"serving {len(deployments)} recipe(s) for org {org!r}; run them from "
            f"{ui_url(api)}/deployments or `prefect deployment run NAME/NAME`; Ctrl-C stops",
            markup=False,
        )

    # Ctrl-C and SIGTERM both end here, after the Runner paused the schedules.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_deployments(
                deployments,
                limit=limit,
                on_registered=lambda registration: err.print(registration.describe(), markup=False),
                on_ready=ready,
            )
        )
    err.print("stopped; the deployments' schedules are paused until served again")


def load_recipes(paths: list[Path] | None) -> list[Recipe]:
    """Every recipe in `paths`, or exit listing every problem (and duplicate names)."""
    from deployments.source import RECIPES_ENV

    roots = paths or [Path(os.environ.get(RECIPES_ENV) or "recipes")]
    try:
        files = find_recipes(roots)
    except RecipeError as error:
        fail(str(error))
    if not files:
        fail(f"no recipe files (*.yaml, *.yml) in {', '.join(str(p) for p in roots)}")
    recipes: dict[str, tuple[Path, Recipe]] = {}
    problems: list[str] = []
    for file in files:
        try:
            recipe = load_recipe(file)
        except RecipeError as error:
            problems += error.lines()
            continue
        if recipe.name in recipes:
            first = recipes[recipe.name][0]
            problems.append(f"{file}: recipe name {recipe.name!r} is also used by {first}")
            continue
        recipes[recipe.name] = (file, recipe)
    if problems:
        for line in problems[:-1]:
            err.print(f"[bold red]error:[/] {escape(line)}")
        fail(problems[-1])
    return [recipe for _, recipe in recipes.values()]


def require_prefect_api(command: str) -> str:
    """The Prefect API this command talks to, or exit saying how to get one.

    A running `byok server` is used unless PREFECT_API_URL says otherwise;
    the ephemeral API won't do, since it vanishes with this process.
    """
    from deployments.local_server import use_running_server

    url = use_running_server()
    if url is None:
        from prefect.settings import get_current_settings

        url = get_current_settings().api.url
    if not url:
        fail(
            f"{command} needs a Prefect server: start one with `byok server start`, "
            "or set PREFECT_API_URL to yours"
        )
    return url


def ui_url(api_url: str) -> str:
    """The Prefect UI next to an API URL (`.../api` stripped)."""
    return api_url.rstrip("/").removesuffix("/api")


def _warn_missing_keys(recipes: list[Recipe], org: str) -> None:
    """Runs served here use this machine's vault: say now which models have no key."""
    from vault import KeyStore, VaultError

    try:
        store = KeyStore.open()
    except VaultError as error:
        err.print(f"[yellow]warning:[/] {escape(str(error))}")
        return
    for recipe in recipes:
        for step in recipe.steps:
            for model in (step.model, *step.fallbacks):
                try:
                    store.find_key(org, model.partition(":")[0])
                except VaultError as error:
                    err.print(
                        f"[yellow]warning:[/] {recipe.name}, step {step.id!r}: "
                        f"{escape(str(error))}; its runs will fail until the key is added"
                    )
