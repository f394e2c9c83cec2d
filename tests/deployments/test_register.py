"""Registering recipe deployments against a real Prefect API, and loading them back by name.

The session's Prefect test harness stands in for a server; each test uses its
own recipe name, so deployments don't leak between tests.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any, cast

import pytest
from prefect import Flow, get_client
from prefect.client.schemas.objects import State
from prefect.client.schemas.schedules import CronSchedule
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

from deployments import entrypoint
from deployments.register import (
    Registration,
    deployment_schedules,
    ensure_process_pool,
    register,
)
from deployments.schema import parameter_schema
from deployments.spec import RecipeDeployment
from flows.ledger import rows_for_run
from flows.recipe import Recipe, RecipeError
from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.deployments.recipes import CALLS_PER_RUN, TYPED_RECIPE, typed_recipe
from vault import KeyStore, NotFoundError, PermissionDeniedError, Role, VaultService
from vault.audit import Outcome
from vault.db import get_engine

# Registering signs in to the vault: each test has its own BYOK home, signed out.
pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api", "byok_home")]


def fresh_recipe(text: str = TYPED_RECIPE) -> Recipe:
    """The typed recipe under a name no other test uses."""
    return typed_recipe(text.replace("name: ticket-desk", f"name: desk-{secrets.token_hex(4)}"))


async def test_registering_says_whether_a_recipe_is_new_unchanged_or_changed() -> None:
    recipe = fresh_recipe()
    edited_text = TYPED_RECIPE.replace("ticket-desk", recipe.name).replace("Summarise", "Sum")
    edited = typed_recipe(edited_text)
    async with get_client() as client:
        first = await register(client, RecipeDeployment(recipe))
        again = await register(client, RecipeDeployment(recipe))
        changed = await register(client, RecipeDeployment(edited))

    assert first.change == "new"
    assert again.change == "unchanged"
    assert changed.change == "changed"
    assert first.deployment_id == again.deployment_id == changed.deployment_id
    assert changed.previous_version == first.version != changed.version
    assert f"version {first.version} -> {changed.version}" in changed.describe()
    assert "recipe changed since it was last registered" in changed.describe()


async def test_the_deployment_is_named_after_the_recipe_with_its_form_and_schedule() -> None:
    recipe = fresh_recipe()
    KeyStore.open().ensure_org("acme")  # an org the local operator owns: nobody else does
    target = RecipeDeployment(recipe, org="acme", user="ops")
    async with get_client() as client:
        registration = await register(client, target)
        stored = await client.read_deployment_by_name(f"{recipe.name}/{recipe.name}")

    assert stored.id == registration.deployment_id
    assert stored.entrypoint == f"deployments.entrypoint.{recipe.name}"
    assert stored.parameter_openapi_schema == parameter_schema(recipe)
    assert stored.enforce_parameter_schema
    assert stored.version == target.version
    assert stored.description == recipe.description
    assert RecipeDeployment.from_job_variables(stored.job_variables, source="t") == target
    [schedule] = stored.schedules
    assert isinstance(schedule.schedule, CronSchedule)
    assert recipe.schedule is not None
    assert schedule.schedule.cron == recipe.schedule.cron == "30 8 * * 1-5"
    assert schedule.schedule.timezone == recipe.schedule.timezone == "Europe/Berlin"
    assert schedule.parameters == recipe.coerce_inputs(recipe.schedule.inputs)
    assert schedule.active


def test_a_recipe_without_a_schedule_has_none() -> None:
    plain = typed_recipe(TYPED_RECIPE.split("schedule:")[0])

    assert deployment_schedules(plain) == []


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"ticket": 5},
        {"ticket": "x", "tone": "rude"},
        {"ticket": "x", "max_words": "many"},
        {"ticket": "x", "tickets": "typo"},
    ],
)
async def test_the_api_rejects_runs_whose_parameters_dont_fit(parameters: dict[str, Any]) -> None:
    recipe = fresh_recipe()
    async with get_client() as client:
        registration = await register(client, RecipeDeployment(recipe))
        with pytest.raises(PrefectHTTPStatusError, match="409"):
            await client.create_flow_run_from_deployment(
                registration.deployment_id, parameters=parameters
            )
        accepted = await client.create_flow_run_from_deployment(
            registration.deployment_id, parameters={"ticket": "fits", "max_words": 3}
        )

    assert accepted.parameters == {"ticket": "fits", "max_words": 3}


async def test_serving_a_pooled_recipe_takes_it_off_the_pool() -> None:
    recipe = fresh_recipe()
    pool = f"pool-{secrets.token_hex(4)}"
    async with get_client() as client:
        assert await ensure_process_pool(client, pool)
        assert not await ensure_process_pool(client, pool)
        pooled = await register(client, RecipeDeployment(recipe), work_pool=pool)
        served = await register(client, RecipeDeployment(recipe))
        stored = await client.read_deployment(served.deployment_id)

    assert pooled.work_pool == pool
    assert stored.work_pool_name is None
    assert f"(was on work pool {pool!r})" in served.describe()


async def test_a_flow_run_process_loads_the_recipe_its_deployment_carries(
    monkeypatch: pytest.MonkeyPatch, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    recipe = fresh_recipe()
    async with get_client() as client:
        registration = await register(client, RecipeDeployment(recipe, user="ops"))
        flow_run = await client.create_flow_run_from_deployment(
            registration.deployment_id,
            parameters={"ticket": "hello"},
            # A run can't choose whom it executes as: only the deployment says.
            job_variables={"byok": {"user": "mallory", "org": "elsewhere"}},
        )
    # What a worker's flow-run process has: the run id in its environment.
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(flow_run.id))

    flow = getattr(entrypoint, recipe.name)

    assert isinstance(flow, Flow)
    assert flow.name == recipe.name
    assert list(flow.parameters.properties) == list(recipe.inputs)
    # Prefect's overloads pick the plain-coroutine signature for keyword calls.
    state = await cast("Awaitable[State[None]]", flow(ticket="hello", return_state=True))
    assert state.is_completed()
    rows = rows_for_run(get_engine(), str(state.state_details.flow_run_id))
    assert len(rows) == CALLS_PER_RUN
    assert {(row.org, row.user, row.recipe) for row in rows} == {("default", "ops", recipe.name)}


async def test_an_entrypoint_naming_another_recipe_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recipe = fresh_recipe()
    async with get_client() as client:
        registration = await register(client, RecipeDeployment(recipe))
        flow_run = await client.create_flow_run_from_deployment(
            registration.deployment_id, parameters={"ticket": "x"}
        )
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(flow_run.id))

    with pytest.raises(RecipeError, match=f"carries recipe '{recipe.name}' but its entrypoint"):
        getattr(entrypoint, "someone-else")


def test_names_that_are_not_recipe_names_are_ordinary_missing_attributes() -> None:
    with pytest.raises(AttributeError):
        entrypoint.__wrapped__  # noqa: B018 - what copy/pickle/doctest probe for
    assert not hasattr(entrypoint, "Not A Recipe")


async def test_only_a_user_who_may_run_in_the_org_can_register_its_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deployment runs with the org's keys as its user: registering checks both, audited."""
    operator = VaultService.open(token="")
    operator.create_org("acme")
    owner = operator.add_user("o@acme.example", org="acme", role=Role.OWNER)
    assert owner.token is not None
    as_owner = VaultService.open(token=owner.token)
    tokens = {"owner": owner.token}
    for role in (Role.MEMBER, Role.VIEWER):
        new = as_owner.add_user(f"{role.value[0]}@acme.example", org="acme", role=role)
        assert new.token is not None
        tokens[role.value] = new.token
    recipe = fresh_recipe()

    async def attempt(token: str, org: str, user: str) -> Registration:
        monkeypatch.setenv("BYOK_TOKEN", token)
        async with get_client() as client:
            return await register(client, RecipeDeployment(recipe, org=org, user=user))

    with pytest.raises(PermissionDeniedError, match="only owner or admin or member may run"):
        await attempt(tokens["viewer"], "acme", "v@acme.example")
    with pytest.raises(PermissionDeniedError, match="runs execute as the principal"):
        await attempt(tokens["member"], "acme", "o@acme.example")  # not as someone else
    with pytest.raises(NotFoundError, match="org 'default' not found"):
        await attempt(tokens["member"], "default", "m@acme.example")  # not another org's keys
    async with get_client() as client:
        with pytest.raises(ObjectNotFound):
            await client.read_deployment_by_name(f"{recipe.name}/{recipe.name}")

    registration = await attempt(tokens["member"], "acme", "m@acme.example")

    assert registration.change == "new"
    events = KeyStore.open().audit.entries(orgs=None)
    denied = [
        (e.record.actor, e.record.action, e.record.org)
        for e in events
        if e.record.outcome is Outcome.DENIED
    ]
    assert denied == [
        ("v@acme.example", "key.use", "acme"),
        ("m@acme.example", "key.use", "acme"),
        ("m@acme.example", "key.use", "default"),
    ]
