"""`ProviderClient`: the one place that does provider I/O and translates its failures.

The adapters are pure (request → JSON, JSON → response); this module sends
what they prepare over a pooled `httpx.AsyncClient` (one per base URL, reused
across calls and keys) and turns every failure into a `ProviderError`:

    httpx timeout / network / remote protocol error  → ProviderConnectionError
    other httpx transport error (bad URL, proxy …)   → InvalidRequestError or
                                                       ProviderConnectionError
    non-2xx reply                                    → adapter.map_error (see http_errors)
    2xx reply that is not a usable JSON object       → ResponseError
    structured step with unusable output             → ResponseError (see structured)

The original httpx exception is kept as `__cause__` (`raise … from e`) for
debugging; our messages name only the provider, host and exception type, and
the cause never travels further (exceptions pickle without it). The key is
revealed only inside the adapter's `build_request`, per call, so a rotated key
is used from the next call on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import replace
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from providers import anthropic, google, openai
from providers.endpoint import Endpoint
from providers.errors import (
    InvalidRequestError,
    ProviderConnectionError,
    ProviderError,
    ResponseError,
)
from providers.structured import check_output_schema, parse_structured
from providers.types import ModelRequest, ModelResponse, Protocol
from providers.wire import PreparedRequest, WireAdapter

__all__ = ["ADAPTERS", "DEFAULT_TIMEOUT_S", "ProviderClient", "adapter_for"]

# Reasoning models can think for minutes before the first byte of a non-streamed reply.
DEFAULT_TIMEOUT_S: Final = 120.0
_CONNECT_TIMEOUT_S: Final = 10.0
_USER_AGENT: Final = "byok-flows"

ADAPTERS: Final[Mapping[Protocol, WireAdapter]] = {
    Protocol.ANTHROPIC: anthropic,
    Protocol.OPENAI: openai,
    Protocol.GOOGLE: google,
}


def adapter_for(protocol: Protocol) -> WireAdapter:
    """The wire adapter module that speaks `protocol`."""
    return ADAPTERS[protocol]


class ProviderClient:
    """Sends model calls for any key; holds pooled connections, never keys.

    One instance belongs to one event loop (httpx pools cannot cross loops):
    using it from another loop raises `RuntimeError` rather than failing
    obscurely inside the connection pool. Close it with `aclose()` or use it as
    an async context manager.
    """

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """`transport` replaces the network (tests pass `httpx.MockTransport`)."""
        self._transport = transport
        self._timeout_s = timeout_s
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    async def complete(
        self, endpoint: Endpoint, request: ModelRequest, *, timeout_s: float | None = None
    ) -> ModelResponse:
        """Make one model call with `endpoint`'s key; raise `ProviderError` on any failure.

        `timeout_s` bounds the whole call (connect, send, wait, read).
        """
        adapter = adapter_for(endpoint.protocol)
        provider = endpoint.provider
        if request.output_schema is not None:
            check_output_schema(request.output_schema, provider=provider)
        prepared = adapter.build_request(request, endpoint)
        reply = await self._send(
            prepared, endpoint, self._timeout_s if timeout_s is None else timeout_s
        )
        body = _json_or_none(reply)
        if not reply.is_success:
            raise adapter.map_error(
                reply.status_code, body, reply.headers, provider=provider, key_id=endpoint.key_id
            )
        if not isinstance(body, Mapping):
            raise ResponseError(
                f"{provider} answered HTTP {reply.status_code} with a body that is not a JSON "
                "object: check the key's base URL",
                provider=provider,
                status=reply.status_code,
                error_type="malformed_response",
            )
        response = adapter.parse_response(body, provider=provider)
        if not response.model:
            response = replace(response, model=request.model)
        if request.output_schema is not None:
            response = parse_structured(response, request.output_schema, provider=provider)
        return response

    async def aclose(self) -> None:
        """Close every pooled connection; the client cannot be used afterwards."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _client_for(self, base_url: str) -> httpx.AsyncClient:
        if self._closed:
            raise RuntimeError("this ProviderClient is closed: create a new one")
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif self._loop is not loop:
            raise RuntimeError(
                "a ProviderClient belongs to the event loop it was first used in: "
                "create one per event loop"
            )
        client = self._clients.get(base_url)
        if client is None:
            client = httpx.AsyncClient(
                transport=self._transport,
                headers={"user-agent": _USER_AGENT},
                follow_redirects=False,
            )
            self._clients[base_url] = client
        return client

    async def _send(
        self, prepared: PreparedRequest, endpoint: Endpoint, timeout_s: float
    ) -> httpx.Response:
        client = self._client_for(endpoint.base_url)
        timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, _CONNECT_TIMEOUT_S))
        try:
            async with asyncio.timeout(timeout_s):
                return await client.request(
                    prepared.method,
                    prepared.url,
                    headers=dict(prepared.headers),
                    json=prepared.json,
                    timeout=timeout,
                )
        except TimeoutError as error:
            raise _connection_error(endpoint, f"no reply within {timeout_s:g} s") from error
        except httpx.LocalProtocolError as error:
            # h11 quotes the offending header value in its message, and a header
            # may hold the key: this one cause is dropped, not chained.
            raise _transport_error(error, endpoint) from None
        except httpx.HTTPError as error:
            raise _transport_error(error, endpoint) from error


def _transport_error(error: httpx.HTTPError, endpoint: Endpoint) -> ProviderError:
    """The `ProviderError` for an httpx failure, named by type only (never str(error))."""
    kind = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return _connection_error(endpoint, f"timed out ({kind})")
    if isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return _connection_error(endpoint, f"connection failed ({kind})")
    return InvalidRequestError(
        f"{endpoint.provider} could not be called at {_host(endpoint)} ({kind}): "
        "check the key's base URL",
        provider=endpoint.provider,
        error_type=kind,
    )


def _connection_error(endpoint: Endpoint, what: str) -> ProviderConnectionError:
    return ProviderConnectionError(
        f"{endpoint.provider} at {_host(endpoint)}: {what}; the call can be retried",
        provider=endpoint.provider,
        error_type="connection",
    )


def _host(endpoint: Endpoint) -> str:
    """Host and port of the base URL: never its path, query or user info."""
    try:
        parts = urlsplit(endpoint.base_url)
        host = parts.hostname or "?"
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "?"


def _json_or_none(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:  # also json.JSONDecodeError and UnicodeDecodeError
        return None
