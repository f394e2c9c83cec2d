"""`byok serve` as a new user meets it: a recipe of their own, served, found and run.

A real `byok serve` process against the real Prefect server: the deployment
is found through the Prefect API, its parameter schema is the recipe's typed
inputs, runs triggered with parameters complete against the simulator (a
separate provider server), and a restart after editing the recipe says so.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient

from deployments.schema import parameter_schema
from flows.ledger import rows_for_run
from providers.simulator import SimulatorServer
from tests.deployments.fixtures import SharedVault
from tests.deployments.processes import PrefectServer, serve_recipes, wait_for_runs
from tests.deployments.recipes import CALLS_PER_RUN, TYPED_RECIPE, typed_recipe, write_recipe
from vault.db import get_engine

pytestmark = pytest.mark.postgres

NAME = "served-desk"
RECIPE = TYPED_RECIPE.replace("name: ticket-desk", f"name: {NAME}")


def test_a_served_recipe_is_a_typed_deployment_that_runs_and_restarts_with_changes(
    prefect_server: PrefectServer, shared_vault: SharedVault, sim: SimulatorServer, tmp_path: Path
) -> None:
    folder = tmp_path / "my-recipes"
    path = write_recipe(folder, RECIPE)
    env = shared_vault.env(prefect_server, "server-machine", PREFECT_RUNNER_POLL_FREQUENCY="1")

    serving = serve_recipes(folder, env, shared_vault.home / "logs", "serve-1")
    try:
        with SyncPrefectClient(prefect_server.api_url) as client:
            deployment = client.read_deployment_by_name(f"{NAME}/{NAME}")
            schema = deployment.parameter_openapi_schema or {}
            assert schema["properties"]["tone"]["enum"] == ["friendly", "formal"]
            assert schema["properties"]["max_words"]["type"] == "integer"
            assert schema["required"] == ["ticket"]
            assert schema == parameter_schema(typed_recipe(RECIPE))
            assert deployment.work_pool_name is None
            assert [s.parameters["tone"] for s in deployment.schedules] == ["formal"]
            parameters = [
                {"ticket": "my order never arrived", "tone": "formal", "urgent": True},
                {"ticket": "please close my account", "max_words": 30, "temperature": 0.9},
            ]
            ids = [
                client.create_flow_run_from_deployment(deployment.id, parameters=p).id
                for p in parameters
            ]
            runs = wait_for_runs(client, ids, timeout=240)
        first_version = deployment.version
    finally:
        assert serving.stop(signal.SIGINT) == 0, serving.output()

    assert [run.state_type.value if run.state_type else None for run in runs] == [
        "COMPLETED"
    ] * len(ids), serving.output()[-3000:]
    assert [run.parameters for run in runs] == parameters
    engine = get_engine(shared_vault.database_url)
    assert all(len(rows_for_run(engine, str(run.id))) == CALLS_PER_RUN for run in runs)
    assert "stopped; the deployments' schedules are paused" in serving.output()
    with SyncPrefectClient(prefect_server.api_url) as client:
        assert client.read_deployment(deployment.id).paused

    path.write_text(RECIPE.replace("Summarise:", "Summarise briefly:"), encoding="utf-8")
    restarted = serve_recipes(folder, env, shared_vault.home / "logs", "serve-2")
    try:
        with SyncPrefectClient(prefect_server.api_url) as client:
            updated = client.read_deployment(deployment.id)
    finally:
        restarted.stop(signal.SIGINT)

    assert updated.version != first_version
    assert not updated.paused
    assert (
        f"{NAME}/{NAME}: recipe changed since it was last registered "
        f"(version {first_version} -> {updated.version}); deployment updated"
    ) in restarted.output()
