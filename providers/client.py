"""`ProviderClient`: the one place that does provider I/O and translates its failures.

The adapters are pure (request → JSON, JSON → response); this module sends
what they prepare over a pooled `httpx.AsyncClient` (one per base URL, reused
across calls and keys) and turns every failure into a `ProviderError`:

    httpx timeout / network / remote protocol error  → ProviderConnectionError
    other httpx transport error (bad URL, proxy …)   → InvalidRequestError or
                                                       ProviderConnectionError
    non-2xx reply                                    → adapter.map_error (see http_errors)
    error inside a 200 (body or stream event)        → adapter.in_band_error, same taxonomy
    stream that ends before its last event           → ProviderConnectionError
    2xx reply that is not a usable JSON object       → ResponseError
    text step whose reply a safety filter withheld   → ResponseError
    structured step with unusable output             → ResponseError (see structured)

Long generations stream (`providers.streaming.wants_stream`): the reply is
read as server-sent events with `httpx.AsyncClient.stream` and assembled
into the same `ModelResponse`. A server that ignores the stream request and
answers with plain JSON is read as a plain reply. Errors that end a stream
carry the usage it reported so far.

After the reply: a model name the provider left out is the requested one,
and the step's stop sequences cut the text client-side (reasoning models
cannot be sent `stop`; for the others the provider has already cut it).

The original httpx exception is kept as `__cause__` (`raise … from e`) for
debugging; our messages name only the provider, host and exception type, and
the cause never travels further (exceptions pickle without it). The key is
revealed only inside the adapter's `build_request`, per call, so a rotated key
is used from the next call on.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
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
from providers.streaming import Assembly, aiter_events, wants_stream
from providers.streaming.anthropic import AnthropicStream
from providers.streaming.google import GoogleStream
from providers.streaming.openai import OpenAIStream
from providers.structured import check_output_schema, parse_structured
from providers.types import FinishReason, ModelRequest, ModelResponse, Protocol, Usage
from providers.wire import PreparedRequest, WireAdapter

__all__ = [
    "ADAPTERS",
    "DEFAULT_STREAM_TIMEOUT_S",
    "DEFAULT_TIMEOUT_S",
    "STREAMS",
    "ProviderClient",
    "adapter_for",
]

# Reasoning models can think for minutes before the first byte of a non-streamed reply.
DEFAULT_TIMEOUT_S: Final = 120.0
# A stream is for long generations: by default it may last this long in total, as long
# as no more than DEFAULT_TIMEOUT_S pass without a byte.
DEFAULT_STREAM_TIMEOUT_S: Final = 3600.0
_CONNECT_TIMEOUT_S: Final = 10.0
_USER_AGENT: Final = "byok-flows"

ADAPTERS: Final[Mapping[Protocol, WireAdapter]] = {
    Protocol.ANTHROPIC: anthropic,
    Protocol.OPENAI: openai,
    Protocol.GOOGLE: google,
}

STREAMS: Final[Mapping[Protocol, type[Assembly]]] = {
    Protocol.ANTHROPIC: AnthropicStream,
    Protocol.OPENAI: OpenAIStream,
    Protocol.GOOGLE: GoogleStream,
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

        `timeout_s` bounds the whole call (connect, send, wait, read), streamed or
        not. Without it, an unstreamed call gets the client's timeout, and a
        stream `DEFAULT_STREAM_TIMEOUT_S` in total but the client's timeout
        between two bytes.
        """
        adapter = adapter_for(endpoint.protocol)
        if request.output_schema is not None:
            check_output_schema(request.output_schema, provider=endpoint.provider)
        stream = wants_stream(request)
        prepared = adapter.build_request(request, endpoint, stream=stream)
        if timeout_s is not None:
            limit = idle = timeout_s
        else:
            idle = self._timeout_s
            limit = DEFAULT_STREAM_TIMEOUT_S if stream else idle
        assembly = (
            STREAMS[endpoint.protocol](provider=endpoint.provider, key_id=endpoint.key_id)
            if stream
            else None
        )
        response = await self._exchange(
            prepared, endpoint, adapter, _Limits(total_s=limit, idle_s=idle), assembly
        )
        return _finish(response, request, endpoint.provider)

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
                verify=_shared_ssl_context() if self._transport is None else True,
                headers={"user-agent": _USER_AGENT},
                follow_redirects=False,
            )
            self._clients[base_url] = client
        return client

    async def _exchange(
        self,
        prepared: PreparedRequest,
        endpoint: Endpoint,
        adapter: WireAdapter,
        limits: _Limits,
        assembly: Assembly | None,
    ) -> ModelResponse:
        """Send, read the reply (whole or streamed into `assembly`), translate failures."""
        client = self._client_for(endpoint.base_url)
        timeout = httpx.Timeout(limits.idle_s, connect=min(limits.idle_s, _CONNECT_TIMEOUT_S))
        seen = assembly.usage_reported if assembly is not None else _no_usage
        limit = limits.total_s
        try:
            async with asyncio.timeout(limit):
                if assembly is not None:
                    return await _read_stream(
                        client,
                        prepared,
                        timeout,
                        adapter=adapter,
                        endpoint=endpoint,
                        assembly=assembly,
                    )
                reply = await client.request(
                    prepared.method,
                    prepared.url,
                    headers=dict(prepared.headers),
                    json=prepared.json,
                    timeout=timeout,
                )
                return _read_reply(reply, adapter, endpoint)
        except TimeoutError as error:
            raise _connection_error(endpoint, f"no reply within {limit:g} s", seen()) from error
        except httpx.LocalProtocolError as error:
            # h11 quotes the offending header value in its message, and a header
            # may hold the key: this one cause is dropped, not chained.
            raise _transport_error(error, endpoint, seen()) from None
        except httpx.HTTPError as error:
            raise _transport_error(error, endpoint, seen()) from error


