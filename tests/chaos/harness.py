"""What the chaos scenarios share: many concurrent runs, and counting what happened."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.engine import RetryPolicy, RunResult, run_recipe
from flows.recipe import Recipe
from providers.simulator import SimulatorServer

# The policy is the production one with every wait at zero: Prefect's own
# retries, states and retry condition, and the suite's wall time stays small.
CHAOS_POLICY = RetryPolicy(retries=4, base_delay_s=0.0, max_delay_s=0.0, jitter_factor=0.0)


async def run_concurrently(
    recipe: Recipe, inputs: Mapping[str, Any], count: int, *, policy: RetryPolicy = CHAOS_POLICY
) -> list[RunResult]:
    """`count` runs of `recipe` at once, as a busy worker would have them."""
    return list(
        await asyncio.gather(*(run_recipe(recipe, inputs, policy=policy) for _ in range(count)))
    )


# How long the API may take to record task-run states it has already been sent.
_SETTLE_S = 30.0


async def prefect_attempts(results: list[RunResult]) -> Counter[str]:
    """Attempts per task-run name (`step · model`), as Prefect counted them.

    Prefect records task-run states from events, after the flow run has
    returned: a count read at once can miss a task run's last attempt. So
    this waits until every task run of the finished flow runs is in a final
    state, whose event carries its final `run_count`.
    """
    flow_runs = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(r.run_id) for r in results]))
    deadline = asyncio.get_running_loop().time() + _SETTLE_S
    async with get_client() as client:
        while True:
            # 200 is the API maximum; a scenario has fewer task runs.
            task_runs = await client.read_task_runs(flow_run_filter=flow_runs, limit=200)
            settled = all(run.state is not None and run.state.is_final() for run in task_runs)
            if settled or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)
    attempts: Counter[str] = Counter()
    for task_run in task_runs:
        attempts[task_run.name] += task_run.run_count
    return attempts


def calls_by_provider(sim: SimulatorServer) -> dict[str, int]:
    """Calls the simulator received, per provider."""
    return dict(sorted(Counter(call.protocol.value for call in sim.requests).items()))


def faults_fired(sim: SimulatorServer) -> dict[str, int]:
    """Injected faults that fired, by kind (`status 429`, `drop`, `slow` …)."""
    kinds = Counter(
        f"status {call.status}" if call.fault.value == "status" else call.fault.value
        for call in sim.requests
        if call.fault is not None
    )
    return dict(sorted(kinds.items()))


def states(results: list[RunResult]) -> dict[str, int]:
    """Final run states and how many runs ended in each."""
    return dict(Counter(result.state for result in results))
