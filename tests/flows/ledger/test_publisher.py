"""The cost artifact: sent while the run ends when a caller waits, else before; never fatal.

Against the session's Prefect API and the simulator. Only Prefect's own client
method is held or broken here (to stand in for a slow or failing server); the
engine, the ledger and the publisher are the real ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.actions import ArtifactCreate
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact, State
from prefect.settings import PREFECT_API_URL

from flows.engine import compile_recipe, run_recipe
from flows.ledger.publisher import collect_artifacts
from flows.recipe import Recipe
from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

ROOT = Path(__file__).resolve().parents[3]
RECIPE: dict[str, Any] = {
    "name": "artifact-later",
    "inputs": {"text": {"type": "string"}},
    "steps": [
        {"id": "a", "model": "openai:gpt-5-mini", "prompt": "One: {{ inputs.text }}"},
        {"id": "b", "model": "openai:gpt-5-mini", "prompt": "Two: {{ steps.a.output }}"},
    ],
}
INPUTS = {"text": "canary-5e1d-publisher-input"}


def _artifacts(run_id: str) -> list[Artifact]:
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[UUID(run_id)]))
        )
    return [artifact for artifact in found if artifact.type == "table"]


async def test_the_run_ends_while_its_artifact_is_still_being_stored(
    sim: SimulatorServer, keys: dict[Protocol, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()
    original = PrefectClient.create_artifact

    async def held(self: PrefectClient, artifact: ArtifactCreate) -> Any:
        arrived.set()
        await release.wait()
        return await original(self, artifact)

    monkeypatch.setattr(PrefectClient, "create_artifact", held)
    flow = compile_recipe(Recipe.model_validate(RECIPE), policy=NO_WAIT)
    async with collect_artifacts():
        state = cast("State[None]", await flow(**INPUTS, return_state=True))
        run_id = str(state.state_details.flow_run_id)
        # Completed in Prefect, and the artifact is on its way but not stored yet.
        assert state.is_completed()
        await asyncio.wait_for(arrived.wait(), timeout=30)
        assert _artifacts(run_id) == []
        release.set()

    [artifact] = _artifacts(run_id)
    *calls, total = json.loads(str(artifact.data))
    assert [call["step"] for call in calls] == ["a", "b"]
    assert total["step"] == "total"
    assert INPUTS["text"] not in json.dumps(artifact.data)


async def test_a_run_nobody_waits_for_stores_its_artifact_before_it_ends(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    flow = compile_recipe(Recipe.model_validate(RECIPE), policy=NO_WAIT)
    state = cast("State[None]", await flow(**INPUTS, return_state=True))

    [artifact] = _artifacts(str(state.state_details.flow_run_id))
    assert artifact.key == "cost-artifact-later"


async def test_run_recipe_returns_only_once_the_artifact_is_stored(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(Recipe.model_validate(RECIPE), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED"
    [artifact] = _artifacts(result.run_id)
    assert artifact.key == "cost-artifact-later"
    assert f"over {len(result.usage)} calls" in (artifact.description or "")


async def test_a_failed_artifact_is_logged_by_type_and_the_run_still_completes(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def refuse(self: PrefectClient, artifact: ArtifactCreate) -> Any:
        raise RuntimeError("server said canary-77b2-error-body")

    monkeypatch.setattr(PrefectClient, "create_artifact", refuse)
    with caplog.at_level(logging.WARNING, logger="flows.ledger.publisher"):
        result = await run_recipe(Recipe.model_validate(RECIPE), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED"
    assert len(result.usage) == 2  # the ledger has every call
    [warning] = [r for r in caplog.records if r.name == "flows.ledger.publisher"]
    assert warning.getMessage() == (
        f"could not publish the cost artifact of flow run {result.run_id} (RuntimeError); "
        "the ledger has every call"
    )
    assert "canary-77b2" not in caplog.text


_RUN_AND_EXIT = """
import asyncio, json, sys
from flows.engine import compile_recipe
from flows.recipe import Recipe

flow = compile_recipe(Recipe.model_validate(json.loads(sys.argv[1])))
state = asyncio.run(flow(**json.loads(sys.argv[2]), return_state=True))
print(state.state_details.flow_run_id, state.type.value)
"""


def test_a_flow_run_process_publishes_its_artifact_before_it_exits(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    # The flow run's own process, as a worker starts it: it ends with the run.
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AND_EXIT, json.dumps(RECIPE), json.dumps(INPUTS)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_id, state = done.stdout.split()[-2:]
    assert state == "COMPLETED"
    [artifact] = _artifacts(run_id)
    assert artifact.key == "cost-artifact-later"
