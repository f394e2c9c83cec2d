"""Finding the recipe a flow-run process must run, by name.

Two places, in order:

1. In a flow run of a deployment registered by `byok serve` or `byok deploy`:
   the recipe stored with that deployment (`deployments.spec`), read through
   the Prefect API with the run's id, which Prefect puts in the process's
   environment. Nothing needs to be copied to the worker.
2. Otherwise: the recipe of that name in the recipe folder, `$BYOK_RECIPES`
   (default `./recipes`, relative to the working directory, which for a flow
   run is where the deployment's pull steps left it, e.g. a cloned
   repository). This is how `prefect deploy` reads a hand-written
   `prefect.yaml` (it imports the entrypoint to build the parameter schema),
   and how deployments that don't carry their recipe run (their job variable
   `byok` may still name the org and user).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import UUID

from deployments.spec import RecipeDeployment, run_as
from flows.recipe import Recipe, RecipeError, find_recipes, load_recipe

__all__ = ["RECIPES_ENV", "find_recipe_file", "locate_recipe"]

RECIPES_ENV = "BYOK_RECIPES"
_DEFAULT_FOLDER = "recipes"


def locate_recipe(name: str) -> RecipeDeployment:
    """The recipe named `name`, with the org and user its runs execute as.

    Raises `RecipeError` when it is in neither place, or is invalid there.
    """
    variables, source = _deployment_job_variables()
    deployed = RecipeDeployment.from_job_variables(variables, source=source)
    if deployed is None:
        org, user = run_as(variables, source=source)
        return RecipeDeployment(find_recipe_file(name), org=org, user=user)
    if deployed.name != name:
        raise RecipeError(
            [
                f"the deployment carries recipe {deployed.name!r} but its entrypoint "
                f"names {name!r}; register it again with `byok deploy` or `byok serve`"
            ],
            source=source,
        )
    return deployed


def _deployment_job_variables() -> tuple[dict[str, Any], str]:
    """The job variables of this process's flow run's deployment ({} outside one), and its label."""
    from prefect import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.id  # the process's flow run (PREFECT__FLOW_RUN_ID), if any
    if not run_id:
        return {}, "this process (not a flow run)"
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(run_id))
        if run.deployment_id is None:
            return {}, f"flow run {run.name!r} (no deployment)"
        deployment = client.read_deployment(run.deployment_id)
    return dict(deployment.job_variables or {}), f"deployment {deployment.name!r}"


def find_recipe_file(name: str) -> Recipe:
    """The recipe named `name` in the recipe folder (`$BYOK_RECIPES`, default `./recipes`).

    A file named after the recipe is read first; otherwise every recipe file in
    the folder is read, since file names needn't match recipe names.
    """
    folder = Path(os.environ.get(RECIPES_ENV) or _DEFAULT_FOLDER)
    where = f"recipe {name!r}"
    if not folder.is_dir():
        raise RecipeError(
            [
                f"not stored with a deployment, and there is no recipe folder {str(folder)!r} "
                f"here ({Path.cwd()}); set {RECIPES_ENV} or register it with `byok deploy`"
            ],
            source=where,
        )
    files = find_recipes([folder])
    named = [path for path in files if path.stem == name]
    broken: list[RecipeError] = []
    found: list[str] = []
    for path in named + [path for path in files if path not in named]:
        try:
            recipe = load_recipe(path)
        except RecipeError as error:
            if path in named:
                raise
            broken.append(error)
            continue
        if recipe.name == name:
            return recipe
        found.append(recipe.name)
    lines = [f"no recipe named {name!r} in {str(folder)!r} (found: {', '.join(found) or 'none'})"]
    lines += [line for error in broken for line in error.lines()]
    raise RecipeError(lines, source=where)
