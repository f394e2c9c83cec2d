"""Run the simulator on a real loopback socket, in a background thread.

Adapters are tested over real HTTP, so retries, timeouts and dropped
connections behave exactly as they will against a provider. The server binds
its socket before the thread starts (port 0 picks a free port, known at once)
and `start()` returns when uvicorn has finished starting, signalled by an
event rather than by polling.

    with SimulatorServer() as sim:
        sim.inject(Fault.error(429, retry_after_s=1, provider="anthropic"))
        client.post(sim.base_url("anthropic") + "/v1/messages", ...)
        assert sim.requests[-1].status == 429
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import uvicorn

from providers.simulator.app import SimulatorState, create_app
from providers.simulator.faults import Fault, FaultPlan, PendingFault
from providers.simulator.recorder import RecordedRequest, Recorder
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol

__all__ = ["SimulatorServer"]

_START_TIMEOUT_S = 10.0
_STOP_GRACE_S = 3.0
# A server bound to every interface is reached through loopback.
_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}  # noqa: S104
# Appended to the server root to get each protocol's base URL, as the official SDKs do.
_BASE_PATHS = {Protocol.ANTHROPIC: "", Protocol.OPENAI: "/v1", Protocol.GOOGLE: ""}


class SimulatorServer:
    """The protocol simulator on `host:port`; a context manager (sync or async).

    `latency_ms` delays every call; `provider_latency_ms` overrides it per
    protocol; `echo`, `echo_key` and `echo_errors` make replies and error
    bodies repeat the prompt and the key (see `SimulatorSettings`); `faults`
    are planned from the start. Faults, recorded requests and settings can be
    changed while the server runs, from any thread.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        *,
        provider_latency_ms: Mapping[Protocol | str, float] | None = None,
        echo: bool = False,
        echo_key: bool = False,
        echo_errors: bool = False,
        faults: tuple[Fault, ...] = (),
        max_records: int = 10_000,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._initial_settings = SimulatorSettings(
            latency_ms=latency_ms,
            provider_latency_ms=_by_protocol(provider_latency_ms or {}),
            echo=echo,
            echo_key=echo_key,
            echo_errors=echo_errors,
        )
        self._state = SimulatorState(
            settings=self._initial_settings,
            faults=FaultPlan(faults),
            recorder=Recorder(max_records),
            close_connection=self._close_connection,
        )
        self._app = create_app(self._state)
        self._socket: socket.socket | None = None
        self._server: _UvicornServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._socket is not None else "not started"
        return f"SimulatorServer({where})"

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Bind the socket and serve in a daemon thread; returns once serving.

        Raises `OSError` if the address is taken, `RuntimeError` if uvicorn
        fails to start.
        """
        if self._thread is not None:
            raise RuntimeError("this simulator is already running: stop() it first")
        sock = _bind(self.host, self._requested_port)
        config = uvicorn.Config(
            self._app,
            host=self.host,
            port=sock.getsockname()[1],
            http="h11",  # dropping a connection uses h11 connections' `client` and `transport`
            ws="none",
            loop="asyncio",
            lifespan="off",
            access_log=False,  # a Gemini `?key=` URL must never reach a log
            log_config=None,  # leave the host process's logging alone
            log_level="warning",
            timeout_graceful_shutdown=int(_STOP_GRACE_S),
        )
        server = _UvicornServer(config)
        thread = threading.Thread(
            target=_serve, args=(server, sock), name="byok-simulator", daemon=True
        )
        self._socket, self._server, self._thread = sock, server, thread
        thread.start()
        server.ready.wait(_START_TIMEOUT_S)
        if not server.started:
            self.stop()
            raise RuntimeError("the simulator failed to start") from server.error
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None and thread is not None:
            server.should_exit = True
            server.close_connections_soon()  # ends replies held back by latency or faults
            thread.join(_STOP_GRACE_S)
            if thread.is_alive():
                server.force_exit = True
                thread.join(_STOP_GRACE_S)
        if sock is not None:
            sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    # -- addresses ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (the free one picked when constructed with port 0)."""
        if self._socket is None:
            raise RuntimeError("the simulator is not running: call start() first")
        port: int = self._socket.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """The server root, e.g. `http://127.0.0.1:8787`."""
        host = _LOOPBACK_FOR_WILDCARD.get(self.host, self.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def base_url(self, protocol: Protocol | str) -> str:
        """The base URL a key of this protocol should use to reach the simulator.

        `"azure"` gives the root, which plays an Azure OpenAI resource's
        endpoint (`https://RESOURCE.openai.azure.com`) for an OpenAI-protocol key.
        """
        if protocol == "azure":
            return self.url
        try:
            path = _BASE_PATHS[Protocol(protocol)]
        except ValueError:
            raise ValueError(
                f"unknown protocol {protocol!r}: use anthropic, openai, google or azure"
            ) from None
        return f"{self.url}{path}"

    # -- behaviour ---------------------------------------------------------

    @property
    def settings(self) -> SimulatorSettings:
        """Latency and echo; assign a new value (`dataclasses.replace`) to change them."""
        return self._state.settings

    @settings.setter
    def settings(self, value: SimulatorSettings) -> None:
        self._state.settings = value

    def inject(self, *faults: Fault) -> None:
        """Plan faults; each fires on its next matching calls, in the order added."""
        self._state.faults.add(*faults)

    @property
    def pending_faults(self) -> tuple[PendingFault, ...]:
        """Faults that have not fired their last time yet."""
        return self._state.faults.pending()

    def clear_faults(self) -> int:
        """Remove all pending faults; returns how many were removed."""
        return self._state.faults.clear()

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Calls received so far, in order of arrival."""
        return self._state.recorder.requests()

    def clear_requests(self) -> int:
        """Forget recorded calls; returns how many were forgotten."""
        return self._state.recorder.clear()

    def reset(self) -> None:
        """Back to how it was constructed: no faults, no records, initial settings."""
        self._state.faults.clear()
        self._state.recorder.clear()
        self._state.settings = self._initial_settings

    # -- internals ---------------------------------------------------------

    def _close_connection(self, client: Any) -> bool:
        """Close the TCP connection of `client` (host, port). Runs on the server's loop."""
        server = self._server
        return server is not None and client is not None and server.close_connection_of(client)


class _UvicornServer(uvicorn.Server):
    """uvicorn's server, with an event set when startup is over (success or not)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await super().startup(sockets=sockets)
        finally:
            self.ready.set()

    def close_connections_soon(self) -> None:
        """From any thread: close every open connection on the server's loop.

        Without this, a call held back by a slow fault would keep shutdown
        waiting for uvicorn's grace period and then die with a logged traceback.
        """
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is gone: nothing left to close
            loop.call_soon_threadsafe(self._close_connections)

    def close_connection_of(self, client: Any) -> bool:
        """Close the connection from `client` (host, port); call on the server's loop."""
        for connection in list(self.server_state.connections):
            if getattr(connection, "client", None) == tuple(client):
                connection.transport.close()
                return True
        return False

    def _close_connections(self) -> None:
        for connection in list(self.server_state.connections):
            connection.transport.close()


def _serve(server: _UvicornServer, sock: socket.socket) -> None:
    """Thread body: run uvicorn on the pre-bound socket until told to exit."""
    try:
        server.run(sockets=[sock])
    except BaseException as error:  # reported by start(), not lost in the thread
        server.error = error
    finally:
        server.ready.set()


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket whose accepted connections get TCP_NODELAY.

    asyncio only disables Nagle's algorithm on sockets whose `proto` is
    IPPROTO_TCP; `socket.create_server` leaves it 0, and every small reply
    then waits ~40 ms for a delayed ACK. Hence the explicit protocol here.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _by_protocol(latencies: Mapping[Protocol | str, float]) -> dict[Protocol, float]:
    result: dict[Protocol, float] = {}
    for name, latency in latencies.items():
        try:
            result[Protocol(name)] = float(latency)
        except ValueError:
            raise ValueError(
                f"unknown protocol {name!r} in provider_latency_ms: use anthropic, openai or google"
            ) from None
    return result
