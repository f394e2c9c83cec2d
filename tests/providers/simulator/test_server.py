"""Starting, addressing and stopping the simulator from Python."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from providers.simulator import Fault, SimulatorServer, SimulatorSettings
from providers.types import Protocol
from tests.providers.simulator.calls import acall, call


def test_port_zero_picks_a_free_port_and_urls_follow_the_sdk_conventions() -> None:
    with SimulatorServer() as first, SimulatorServer() as second:
        assert first.port != second.port
        root = f"http://127.0.0.1:{first.port}"
        assert first.url == root
        assert first.base_url(Protocol.ANTHROPIC) == root
        assert first.base_url("openai") == f"{root}/v1"
        assert first.base_url(Protocol.GOOGLE) == root
        assert repr(first) == f"SimulatorServer({root})"


async def test_it_works_as_an_async_context_manager() -> None:
    async with SimulatorServer() as server, httpx.AsyncClient() as client:
        response = await acall(client, server, Protocol.OPENAI)

    assert response.status_code == 200
    assert repr(server) == "SimulatorServer(not started)"


def test_faults_and_settings_given_at_construction_apply_from_the_first_call() -> None:
    server = SimulatorServer(latency_ms=20, echo=True, faults=(Fault.error(503),))

    with server, httpx.Client() as client:
        failed = call(client, server, Protocol.GOOGLE, "Hi")
        answered = call(client, server, Protocol.GOOGLE, "Hi")

    assert failed.status_code == 503
    assert answered.json()["candidates"][0]["content"]["parts"][0]["text"].endswith("Prompt: Hi")
    assert all(r.ended - r.started >= 0.02 for r in server.requests)


def test_reset_restores_the_construction_settings(sim: SimulatorServer) -> None:
    sim.settings = replace(sim.settings, latency_ms=500, echo=True)
    sim.inject(Fault.drop(times=None))

    sim.reset()

    assert sim.settings == SimulatorSettings()
    assert sim.pending_faults == ()


def test_a_taken_port_raises_oserror() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        server = SimulatorServer(port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"):
            server.start()


def test_starting_twice_is_refused_and_stopping_twice_is_harmless() -> None:
    server = SimulatorServer().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    finally:
        server.stop()
    server.stop()

    with pytest.raises(RuntimeError, match="not running"):
        _ = server.port


def test_a_stopped_server_no_longer_accepts_connections() -> None:
    with SimulatorServer() as server:
        url = server.url

    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/_sim/health")


@pytest.mark.parametrize(
    "build",
    [
        lambda: SimulatorServer(provider_latency_ms={"cohere": 10}),
        lambda: SimulatorServer(latency_ms=-1),
        lambda: SimulatorServer().base_url("cohere"),
    ],
    ids=["unknown provider latency", "negative latency", "unknown protocol url"],
)
def test_bad_configuration_is_refused_with_a_clear_error(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"cohere|negative"):
        build()


async def test_stopping_ends_a_call_held_back_by_a_slow_fault_at_once() -> None:
    server = SimulatorServer(faults=(Fault.slow(30_000),)).start()
    async with httpx.AsyncClient(timeout=30) as client:
        pending = asyncio.ensure_future(acall(client, server, Protocol.ANTHROPIC))
        await _until(lambda: not server.pending_faults)  # the server has taken the call

        started = time.monotonic()
        await asyncio.to_thread(server.stop)

        assert time.monotonic() - started < 2  # not uvicorn's grace period, not 30 s
        with pytest.raises(httpx.RemoteProtocolError):
            await pending


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Yield to the event loop until `condition` holds (a sync point, not a delay)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)
