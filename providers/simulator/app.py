"""The simulator's ASGI app: three provider APIs plus a control API, on one port.

    POST /v1/messages                                   Anthropic
    POST /v1/chat/completions, /api/v1/chat/completions OpenAI, OpenRouter's path
    POST /openai/deployments/{d}/chat/completions       Azure OpenAI (api-key, api-version)
    POST /openai/v1/chat/completions                    Azure OpenAI's v1 API
    POST /v1beta/models/{m}:generateContent             Gemini
    POST /v1beta/models/{m}:streamGenerateContent       Gemini, streamed

Every provider call goes through the same pipeline: take the next matching
fault, wait the configured latency (and a slow fault's delay), answer like the
provider would (or fail the way the fault says), and record the call. The
record is written before the reply is sent, so a client that has its answer
can already read the record. A call that asks for a stream gets the
protocol's server-sent events; an in-band fault makes it fail mid-stream.

Control API (JSON), for tests and for a simulator run from the CLI:

    POST   /_sim/faults     add faults: one object, a list, or {"faults": [...]}
    GET    /_sim/faults     faults still to fire, with `remaining`
    DELETE /_sim/faults     remove all pending faults
    GET    /_sim/requests   recorded calls, bodies included (prompts: loopback only)
    DELETE /_sim/requests   forget recorded calls
    GET    /_sim/health     {"ok": true}
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from providers.simulator.call import SimCall
from providers.simulator.faults import Fault, FaultKind, FaultPlan
from providers.simulator.recorder import RecordedRequest, Recorder, key_fingerprint
from providers.simulator.replies import complete
from providers.simulator.settings import SimulatorSettings
from providers.simulator.wire import (
    SSE,
    AnthropicDialect,
    AzureDialect,
    Credential,
    Dialect,
    ErrorSpec,
    GoogleDialect,
    Incoming,
    OpenAIDialect,
    Rejected,
)
from providers.urls import is_credential_param

__all__ = ["ConnectionCloser", "SimulatorState", "create_app"]

# Closes the TCP connection of the client at this (host, port); False if not found.
ConnectionCloser = Callable[[Any], bool]

_DISCONNECT_WAIT_S = 5.0  # bound on waiting for a closed connection to be noticed


@dataclass
class SimulatorState:
    """What the app reads on every call; shared with `SimulatorServer`.

    `settings` is replaced whole, never mutated. `close_connection` is set by
    the server that runs the app, because only it can reach the sockets.
    """

    settings: SimulatorSettings = field(default_factory=SimulatorSettings)
    faults: FaultPlan = field(default_factory=FaultPlan)
    recorder: Recorder = field(default_factory=Recorder)
    close_connection: ConnectionCloser | None = None


def create_app(state: SimulatorState) -> Starlette:
    """The Starlette app serving the provider routes and the control API."""

    def provider_route(path: str, dialect: Dialect) -> Route:
        async def endpoint(request: Request) -> Response:
            return await _provider_call(request, state, dialect)

        return Route(path, endpoint, methods=["POST"])

    async def add_faults(request: Request) -> Response:
        return await _add_faults(request, state)

    async def list_faults(_: Request) -> Response:
        return JSONResponse({"faults": [p.to_json() for p in state.faults.pending()]})

    async def clear_faults(_: Request) -> Response:
        return JSONResponse({"cleared": state.faults.clear()})

    async def list_requests(_: Request) -> Response:
        return JSONResponse({"requests": [r.to_json() for r in state.recorder.requests()]})

    async def clear_requests(_: Request) -> Response:
        return JSONResponse({"cleared": state.recorder.clear()})

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(
        routes=[
            provider_route("/v1/messages", AnthropicDialect()),
            provider_route("/v1/chat/completions", OpenAIDialect()),
            provider_route("/api/v1/chat/completions", OpenAIDialect()),
            provider_route("/openai/deployments/{deployment}/chat/completions", AzureDialect()),
            provider_route("/openai/v1/chat/completions", AzureDialect()),
            provider_route("/v1beta/models/{model}:generateContent", GoogleDialect()),
            provider_route(
                "/v1beta/models/{model}:streamGenerateContent", GoogleDialect(streaming=True)
            ),
            Route("/_sim/faults", add_faults, methods=["POST"]),
            Route("/_sim/faults", list_faults, methods=["GET"]),
            Route("/_sim/faults", clear_faults, methods=["DELETE"]),
            Route("/_sim/requests", list_requests, methods=["GET"]),
            Route("/_sim/requests", clear_requests, methods=["DELETE"]),
            Route("/_sim/health", health, methods=["GET"]),
        ]
    )


async def _provider_call(request: Request, state: SimulatorState, dialect: Dialect) -> Response:
    started = time.monotonic()
    seq = state.recorder.next_seq()
    settings = state.settings
    body = _json_or_none(await request.body())
    incoming = Incoming(request.headers, request.query_params, request.path_params, body)
    credential = dialect.credential(incoming)
    model = dialect.model_of(incoming)
    stream = dialect.wants_stream(incoming)
    request_id = f"req_{secrets.token_hex(12)}" if dialect.request_id_header else None
    fault = state.faults.take(dialect.protocol, model)
    kind = fault.kind if fault is not None else None

    def record(status: int | None) -> None:
        state.recorder.add(
            RecordedRequest(
                seq=seq,
                protocol=dialect.protocol,
                model=model,
                path=request.url.path,
                started=started,
                ended=time.monotonic(),
                key_fingerprint=key_fingerprint(credential.key) if credential.key else None,
                key_in_url=credential.in_url,
                body=body,
                status=status,
                fault=kind,
                request_id=request_id,
                stream=stream,
                query=_query_without_credentials(request),
            )
        )

    delay = settings.latency_s(dialect.protocol)
    if fault is not None and fault.delay_ms is not None:
        delay += fault.delay_ms / 1000.0
    if not await _wait_unless_disconnected(request, delay):
        record(None)  # the client gave up (e.g. its timeout fired): nothing to send
        return _NoResponse()
    if kind is FaultKind.DROP:
        record(None)
        await _drop_connection(request, state)
        return _NoResponse()

    answer = _answer(dialect, incoming, credential, model=model, fault=fault, settings=settings)
    headers = answer.headers
    if dialect.request_id_header and request_id:
        headers[dialect.request_id_header] = request_id
    record(answer.status)
    if answer.events is not None:
        events = answer.events
        if kind is FaultKind.INVALID_JSON:  # a stream cut off before its last event
            events = events[: len(events) // 2]
        if dialect.as_events(incoming):
            return StreamingResponse(
                _event_stream(events), headers=headers, media_type="text/event-stream"
            )
        data = [payload for _, payload in events if not isinstance(payload, str)]
        return _json(data, 200, headers)
    content = json.dumps(answer.payload, ensure_ascii=False).encode()
    if kind is FaultKind.INVALID_JSON:
        content = content[: len(content) // 2]
    return Response(
        content, status_code=answer.status, headers=headers, media_type="application/json"
    )


@dataclass
class _Answer:
    """What to send: a status and JSON payload, or (streams) the events to send with a 200."""

    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    events: list[SSE] | None = None


def _answer(
    dialect: Dialect,
    incoming: Incoming,
    credential: Credential,
    *,
    model: str | None,
    fault: Fault | None,
    settings: SimulatorSettings,
) -> _Answer:
    """The response to a call that gets one: a reply, a stream, or an error.

    A fault's error wins over what the request deserves; otherwise a request
    the provider would refuse gets the provider's error. An in-band fault
    needs a valid request: it fails a reply that has started.
    """
    fault_spec = _fault_error(fault) if fault is not None else None
    try:
        call = dialect.parse(incoming, credential, model)
    except Rejected as rejected:
        spec = _echo(fault_spec or rejected.spec, None, incoming, credential, settings)
        return _error(dialect, spec)
    in_band = fault is not None and fault.kind is FaultKind.IN_BAND
    if fault_spec is not None and not in_band:
        return _error(dialect, _echo(fault_spec, call, incoming, credential, settings))
    if fault_spec is not None:
        fault_spec = _echo(fault_spec, call, incoming, credential, settings)
    key = credential.key if settings.echo_key else None
    completion = complete(call, echo=settings.echo, echo_key=key)
    response_id = f"{dialect.response_id_prefix}{secrets.token_hex(12)}"
    if dialect.wants_stream(incoming):
        events = dialect.stream(call, completion, response_id, incoming, fail=fault_spec)
        return _Answer(200, events=events)
    if fault_spec is not None:  # in band, not streamed: the error is the 200's body (OpenRouter)
        return _Answer(200, dialect.in_band_body(fault_spec))
    return _Answer(200, dialect.reply(call, completion, response_id))


def _error(dialect: Dialect, spec: ErrorSpec) -> _Answer:
    payload, headers = dialect.error(spec)
    return _Answer(spec.status, payload, headers)


def _fault_error(fault: Fault) -> ErrorSpec | None:
    if fault.status is None:
        return None
    return ErrorSpec(
        status=fault.status,
        message=fault.message or f"Simulated error {fault.status} injected by the byok simulator.",
        error_type=fault.error_type,
        code=fault.code,
        retry_after_s=fault.retry_after_s,
        retry_after_ms=fault.retry_after_ms,
    )


def _echo(
    spec: ErrorSpec,
    call: SimCall | None,
    incoming: Incoming,
    credential: Credential,
    settings: SimulatorSettings,
) -> ErrorSpec:
    """With `echo_errors`: the message repeats the prompt (or raw body) and the key."""
    if not settings.echo_errors:
        return spec
    prompt = call.prompt if call is not None else json.dumps(incoming.body, ensure_ascii=False)
    return replace(spec, message=f"{spec.message} Prompt: {prompt} Key: {credential.key or ''}")


async def _event_stream(events: list[SSE]) -> AsyncIterator[bytes]:
    """The events as `text/event-stream` bytes, one write per event."""
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        prefix = f"event: {name}\n" if name else ""
        yield f"{prefix}data: {text}\n\n".encode()


def _json(payload: Any, status: int, headers: dict[str, str]) -> Response:
    content = json.dumps(payload, ensure_ascii=False).encode()
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def _wait_unless_disconnected(request: Request, seconds: float) -> bool:
    """Wait `seconds`; False as soon as the client disconnects (then don't answer)."""
    if seconds <= 0:
        return True
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    try:
        done, _ = await asyncio.wait({watcher}, timeout=seconds)
    finally:
        watcher.cancel()
    return not done


async def _disconnected(receive: Receive) -> None:
    """Return once the server reports the client's connection gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop_connection(request: Request, state: SimulatorState) -> None:
    """Close the TCP connection under this request without sending a byte."""
    closer = state.close_connection
    if closer is None or not closer(request.scope.get("client")):
        raise RuntimeError(
            "a 'drop' fault needs the app to run in SimulatorServer, which can close sockets"
        )
    await asyncio.wait_for(_disconnected(request.receive), timeout=_DISCONNECT_WAIT_S)


class _NoResponse(Response):
    """Sends nothing: the connection is already gone."""

    def __init__(self) -> None:
        super().__init__(status_code=499)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Nothing to send."""


async def _add_faults(request: Request, state: SimulatorState) -> Response:
    try:
        payload = await request.json()
    except ValueError:
        return _control_error("the body must be JSON: a fault object, a list, or {'faults': [...]}")
    if isinstance(payload, Mapping) and "faults" in payload:
        payload = payload["faults"]
    items = payload if isinstance(payload, list) else [payload]
    try:
        faults = [Fault.model_validate(item) for item in items]
    except ValidationError as error:
        return _control_error(f"invalid fault: {_describe(error)}")
    state.faults.add(*faults)
    pending = [p.to_json() for p in state.faults.pending()]
    return JSONResponse({"faults": pending}, status_code=201)


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "fault"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def _control_error(message: str) -> Response:
    return JSONResponse({"error": message}, status_code=400)


def _query_without_credentials(request: Request) -> dict[str, str]:
    """The request's query parameters, minus any that may hold a key."""
    return {k: v for k, v in request.query_params.items() if not is_credential_param(k)}
