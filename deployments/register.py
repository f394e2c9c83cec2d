"""Registering a recipe's deployment with the Prefect API, and saying what changed.

One upsert per recipe (Prefect's API replaces a deployment of the same flow and
name, its schedules included, and drops runs its old schedules had created), so
registering is idempotent and a changed recipe replaces the old one. Before it,
the registered version is read back, which is how `byok serve` and `byok deploy`
can say per recipe whether it is new, changed or unchanged.

Every run of a deployment spends its org's keys as the deployment's user, so
registering first signs in (`BYOK_TOKEN`, or the local operator) and checks,
as `byok run` does, that this principal may run recipes in that org and is
that user (`vault.service.authorize_run`): a viewer, or a user of another org,
cannot register a deployment that runs with the org's keys. A refusal is
audited and raised as the vault's error, before anything reaches Prefect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

from deployments.schema import parameter_schema
from deployments.spec import RecipeDeployment
from flows.recipe import Recipe

if TYPE_CHECKING:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import DeploymentScheduleCreate

__all__ = [
    "Change",
    "Registration",
    "authorize_deployment",
    "deployment_schedules",
    "ensure_process_pool",
    "register",
]

Change = Literal["new", "changed", "unchanged"]

# Without any pull step, a worker copies its own working directory into each
# flow run's workspace; this one says the code is already in place (the
# installed package; the recipe travels with the deployment).
_NOTHING_TO_PULL: list[dict[str, Any]] = [
    {"prefect.deployments.steps.set_working_directory": {"directory": "."}}
]


@dataclass(frozen=True, slots=True)
class Registration:
    """A registered deployment: its id, version, and how it differs from before."""

    deployment_id: UUID
    full_name: str
    version: str
    change: Change
    previous_version: str | None = None
    work_pool: str | None = None
    previous_work_pool: str | None = None

    def describe(self) -> str:
        """One log line: what happened to this recipe's deployment."""
        if self.change == "new":
            line = f"{self.full_name}: new deployment (version {self.version})"
        elif self.change == "changed":
            line = (
                f"{self.full_name}: recipe changed since it was last registered "
                f"(version {self.previous_version or 'none'} -> {self.version}); "
                "deployment updated"
            )
        else:
            line = f"{self.full_name}: unchanged (version {self.version})"
        line += f", {_where(self.work_pool)}"
        if self.change != "new" and self.previous_work_pool != self.work_pool:
            line += f" (was {_where(self.previous_work_pool)})"
        return line


def _where(work_pool: str | None) -> str:
    return f"on work pool {work_pool!r}" if work_pool else "served (no work pool)"


def deployment_schedules(recipe: Recipe) -> list[DeploymentScheduleCreate]:
    """The recipe's `schedule` as a Prefect cron schedule with its run inputs."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.schedules import CronSchedule

    if recipe.schedule is None:
        return []
    schedule = recipe.schedule
    return [
        DeploymentScheduleCreate(
            schedule=CronSchedule(cron=schedule.cron, timezone=schedule.timezone),
            parameters=recipe.coerce_inputs(schedule.inputs),
            active=True,
        )
    ]


async def register(
    client: PrefectClient, deployment: RecipeDeployment, *, work_pool: str | None = None
) -> Registration:
    """Create or replace `deployment`; served by a `Runner` when `work_pool` is None.

    Raises `vault.VaultError` (not found, permission denied, …) when the
    signed-in principal may not run recipes as the deployment's user and org.
    """
    from prefect.client.schemas.actions import DeploymentUpdate
    from prefect.exceptions import ObjectNotFound

    await asyncio.to_thread(authorize_deployment, deployment)
    try:
        existing = await client.read_deployment_by_name(deployment.full_name)
    except ObjectNotFound:
        previous, previous_pool = None, None
    else:
        previous, previous_pool = existing.version or "", existing.work_pool_name
    flow_id = await client.create_flow_from_name(deployment.name)
    recipe = deployment.recipe
    deployment_id = await client.create_deployment(
        flow_id=flow_id,
        name=deployment.name,
        version=deployment.version,
        description=recipe.description or None,
        entrypoint=deployment.entrypoint,
        parameter_openapi_schema=parameter_schema(recipe),
        enforce_parameter_schema=True,
        job_variables=deployment.job_variables(),
        schedules=deployment_schedules(recipe),
        work_pool_name=work_pool,
        pull_steps=_NOTHING_TO_PULL,
        paused=False,  # unpause: a Runner pauses its deployments when it stops
    )
    if work_pool is None and previous_pool is not None:
        # The upsert keeps a work pool it isn't given; an explicit None clears it,
        # or that pool's workers would race this process for the runs.
        await client.update_deployment(deployment_id, DeploymentUpdate(work_pool_name=None))
    change: Change = (
        "new" if previous is None else "unchanged" if previous == deployment.version else "changed"
    )
    return Registration(
        deployment_id=deployment_id,
        full_name=deployment.full_name,
        version=deployment.version,
        change=change,
        previous_version=previous,
        work_pool=work_pool,
        previous_work_pool=previous_pool,
    )


def authorize_deployment(deployment: RecipeDeployment) -> None:
    """Check the signed-in principal may run `deployment`'s recipe as its user and org."""
    from vault.service import authorize_run

    authorize_run(deployment.org, deployment.user)


async def ensure_process_pool(client: PrefectClient, name: str) -> bool:
    """Make sure work pool `name` exists, creating a process pool if not; True if created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        await client.read_work_pool(name)
    except ObjectNotFound:
        pass
    else:
        return False
    pool = WorkPoolCreate(
        name=name,
        type=ProcessWorker.type,
        base_job_template=ProcessWorker.get_default_base_job_template(),
    )
    try:
        await client.create_work_pool(pool)
    except ObjectAlreadyExists:
        return False  # created concurrently by another deploy
    return True
