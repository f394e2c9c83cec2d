"""Gemini `generateContent` (`POST {base}/v1beta/models/{model}:generateContent`).

The key travels in the `x-goog-api-key` header, never in the URL (`?key=`):
URLs end up in proxy logs, httpx exceptions and tracebacks. A streamed call
uses `:streamGenerateContent?alt=sse` instead (server-sent events, one
`GenerateContentResponse` per event; the last carries the finish reason and
the final usage).

Usage, and which counts are subsets of which (Gemini's rules):

    promptTokenCount            the prompt, cached content included
      cachedContentTokenCount   of which read from a cache: a *subset*
    toolUsePromptTokenCount     tool results fed back as input: *beside* the prompt
    candidatesTokenCount        the answer only
    thoughtsTokenCount          thinking: *beside* the answer, billed as output
    totalTokenCount             the sum of the four lines without "of which"

`map_usage` therefore adds tool-use prompt tokens to `input_tokens` and
thoughts to `output_tokens` (keeping them as `reasoning_tokens`), as
`providers.types.Usage` defines them. Gemini reports no cache writes: context
cache storage is billed by the hour, outside any call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from providers import http_errors
from providers.endpoint import Endpoint
from providers.errors import ProviderError, ResponseError
from providers.types import FinishReason, ModelRequest, ModelResponse, Usage
from providers.urls import join_url
from providers.wire import PreparedRequest, integer, items, mapping, reveal_key, text

__all__ = [
    "answer_text",
    "build_body",
    "build_request",
    "error_details",
    "in_band_error",
    "map_error",
    "map_finish_reason",
    "map_usage",
    "parse_response",
]

_FINISH = {
    "STOP": FinishReason.STOP,
    "MAX_TOKENS": FinishReason.MAX_TOKENS,
    "SAFETY": FinishReason.SAFETY,
    "RECITATION": FinishReason.SAFETY,  # withheld by the recitation (copyright) filter
    "BLOCKLIST": FinishReason.SAFETY,
    "PROHIBITED_CONTENT": FinishReason.SAFETY,
    "SPII": FinishReason.SAFETY,
    "IMAGE_SAFETY": FinishReason.SAFETY,
}

_QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
# ErrorInfo reasons: a bad key is reported as 400 INVALID_ARGUMENT, not 401.
_BAD_KEY = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
_NO_BILLING = frozenset({"BILLING_DISABLED"})

# The status each google.rpc code is sent with, for errors inside a stream.
_STATUS_OF_CODE = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def build_body(request: ModelRequest) -> dict[str, Any]:
    """The JSON body of a generateContent call (no key: safe to inspect in tests)."""
    config: dict[str, Any] = {"maxOutputTokens": request.max_tokens}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    if request.stop:
        config["stopSequences"] = list(request.stop)
    if request.output_schema is not None:
        # `responseJsonSchema` takes standard JSON Schema (unlike the OpenAPI
        # subset of `responseSchema`), so the step's schema goes as written.
        config["responseMimeType"] = "application/json"
        config["responseJsonSchema"] = dict(request.output_schema)
    body: dict[str, Any] = {
        "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
        "generationConfig": config,
    }
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": request.system}]}
    return body


def build_request(
    request: ModelRequest, endpoint: Endpoint, *, stream: bool = False
) -> PreparedRequest:
    """The full HTTP request, with the key in `x-goog-api-key`."""
    model = quote(request.model.removeprefix("models/"), safe="")
    method, params = (
        ("streamGenerateContent", {"alt": "sse"}) if stream else ("generateContent", {})
    )
    return PreparedRequest(
        method="POST",
        url=join_url(endpoint.base_url, f"/v1beta/models/{model}:{method}", params),
        headers={"x-goog-api-key": reveal_key(endpoint), "content-type": "application/json"},
        json=build_body(request),  # the same body streamed or not: the URL decides
    )


def map_usage(raw: Any) -> Usage:
    """`usageMetadata` → `Usage` (thoughts folded into output, tool prompts into input)."""
    usage = mapping(raw)
    thoughts = integer(usage.get("thoughtsTokenCount"))
    return Usage(
        input_tokens=integer(usage.get("promptTokenCount"))
        + integer(usage.get("toolUsePromptTokenCount")),
        cache_read_tokens=integer(usage.get("cachedContentTokenCount")),
        output_tokens=integer(usage.get("candidatesTokenCount")) + thoughts,
        reasoning_tokens=thoughts,
    )


def map_finish_reason(finish_reason: Any) -> FinishReason:
    """`finishReason` → `FinishReason`; every content filter becomes SAFETY."""
    return _FINISH.get(finish_reason, FinishReason.OTHER) if finish_reason else FinishReason.OTHER


def parse_response(body: Mapping[str, Any], *, provider: str = "google") -> ModelResponse:
    """A generateContent reply → `ModelResponse`, from the first candidate.

    Thought summaries (`thought: true` parts) are not part of the answer. A
    prompt blocked before generation has no candidates, only
    `promptFeedback.blockReason`: that is a SAFETY finish with empty text.
    """
    usage = map_usage(body.get("usageMetadata"))
    model = text(body.get("modelVersion")) or ""
    request_id = text(body.get("responseId"))
    candidates = items(body.get("candidates"))
    if not candidates:
        if mapping(body.get("promptFeedback")).get("blockReason"):
            return ModelResponse(
                text="",
                usage=usage,
                finish_reason=FinishReason.SAFETY,
                model=model,
                request_id=request_id,
            )
        raise ResponseError(
            f"{provider} returned a reply without candidates: check the key's base URL",
            provider=provider,
            error_type="malformed_response",
            usage=usage,
        )
    candidate = mapping(candidates[0])
    return ModelResponse(
        text=answer_text(candidate),
        usage=usage,
        finish_reason=map_finish_reason(candidate.get("finishReason")),
        model=model,
        request_id=request_id,
    )


def answer_text(candidate: Mapping[str, Any]) -> str:
    """The text of a candidate's parts, without thought summaries (`thought: true`)."""
    parts = [mapping(part) for part in items(mapping(candidate.get("content")).get("parts"))]
    return "".join(text(p.get("text")) or "" for p in parts if not p.get("thought"))


