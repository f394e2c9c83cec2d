"""Gemini `generateContent` (`POST /v1beta/models/{model}:generateContent`).

The key belongs in the `x-goog-api-key` header. Gemini also accepts `?key=`
in the URL; the simulator does too, but records that it happened, because a
key in a URL ends up in proxy and server logs and the engine must never send
one that way.

`:streamGenerateContent` streams: with `?alt=sse` as server-sent events (what
the SDKs ask for), otherwise as one JSON array. Each event is a response with
the next piece of text and the usage so far; the last has the finish reason
and the final counts. A failing stream ends with a google.rpc.Status object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from typing_extensions import override

from providers.simulator.call import SimCall, Turn
from providers.simulator.replies import Completion, Finish, count_tokens, pieces
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

__all__ = ["GoogleDialect"]

_FINISH_REASONS = {
    Finish.STOP: "STOP",
    Finish.MAX_TOKENS: "MAX_TOKENS",
    Finish.STOP_SEQUENCE: "STOP",
}
_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_JSON = "application/json"


class GoogleDialect(Dialect):
    """Key in `x-goog-api-key` (or `?key=`); google.rpc.Status error bodies.

    One instance serves `:generateContent`, another (`streaming=True`)
    `:streamGenerateContent`: in Gemini the method, not the body, asks for a stream.
    """

    protocol: ClassVar[Protocol] = Protocol.GOOGLE
    response_id_prefix: ClassVar[str] = ""

    def __init__(self, *, streaming: bool = False) -> None:
        self.streaming = streaming

    @override
    def wants_stream(self, incoming: Incoming) -> bool:
        return self.streaming

    def as_events(self, incoming: Incoming) -> bool:
        return incoming.query.get("alt") == "sse"

    def credential(self, incoming: Incoming) -> Credential:
        key = incoming.headers.get("x-goog-api-key")
        if key:
            return Credential(key, in_url=False)
        key = incoming.query.get("key")
        return Credential(key or None, in_url=bool(key))

    def model_of(self, incoming: Incoming) -> str | None:
        model = incoming.path_params.get("model")
        return model if isinstance(model, str) else None

    def parse(self, incoming: Incoming, credential: Credential, model: str | None) -> SimCall:
        body = incoming.body
        if credential.key is None:
            raise Rejected(
                ErrorSpec(
                    403,
                    "Method doesn't allow unregistered callers (callers without established "
                    "identity). Please use API Key or other form of API consumer identity "
                    "to call this API.",
                )
            )
        if not isinstance(body, Mapping):
            raise invalid("Invalid JSON payload received: expected a JSON object.")
        if model is None:
            raise invalid("the model is missing from the URL")
        config = _field(body, "generationConfig", "generation_config") or {}
        if not isinstance(config, Mapping):
            raise invalid("generationConfig: must be an object")
        schema, json_object = _schema(config)
        return SimCall(
            model=model,
            system=_system(_field(body, "systemInstruction", "system_instruction")),
            turns=_turns(body.get("contents")),
            max_tokens=optional_int(
                _field(config, "maxOutputTokens", "max_output_tokens"),
                "generationConfig.maxOutputTokens",
            ),
            stop=string_list(
                _field(config, "stopSequences", "stop_sequences"), "generationConfig.stopSequences"
            ),
            schema=schema,
            json_object=json_object,
        )

    def reply(self, call: SimCall, completion: Completion, response_id: str) -> dict[str, Any]:
        return _response(
            call,
            response_id,
            completion.text,
            tokens=(completion.input_tokens, completion.output_tokens),
            finish=_FINISH_REASONS[completion.finish],
        )

    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        # Gemini states waits in RetryInfo, not in a `retry-after` header.
        return _status(spec), retry_headers(spec, seconds_header=False)

    @override
    def stream_parts(
        self, call: SimCall, completion: Completion, response_id: str, incoming: Incoming
    ) -> StreamParts:
        text: list[SSE] = []
        written = 0
        for piece in pieces(completion.text):
            written = min(written + count_tokens(piece), completion.output_tokens)
            tokens = (completion.input_tokens, written)
            text.append((None, _response(call, response_id, piece, tokens=tokens, finish=None)))
        last = _response(
            call,
            response_id,
            "",
            tokens=(completion.input_tokens, completion.output_tokens),
            finish=_FINISH_REASONS[completion.finish],
        )
        return StreamParts(head=[], text=text, tail=[(None, last)])

    def stream_error(self, spec: ErrorSpec) -> SSE:
        return None, _status(spec)


def _response(
    call: SimCall,
    response_id: str,
    text: str,
    *,
    tokens: tuple[int, int],
    finish: str | None,
) -> dict[str, Any]:
    """A GenerateContentResponse: the whole reply, or one streamed piece of it.

    `tokens` are the (prompt, answer) counts so far.
    """
    input_tokens, output_tokens = tokens
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if finish is not None:
        candidate["finishReason"] = finish
    candidate["index"] = 0
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": input_tokens,
            "candidatesTokenCount": output_tokens,
            "totalTokenCount": input_tokens + output_tokens,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": input_tokens}],
        },
        "modelVersion": call.model,
        "responseId": response_id,
    }


def _status(spec: ErrorSpec) -> dict[str, Any]:
    """A google.rpc.Status, with RetryInfo for a wait and ErrorInfo for a reason."""
    default = "INTERNAL" if spec.status >= 500 else "FAILED_PRECONDITION"
    details: list[dict[str, Any]] = []
    if spec.retry_after_s is not None:
        details.append({"@type": _RETRY_INFO, "retryDelay": f"{spec.retry_after_s:g}s"})
    if spec.code is not None:
        details.append({"@type": _ERROR_INFO, "reason": spec.code, "domain": "googleapis.com"})
    return {
        "error": {
            "code": spec.status,
            "message": spec.message,
            "status": spec.error_type or _STATUSES.get(spec.status, default),
            "details": details,
        }
    }


def _field(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    """Gemini's JSON accepts both lowerCamel and snake_case field names."""
    return mapping.get(camel, mapping.get(snake))