_ssl_context: ssl.SSLContext | None = None
_ssl_lock = threading.Lock()


def _shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client of the process, built on first use.

    Building one loads certifi's CA bundle (~40 ms of CPU); a client per run
    would pay that every run. The context holds trust settings only (the same
    `httpx.create_ssl_context()` a client builds by default), never a key, and
    is safe to share between clients and threads.
    """
    global _ssl_context  # noqa: PLW0603 - a per-process cache, filled once under the lock
    with _ssl_lock:
        if _ssl_context is None:
            _ssl_context = httpx.create_ssl_context()
        return _ssl_context


@dataclass(frozen=True, slots=True)
class _Limits:
    """How long a call may take in all, and how long its connection may stay silent."""

    total_s: float
    idle_s: float


async def _read_stream(
    client: httpx.AsyncClient,
    prepared: PreparedRequest,
    timeout: httpx.Timeout,
    *,
    adapter: WireAdapter,
    endpoint: Endpoint,
    assembly: Assembly,
) -> ModelResponse:
    """Read server-sent events into `assembly`; a non-stream reply is read whole."""
    async with client.stream(
        prepared.method,
        prepared.url,
        headers=dict(prepared.headers),
        json=prepared.json,
        timeout=timeout,
    ) as reply:
        content_type = reply.headers.get("content-type", "")
        if not reply.is_success or not content_type.startswith("text/event-stream"):
            await reply.aread()
            return _read_reply(reply, adapter, endpoint)
        assembly.headers = reply.headers
        async for event in aiter_events(reply.aiter_lines()):
            assembly.feed(event)
            if assembly.done:
                break
    return assembly.result()


def _read_reply(reply: httpx.Response, adapter: WireAdapter, endpoint: Endpoint) -> ModelResponse:
    """A whole reply → `ModelResponse`, or the `ProviderError` it stands for."""
    provider, key_id = endpoint.provider, endpoint.key_id
    body = _json_or_none(reply)
    if not reply.is_success:
        raise adapter.map_error(
            reply.status_code, body, reply.headers, provider=provider, key_id=key_id
        )
    error = adapter.in_band_error(body, reply.headers, provider=provider, key_id=key_id)
    if error is not None:
        raise error
    if not isinstance(body, Mapping):
        raise ResponseError(
            f"{provider} answered HTTP {reply.status_code} with a body that is not a JSON "
            "object: check the key's base URL",
            provider=provider,
            status=reply.status_code,
            error_type="malformed_response",
        )
    return adapter.parse_response(body, provider=provider)


def _finish(response: ModelResponse, request: ModelRequest, provider: str) -> ModelResponse:
    """Fill in the model, apply stop sequences, and check the reply is usable."""
    if not response.model:
        response = replace(response, model=request.model)
    if request.stop:
        response = _cut_at_stop(response, request.stop)
    if request.output_schema is not None:
        return parse_structured(response, request.output_schema, provider=provider)
    if response.finish_reason is FinishReason.SAFETY and not response.text:
        raise ResponseError(
            f"{provider} withheld the reply with its safety filter (finish_reason=safety): "
            "change the step's prompt or use another model",
            provider=provider,
            error_type="safety",
            usage=response.usage,
        )
    return response


def _cut_at_stop(response: ModelResponse, stops: tuple[str, ...]) -> ModelResponse:
    """The reply cut before the earliest stop sequence in it, as providers cut it."""
    hits = [position for stop in stops if stop and (position := response.text.find(stop)) >= 0]
    if not hits:
        return response
    return replace(response, text=response.text[: min(hits)], finish_reason=FinishReason.STOP)


def _no_usage() -> Usage | None:
    return None


def _transport_error(
    error: httpx.HTTPError, endpoint: Endpoint, usage: Usage | None = None
) -> ProviderError:
    """The `ProviderError` for an httpx failure, named by type only (never str(error))."""
    kind = type(error).__name__
    if isinstance(error, httpx.TimeoutException):
        return _connection_error(endpoint, f"timed out ({kind})", usage)
    if isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return _connection_error(endpoint, f"connection failed ({kind})", usage)
    return InvalidRequestError(
        f"{endpoint.provider} could not be called at {_host(endpoint)} ({kind}): "
        "check the key's base URL",
        provider=endpoint.provider,
        error_type=kind,
    )


def _connection_error(
    endpoint: Endpoint, what: str, usage: Usage | None = None
) -> ProviderConnectionError:
    return ProviderConnectionError(
        f"{endpoint.provider} at {_host(endpoint)}: {what}; the call can be retried",
        provider=endpoint.provider,
        error_type="connection",
        usage=usage,
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
