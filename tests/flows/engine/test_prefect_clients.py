"""Prefect's API clients are opened once per event loop and API, not once per run.

A run opening its own pair cost ~35 ms of CPU (two TLS contexts from certifi's
bundle): these tests check that a second run opens none, that a different API
gets clients of its own, that nothing leaks to code outside `run_recipe`, and
that the clients are closed when the loop shuts down.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from prefect.client.orchestration import PrefectClient, SyncPrefectClient, get_client
from prefect.context import AsyncClientContext, SyncClientContext
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.engine import run_recipe
from flows.engine.prefect_clients import reused_prefect_clients
from flows.recipe import Recipe
from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

RECIPE = Recipe.model_validate(
    {
        "name": "clients-test",
        "inputs": {"text": {"type": "string"}},
        "steps": [
            {"id": "a", "model": "openai:gpt-5-mini", "prompt": "A {{ inputs.text }}"},
            {"id": "b", "model": "openai:gpt-5-mini", "prompt": "B {{ steps.a.output }}"},
        ],
    }
)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The Prefect API clients constructed while the test runs, by kind."""
    made: list[str] = []
    for cls in (PrefectClient, SyncPrefectClient):
        original = cls.__init__

        def counting(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> None:
            made.append(type(self).__name__)
            __original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    return made


async def test_a_second_run_opens_no_prefect_client(
    sim: SimulatorServer, keys: dict[Protocol, str], opened: list[str]
) -> None:
    first = await run_recipe(RECIPE, {"text": "x"}, policy=NO_WAIT)
    assert first.state == "COMPLETED", first.error
    opened.clear()

    second = await run_recipe(RECIPE, {"text": "y"}, policy=NO_WAIT)

    assert second.state == "COMPLETED", second.error
    assert len(second.usage) == 2
    assert opened == []


async def test_runs_share_one_pair_and_leave_no_client_context_behind() -> None:
    async def clients() -> tuple[object, object]:
        async with reused_prefect_clients():
            return get_client(), get_client(sync_client=True)

    first, second = await asyncio.gather(clients(), clients())
    later = await clients()

    assert first == second == later
    assert AsyncClientContext.get() is None
    assert SyncClientContext.get() is None


async def test_another_api_gets_clients_of_its_own() -> None:
    async with reused_prefect_clients():
        current = get_client()
    # The same test server under another name: a different API as far as settings go.
    url = str(PREFECT_API_URL.value()).replace("127.0.0.1", "localhost")
    assert "localhost" in url
    with temporary_settings({PREFECT_API_URL: url}):
        async with reused_prefect_clients():
            other = get_client()
            other_sync = get_client(sync_client=True)
            assert (await other.hello()).is_success

    assert other is not current
    assert str(other.api_url).startswith(url)
    assert str(other_sync.api_url).startswith(url)


async def test_a_callers_own_client_context_is_kept() -> None:
    async with AsyncClientContext.get_or_create() as own, reused_prefect_clients():
        assert get_client() is own.client


def test_clients_close_when_their_loop_shuts_down() -> None:
    held: list[SyncPrefectClient] = []

    async def run() -> None:
        async with reused_prefect_clients():
            client = get_client(sync_client=True)
            assert isinstance(client, SyncPrefectClient)
            client.hello().raise_for_status()  # open and working while the loop runs
            held.append(client)

    # A loop of its own, as `byok run` has: asyncio.run shuts down its async generators.
    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    thread.join()

    assert len(held) == 1
    with pytest.raises(RuntimeError, match="closed"):
        held[0].hello()
