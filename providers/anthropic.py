"""Anthropic Messages API (`POST {base}/v1/messages`) as pure mapping functions.

Request: the API version is pinned in `API_VERSION`, once. From version
2026-10-21 on the Messages API has no sampling parameters (`temperature`,
`top_p`, `top_k` are refused with a 400), so a step's `temperature` is not
sent. Structured output uses `output_config.format` with the schema fitted by
`providers.anthropic_schema`.

Usage, and which counts are subsets of which (Anthropic's rules):

    input_tokens                    only the uncached part of the prompt
    cache_creation_input_tokens     written to the cache: *beside* input_tokens
      cache_creation.ephemeral_5m_input_tokens ┐ split of the line above by
      cache_creation.ephemeral_1h_input_tokens ┘ cache lifetime (they add up to it)
    cache_read_input_tokens         read from the cache: *beside* input_tokens
    output_tokens                   everything generated, thinking included
      output_tokens_details.thinking_tokens   of which thinking: a *subset*

`map_usage` adds the three prompt counts into `Usage.input_tokens`, keeps the
writes as `cache_write_tokens` (1-hour ones also as `cache_write_1h_tokens`,
which cost more) and the thinking tokens as `reasoning_tokens`, inside
`output_tokens` (see `providers.types.Usage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from providers import http_errors
from providers.anthropic_schema import for_anthropic
from providers.endpoint import Endpoint
from providers.errors import ProviderError, ResponseError
from providers.types import FinishReason, ModelRequest, ModelResponse, Usage
from providers.urls import join_url
from providers.wire import PreparedRequest, integer, mapping, reveal_key, text

__all__ = [
    "API_VERSION",
    "build_body",
    "build_request",
    "error_details",
    "in_band_error",
    "map_error",
    "map_finish_reason",
    "map_usage",
    "parse_response",
]

# The one pinned API version: a new version is a deliberate, tested change.
API_VERSION: Final = "2026-10-21"

_FINISH = {
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "max_tokens": FinishReason.MAX_TOKENS,
    "model_context_window_exceeded": FinishReason.MAX_TOKENS,
    "refusal": FinishReason.REFUSAL,
}

# The status each error type is sent with, for errors that arrive in a stream.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "conflict_error": 409,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def build_body(request: ModelRequest, *, stream: bool = False) -> dict[str, Any]:
    """The JSON body of a Messages call (no key: safe to inspect in tests)."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    if request.system:
        body["system"] = request.system
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.output_schema is not None:
        schema = for_anthropic(request.output_schema)
        body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    if stream:
        body["stream"] = True
    return body


def build_request(
    request: ModelRequest, endpoint: Endpoint, *, stream: bool = False
) -> PreparedRequest:
    """The full HTTP request, with the key in `x-api-key`."""
    return PreparedRequest(
        method="POST",
        url=join_url(endpoint.base_url, "/v1/messages"),
        headers={
            "x-api-key": reveal_key(endpoint),
            "anthropic-version": API_VERSION,
            "content-type": "application/json",
        },
        json=build_body(request, stream=stream),
    )


def map_usage(raw: Any) -> Usage:
    """Anthropic `usage` → `Usage` (see the module docstring for the subset rules)."""
    usage = mapping(raw)
    split = mapping(usage.get("cache_creation"))
    write_1h = integer(split.get("ephemeral_1h_input_tokens"))
    # The split adds up to the total; either may be missing from a proxy's copy.
    write = max(
        integer(usage.get("cache_creation_input_tokens")),
        integer(split.get("ephemeral_5m_input_tokens")) + write_1h,
    )
    read = integer(usage.get("cache_read_input_tokens"))
    output = integer(usage.get("output_tokens"))
    thinking = integer(mapping(usage.get("output_tokens_details")).get("thinking_tokens"))
    return Usage(
        input_tokens=integer(usage.get("input_tokens")) + write + read,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=min(write_1h, write),
        output_tokens=output,
        reasoning_tokens=min(thinking, output),
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


def error_details(body: Any, *, in_band: bool = False) -> http_errors.ErrorDetails:
    """`{"type": "error", "error": {"type", "details": {"error_code"}}, "request_id"}` → details.

    `error.details.error_code` names the cause more finely than the type: a
    429 `rate_limit_error` whose code is `enforced_spend_limit_reached` is a
    spend limit, not a rate limit.
    """
    error = mapping(mapping(body).get("error"))
    kind = http_errors.safe_token(error.get("type"))
    code = http_errors.safe_token(mapping(error.get("details")).get("error_code"))
    return http_errors.ErrorDetails(
        error_type=code or kind,
        quota_exhausted=bool({code, kind} & http_errors.QUOTA_CODES),
        overloaded=kind == "overloaded_error",
        request_id=http_errors.safe_token(mapping(body).get("request_id")),
        in_band=in_band,
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


def in_band_error(
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "anthropic",
    key_id: str = "",
    usage: Usage | None = None,
) -> ProviderError | None:
    """The error in a 200 reply or a stream's `error` event, None if `body` is no error.

    Mid-stream errors (typically `overloaded_error`) have the shape of an
    error reply; they are classified as the status their type is sent with.
    """
    if mapping(body).get("type") != "error":
        return None
    kind = mapping(mapping(body).get("error")).get("type")
    status = _STATUS_OF_TYPE.get(kind, 500) if isinstance(kind, str) else 500
    return http_errors.classify(
        status,
        error_details(body, in_band=True),
        headers,
        provider=provider,
        key_id=key_id,
        usage=usage,
    )
