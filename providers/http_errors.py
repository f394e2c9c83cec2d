"""Turn a provider's non-2xx reply into one `ProviderError`: the single place.

Each adapter reads its own error body into `ErrorDetails` (machine-readable
fields only: type, code, status, quota flags, retry hints); `classify` then
decides the class from the HTTP status plus those fields. Nothing here looks
inside a provider's human-readable message: it may quote the prompt or the key,
and substring matching breaks silently when a provider rewords it.

    401, 403                     AuthenticationError
    402, or a quota/billing code QuotaExceededError
    429                          RateLimitError
    503, 529, `overloaded_error` OverloadedError
    408                          ProviderConnectionError
    other 5xx                    ServerError
    400, 404, 409, 413, 422, …   InvalidRequestError

Wait hints come from `retry-after-ms`, `retry-after` (seconds or an HTTP date)
or the body (Gemini's RetryInfo), capped at `MAX_RETRY_AFTER_S`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from providers.errors import (
    AuthenticationError,
    InvalidRequestError,
    OverloadedError,
    ProviderConnectionError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)

__all__ = [
    "MAX_RETRY_AFTER_S",
    "QUOTA_CODES",
    "ErrorDetails",
    "classify",
    "parse_duration",
    "retry_after_from_headers",
    "safe_token",
]

# A step never waits longer than this between attempts: a longer hint means
# "come back much later", which is for the breaker or a fallback model to handle.
MAX_RETRY_AFTER_S = 60.0

# Headers that carry the provider's request id (Anthropic, OpenAI and others).
_REQUEST_ID_HEADERS = ("request-id", "x-request-id")

# Error types and codes that mean money or quota ran out rather than "slow down".
QUOTA_CODES = frozenset(
    {
        "insufficient_quota",  # OpenAI: no credit left
        "billing_hard_limit_reached",  # OpenAI: spend limit hit
        "billing_not_active",  # OpenAI: no billing set up
        "billing_error",  # Anthropic: credit balance or billing problem
    }
)

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,79}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)s")


@dataclass(frozen=True, slots=True)
class ErrorDetails:
    """The machine-readable part of an error reply, as one adapter read it."""

    error_type: str | None = None  # e.g. rate_limit_error, insufficient_quota, UNAVAILABLE
    quota_exhausted: bool = False
    overloaded: bool = False
    retry_after_s: float | None = None  # from the body; headers are read by `classify`
    request_id: str | None = None


def safe_token(value: object) -> str | None:
    """`value` if it looks like an identifier, else None.

    Error types and request ids go into exception messages; a proxy or an
    odd server could put anything in those fields, so only short
    identifier-shaped strings are trusted.
    """
    if isinstance(value, str) and _TOKEN.fullmatch(value):
        return value
    return None


def parse_duration(value: object) -> float | None:
    """Seconds in a protobuf Duration string such as "12s" or "0.5s"."""
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        return float(match.group(1))
    return None


def retry_after_from_headers(
    headers: Mapping[str, str], *, now: Callable[[], datetime] | None = None
) -> float | None:
    """Seconds to wait per `retry-after-ms` or `retry-after` (seconds or HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if (millis := _number(lowered.get("retry-after-ms"))) is not None:
        return millis / 1000
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    if (seconds := _number(raw)) is not None:
        return seconds
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now() if now is not None else datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)


def classify(
    status: int,
    details: ErrorDetails,
    headers: Mapping[str, str],
    *,
    provider: str,
    key_id: str = "",
    now: Callable[[], datetime] | None = None,
) -> ProviderError:
    """The error a non-2xx reply stands for, with a message safe to store and show."""
    wait = retry_after_from_headers(headers, now=now)
    if wait is None:
        wait = details.retry_after_s
    if wait is not None:
        wait = min(max(wait, 0.0), MAX_RETRY_AFTER_S)
    request_id = details.request_id or _request_id(headers)
    facts = ", ".join(
        part
        for part in (f"HTTP {status}", details.error_type, request_id and f"request {request_id}")
        if part
    )
    rule = next(rule for rule in _RULES if rule.matches(status, details))
    key = f"key {key_id!r}" if key_id else "the key"
    message = rule.template.format(provider=provider, key=key, facts=facts)
    retryable = rule.error.retryable
    if retryable and wait is not None:
        message += f"; retry after {wait:g} s"
    return rule.error(
        message,
        provider=provider,
        status=status,
        error_type=details.error_type,
        retry_after_s=wait if retryable else None,
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    matches: Callable[[int, ErrorDetails], bool]
    error: type[ProviderError]
    template: str  # {provider}, {key} and {facts}: never provider-supplied text


# First match wins; the last rule catches every other status.
_RULES: tuple[_Rule, ...] = (
    _Rule(
        lambda status, _: status in (401, 403),
        AuthenticationError,
        "{provider} rejected {key} ({facts}): check that it is valid and allowed to use "
        "this model, or replace it with `byok keys rotate`",
    ),
    _Rule(
        lambda status, details: status == 402 or details.quota_exhausted,
        QuotaExceededError,
        "{provider} says the credit or quota of {key} is exhausted ({facts}): add credit or "
        "raise the limit in the provider's console, or use another key",
    ),
    _Rule(
        lambda status, _: status == 429, RateLimitError, "{provider} rate-limited {key} ({facts})"
    ),
    _Rule(
        lambda status, details: status in (503, 529) or details.overloaded,
        OverloadedError,
        "{provider} is overloaded ({facts}): retry later or give the step a fallback model",
    ),
    _Rule(
        lambda status, _: status == 408,
        ProviderConnectionError,
        "{provider} timed out reading the request ({facts})",
    ),
    _Rule(lambda status, _: status >= 500, ServerError, "{provider} failed ({facts})"),
    _Rule(
        lambda status, _: status == 404,
        InvalidRequestError,
        "{provider} found no such model or endpoint ({facts}): check the step's model name "
        "and the key's base URL",
    ),
    _Rule(
        lambda status, _: status < 400,
        InvalidRequestError,
        "{provider} answered with a redirect ({facts}): check the key's base URL",
    ),
    _Rule(
        lambda _status, _details: True,
        InvalidRequestError,
        "{provider} rejected the request ({facts}): check the step's model name, max_tokens "
        "and output schema",
    ),
)


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _request_id(headers: Mapping[str, str]) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _REQUEST_ID_HEADERS:
        if token := safe_token(lowered.get(name)):
            return token
    return None
