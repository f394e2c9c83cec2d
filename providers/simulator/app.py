"""The simulator's ASGI app: three provider APIs plus a control API, on one port.

Every provider call goes through the same pipeline: take the next matching
fault, wait the configured latency (and a slow fault's delay), answer like the
provider would (or fail the way the fault says), and record the call. The
record is written before the reply is sent, so a client that has its answer
can already read the record.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from providers.simulator.faults import Fault, FaultKind, FaultPlan
from providers.simulator.recorder import RecordedRequest, Recorder, key_fingerprint
from providers.simulator.replies import complete
from providers.simulator.settings import SimulatorSettings
from providers.simulator.wire import (
    AnthropicDialect,
    Credential,
    Dialect,
    ErrorSpec,
    GoogleDialect,
    Incoming,
    OpenAIDialect,
    Rejected,
)

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
            provider_route("/v1beta/models/{model}:generateContent", GoogleDialect()),
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

    status, payload, headers = _answer(
        dialect, incoming, credential, model=model, fault=fault, echo=settings.echo
    )
    content = json.dumps(payload, ensure_ascii=False).encode()
    if kind is FaultKind.INVALID_JSON:
        status, content = 200, content[: len(content) // 2]
    if dialect.request_id_header and request_id:
        headers[dialect.request_id_header] = request_id
    record(status)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _answer(
    dialect: Dialect,
    incoming: Incoming,
    credential: Credential,
    *,
    model: str | None,
    fault: Fault | None,
    echo: bool,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON payload, extra headers) for a call that gets a response."""
    try:
        if fault is not None and fault.status is not None:
            raise Rejected(_fault_error(fault, fault.status))
        call = dialect.parse(incoming, credential, model)
        completion = complete(call, echo=echo)
        response_id = f"{dialect.response_id_prefix}{secrets.token_hex(12)}"
        return 200, dialect.reply(call, completion, response_id), {}
    except Rejected as rejected:
        payload, extra_headers = dialect.error(rejected.spec)
        return rejected.spec.status, payload, extra_headers


def _fault_error(fault: Fault, status: int) -> ErrorSpec:
    return ErrorSpec(
        status=status,
        message=fault.message or f"Simulated error {status} injected by the byok simulator.",
        error_type=fault.error_type,
        code=fault.code,
        retry_after_s=fault.retry_after_s,
        retry_after_ms=fault.retry_after_ms,
    )


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
