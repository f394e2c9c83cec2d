"""An invalid request is never retried, never falls back, and never trips a breaker."""

from __future__ import annotations

import pytest

from flows.recipe import Recipe
from providers.breaker import BreakerStore, Circuit
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.chaos.conftest import Figures
from tests.chaos.harness import (
    CHAOS_POLICY,
    calls_by_provider,
    prefect_attempts,
    run_concurrently,
    states,
)
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

RUNS = 8
RECIPE = Recipe.model_validate(
    {
        "name": "chaos-invalid-request",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {
                "id": "reply",
                "model": "openai:gpt-5-mini",
                "prompt": "Reply to {{ inputs.ticket }}",
                "fallbacks": ["anthropic:claude-haiku-4-5"],
                "retries": CHAOS_POLICY.retries,
            }
        ],
    }
)


async def test_a_400_is_sent_once_per_run_and_fails_it(
    sim: SimulatorServer, keys: dict[Protocol, str], figures: Figures
) -> None:
    sim.inject(Fault.error(400, provider=Protocol.OPENAI, times=None))

    results = await run_concurrently(RECIPE, {"ticket": "charged twice"}, RUNS)

    attempts = await prefect_attempts(results)
    breakers = BreakerStore(get_engine()).all()
    figures(
        runs=len(results),
        final_states=states(results),
        provider_calls=calls_by_provider(sim),
        retries_seen_by_prefect=sum(attempts.values()) - len(results),
        fallbacks_used=sum("reply" in r.answered_by for r in results),
        breakers={str(key): b.circuit.value for key, b in breakers},
    )

    assert states(results) == {"FAILED": RUNS}
    assert calls_by_provider(sim) == {"openai": RUNS}  # once each; the fallback never called
    assert dict(attempts) == {"reply · openai:gpt-5-mini": RUNS}
    assert all(r.error is not None and "HTTP 400" in r.error for r in results)
    assert [b.circuit for _, b in breakers] == [Circuit.CLOSED]
    assert [b.consecutive_failures for _, b in breakers] == [0]
