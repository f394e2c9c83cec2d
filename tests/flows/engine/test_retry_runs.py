"""Retries inside real runs: Prefect's own states, the provider's hint, per-attempt timeouts."""

from __future__ import annotations

from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.client.schemas.objects import State

from flows.engine import RetryPolicy, run_recipe
from flows.recipe import Recipe
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

INPUTS = {"ticket": "I was charged twice."}


def one_step(**step: object) -> Recipe:
    base = {"id": "summarize", "model": "google:gemini-2.5-flash", "prompt": "{{ inputs.ticket }}"}
    return Recipe.model_validate(
        {"name": "retry-test", "inputs": {"ticket": {"type": "string"}}, "steps": [base | step]}
    )


async def states_of(run_id: str) -> list[State]:
    """The step's task-run states, oldest first: what the Prefect UI draws."""
    async with get_client() as client:
        (task_run,) = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)]))
        )
        states = await client.read_task_run_states(task_run.id)
    return sorted(states, key=lambda s: s.timestamp)


async def test_retries_are_prefects_awaiting_retry_and_retrying_states(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(
        Fault.error(503, provider=Protocol.GOOGLE),
        Fault.drop(provider=Protocol.GOOGLE),
    )

    result = await run_recipe(one_step(retries=2), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    names = [state.name for state in await states_of(result.run_id)]
    assert names == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Retrying",
        "AwaitingRetry",
        "Retrying",
        "Completed",
    ]
    assert [row.attempt for row in result.usage] == [3]


async def test_prefect_schedules_the_retry_for_the_providers_hint(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    hint_s = 0.2  # small, since Prefect really waits it
    sim.inject(Fault.error(429, retry_after_s=hint_s, provider=Protocol.GOOGLE))
    policy = RetryPolicy(retries=1, base_delay_s=0.01, max_delay_s=5.0, jitter_factor=0.0)

    result = await run_recipe(one_step(), INPUTS, policy=policy)

    assert result.state == "COMPLETED", result.error
    (awaiting,) = [s for s in await states_of(result.run_id) if s.name == "AwaitingRetry"]
    scheduled = awaiting.state_details.scheduled_time
    assert scheduled is not None
    # Scheduled from the moment the retry condition ran, just before the state's timestamp.
    assert (scheduled - awaiting.timestamp).total_seconds() == pytest.approx(hint_s, abs=0.05)


async def test_a_reply_slower_than_timeout_s_is_cut_off_and_retried(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    # A 30-second stall costs the step its timeout (0.5 s), not 30 s.
    sim.inject(Fault.slow(30_000, provider=Protocol.GOOGLE))

    result = await run_recipe(one_step(timeout_s=0.5, retries=1), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert [row.attempt for row in result.usage] == [2]
    names = [state.name for state in await states_of(result.run_id)]
    assert names.count("AwaitingRetry") == 1
    stalled = [c for c in sim.requests if c.fault is not None]
    assert len(stalled) == 1
    assert stalled[0].status is None  # the client hung up; the simulator never answered
    assert stalled[0].ended - stalled[0].started < 5.0


async def test_the_last_attempts_error_fails_the_step_when_retries_run_out(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(Fault.error(500, provider=Protocol.GOOGLE, times=None))

    result = await run_recipe(one_step(retries=2), INPUTS, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert len(sim.requests) == 3
    assert result.error is not None
    assert result.error.startswith("step 'summarize' (google:gemini-2.5-flash) failed:")
    assert "HTTP 500" in result.error
