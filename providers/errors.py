"""One error taxonomy for every provider.

    ProviderError                 base; `retryable`, `retry_after_s`, `status`, `usage`
    ├── AuthenticationError       401/403: the key is wrong or lacks permission
    ├── QuotaExceededError        credit, spend limit or daily quota exhausted
    ├── RateLimitError            429: slow down (retryable)
    ├── OverloadedError           529/503: provider overloaded (retryable)
    ├── ServerError               other 5xx (retryable)
    ├── ProviderConnectionError   dropped connection or timeout (retryable)
    ├── InvalidRequestError       400/404/422: fix the request, retrying won't help
    └── ResponseError             a 2xx reply we cannot use (bad JSON, refusal, cut off)

Messages are built from the provider name, status, error type and ids only:
never from prompt, output or key text, because Prefect stores exception text
in state messages and events. Every class pickles through `__reduce__`, since
Prefect moves exceptions between processes.
"""

from __future__ import annotations

from typing import Any, ClassVar

from providers.types import Usage

__all__ = [
    "AuthenticationError",
    "InvalidRequestError",
    "OverloadedError",
    "ProviderConnectionError",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "ResponseError",
    "ServerError",
]


class ProviderError(Exception):
    """A provider call failed; the message never contains content or keys."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        error_type: str | None = None,
        retry_after_s: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.error_type = error_type
        self.retry_after_s = retry_after_s
        self.usage = usage

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[ProviderError], message: str, state: dict[str, Any]) -> ProviderError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthenticationError(ProviderError):
    """The key was rejected (401) or lacks permission (403)."""


class QuotaExceededError(ProviderError):
    """Credits, a spend limit or a daily quota are exhausted: retrying won't help."""


class RateLimitError(ProviderError):
    """Too many requests; the provider may say how long to wait."""

    retryable = True


class OverloadedError(ProviderError):
    """The provider is overloaded (Anthropic 529, 503)."""

    retryable = True


class ServerError(ProviderError):
    """The provider failed (5xx)."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The connection failed, dropped or timed out before a full reply."""

    retryable = True


class InvalidRequestError(ProviderError):
    """The provider rejected the request as malformed or unsupported."""


class ResponseError(ProviderError):
    """The reply arrived but cannot be used: invalid JSON, refusal, truncated output."""
