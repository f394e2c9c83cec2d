"""The documented `deployments/prefect.yaml` works with `prefect deploy` as it says.

The file is deployed with Prefect's own CLI against the real server (its
git-clone pull step swapped for the project folder, since tests have no
network), and a flow-run process of that deployment finds the recipe by name in
the folder the pull step leaves it in, running as the org and user set there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect import Flow
from prefect.client.orchestration import SyncPrefectClient
from prefect.settings import PREFECT_API_URL, temporary_settings

from deployments import entrypoint
from deployments.source import locate_recipe
from flows.recipe import load_recipe
from tests.deployments.processes import PrefectServer, child_env

pytestmark = pytest.mark.postgres

PREFECT_YAML = Path(__file__).resolve().parents[2] / "deployments" / "prefect.yaml"
DEMO = Path(__file__).resolve().parents[2] / "flows" / "examples" / "demo.yaml"


def test_prefect_deploy_registers_the_documented_deployment_and_runs_find_the_recipe(
    prefect_server: PrefectServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "recipes").mkdir(parents=True)
    (project / "recipes" / "demo.yaml").write_text(DEMO.read_text())
    config = yaml.safe_load(PREFECT_YAML.read_text())
    config["pull"] = [
        {"prefect.deployments.steps.set_working_directory": {"directory": str(project)}}
    ]
    (project / "prefect.yaml").write_text(yaml.safe_dump(config))
    env = child_env(PREFECT_API_URL=prefect_server.api_url, PREFECT_HOME=str(tmp_path / "home"))
    subprocess.run(
        [sys.executable, "-m", "prefect", "work-pool", "create", "byok", "--type", "process"],
        env=env,
        cwd=project,
        check=True,
        capture_output=True,
        timeout=120,
    )

    deployed = subprocess.run(
        [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )

    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    recipe = load_recipe(DEMO)
    with SyncPrefectClient(prefect_server.api_url) as client:
        deployment = client.read_deployment_by_name(f"{recipe.name}/{recipe.name}")
        flow_run = client.create_flow_run_from_deployment(deployment.id, parameters={})
    assert deployment.entrypoint == f"deployments.entrypoint.{recipe.name}"
    assert deployment.work_pool_name == "byok"
    assert deployment.enforce_parameter_schema
    schema = deployment.parameter_openapi_schema or {}
    assert list(schema["properties"]) == list(recipe.inputs)
    [schedule] = deployment.schedules
    assert schedule.parameters["ticket"].startswith("Daily check")

    # What the worker's flow-run process does after the pull step.
    monkeypatch.chdir(project)
    monkeypatch.delenv("BYOK_RECIPES", raising=False)
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", str(flow_run.id))
    with temporary_settings(updates={PREFECT_API_URL: prefect_server.api_url}):
        flow = getattr(entrypoint, recipe.name)
        target = locate_recipe(recipe.name)

    assert isinstance(flow, Flow)
    assert flow.name == recipe.name
    assert (target.recipe, target.org, target.user) == (recipe, "default", "local")