def error_details(body: Any, *, in_band: bool = False) -> http_errors.ErrorDetails:
    """A google.rpc.Status error → details.

    RESOURCE_EXHAUSTED means a quota was hit; it is exhausted for the day
    (QuotaExceededError) when a QuotaFailure violation names a per-day quota,
    and a plain rate limit otherwise. RetryInfo's `retryDelay` is the wait
    hint. An ErrorInfo reason marks a bad key (sent as 400) or disabled billing.
    """
    if isinstance(body, list) and body:  # some Google front ends wrap the error in a list
        body = body[0]
    error = mapping(mapping(body).get("error"))
    status = http_errors.safe_token(error.get("status"))
    details = [mapping(d) for d in items(error.get("details"))]
    per_day = any(
        "PerDay" in (text(mapping(violation).get("quotaId")) or "")
        for detail in details
        if detail.get("@type") == _QUOTA_FAILURE
        for violation in items(detail.get("violations"))
    )
    retry_after = next(
        (
            http_errors.parse_duration(d.get("retryDelay"))
            for d in details
            if d.get("@type") == _RETRY_INFO
        ),
        None,
    )
    reasons = {text(d.get("reason")) for d in details if d.get("@type") == _ERROR_INFO}
    return http_errors.ErrorDetails(
        error_type=status,
        quota_exhausted=(status == "RESOURCE_EXHAUSTED" and per_day) or bool(reasons & _NO_BILLING),
        auth_failed=bool(reasons & _BAD_KEY),
        retry_after_s=retry_after,
        in_band=in_band,
    )


def map_error(
    status: int,
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "google",
    key_id: str = "",
) -> ProviderError:
    """A non-2xx generateContent reply → the `ProviderError` to raise."""
    return http_errors.classify(
        status, error_details(body), headers, provider=provider, key_id=key_id
    )


def in_band_error(
    body: Any,
    headers: Mapping[str, str],
    *,
    provider: str = "google",
    key_id: str = "",
    usage: Usage | None = None,
) -> ProviderError | None:
    """The error in a 200 reply or a stream event (`{"error": {...}}`), None if there is none.

    Gemini ends a failing stream with a google.rpc.Status object; its `code`
    is the HTTP status it stands for, else its `status` name says.
    """
    if isinstance(body, list) and body:
        body = body[0]
    error = mapping(mapping(body).get("error"))
    if not error:
        return None
    code = error.get("code")
    name = error.get("status")
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        status = code
    else:
        status = _STATUS_OF_CODE.get(name, 500) if isinstance(name, str) else 500
    return http_errors.classify(
        status,
        error_details(body, in_band=True),
        headers,
        provider=provider,
        key_id=key_id,
        usage=usage,
    )
