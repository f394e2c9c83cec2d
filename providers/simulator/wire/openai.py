"""OpenAI Chat Completions (`POST /v1/chat/completions`) as the simulator speaks it.

This is also the shape of every OpenAI-compatible server (Ollama, OpenRouter,
Azure), which is why keys with a custom base URL are tested against it.
Streams are `chat.completion.chunk` events: a first chunk with the role, one
per piece of text, one with the finish reason, a usage chunk when
`stream_options.include_usage` is set (every other chunk then has
`"usage": null`), and `[DONE]`. An error in a stream (or in a 200 body,
OpenRouter's way) is an `error` object whose `code` is the status, as
OpenRouter sends it, unless the fault set a code.
"""

from __future__ import annotations

import time
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

__all__ = ["OpenAIDialect"]

_FINISH_REASONS = {Finish.STOP: "stop", Finish.MAX_TOKENS: "length", Finish.STOP_SEQUENCE: "stop"}
_ERROR_TYPES = {429: "requests", 403: "permission_error"}
_ERROR_CODES = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}
_SYSTEM_ROLES = ("system", "developer")
_ROLES = (*_SYSTEM_ROLES, "user", "assistant", "tool")


class OpenAIDialect(Dialect):
    """Bearer auth; errors are `{error: {message, type, param, code}}`."""

    protocol: ClassVar[Protocol] = Protocol.OPENAI
    request_id_header: ClassVar[str | None] = "x-request-id"
    response_id_prefix: ClassVar[str] = "chatcmpl-"

    def credential(self, incoming: Incoming) -> Credential:
        headers = incoming.headers
        authorization = headers.get("authorization", "")
        key = authorization.removeprefix("Bearer ") if authorization.startswith("Bearer ") else ""
        return Credential(key or None, in_url=False)

    def model_of(self, incoming: Incoming) -> str | None:
        model = incoming.body_field("model")
        return model if isinstance(model, str) else None

    def parse(self, incoming: Incoming, credential: Credential, model: str | None) -> SimCall:
        body = incoming.body
        if credential.key is None:
            raise Rejected(
                ErrorSpec(
                    401,
                    "You didn't provide an API key. Provide it in an Authorization header "
                    "using Bearer auth (Authorization: Bearer YOUR_KEY).",
                    code="missing_api_key",
                )
            )
        if not isinstance(body, Mapping):
            raise invalid("We could not parse the JSON body of your request.")
        if model is None:
            raise invalid("you must provide a model parameter")
        limit = body.get("max_completion_tokens")
        field = "max_completion_tokens"
        if limit is None:
            limit, field = body.get("max_tokens"), "max_tokens"
        if body.get("stream") is not None and not isinstance(body["stream"], bool):
            raise invalid("stream: must be a boolean")
        if body.get("stream_options") is not None and body.get("stream") is not True:
            raise invalid("stream_options: only allowed when 'stream' is true")
        system, turns = _messages(body.get("messages"))
        schema, json_object = _response_format(body.get("response_format"))
        return SimCall(
            model=model,
            system=system,
            turns=turns,
            max_tokens=optional_int(limit, field),
            stop=string_list(body.get("stop"), "stop"),
            schema=schema,
            json_object=json_object,
        )

    def reply(self, call: SimCall, completion: Completion, response_id: str) -> dict[str, Any]:
        return {
            "id": response_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": completion.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": _FINISH_REASONS[completion.finish],
                }
            ],
            "usage": _usage(completion),
            "service_tier": "default",
            "system_fingerprint": None,
        }

    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        error_type = _error_type(spec)
        code = spec.code
        if code is None:
            code = "insufficient_quota" if error_type == "insufficient_quota" else None
            code = code or _ERROR_CODES.get(spec.status)
        body = {"error": {"message": spec.message, "type": error_type, "param": None, "code": code}}
        return body, retry_headers(spec)

    @override
    def stream_parts(
        self, call: SimCall, completion: Completion, response_id: str, incoming: Incoming
    ) -> StreamParts:
        options = incoming.body_field("stream_options")
        with_usage = isinstance(options, Mapping) and options.get("include_usage") is True
        base = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
            "system_fingerprint": None,
            **({"usage": None} if with_usage else {}),
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> SSE:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return None, {**base, "choices": [choice]}

        head = [chunk({"role": "assistant", "content": "", "refusal": None})]
        text = [chunk({"content": piece}) for piece in pieces(completion.text)]
        tail = [chunk({}, _FINISH_REASONS[completion.finish])]
        if with_usage:
            tail.append((None, {**base, "choices": [], "usage": _usage(completion)}))
        tail.append((None, "[DONE]"))
        return StreamParts(head, text, tail)

    def stream_error(self, spec: ErrorSpec) -> SSE:
        code: str | int = spec.code if spec.code is not None else spec.status
        error = {"message": spec.message, "type": _error_type(spec), "param": None, "code": code}
        return None, {"error": error}


def _error_type(spec: ErrorSpec) -> str:
    default = "server_error" if spec.status >= 500 else "invalid_request_error"
    return spec.error_type or _ERROR_TYPES.get(spec.status, default)


def _usage(completion: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": completion.input_tokens,
        "completion_tokens": completion.output_tokens,
        "total_tokens": completion.input_tokens + completion.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _messages(messages: Any) -> tuple[str, tuple[Turn, ...]]:
    """(system text, conversation turns); system and developer messages form the system."""
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    system: list[str] = []
    turns: list[Turn] = []
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role not in _ROLES:
            raise invalid(f"messages[{index}].role: must be one of {', '.join(_ROLES)}")
        text = text_of(message.get("content"), f"messages[{index}].content")
        if role in _SYSTEM_ROLES:
            system.append(text)
        else:
            turns.append(Turn("assistant" if role == "assistant" else "user", text))
    return "\n".join(system), tuple(turns)


def _response_format(response_format: Any) -> tuple[Mapping[str, Any] | None, bool]:
    """(JSON Schema, json_object flag) from `response_format`."""
    if response_format is None:
        return None, False
    kind = response_format.get("type") if isinstance(response_format, Mapping) else None
    if kind == "text":
        return None, False
    if kind == "json_object":
        return None, True
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        if not isinstance(schema, Mapping):
            raise invalid("response_format.json_schema.schema: a JSON Schema object is required")
        return schema, False
    raise invalid("response_format.type: must be 'text', 'json_object' or 'json_schema'")
