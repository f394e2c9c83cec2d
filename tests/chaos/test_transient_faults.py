"""Many concurrent runs under a mix of transient faults on every provider all complete.

Each wave injects, per provider, fewer faults than a step has retries (429
with Retry-After, 529, 503, 500, dropped connections, 30-second stalls cut
off by `timeout_s`), so whatever order the concurrent calls take the faults
in, every step gets through on retries alone: no fallbacks are declared.
Every fault must cost exactly one retry, counted by the simulator and by
Prefect independently, and the breakers must stay closed: a transient mix is
not an outage (per provider: at most 4 failures in a row, below the default
5, and 8 failures in all, never half of the 20 calls the failure rate needs).
"""

from __future__ import annotations

import time

import pytest

from flows.recipe import Recipe
from providers.breaker import BreakerStore, Circuit
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.chaos.conftest import Figures
from tests.chaos.harness import (
    CHAOS_POLICY,
    calls_by_provider,
    faults_fired,
    prefect_attempts,
    run_concurrently,
    states,
)
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

WAVES = 2
RUNS_PER_WAVE = 8
STEP_TIMEOUT_S = 3.0  # generous: a slow CI machine must not time out a normal call
STALL_MS = 30_000
PER_CALL = {"timeout_s": STEP_TIMEOUT_S, "retries": CHAOS_POLICY.retries}

RECIPE = Recipe.model_validate(
    {
        "name": "chaos-transient",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {
                "id": "extract",
                "model": "anthropic:claude-haiku-4-5",
                "prompt": "Facts: {{ inputs.ticket }}",
                **PER_CALL,
            },
            {
                "id": "summarize",
                "model": "google:gemini-2.5-flash",
                "prompt": "Summary: {{ inputs.ticket }}",
                **PER_CALL,
            },
            {
                "id": "reply",
                "model": "openai:gpt-5-mini",
                "prompt": "Reply to {{ steps.extract.output }} / {{ steps.summarize.output }}",
                **PER_CALL,
            },
        ],
    }
)


def wave_faults() -> list[Fault]:
    """Four transient faults per provider: one fewer than a step's five attempts."""
    anthropic, openai, google = Protocol.ANTHROPIC, Protocol.OPENAI, Protocol.GOOGLE
    return [
        Fault.error(429, retry_after_s=1, provider=anthropic),
        Fault.error(529, provider=anthropic),
        Fault.drop(provider=anthropic),
        Fault.slow(STALL_MS, provider=anthropic),
        Fault.error(429, retry_after_ms=1500, provider=openai),
        Fault.error(503, provider=openai),
        Fault.error(500, provider=openai),
        Fault.drop(provider=openai),
        Fault.error(429, retry_after_s=2, provider=google),
        Fault.error(503, provider=google),
        Fault.slow(STALL_MS, provider=google),
        Fault.error(500, provider=google),
    ]


async def test_many_runs_under_transient_faults_all_complete_on_retries(
    sim: SimulatorServer, keys: dict[Protocol, str], figures: Figures
) -> None:
    started = time.perf_counter()
    results = []
    for _ in range(WAVES):
        sim.inject(*wave_faults())
        results += await run_concurrently(RECIPE, {"ticket": "charged twice"}, RUNS_PER_WAVE)
    wall_s = time.perf_counter() - started

    steps = len(RECIPE.steps) * len(results)
    fired = faults_fired(sim)
    attempts = await prefect_attempts(results)
    breakers = BreakerStore(get_engine()).all()
    figures(
        runs=len(results),
        final_states=states(results),
        provider_calls=calls_by_provider(sim),
        faults_fired=fired,
        retries_seen_by_prefect=sum(attempts.values()) - steps,
        fallbacks_used=sum(r.answered_by[s.id] != s.model for r in results for s in RECIPE.steps),
        breakers={str(key): b.circuit.value for key, b in breakers},
        wall_s=round(wall_s, 1),
    )

    assert states(results) == {"COMPLETED": len(results)}, [r.error for r in results]
    assert sum(fired.values()) == WAVES * len(wave_faults())  # every fault fired
    assert len(sim.requests) == steps + sum(fired.values())  # each fault cost one retry
    assert sum(attempts.values()) == len(sim.requests)  # and Prefect counted the same attempts
    assert all(len(r.answered_by) == 3 for r in results)
    assert {m for r in results for m in r.answered_by.values()} == {s.model for s in RECIPE.steps}
    assert {b.circuit for _, b in breakers} == {Circuit.CLOSED}
    assert all(len(r.usage) == 3 for r in results)  # failed attempts carried no usage
