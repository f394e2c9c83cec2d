"""Prefect never persists a recipe's results, whatever its settings say, and says so loudly.

Each Prefect setting that turns result persistence on for other flows is set
in turn; recipe runs (one that completes with the prompt echoed into its
output, one that fails) must leave result storage empty. Options that would
make Prefect persist (a cache policy, a result storage, `persist_result`)
are refused with an error that says what to remove, at build time and inside
a running task.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from prefect import Task, flow, task
from prefect.cache_policies import INPUTS
from prefect.client.schemas.objects import State
from prefect.filesystems import LocalFileSystem
from prefect.settings import (
    PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK,
    PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    PREFECT_RESULTS_PERSIST_BY_DEFAULT,
    PREFECT_TASKS_DEFAULT_PERSIST_RESULT,
    temporary_settings,
)
from prefect.settings.legacy import Setting

from flows.engine import compile_recipe, run_recipe
from flows.engine.persistence import PersistenceError, check_flow, check_run_context, check_task
from flows.engine.step import build_step_task
from flows.recipe import Recipe
from providers.simulator import Fault, SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

BLOCK = "byok-guard-storage"
PROMPT2 = "{{ steps.first.output }}"


def recipe() -> Recipe:
    return Recipe.model_validate(
        {
            "name": "guard-test",
            "inputs": {"ticket": {"type": "string"}},
            "steps": [
                {"id": "first", "model": "openai:gpt-5-mini", "prompt": "{{ inputs.ticket }}"},
                {
                    "id": "second",
                    "model": "openai:gpt-5-mini",
                    "prompt": "{{ steps.first.output }}",
                },
            ],
        }
    )


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Path]:
    """Where Prefect would write results: the local path and a storage block's base path."""
    root = tmp_path / "results"
    LocalFileSystem(basepath=str(root / "block")).save(BLOCK, overwrite=True)
    with temporary_settings({PREFECT_RESULTS_LOCAL_STORAGE_PATH: root / "local"}):
        yield root


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


SETTINGS: dict[str, dict[Setting, Any]] = {
    # A flow that raises has its exception written to storage whatever it says:
    # recipe flows return their failure instead.
    "defaults": {},
    "results persist by default": {PREFECT_RESULTS_PERSIST_BY_DEFAULT: True},
    "tasks persist by default": {PREFECT_TASKS_DEFAULT_PERSIST_RESULT: True},
    "default storage block": {PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: f"local-file-system/{BLOCK}"},
}


@pytest.mark.parametrize("name", list(SETTINGS))
async def test_settings_that_persist_other_flows_never_persist_a_recipe(
    name: str, storage: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.settings = SimulatorSettings(echo=True)
    ticket = f"ticket-{secrets.token_hex(8)}"
    with temporary_settings(SETTINGS[name]):
        completed = await run_recipe(recipe(), {"ticket": ticket}, policy=NO_WAIT)
        sim.inject(Fault.error(400, provider=Protocol.OPENAI))
        failed = await run_recipe(recipe(), {"ticket": ticket}, policy=NO_WAIT)

    assert completed.state == "COMPLETED", completed.error
    assert ticket in completed.outputs["second"]  # the echo made the output a canary
    assert failed.state == "FAILED"
    assert files_under(storage) == []


def test_options_that_persist_a_step_are_refused_when_it_is_built() -> None:
    step = recipe().step("first")
    built = build_step_task(step, step.model_ref, NO_WAIT)
    check_task(built)  # as built: nothing persisted

    for changed in (
        built.with_options(persist_result=True),
        # Without `persist_result=False`, each of these turns persistence on.
        Task(built.fn, name=built.name, cache_policy=INPUTS),
        Task(built.fn, name=built.name, result_storage=f"local-file-system/{BLOCK}"),
        Task(built.fn, name=built.name, cache_key_fn=lambda *_: "same"),
    ):
        with pytest.raises(PersistenceError, match="never stores step outputs"):
            check_task(changed)


def test_a_recipe_flow_that_would_persist_is_refused() -> None:
    compiled = compile_recipe(recipe())
    check_flow(compiled)

    with pytest.raises(PersistenceError, match=r"recipe flow 'guard-test' \(persist_result=True\)"):
        check_flow(compiled.with_options(persist_result=True))


async def test_a_run_that_prefect_would_persist_fails_before_any_call(
    storage: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    persisting = compile_recipe(recipe(), policy=NO_WAIT).with_options(persist_result=True)

    state = cast("State[None]", await persisting(ticket="hello", return_state=True))

    assert state.is_failed()
    assert "Prefect would persist the results of recipe flow 'guard-test'" in (state.message or "")
    assert sim.requests == ()  # refused before any prompt was rendered or key read
    assert files_under(storage) == []


async def test_a_task_that_prefect_would_persist_is_caught_inside_the_task() -> None:
    @task(persist_result=False)
    def quiet() -> None:
        check_run_context()

    @task(persist_result=True)
    def persisting() -> None:
        check_run_context()

    states: list[State[None]] = []

    @flow(persist_result=False)
    def probe() -> None:
        states.extend([quiet(return_state=True), persisting(return_state=True)])

    probe(return_state=True)

    quiet_state, persisting_state = states
    assert quiet_state.is_completed()
    assert persisting_state.is_failed()
    assert "Prefect would persist the results of step task 'persisting'" in (
        persisting_state.message or ""
    )
