"""Serving recipes from this process: Prefect's `Runner`, with our registration.

`byok serve` is `prefect serve` for recipes: one process registers a deployment
per recipe (no work pool), polls for their scheduled and triggered runs, and
starts each run in a subprocess that imports `deployments.entrypoint`. The
Runner registers a deployment by calling its `aapply`; `ServedRecipe` answers
that with `deployments.register.register`, so served deployments are exactly
the ones `byok deploy` registers (schema, job variables, schedules), minus the
work pool. When the Runner stops it pauses their schedules, so runs don't pile
up for a process that is gone; serving again resumes them.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.objects import VersionInfo
from prefect.deployments.runner import RunnerDeployment
from prefect.runner import Runner
from prefect.utilities.annotations import NotSet
from pydantic import PrivateAttr

from deployments.register import Registration, register
from deployments.spec import RecipeDeployment

__all__ = ["ServedRecipe", "serve"]


class ServedRecipe(RunnerDeployment):
    """A `RunnerDeployment` that registers one recipe the way `byok deploy` does."""

    _recipe: RecipeDeployment = PrivateAttr()
    _registration: Registration | None = PrivateAttr(default=None)

    @classmethod
    def of(cls, deployment: RecipeDeployment) -> ServedRecipe:
        """The Runner's view of `deployment`."""
        served = cls(
            name=deployment.name,
            flow_name=deployment.name,
            entrypoint=deployment.entrypoint,
            version=deployment.version,
            description=deployment.recipe.description or None,
        )
        served._recipe = deployment
        return served

    @property
    def registration(self) -> Registration | None:
        """What registering did, once the Runner has registered this deployment."""
        return self._registration

    async def aapply(
        self,
        schedules: list[dict[str, Any]] | None = None,
        work_pool_name: str | None = None,
        image: str | None = None,
        version_info: VersionInfo | None = None,
    ) -> UUID:
        """Register the recipe's deployment; the Runner's overrides don't apply here."""
        del schedules, work_pool_name, image, version_info  # the recipe defines these
        async with get_client() as client:
            self._registration = await register(client, self._recipe)
        return self._registration.deployment_id


async def serve(
    deployments: Sequence[RecipeDeployment],
    *,
    limit: int | None = None,
    on_registered: Callable[[Registration], None] = lambda _: None,
    on_ready: Callable[[], None] = lambda: None,
) -> None:
    """Register `deployments` and run their flow runs until interrupted.

    `on_registered` hears about each deployment as it is registered and
    `on_ready` once all are and the Runner is about to poll; `limit` caps the
    runs in progress at once (None: Prefect's `PREFECT_RUNNER_PROCESS_LIMIT`).
    """
    runner = Runner(
        name="byok-serve", limit=NotSet if limit is None else limit, pause_on_shutdown=True
    )
    # SIGTERM (a service manager stopping us) shuts down like Ctrl-C: schedules paused.
    signal.signal(signal.SIGTERM, runner.handle_sigterm)
    for deployment in deployments:
        served = ServedRecipe.of(deployment)
        await runner.aadd_deployment(served)
        if served.registration is not None:
            on_registered(served.registration)
    on_ready()
    await runner.start()
