"""Error replies → the right ProviderError, wait hints, safe messages, pickling."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from providers import anthropic, google, http_errors, openai
from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from providers.secret import SecretKey
from providers.types import Usage
from providers.wire import WireAdapter

ADAPTERS: dict[str, WireAdapter] = {"anthropic": anthropic, "openai": openai, "google": google}
SECRET = "sk-test-SECRET-never-shown"
PROMPT_ECHO = f"Your prompt 'my private ticket' with key {SECRET} was rejected"


def _anthropic(kind: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": kind, "message": PROMPT_ECHO},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }


def _anthropic_code(kind: str, code: str) -> dict[str, Any]:
    body = _anthropic(kind)
    body["error"]["details"] = {"error_code": code}
    return body


def _error_info(reason: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }


def _openai(kind: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": PROMPT_ECHO, "type": kind, "param": None, "code": code}}


def _google(code: int, status: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {
        "error": {"code": code, "message": PROMPT_ECHO, "status": status, "details": list(details)}
    }


def _quota_failure(quota_id: str) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_requests",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                "quotaValue": "250",
            }
        ],
    }


def _retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


@dataclass(frozen=True)
class Case:
    """One error reply and what it must become."""

    protocol: str
    status: int
    body: Any
    expected: type[ProviderError]
    error_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None


PER_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
PER_DAY = "GenerateRequestsPerDayPerProjectPerModel-FreeTier"

CASES: dict[str, Case] = {
    "ant-401": Case(
        "anthropic",
        401,
        _anthropic("authentication_error"),
        AuthenticationError,
        "authentication_error",
    ),
    "ant-403": Case(
        "anthropic", 403, _anthropic("permission_error"), AuthenticationError, "permission_error"
    ),
    "ant-400": Case(
        "anthropic",
        400,
        _anthropic("invalid_request_error"),
        InvalidRequestError,
        "invalid_request_error",
    ),
    "ant-billing": Case(
        "anthropic", 400, _anthropic("billing_error"), QuotaExceededError, "billing_error"
    ),
    "ant-spend-limit": Case(
        "anthropic",
        429,
        _anthropic_code("rate_limit_error", "enforced_spend_limit_reached"),
        QuotaExceededError,
        "enforced_spend_limit_reached",
        {"retry-after": "30"},
    ),
    "ant-contract-limit": Case(
        "anthropic",
        429,
        _anthropic_code("rate_limit_error", "contract_spend_limit_reached"),
        QuotaExceededError,
        "contract_spend_limit_reached",
    ),
    "ant-ramp-limit": Case(
        "anthropic",
        429,
        _anthropic_code("rate_limit_error", "ramp_limit_exceeded"),
        RateLimitError,  # usage is growing too fast: wait, as told
        "ramp_limit_exceeded",
        {"retry-after": "20"},
        20.0,
    ),
    "ant-linked-org": Case(
        "anthropic",
        402,
        _anthropic_code("billing_error", "linked_organization_spend_limit_reached"),
        QuotaExceededError,
        "linked_organization_spend_limit_reached",
    ),
    "ant-404": Case(
        "anthropic", 404, _anthropic("not_found_error"), InvalidRequestError, "not_found_error"
    ),
    "ant-413": Case(
        "anthropic", 413, _anthropic("request_too_large"), InvalidRequestError, "request_too_large"
    ),
    "ant-429": Case(
        "anthropic",
        429,
        _anthropic("rate_limit_error"),
        RateLimitError,
        "rate_limit_error",
        {"retry-after": "7"},
        7.0,
    ),
    "ant-500": Case("anthropic", 500, _anthropic("api_error"), ServerError, "api_error"),
    "ant-529": Case(
        "anthropic", 529, _anthropic("overloaded_error"), OverloadedError, "overloaded_error"
    ),
    "oai-401": Case(
        "openai",
        401,
        _openai("invalid_request_error", "invalid_api_key"),
        AuthenticationError,
        "invalid_api_key",
    ),
    "oai-quota": Case(
        "openai",
        429,
        _openai("insufficient_quota", "insufficient_quota"),
        QuotaExceededError,
        "insufficient_quota",
        {"retry-after": "1"},
    ),
    "oai-429": Case(
        "openai",
        429,
        _openai("requests", "rate_limit_exceeded"),
        RateLimitError,
        "rate_limit_exceeded",
        {"retry-after-ms": "1500", "retry-after": "9"},
        1.5,
    ),
    "oai-404": Case(
        "openai",
        404,
        _openai("invalid_request_error", "model_not_found"),
        InvalidRequestError,
        "model_not_found",
    ),
    "oai-409": Case(
        "openai",
        409,
        _openai("invalid_request_error", None),
        ServerError,  # a lock that timed out: the SDKs retry it, and so do we
        "invalid_request_error",
    ),
    "oai-422": Case("openai", 422, {"detail": "unprocessable"}, InvalidRequestError),
    "oai-408": Case("openai", 408, None, ProviderConnectionError),
    "oai-502-html": Case("openai", 502, None, ServerError),
    "oai-503": Case(
        "openai",
        503,
        _openai("server_error", None),
        OverloadedError,
        "server_error",
        {"retry-after": "3"},
        3.0,
    ),
    "compatible-402": Case(
        "openrouter", 402, {"error": {"code": 402, "message": PROMPT_ECHO}}, QuotaExceededError
    ),
    "ggl-400": Case(
        "google", 400, _google(400, "INVALID_ARGUMENT"), InvalidRequestError, "INVALID_ARGUMENT"
    ),
    "ggl-403": Case(
        "google", 403, _google(403, "PERMISSION_DENIED"), AuthenticationError, "PERMISSION_DENIED"
    ),
    "ggl-per-minute": Case(
        "google",
        429,
        _google(429, "RESOURCE_EXHAUSTED", _quota_failure(PER_MINUTE), _retry_info("12s")),
        RateLimitError,
        "RESOURCE_EXHAUSTED",
        retry_after=12.0,
    ),
    "ggl-per-day": Case(
        "google",
        429,
        _google(429, "RESOURCE_EXHAUSTED", _quota_failure(PER_DAY), _retry_info("39s")),
        QuotaExceededError,
        "RESOURCE_EXHAUSTED",
    ),
    "ggl-bad-key": Case(
        "google",
        400,
        _google(400, "INVALID_ARGUMENT", _error_info("API_KEY_INVALID")),
        AuthenticationError,  # Gemini rejects a bad key with 400, not 401
        "INVALID_ARGUMENT",
    ),
    "ggl-billing-disabled": Case(
        "google",
        403,
        _google(403, "PERMISSION_DENIED", _error_info("BILLING_DISABLED")),
        QuotaExceededError,
        "PERMISSION_DENIED",
    ),
    "ggl-409": Case("google", 409, _google(409, "ABORTED"), ServerError, "ABORTED"),
    "ggl-500": Case("google", 500, _google(500, "INTERNAL"), ServerError, "INTERNAL"),
    "ggl-503": Case("google", 503, _google(503, "UNAVAILABLE"), OverloadedError, "UNAVAILABLE"),
    "ggl-list": Case(
        "google",
        429,
        [_google(429, "RESOURCE_EXHAUSTED", _retry_info("2.5s"))],
        RateLimitError,
        "RESOURCE_EXHAUSTED",
        retry_after=2.5,
    ),
}


def _map(case: Case, key_id: str = "") -> ProviderError:
    adapter = ADAPTERS.get(case.protocol, openai)  # any other name speaks the OpenAI protocol
    return adapter.map_error(
        case.status, case.body, case.headers, provider=case.protocol, key_id=key_id
    )


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_classification(case: Case) -> None:
    error = _map(case, key_id="key_7")

    assert type(error) is case.expected
    assert (error.provider, error.status) == (case.protocol, case.status)
    assert error.error_type == case.error_type
    assert error.retry_after_s == case.retry_after
    assert f"HTTP {case.status}" in str(error)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_messages_never_repeat_the_providers_text(case: Case) -> None:
    error = _map(case)

    assert SECRET not in str(error)
    assert "private ticket" not in str(error)
    assert SECRET.encode() not in pickle.dumps(error)


def test_authentication_error_names_the_key_id_and_what_to_do() -> None:
    error = anthropic.map_error(401, _anthropic("authentication_error"), {}, key_id="key_01HZX")

    assert str(error) == (
        "anthropic rejected key 'key_01HZX' (HTTP 401, authentication_error, "
        "request req_011CSHoEeqs5C35K2UUqR7Fy): check that it is valid and allowed to use "
        "this model, or replace it with `byok keys rotate`"
    )


def test_request_id_falls_back_to_the_response_header() -> None:
    error = openai.map_error(500, _openai("server_error", None), {"x-request-id": "req_abc123"})

    assert "request req_abc123" in str(error)


def test_untrusted_identifiers_stay_out_of_the_message() -> None:
    body = {"error": {"type": f"oops {SECRET}", "code": "<script>"}}

    error = openai.map_error(400, body, {"x-request-id": "a b c"})

    assert error.error_type is None
    assert str(error).startswith("openai rejected the request (HTTP 400): ")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "120"}, 60.0),
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2026 07:27:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "-5"}, 0.0),
        ({}, None),
    ],
    ids=["capped", "case-insensitive", "ms", "http-date", "date-past", "junk", "negative", "none"],
)
def test_wait_hints_from_headers(headers: dict[str, str], expected: float | None) -> None:
    def now() -> datetime:
        return datetime(2026, 10, 21, 7, 28, 0, tzinfo=UTC)

    error = http_errors.classify(
        429, http_errors.ErrorDetails(), headers, provider="openai", now=now
    )

    assert isinstance(error, RateLimitError)
    assert error.retry_after_s == expected


def test_header_hint_wins_over_body_hint_and_body_hint_is_capped() -> None:
    body = _google(429, "RESOURCE_EXHAUSTED", _retry_info("300s"))

    assert google.map_error(429, body, {"retry-after": "4"}).retry_after_s == 4.0
    assert google.map_error(429, body, {}).retry_after_s == http_errors.MAX_RETRY_AFTER_S


def test_rate_limit_message_tells_how_long_to_wait() -> None:
    error = anthropic.map_error(429, _anthropic("rate_limit_error"), {"retry-after": "7"})

    assert str(error).endswith("; retry after 7 s")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12s", 12.0), ("0.5s", 0.5), (" 3s ", 3.0), ("12", None), ("1m", None), (None, None)],
)
def test_parse_duration(value: object, expected: float | None) -> None:
    assert http_errors.parse_duration(value) == expected


@pytest.mark.parametrize(
    "error",
    [
        google.map_error(429, _google(429, "RESOURCE_EXHAUSTED", _retry_info("12s")), {}),
        anthropic.map_error(401, _anthropic("authentication_error"), {}, key_id="key_1"),
        ResponseError(
            "openai returned output that is not valid JSON for the step's schema",
            provider="openai",
            error_type="invalid_json",
            usage=Usage(input_tokens=10, output_tokens=400),
        ),
    ],
    ids=["rate-limit", "auth", "response-with-usage"],
)
def test_errors_survive_pickling_with_their_attributes(error: ProviderError) -> None:
    clone = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert type(clone) is type(error)
    assert str(clone) == str(error)
    assert vars(clone) == vars(error)
    assert clone.retryable == error.retryable


def test_an_identifier_echoing_a_live_key_is_never_trusted() -> None:
    key = SecretKey("canary-echoed-by-a-proxy-0123456789")
    assert http_errors.safe_token("req_0123456789abcdef") == "req_0123456789abcdef"
    assert http_errors.safe_token(key.reveal()) is None
    assert http_errors.safe_token(f"err-{key.reveal()}") is None
    headers = {"x-request-id": key.reveal()}
    error = http_errors.classify(400, http_errors.ErrorDetails(), headers, provider="openai")
    assert key.reveal() not in str(error)
