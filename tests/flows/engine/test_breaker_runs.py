"""The breaker inside real runs on Prefect: it refuses, fallbacks answer, Prefect hears of it.

Runs go through Prefect's test harness and the simulator over loopback; the
breaker's settings come from the worker environment, as in production.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter
from prefect.events.worker import EventsWorker

from flows.engine import run_recipe
from flows.recipe import Recipe
from providers.breaker import (
    Breaker,
    BreakerKey,
    BreakerPolicy,
    BreakerStore,
    CallResult,
    Circuit,
    ConsecutiveFailures,
)
from providers.breaker.state import admit, record
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT
from vault import KeyStore
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

INPUTS = {"ticket": "I was charged twice."}


def recipe(**reply: Any) -> Recipe:
    return Recipe.model_validate(
        {
            "name": "breaker-test",
            "inputs": {"ticket": {"type": "string"}},
            "steps": [
                {"id": "reply", "model": "openai:gpt-5-mini", "prompt": "{{ inputs.ticket }}"}
                | reply
            ],
        }
    )


def breaker_key(provider: str, model: str) -> BreakerKey:
    return BreakerKey(provider, model, KeyStore.open().find_key("default", provider).id)


def force_open(key: BreakerKey) -> None:
    """Open the breaker the way a fleet of failing calls would have."""
    policy = BreakerPolicy(trip=ConsecutiveFailures(1), cool_down_s=3600.0)

    def fail(breaker: Breaker) -> tuple[Breaker, None]:
        breaker, admission = admit(breaker, time.time(), policy)
        failed = record(breaker, admission, CallResult.FAILURE, time.time(), policy)
        return failed, None

    BreakerStore(get_engine()).change(key, fail)


async def task_run_states(run_id: str) -> dict[str, list[str]]:
    """Each task run's state names, oldest first, as the Prefect UI shows them."""
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run_id)]))
        )
        history = {}
        for run in runs:
            states = await client.read_task_run_states(run.id)
            history[run.name] = [s.name for s in sorted(states, key=lambda s: s.timestamp)]
    return history


async def test_an_open_breaker_sends_the_step_to_its_fallback_without_calling(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    force_open(breaker_key("openai", "gpt-5-mini"))

    result = await run_recipe(
        recipe(fallbacks=["anthropic:claude-sonnet-4-5"], retries=3), INPUTS, policy=NO_WAIT
    )

    assert result.state == "COMPLETED", result.error
    assert [call.protocol for call in sim.requests] == [Protocol.ANTHROPIC]
    assert result.answered_by == {"reply": "anthropic:claude-sonnet-4-5"}
    assert [(row.provider, row.model) for row in result.usage] == [
        ("anthropic", "claude-sonnet-4-5")
    ]
    states = await task_run_states(result.run_id)
    # Refused once, not retried: asking again would only be refused again.
    assert states["reply · openai:gpt-5-mini"] == ["Pending", "Running", "Failed"]
    assert states["reply · anthropic:claude-sonnet-4-5"][-1] == "Completed"


async def test_with_no_fallback_an_open_breaker_fails_the_step_fast_and_says_why(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    force_open(breaker_key("openai", "gpt-5-mini"))

    result = await run_recipe(recipe(retries=3), INPUTS, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert sim.requests == ()
    assert result.error is not None
    assert "circuit breaker for openai:gpt-5-mini" in result.error
    assert "fallback model" in result.error


async def test_a_dead_provider_opens_the_breaker_mid_run_and_prefect_gets_the_event(
    sim: SimulatorServer, keys: dict[Protocol, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_BREAKER_FAILURES", "2")
    sim.inject(Fault.error(503, provider=Protocol.OPENAI, times=None))
    key = breaker_key("openai", "gpt-5-mini")

    result = await run_recipe(
        recipe(fallbacks=["anthropic:claude-sonnet-4-5"], retries=5), INPUTS, policy=NO_WAIT
    )

    assert result.state == "COMPLETED", result.error
    # Two failures opened the breaker; the third attempt was refused, not sent.
    assert [c.protocol for c in sim.requests].count(Protocol.OPENAI) == 2
    assert result.answered_by["reply"] == "anthropic:claude-sonnet-4-5"
    assert BreakerStore(get_engine()).read(key).circuit is Circuit.OPEN
    states = await task_run_states(result.run_id)
    assert states["reply · openai:gpt-5-mini"].count("AwaitingRetry") == 2

    event = await wait_for_event("byok.breaker.opened", key.resource_id)
    assert event.resource["byok.key-id"] == key.key_id
    assert event.payload["reason"] == "2 consecutive failures"
    assert event.payload["last_failure"] == "OverloadedError HTTP 503"


async def wait_for_event(name: str, resource_id: str) -> Any:
    """The event as the Prefect API stores it (events are written asynchronously)."""
    await asyncio.to_thread(EventsWorker.drain_all)
    wanted = EventFilter(
        event=EventNameFilter(name=[name]), resource=EventResourceFilter(id=[resource_id])
    )
    async with get_client() as client:
        for _ in range(100):
            page = await client.read_events(filter=wanted, limit=10)
            if page.events:
                return page.events[0]
            await asyncio.sleep(0.1)  # the server persists events in batches
    raise AssertionError(f"Prefect never recorded {name} for {resource_id}")


async def test_a_non_retryable_error_neither_retries_nor_falls_back_nor_counts(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(Fault.error(400, provider=Protocol.OPENAI, times=None))

    result = await run_recipe(
        recipe(fallbacks=["anthropic:claude-sonnet-4-5"], retries=3), INPUTS, policy=NO_WAIT
    )

    assert result.state == "FAILED"
    assert [c.protocol for c in sim.requests] == [Protocol.OPENAI]
    breaker = BreakerStore(get_engine()).read(breaker_key("openai", "gpt-5-mini"))
    assert breaker.circuit is Circuit.CLOSED
    assert breaker.consecutive_failures == 0


async def test_fallbacks_only_ever_use_the_runs_own_org(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    store = KeyStore.open()
    store.add_key(
        org="other-org",
        provider="openai",
        name="backup",
        secret="sk-other-org-0123456789",
        base_url=sim.base_url(Protocol.OPENAI),
    )
    sim.inject(Fault.error(503, provider=Protocol.OPENAI, times=None))

    result = await run_recipe(
        recipe(fallbacks=["backup:gpt-5-mini"], retries=0), INPUTS, policy=NO_WAIT
    )

    assert result.state == "FAILED"
    assert result.error is not None
    assert "backup" in result.error
    assert "after openai:gpt-5-mini (OverloadedError)" in result.error
    assert len(sim.requests) == 1  # the primary's one call; the other org's key never used
