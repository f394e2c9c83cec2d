"""Turn a provider's error reply into one `ProviderError`: the single place.

Each adapter reads its own error body into `ErrorDetails` (machine-readable
fields only: type, code, status, quota flags, retry hints); `classify` then
decides the class from the HTTP status plus those fields. Nothing here looks
inside a provider's human-readable message: it may quote the prompt or the key,
and substring matching breaks silently when a provider rewords it.

    402, or a quota/billing code    QuotaExceededError      (even when sent as 429 or 403)
    401, 403, or a bad-key reason   AuthenticationError
    429                             RateLimitError
    503, 529, `overloaded_error`    OverloadedError
    408                             ProviderConnectionError
    409 (a lock timed out)          ServerError
    other 5xx                       ServerError
    400, 404, 413, 422, …           InvalidRequestError

Retryable are exactly 408, 409, 429 and 5xx, the statuses the official
Anthropic and OpenAI SDKs retry (`_should_retry`), minus the quota and spend
limits they would retry in vain: a provider sends those as 429 too, and
retrying cannot refill a credit balance.

Some errors arrive *in band*, inside an HTTP 200: as an SSE error event in the
middle of a stream (all three providers), or as an error object where a reply
should be (OpenRouter, once the model has started). The adapters turn those
into the status they stand for and set `ErrorDetails.in_band`; they are then
classified exactly like the same error sent as a status.

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

from providers import redaction
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
from providers.types import Usage

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
        "enforced_spend_limit_reached",  # Anthropic (429): the tier's monthly spend limit
        "contract_spend_limit_reached",  # Anthropic (429): the contract's spend limit
        "linked_organization_spend_limit_reached",  # Anthropic (402)
        "linked_organization_billing_unavailable",  # Anthropic (402)
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
    auth_failed: bool = False  # the body says the key is bad, whatever the status
    retry_after_s: float | None = None  # from the body; headers are read by `classify`
    request_id: str | None = None
    in_band: bool = False  # sent inside an HTTP 200 (stream event or error body)


def safe_token(value: object) -> str | None:
    """`value` if it looks like an identifier, else None.

    Error types and request ids go into exception messages; a proxy or an
    odd server could put anything in those fields, so only short
    identifier-shaped strings are trusted, and never one holding a live key
    (a key is identifier-shaped too, and an echoing proxy may send it back).
    """
    if isinstance(value, str) and _TOKEN.fullmatch(value) and redaction.redact(value) == value:
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
    usage: Usage | None = None,
    now: Callable[[], datetime] | None = None,
) -> ProviderError:
    """The error a non-2xx reply stands for, with a message safe to store and show.

    `usage` is what the provider reported before failing (an error in a
    stream), so that the ledger still bills it.
    """
    wait = retry_after_from_headers(headers, now=now)
    if wait is None:
        wait = details.retry_after_s
    if wait is not None:
        wait = min(max(wait, 0.0), MAX_RETRY_AFTER_S)
    request_id = details.request_id or _request_id(headers)
    where = f"HTTP 200 with an in-band {status} error" if details.in_band else f"HTTP {status}"
    facts = ", ".join(
        part for part in (where, details.error_type, request_id and f"request {request_id}") if part
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
        usage=usage,
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    matches: Callable[[int, ErrorDetails], bool]
    error: type[ProviderError]
    template: str  # {provider}, {key} and {facts}: never provider-supplied text


# First match wins; the last rule catches every other status. Quota comes first: a
# billing reason sent with 403 (Gemini's BILLING_DISABLED) is about money, not the key.
_RULES: tuple[_Rule, ...] = (
    _Rule(
        lambda status, details: status == 402 or details.quota_exhausted,
        QuotaExceededError,
        "{provider} says the credit or quota of {key} is exhausted ({facts}): add credit or "
        "raise the limit in the provider's console, or use another key",
    ),
    _Rule(
        lambda status, details: status in (401, 403) or details.auth_failed,
        AuthenticationError,
        "{provider} rejected {key} ({facts}): check that it is valid and allowed to use "
        "this model, or replace it with `byok keys rotate`",
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
    _Rule(
        lambda status, _: status == 409,
        ServerError,
        "{provider} reported a conflict, such as a lock that timed out ({facts})",
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
