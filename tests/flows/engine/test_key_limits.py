"""Per-key Prefect global concurrency limits: calls wait for a slot, across runs and workers.

Against the session's Prefect API: a limit of one call in flight for the
OpenAI key makes two concurrent runs call one after the other (the
simulator's record shows the calls never overlap), a rate limit takes one
slot per call, and nothing changes unless the worker turns the limits on.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from itertools import pairwise

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

from flows.engine import run_recipe
from flows.engine.limits import (
    KeyLimitsHook,
    concurrency_limit_name,
    limits_enabled,
    rate_limit_name,
)
from flows.recipe import Recipe
from providers.simulator import RecordedRequest, SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT
from vault import KeyStore

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

RECIPE = Recipe.model_validate(
    {
        "name": "limits-test",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [{"id": "reply", "model": "openai:gpt-5-mini", "prompt": "{{ inputs.ticket }}"}],
    }
)

CreateLimit = Callable[..., Awaitable[str]]


@pytest.fixture
async def create_limit() -> AsyncIterator[CreateLimit]:
    """Create global concurrency limits for the test; deleted afterwards."""
    names: list[str] = []

    async def create(name: str, **fields: float) -> str:
        async with get_client() as client:
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(name=name, **fields)
            )
        names.append(name)
        return name

    yield create
    async with get_client() as client:
        for name in names:
            await client.delete_global_concurrency_limit_by_name(name)


def openai_key_id() -> str:
    return KeyStore.open().find_key("default", "openai").id


def overlapping(calls: list[RecordedRequest]) -> bool:
    ordered = sorted(calls, key=lambda c: c.started)
    return any(later.started < earlier.ended for earlier, later in pairwise(ordered))


async def two_runs_at_once(sim: SimulatorServer) -> list[RecordedRequest]:
    sim.settings = dataclasses.replace(sim.settings, latency_ms=300)
    results = await asyncio.gather(
        *(run_recipe(RECIPE, {"ticket": f"ticket {i}"}, policy=NO_WAIT) for i in range(2))
    )
    assert [r.state for r in results] == ["COMPLETED", "COMPLETED"], [r.error for r in results]
    return list(sim.requests)


async def test_a_concurrency_limit_of_one_serialises_calls_with_the_key(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    create_limit: CreateLimit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await create_limit(concurrency_limit_name(openai_key_id()), limit=1)
    monkeypatch.setenv("BYOK_KEY_LIMITS", "on")

    calls = await two_runs_at_once(sim)

    assert len(calls) == 2
    assert not overlapping(calls)
    async with get_client() as client:
        limit = await client.read_global_concurrency_limit_by_name(
            concurrency_limit_name(openai_key_id())
        )
    assert limit.active_slots == 0  # every slot was given back


async def test_without_the_setting_the_limits_are_not_consulted(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    create_limit: CreateLimit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A limit of zero slots would hold every call forever, were it consulted.
    await create_limit(concurrency_limit_name(openai_key_id()), limit=0)
    monkeypatch.delenv("BYOK_KEY_LIMITS", raising=False)

    result = await asyncio.wait_for(run_recipe(RECIPE, {"ticket": "hi"}, policy=NO_WAIT), 120)

    assert result.state == "COMPLETED", result.error


async def test_a_rate_limit_takes_one_slot_per_call(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    create_limit: CreateLimit,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Slots decay so slowly that none is back before the test reads the limit.
    name = await create_limit(
        rate_limit_name(openai_key_id()), limit=100, slot_decay_per_second=0.001
    )
    monkeypatch.setenv("BYOK_KEY_LIMITS", "on")

    for _ in range(3):
        result = await run_recipe(RECIPE, {"ticket": "hi"}, policy=NO_WAIT)
        assert result.state == "COMPLETED", result.error

    async with get_client() as client:
        limit = await client.read_global_concurrency_limit_by_name(name)
    assert limit.active_slots == 3


async def test_turned_on_with_no_limits_created_calls_go_through_as_usual(
    sim: SimulatorServer, keys: dict[Protocol, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_KEY_LIMITS", "on")
    result = await run_recipe(RECIPE, {"ticket": "hi"}, policy=NO_WAIT)
    assert result.state == "COMPLETED", result.error


@pytest.mark.parametrize(("value", "on"), [("on", True), ("1", True), ("off", False), ("", False)])
def test_the_setting_reads_on_and_off(
    value: str, on: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_KEY_LIMITS", value)
    assert limits_enabled() is on
    assert KeyLimitsHook()._enabled is on


def test_a_bad_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_KEY_LIMITS", "sometimes")
    with pytest.raises(ValueError, match="BYOK_KEY_LIMITS must be 'on' or 'off'"):
        limits_enabled()
