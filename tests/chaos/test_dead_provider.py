"""A provider that only fails: the breaker opens within a bounded number of calls, and
the fallback model carries every run.

Two waves of concurrent runs hit a primary that answers every call with 503.
The breaker (default policy: 5 consecutive failures) must stop the calls
after at most `threshold + concurrent runs - 1` of them (each run has at
most one call out when the threshold is reached), and the second wave must
not call the dead provider at all. Without the breaker, every run would
spend all its retries on it.
"""

from __future__ import annotations

import time

import pytest

from flows.recipe import Recipe
from providers.breaker import DEFAULT_BREAKER_POLICY, BreakerStore, Circuit, ConsecutiveFailures
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
from vault import KeyStore
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

RUNS_PER_WAVE = 8
PRIMARY, FALLBACK = "openai:gpt-5-mini", "anthropic:claude-haiku-4-5"
RECIPE = Recipe.model_validate(
    {
        "name": "chaos-dead-provider",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {
                "id": "reply",
                "model": PRIMARY,
                "prompt": "Reply to {{ inputs.ticket }}",
                "fallbacks": [FALLBACK],
                "retries": CHAOS_POLICY.retries,
            }
        ],
    }
)


def default_threshold() -> int:
    (consecutive,) = [
        c
        for c in getattr(DEFAULT_BREAKER_POLICY.trip, "conditions", ())
        if isinstance(c, ConsecutiveFailures)
    ]
    return consecutive.count


async def test_a_dead_provider_trips_the_breaker_and_fallbacks_carry_the_runs(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    figures: Figures,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The default policy, but a cool-down no loaded CI machine outlasts: no probe call
    # may go out during the test (probes are covered in tests/providers/breaker).
    monkeypatch.setenv("BYOK_BREAKER_COOL_DOWN_S", "3600")
    sim.inject(Fault.error(503, provider=Protocol.OPENAI, times=None))
    threshold = default_threshold()
    started = time.perf_counter()

    first = await run_concurrently(RECIPE, {"ticket": "charged twice"}, RUNS_PER_WAVE)
    after_first = calls_by_provider(sim).get("openai", 0)
    second = await run_concurrently(RECIPE, {"ticket": "charged twice"}, RUNS_PER_WAVE)
    wall_s = time.perf_counter() - started

    results = first + second
    dead_calls = calls_by_provider(sim).get("openai", 0)
    key_id = KeyStore.open().find_key("default", "openai").id
    ((key, breaker),) = [(k, b) for k, b in BreakerStore(get_engine()).all() if k.key_id == key_id]
    attempts = await prefect_attempts(results)
    without_breaker = len(results) * (CHAOS_POLICY.retries + 1)
    figures(
        runs=len(results),
        final_states=states(results),
        provider_calls=calls_by_provider(sim),
        calls_to_dead_provider=dead_calls,
        bound=threshold + RUNS_PER_WAVE - 1,
        calls_without_a_breaker=without_breaker,
        calls_to_it_in_second_wave=dead_calls - after_first,
        fallbacks_used=sum(r.answered_by["reply"] == FALLBACK for r in results),
        primary_attempts_in_prefect=attempts[f"reply · {PRIMARY}"],
        breaker=f"{key}: {breaker.circuit.value} ({breaker.reason})",
        wall_s=round(wall_s, 1),
    )

    assert states(results) == {"COMPLETED": len(results)}, [r.error for r in results]
    assert all(r.answered_by == {"reply": FALLBACK} for r in results)
    assert threshold <= dead_calls <= threshold + RUNS_PER_WAVE - 1
    assert dead_calls == after_first  # the second wave never called the dead provider
    assert breaker.circuit is Circuit.OPEN
    assert breaker.times_opened == 1
    # The ledger says who answered: one fallback row per run, nothing billed for the 503s.
    assert all(
        [(row.provider, row.model) for row in r.usage] == [("anthropic", "claude-haiku-4-5")]
        for r in results
    )
    # A refused attempt is never retried: Prefect saw every sent call plus at most one
    # refused attempt per run (none for a run whose retries ran out just as it opened).
    second_wave_attempts = RUNS_PER_WAVE  # one refused attempt each, nothing sent
    assert dead_calls + second_wave_attempts <= attempts[f"reply · {PRIMARY}"]
    assert attempts[f"reply · {PRIMARY}"] <= dead_calls + len(results)
