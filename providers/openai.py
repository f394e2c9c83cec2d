"""OpenAI Chat Completions (`POST {base}/chat/completions`) as pure mapping functions.

Also the protocol of OpenAI-compatible servers (Ollama, vLLM, OpenRouter,
Groq, LM Studio, Azure OpenAI), which is why every message takes the pricing
`provider` name instead of assuming "openai". What varies by server:

    official OpenAI (provider `openai`)   `max_completion_tokens`, bearer key
    Azure OpenAI (see providers.azure)    `max_completion_tokens`, `api-key`,
                                          deployment URL with `api-version`
    any other compatible server           `max_tokens` (the field they all read), bearer key

Reasoning models (gpt-5, o1, o3, o4 families, also as `openai/gpt-5` on a
router) refuse `temperature` and `stop` with a 400. Neither is sent to them;
a step's stop sequences are then applied to the reply by the client
(`providers.client`), so the step still gets text cut at the first one
(the tokens after it are still generated and billed).

Usage, and which counts are subsets of which (OpenAI's rules):

    prompt_tokens                               every prompt token
      prompt_tokens_details.cached_tokens       of which read from the cache: a *subset*
      prompt_tokens_details.cache_write_tokens  of which written to it: a *subset*
    completion_tokens                           every generated token
      completion_tokens_details.reasoning_tokens  of which reasoning: a *subset*

That is already the shape of `providers.types.Usage`: totals map to totals,
details to the breakdown. OpenAI bills cache writes as plain input; routers
such as OpenRouter report writes for providers that charge for them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from providers import azure, http_errors
from providers.closed_schema import close_objects
from providers.endpoint import Endpoint
from providers.errors import ProviderError, ResponseError
from providers.types import FinishReason, ModelRequest, ModelResponse, Usage
from providers.urls import join_url
from providers.wire import PreparedRequest, integer, items, mapping, reveal_key, text

__all__ = [
    "accepts_stop",
    "accepts_temperature",
    "build_body",
    "build_request",
    "error_details",
    "in_band_error",
    "map_error",
    "map_finish_reason",
    "map_usage",
    "parse_response",
]

_REASONING_MODEL = re.compile(r"(?:gpt-5|o1|o3|o4)(?:$|[-.])")

_FINISH = {
    "stop": FinishReason.STOP,
    "length": FinishReason.MAX_TOKENS,
    "content_filter": FinishReason.SAFETY,
}

# The status an error code or type is sent with, for errors inside an HTTP 200.
_STATUS_OF_CODE = {
    "invalid_request_error": 400,
    "context_length_exceeded": 400,
    "invalid_api_key": 401,
    "authentication_error": 401,
    "permission_error": 403,
    "model_not_found": 404,
    "rate_limit_exceeded": 429,
    "insufficient_quota": 429,
    "server_error": 500,
}


def accepts_temperature(model: str) -> bool:
    """False for the gpt-5 and o-series reasoning models, which reject `temperature`."""
    return not _is_reasoning_model(model)


def accepts_stop(model: str) -> bool:
    """False for the gpt-5 and o-series reasoning models, which reject `stop`."""
    return not _is_reasoning_model(model)


def _is_reasoning_model(model: str) -> bool:
    name = model.rsplit("/", 1)[-1].lower()  # tolerate "openai/gpt-5"-style names
    return _REASONING_MODEL.match(name) is not None


def build_body(
    request: ModelRequest, *, stream: bool = False, legacy_max_tokens: bool = False
) -> dict[str, Any]:
    """The JSON body of a Chat Completions call (no key: safe to inspect in tests).

    `legacy_max_tokens` sends the limit as `max_tokens`, for compatible
    servers that do not read OpenAI's newer `max_completion_tokens`.
    """
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.append({"role": "user", "content": request.prompt})
    limit = "max_tokens" if legacy_max_tokens else "max_completion_tokens"
    body: dict[str, Any] = {"model": request.model, "messages": messages, limit: request.max_tokens}
    if request.temperature is not None and accepts_temperature(request.model):
        body["temperature"] = request.temperature
    if request.stop and accepts_stop(request.model):
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
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # the last chunk then carries usage
    return body


def build_request(
    request: ModelRequest, endpoint: Endpoint, *, stream: bool = False
) -> PreparedRequest:
    """The full HTTP request: bearer key, or Azure's `api-key` and deployment URL."""
    key = reveal_key(endpoint)
    if azure.is_azure(endpoint):
        url = azure.chat_url(endpoint, request.model)
        auth = {"api-key": key}
    else:
        url = join_url(endpoint.base_url, "/chat/completions")
        auth = {"authorization": f"Bearer {key}"}
    legacy = endpoint.provider != "openai" and not azure.is_azure(endpoint)
    return PreparedRequest(
        method="POST",
        url=url,
        headers={**auth, "content-type": "application/json"},
        json=build_body(request, stream=stream, legacy_max_tokens=legacy),
    )


def map_usage(raw: Any) -> Usage:
    """Chat Completions `usage` → `Usage` (totals already include the details).

    DeepSeek-style servers report cache reads as `prompt_cache_hit_tokens`
    (also a subset of `prompt_tokens`) instead of `cached_tokens`.
    """
    usage = mapping(raw)
    prompt_details = mapping(usage.get("prompt_tokens_details"))
    prompt = integer(usage.get("prompt_tokens"))
    output = integer(usage.get("completion_tokens"))
    read = integer(prompt_details.get("cached_tokens")) or integer(
        usage.get("prompt_cache_hit_tokens")
    )
    write = integer(prompt_details.get("cache_write_tokens"))
    reasoning = integer(mapping(usage.get("completion_tokens_details")).get("reasoning_tokens"))
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=min(read, prompt),
        cache_write_tokens=min(write, prompt - min(read, prompt)),
        output_tokens=output,
        reasoning_tokens=min(reasoning, output),
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


def error_details(body: Any, *, in_band: bool = False) -> http_errors.ErrorDetails:
    """`{"error": {"type": ..., "code": ...}}` → details (the code is the finer of the two).

    OpenRouter's `code` is the HTTP status as a number, Azure's often the
    status as a string; neither is a useful type, so only identifier codes count.
    """
    error = mapping(mapping(body).get("error"))
    code = error.get("code")
    code = http_errors.safe_token(code) if isinstance(code, str) and not code.isdigit() else None
    kind = http_errors.safe_token(error.get("type"))
    return http_errors.ErrorDetails(
        error_type=code or kind,
        quota_exhausted=bool({code, kind} & http_errors.QUOTA_CODES),
        in_band=in_band,
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


def in_band_error(
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "openai",
    key_id: str = "",
    usage: Usage | None = None,
) -> ProviderError | None:
    """The error in a 200 reply or stream chunk (`{"error": {...}}`), None if there is none.

    OpenRouter answers 200 once a model has started and then reports a
    failure as an `error` object, in the body or in a stream chunk, whose
    `code` is the HTTP status it stands for; OpenAI's own stream errors carry
    a `type` or `code` name instead. Unknown errors count as server errors.
    """
    error = mapping(mapping(body).get("error"))
    if not error:
        return None
    if usage is None and (reported := mapping(body).get("usage")):
        usage = map_usage(reported)
    return http_errors.classify(
        _status_of(error),
        error_details(body, in_band=True),
        headers,
        provider=provider,
        key_id=key_id,
        usage=usage,
    )


def _status_of(error: Mapping[str, Any]) -> int:
    code = error.get("code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    for name in (code, error.get("type")):
        if isinstance(name, str) and name in _STATUS_OF_CODE:
            return _STATUS_OF_CODE[name]
    return 500