def _system(instruction: Any) -> str:
    if instruction is None:
        return ""
    if isinstance(instruction, str):
        return instruction
    if not isinstance(instruction, Mapping):
        raise invalid("systemInstruction: must be a Content object with parts")
    return text_of(instruction.get("parts"), "systemInstruction.parts")


def _turns(contents: Any) -> tuple[Turn, ...]:
    if not isinstance(contents, list) or not contents:
        raise invalid("contents is not specified")
    turns = []
    for index, content in enumerate(contents):
        if not isinstance(content, Mapping):
            raise invalid(f"contents[{index}]: must be a Content object")
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise invalid(f"contents[{index}].role: must be 'user' or 'model'")
        text = text_of(content.get("parts"), f"contents[{index}].parts")
        turns.append(Turn("assistant" if role == "model" else "user", text))
    return tuple(turns)


def _schema(config: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, bool]:
    """(JSON Schema, json_object flag) from `responseJsonSchema`/`responseSchema`."""
    json_schema = _field(config, "responseJsonSchema", "response_json_schema")
    openapi_schema = _field(config, "responseSchema", "response_schema")
    if json_schema is not None and openapi_schema is not None:
        raise invalid("generationConfig: set responseJsonSchema or responseSchema, not both")
    schema = json_schema if json_schema is not None else openapi_schema
    mime = _field(config, "responseMimeType", "response_mime_type")
    if schema is not None and mime != _JSON:
        raise invalid("generationConfig.responseMimeType: must be 'application/json' with a schema")
    if schema is not None and not isinstance(schema, Mapping):
        raise invalid("generationConfig.responseJsonSchema: must be a JSON Schema object")
    return schema, schema is None and mime == _JSON
