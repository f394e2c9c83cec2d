"""OpenAI Chat Completions (`POST {base}/chat/completions`) as pure mapping functions.

Also the protocol of OpenAI-compatible servers (Ollama, vLLM, …), which is why
every message takes the pricing `provider` name instead of assuming "openai".

Usage: `prompt_tokens` already *includes* `prompt_tokens_details.cached_tokens`,
and `completion_tokens` already *includes*
`completion_tokens_details.reasoning_tokens`: the totals map straight onto
`providers.types.Usage`, the details become the breakdown. OpenAI reports no
cache-write tokens (its prompt caching has no write surcharge).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from providers import http_errors
from providers.closed_schema import close_objects
from providers.endpoint import Endpoint
from providers.errors import ProviderError, ResponseError
from providers.types import FinishReason, ModelRequest, ModelResponse, Usage
from providers.wire import PreparedRequest, integer, items, mapping, reveal_key, text

__all__ = [
    "accepts_temperature",
    "build_body",
    "build_request",
    "error_details",
    "map_error",
    "map_finish_reason",
    "map_usage",
    "parse_response",
]

# Reasoning models reject `temperature` with a 400; the step's value is dropped for them.
_FIXED_TEMPERATURE = re.compile(r"(?:gpt-5|o1|o3|o4)(?:$|[-.])")

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.MAX_TOKENS,
    "content_filter": FinishReason.SAFETY,
}


def accepts_temperature(model: str) -> bool:
    """False for the gpt-5 and o-series reasoning models, which reject `temperature`."""
    name = model.rsplit("/", 1)[-1].lower()  # tolerate "openai/gpt-5"-style names
    return _FIXED_TEMPERATURE.match(name) is None


def build_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body of a Chat Completions call (no key: safe to inspect in tests)."""
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.prompt})
    body: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_completion_tokens": request.max_tokens,
    }
    if request.temperature is not None and accepts_temperature(request.model):
        body["temperature"] = request.temperature
    if request.stop:
        body["stop"] = list(request.stop)
    if request.output_schema is not None:
        # Strict mode needs closed objects with every property required; a schema
        # that cannot be closed without changing its meaning goes non-strict.
        adapted = close_objects(request.output_schema, require_all=True)
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": "output",
                "schema": adapted.schema if adapted.closed else dict(request.output_schema),
                "strict": adapted.closed,
            },
        }
    return body


def build_request(request: ModelRequest, endpoint: Endpoint) -> PreparedRequest:
    """The full HTTP request, with the key as a bearer token."""
    return PreparedRequest(
        method="POST",
        url=f"{endpoint.base_url}/chat/completions",
        headers={
            "authorization": f"Bearer {reveal_key(endpoint)}",
            "content-type": "application/json",
        },
        json=build_body(request),
    )


def map_usage(raw: Any) -> Usage:
    """Chat Completions `usage` → `Usage` (totals already include the details)."""
    usage = mapping(raw)
    return Usage(
        input_tokens=integer(usage.get("prompt_tokens")),
        cache_read_tokens=integer(mapping(usage.get("prompt_tokens_details")).get("cached_tokens")),
        output_tokens=integer(usage.get("completion_tokens")),
        reasoning_tokens=integer(
            mapping(usage.get("completion_tokens_details")).get("reasoning_tokens")
        ),
    )


def map_finish_reason(finish_reason: Any, *, refused: bool = False) -> FinishReason:
    """`finish_reason` → `FinishReason`; a refusal message wins over the reason given."""
    if refused:
        return FinishReason.REFUSAL
    return _FINISH.get(finish_reason, FinishReason.OTHER) if finish_reason else FinishReason.OTHER


def parse_response(body: Mapping[str, Any], *, provider: str = "openai") -> ModelResponse:
    """A Chat Completions reply → `ModelResponse`, from the first choice.

    On a refusal the content is null and `message.refusal` holds the model's
    explanation, which becomes the text so a plain-text step can show it.
    """
    usage = map_usage(body.get("usage"))
    choices = items(body.get("choices"))
    if not choices:
        raise ResponseError(
            f"{provider} returned a reply without choices: check the key's base URL",
            provider=provider,
            error_type="malformed_response",
            usage=usage,
        )
    choice = mapping(choices[0])
    message = mapping(choice.get("message"))
    refusal = text(message.get("refusal"))
    return ModelResponse(
        text=text(message.get("content")) or refusal or "",
        usage=usage,
        finish_reason=map_finish_reason(choice.get("finish_reason"), refused=bool(refusal)),
        model=text(body.get("model")) or "",
        request_id=text(body.get("id")),
    )


def error_details(body: Any) -> http_errors.ErrorDetails:
    """`{"error": {"type": ..., "code": ...}}` → details (the code is the finer of the two)."""
    error = mapping(mapping(body).get("error"))
    code = http_errors.safe_token(error.get("code"))
    kind = http_errors.safe_token(error.get("type"))
    return http_errors.ErrorDetails(
        error_type=code or kind,
        quota_exhausted=bool({code, kind} & http_errors.QUOTA_CODES),
    )


def map_error(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "openai",
    key_id: str = "",
) -> ProviderError:
    """A non-2xx Chat Completions reply → the `ProviderError` to raise."""
    return http_errors.classify(
        status, error_details(body), headers, provider=provider, key_id=key_id
    )
