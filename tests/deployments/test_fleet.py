"""Scale-out, for real: a Prefect server on PostgreSQL, two process workers, many runs.

The production layout in miniature: `byok deploy` registers the recipe on a
work pool, two `prefect worker start` processes (standing in for two
machines) share the vault and ledger database and hold the master key, and runs
are triggered through the Prefect API against the simulator. Every run must
complete, both workers must have taken some, and the ledger must hold every
call the simulator answered, attributed to the deployment's org and user.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import WorkerStatus

from flows.ledger import rows_for_run
from providers.simulator import SimulatorServer
from providers.simulator.settings import SimulatorSettings
from tests.deployments.canary import columns_holding
from tests.deployments.fixtures import SharedVault
from tests.deployments.processes import (
    BYOK,
    PrefectServer,
    Process,
    start_process,
    wait_for_runs,
    wait_until,
)
from tests.deployments.recipes import CALLS_PER_RUN, TYPED_RECIPE, write_recipe
from vault.access import DEFAULT_ORG, LOCAL_OPERATOR
from vault.db import get_engine

pytestmark = pytest.mark.postgres

RUNS = 8
WORKERS = ("worker-a", "worker-b")
LIMIT_PER_WORKER = 3  # fewer than RUNS: neither worker can take every run at once
RUN_TIMEOUT_S = 300.0


def test_two_workers_share_many_runs_and_the_ledger_holds_every_call(
    prefect_server: PrefectServer, shared_vault: SharedVault, sim: SimulatorServer, tmp_path: Path
) -> None:
    recipe_text = TYPED_RECIPE.replace("name: ticket-desk", "name: fleet-desk")
    write_recipe(tmp_path / "recipes", recipe_text)
    deployer = shared_vault.env(prefect_server, "deployer")
    deployed = subprocess.run(
        [BYOK, "deploy", "--pool", "fleet", "--json", str(tmp_path / "recipes")],
        env=deployer,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert deployed.returncode == 0, deployed.stderr
    report = json.loads(deployed.stdout)
    assert report["created_work_pool"] is True
    [deployment] = report["deployments"]
    assert (deployment["name"], deployment["change"]) == ("fleet-desk/fleet-desk", "new")

    # Model outputs repeat the prompt (with the ticket) and the key: canaries for both.
    sim.settings = SimulatorSettings(echo=True, echo_key=True)
    workers = [_start_worker(name, prefect_server, shared_vault) for name in WORKERS]
    try:
        with SyncPrefectClient(prefect_server.api_url) as client:
            wait_until(
                lambda: _online(client) == set(WORKERS), timeout=120, what="both workers online"
            )
            tickets = [f"ticket {i}: printer on floor {i} is on fire" for i in range(RUNS)]
            run_ids = [
                client.create_flow_run_from_deployment(
                    deployment["id"], parameters={"ticket": ticket, "max_words": 40 + i}
                ).id
                for i, ticket in enumerate(tickets)
            ]
            runs = wait_for_runs(client, run_ids, timeout=RUN_TIMEOUT_S)
    finally:
        for worker in workers:
            worker.stop()

    logs = "\n".join(worker.output() for worker in workers)
    assert [run.state.type.value for run in runs if run.state] == ["COMPLETED"] * RUNS, logs[-3000:]
    took = {run.labels.get("prefect.worker.name") for run in runs}
    assert took == set(WORKERS), "both workers should have taken runs"
    assert not any(ticket in run.name for run in runs for ticket in tickets)
    engine = get_engine(shared_vault.database_url)
    for run in runs:
        rows = rows_for_run(engine, str(run.id))
        assert sorted(row.step for row in rows) == ["extract", "reply", "summarize"]
        # Runs execute as whoever deployed them: here the vault's local operator.
        assert {(row.org, row.user, row.recipe) for row in rows} == {
            (DEFAULT_ORG, LOCAL_OPERATOR, "fleet-desk")
        }
    answered = [request for request in sim.requests if request.status == 200]
    assert len(answered) == RUNS * CALLS_PER_RUN
    # Inputs are stored as flow-run parameters, and only there; keys and outputs nowhere.
    assert columns_holding(prefect_server.database, tickets) == {"flow_run.parameters"}
    assert columns_holding(prefect_server.database, shared_vault.secrets) == set()
    assert not any(text in logs for text in [*tickets, *shared_vault.secrets])


def _start_worker(name: str, server: PrefectServer, vault: SharedVault) -> Process:
    command = [sys.executable, "-m", "prefect", "worker", "start", "--pool", "fleet"]
    command += ["--type", "process", "--name", name, "--limit", str(LIMIT_PER_WORKER)]
    env = vault.env(server, name, PREFECT_WORKER_QUERY_SECONDS="1")
    return start_process(name, command, env, vault.home / "logs")


def _online(client: SyncPrefectClient) -> set[str]:
    workers = client.read_workers_for_work_pool("fleet")
    return {worker.name for worker in workers if worker.status == WorkerStatus.ONLINE}
