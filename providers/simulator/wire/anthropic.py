"""The Anthropic Messages API (`POST /v1/messages`) as the simulator speaks it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from providers.simulator.call import SimCall, Turn
from providers.simulator.replies import Completion, Finish
from providers.simulator.wire.base import (
    Credential,
    Dialect,
    ErrorSpec,
    Incoming,
    Rejected,
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
            "usage": {
                "input_tokens": completion.input_tokens,
                "output_tokens": completion.output_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        default = "api_error" if spec.status >= 500 else "invalid_request_error"
        error_type = spec.error_type or _ERROR_TYPES.get(spec.status, default)
        body = {"type": "error", "error": {"type": error_type, "message": spec.message}}
        return body, retry_headers(spec)


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
