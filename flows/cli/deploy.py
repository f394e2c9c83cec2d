"""`byok deploy --pool POOL [PATH ...]`: recipes as deployments of a work pool.

For a fleet: this registers one deployment per recipe on work pool POOL
(created as a `process` pool if missing) and exits; process workers on any
machine run them:

    prefect worker start --pool POOL --type process

Each worker needs this package installed, PREFECT_API_URL, BYOK_DATABASE_URL
(the shared vault and ledger) and BYOK_MASTER_KEY; the recipes travel with
the deployments. Runs execute as the user who deployed them, so deploying
checks in the vault (BYOK_TOKEN) that they may run recipes with the org's keys.
Deploying again replaces the deployments and says which recipes changed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.console import err, out, print_json
from flows.cli.run import authorize
from flows.cli.serve import (
    RECIPE_PATHS,
    RUN_ORG,
    RUN_USER,
    load_recipes,
    require_prefect_api,
    ui_url,
)

if TYPE_CHECKING:
    from deployments.register import Registration
    from deployments.spec import RecipeDeployment

__all__ = ["deploy"]


def deploy(
    pool: Annotated[
        str,
        typer.Option(
            "--pool", help="Work pool to deploy to; created as a process pool if missing."
        ),
    ],
    paths: RECIPE_PATHS = None,
    org: RUN_ORG = None,
    user: RUN_USER = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Register every recipe in PATHs as a deployment on work pool POOL."""
    recipes = load_recipes(paths)
    org, user = authorize(org, user)  # runs execute as you: you must be allowed to
    api = require_prefect_api("byok deploy")

    from deployments.spec import RecipeDeployment

    deployments = [RecipeDeployment(recipe, org=org, user=user) for recipe in recipes]
    created, registrations = asyncio.run(_deploy(deployments, pool))
    if json_output:
        print_json(
            {
                "work_pool": pool,
                "created_work_pool": created,
                "deployments": [
                    {
                        "name": r.full_name,
                        "id": str(r.deployment_id),
                        "version": r.version,
                        "change": r.change,
                        "previous_version": r.previous_version,
                    }
                    for r in registrations
                ],
            }
        )
        return
    if created:
        err.print(f"created process work pool {pool!r}", markup=False)
    for registration in registrations:
        out.print(registration.describe(), markup=False)
    err.print(
        f"run them from {ui_url(api)}/deployments; start workers with "
        f"`prefect worker start --pool {pool} --type process` on machines that have "
        "BYOK_DATABASE_URL and BYOK_MASTER_KEY set",
        markup=False,
    )


async def _deploy(
    deployments: list[RecipeDeployment], pool: str
) -> tuple[bool, list[Registration]]:
    from prefect import get_client

    from deployments.register import ensure_process_pool, register

    async with get_client() as client:
        created = await ensure_process_pool(client, pool)
        registrations = [await register(client, d, work_pool=pool) for d in deployments]
    return created, registrations
