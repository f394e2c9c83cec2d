"""The Anthropic Messages API (`POST /v1/messages`) as the simulator speaks it.

Like the real API from version 2026-10-21 on, a request that names that
version (or a later one) and sends a sampling parameter (`temperature`,
`top_p`, `top_k`) is refused with a 400. Streams follow the real event
sequence: `message_start`, `content_block_start`, `ping`, one
`content_block_delta` per piece of text, `content_block_stop`,
`message_delta` with the stop reason and cumulative usage, `message_stop`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from providers.simulator.call import SimCall, Turn
from providers.simulator.replies import Completion, Finish, pieces
from providers.simulator.wire.base import (
    SSE,
    Credential,
    Dialect,
    ErrorSpec,
    Incoming,
    Rejected,
    StreamParts,
    invalid,
    optional_int,
    retry_headers,
    string_list,
    text_of,
)
from providers.types import Protocol

__all__ = ["AnthropicDialect"]

_STOP_REASONS = {
    Finish.STOP: "end_turn",
    Finish.MAX_TOKENS: "max_tokens",
    Finish.STOP_SEQUENCE: "stop_sequence",
}
# From this API version on, the Messages API has no sampling parameters.
_NO_SAMPLING_SINCE = "2026-10-21"
_SAMPLING = ("temperature", "top_p", "top_k")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicDialect(Dialect):
    """`x-api-key` auth, a required `anthropic-version` header, typed error bodies."""

    protocol: ClassVar[Protocol] = Protocol.ANTHROPIC
    request_id_header: ClassVar[str | None] = "request-id"
    response_id_prefix: ClassVar[str] = "msg_"

    def credential(self, incoming: Incoming) -> Credential:
        headers = incoming.headers
        key = headers.get("x-api-key")
        if key is None and headers.get("authorization", "").startswith("Bearer "):
            key = headers["authorization"].removeprefix("Bearer ")
        return Credential(key or None, in_url=False)

    def model_of(self, incoming: Incoming) -> str | None:
        model = incoming.body_field("model")
        return model if isinstance(model, str) else None

    def parse(self, incoming: Incoming, credential: Credential, model: str | None) -> SimCall:
        body = incoming.body
        if credential.key is None:
            raise Rejected(ErrorSpec(401, "x-api-key header is required"))
        if not incoming.headers.get("anthropic-version"):
            raise invalid("anthropic-version: header is required")
        if not isinstance(body, Mapping):
            raise invalid(
                "There was an error parsing the body of your request: expected a JSON object"
            )
        if model is None:
            raise invalid("model: Field required")
        if incoming.headers["anthropic-version"] >= _NO_SAMPLING_SINCE:
            for name in _SAMPLING:
                if name in body:
                    raise invalid(f"{name}: Extra inputs are not permitted")
        if body.get("stream") is not None and not isinstance(body["stream"], bool):
            raise invalid("stream: Input should be a valid boolean")
        max_tokens = optional_int(body.get("max_tokens"), "max_tokens")
        if max_tokens is None:
            raise invalid("max_tokens: Field required")
        return SimCall(
            model=model,
            system=text_of(body.get("system"), "system"),
            turns=_turns(body.get("messages")),
            max_tokens=max_tokens,
            stop=string_list(body.get("stop_sequences"), "stop_sequences"),
            schema=_schema(body),
        )

    def reply(self, call: SimCall, completion: Completion, response_id: str) -> dict[str, Any]:
        return {
            "id": response_id,
            "type": "message",
            "role": "assistant",
            "model": call.model,
            "content": [{"type": "text", "text": completion.text}],
            "stop_reason": _STOP_REASONS[completion.finish],
            "stop_sequence": completion.stop_sequence,
            "usage": _usage(completion),
        }

    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        return _error_body(spec), retry_headers(spec)

    @override
    def stream_parts(
        self, call: SimCall, completion: Completion, response_id: str, incoming: Incoming
    ) -> StreamParts:
        usage = _usage(completion)
        start = {
            "type": "message_start",
            "message": {
                "id": response_id,
                "type": "message",
                "role": "assistant",
                "model": call.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage, "output_tokens": 1},
            },
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        head: list[SSE] = [("message_start", start), ("content_block_start", block)]
        head.append(("ping", {"type": "ping"}))
        text: list[SSE] = [
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": piece},
                },
            )
            for piece in pieces(completion.text)
        ]
        delta = {
            "type": "message_delta",
            "delta": {
                "stop_reason": _STOP_REASONS[completion.finish],
                "stop_sequence": completion.stop_sequence,
            },
            "usage": usage,
        }
        tail: list[SSE] = [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", delta),
            ("message_stop", {"type": "message_stop"}),
        ]
        return StreamParts(head, text, tail)

    def stream_error(self, spec: ErrorSpec) -> SSE:
        return "error", _error_body(spec)


def _error_body(spec: ErrorSpec) -> dict[str, Any]:
    default = "api_error" if spec.status >= 500 else "invalid_request_error"
    error: dict[str, Any] = {
        "type": spec.error_type or _ERROR_TYPES.get(spec.status, default),
        "message": spec.message,
    }
    if spec.code is not None:
        error["details"] = {"error_code": spec.code}
    return {"type": "error", "error": error}


def _usage(completion: Completion) -> dict[str, int]:
    return {
        "input_tokens": completion.input_tokens,
        "output_tokens": completion.output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _turns(messages: Any) -> tuple[Turn, ...]:
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    turns = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role not in ("user", "assistant"):
            raise invalid(f"messages.{index}.role: must be 'user' or 'assistant'")
        turns.append(Turn(role, text_of(message.get("content"), f"messages.{index}.content")))
    return tuple(turns)


def _schema(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The JSON Schema from `output_config.format` (or the older beta `output_format`)."""
    config = body.get("output_config")
    output_format = config.get("format") if isinstance(config, Mapping) else None
    if output_format is None:
        output_format = body.get("output_format")
    if output_format is None:
        return None
    if not isinstance(output_format, Mapping) or output_format.get("type") != "json_schema":
        raise invalid("output_config.format: only type 'json_schema' is supported")
    schema = output_format.get("schema")
    if not isinstance(schema, Mapping):
        raise invalid("output_config.format.schema: Field required")
    return schema
