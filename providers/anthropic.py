"""Anthropic Messages API (`POST {base}/v1/messages`) as pure mapping functions.

Usage: Anthropic's `input_tokens` counts only the uncached part of the prompt;
`cache_creation_input_tokens` and `cache_read_input_tokens` are reported
*beside* it, not inside it. `map_usage` adds all three into `input_tokens`, as
`providers.types.Usage` (genai-prices) defines it. `output_tokens` already
includes extended-thinking tokens, which Anthropic does not count separately,
so `reasoning_tokens` stays 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers import http_errors
from providers.closed_schema import close_objects
from providers.endpoint import Endpoint
from providers.errors import ProviderError, ResponseError
from providers.types import FinishReason, ModelRequest, ModelResponse, Usage
from providers.wire import PreparedRequest, integer, mapping, reveal_key, text

__all__ = [
    "API_VERSION",
    "build_body",
    "build_request",
    "error_details",
    "map_error",
    "map_finish_reason",
    "map_usage",
    "parse_response",
]

# The one pinned API version: a new version is a deliberate, tested change.
API_VERSION = "2023-06-01"

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.MAX_TOKENS,
    "model_context_window_exceeded": FinishReason.MAX_TOKENS,
    "refusal": FinishReason.REFUSAL,
}


def build_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body of a Messages call (no key: safe to inspect in tests)."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    if request.system:
        body["system"] = request.system
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.output_schema is not None:
        # Anthropic requires every object closed; see providers/closed_schema.py.
        schema = close_objects(request.output_schema).schema
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    return body


def build_request(request: ModelRequest, endpoint: Endpoint) -> PreparedRequest:
    """The full HTTP request, with the key in `x-api-key`."""
    return PreparedRequest(
        method="POST",
        url=f"{endpoint.base_url}/v1/messages",
        headers={
            "x-api-key": reveal_key(endpoint),
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
        },
        json=build_body(request),
    )


def map_usage(raw: Any) -> Usage:
    """Anthropic `usage` → `Usage` (cache counts folded into `input_tokens`)."""
    usage = mapping(raw)
    cache_write = integer(usage.get("cache_creation_input_tokens"))
    cache_read = integer(usage.get("cache_read_input_tokens"))
    return Usage(
        input_tokens=integer(usage.get("input_tokens")) + cache_write + cache_read,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        output_tokens=integer(usage.get("output_tokens")),
    )


def map_finish_reason(stop_reason: Any) -> FinishReason:
    """Anthropic `stop_reason` → `FinishReason` (`tool_use`, `pause_turn` → OTHER)."""
    return _FINISH.get(stop_reason, FinishReason.OTHER) if stop_reason else FinishReason.OTHER


def parse_response(body: Mapping[str, Any], *, provider: str = "anthropic") -> ModelResponse:
    """A Messages reply → `ModelResponse`; the text is the `text` blocks joined."""
    usage = map_usage(body.get("usage"))
    content = body.get("content")
    if not isinstance(content, list):
        raise ResponseError(
            f"{provider} returned a reply without a content list: check the key's base URL",
            provider=provider,
            error_type="malformed_response",
            usage=usage,
        )
    blocks = [mapping(block) for block in content]
    return ModelResponse(
        text="".join(text(b.get("text")) or "" for b in blocks if b.get("type") == "text"),
        usage=usage,
        finish_reason=map_finish_reason(body.get("stop_reason")),
        model=text(body.get("model")) or "",
        request_id=text(body.get("id")),
    )


def error_details(body: Any) -> http_errors.ErrorDetails:
    """`{"type": "error", "error": {"type": ...}, "request_id": ...}` → details."""
    error_type = http_errors.safe_token(mapping(mapping(body).get("error")).get("type"))
    return http_errors.ErrorDetails(
        error_type=error_type,
        quota_exhausted=error_type in http_errors.QUOTA_CODES,
        overloaded=error_type == "overloaded_error",
        request_id=http_errors.safe_token(mapping(body).get("request_id")),
    )


def map_error(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "anthropic",
    key_id: str = "",
) -> ProviderError:
    """A non-2xx Messages reply → the `ProviderError` to raise."""
    return http_errors.classify(
        status, error_details(body), headers, provider=provider, key_id=key_id
    )
