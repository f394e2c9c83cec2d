"""What the three wire adapters share: the prepared request, tolerant JSON readers.

Each adapter module (`anthropic`, `openai`, `google`) is a set of pure
functions that satisfy `WireAdapter`; `client.py` does all the I/O. Keeping the
mapping pure means every request body and every response mapping is tested
from plain dicts, without a network or a mock server.

Provider replies are read tolerantly (`integer`, `text`, `items`, `mapping`):
a missing or null count is zero, never a crash, so one odd field cannot lose
the usage of a call that was already paid for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from providers.endpoint import Endpoint
from providers.errors import AuthenticationError, ProviderError
from providers.types import ModelRequest, ModelResponse, Usage

__all__ = [
    "PreparedRequest",
    "WireAdapter",
    "integer",
    "items",
    "mapping",
    "reveal_key",
    "text",
]


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One HTTP request, ready to send: the only object that holds a raw key.

    `repr` shows the method and URL only (headers carry the key, the body the
    prompt), and pickling is refused, so it cannot leak into Prefect state.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    json: Mapping[str, Any]

    def __repr__(self) -> str:
        return f"PreparedRequest({self.method} {self.url})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("PreparedRequest holds a key and a prompt: it is never pickled")


class WireAdapter(Protocol):
    """The functions each protocol module provides (checked by mypy on the modules).

    `build_request(..., stream=True)` asks for server-sent events; the
    matching assembler lives in `providers.streaming`. `in_band_error` finds
    an error sent inside an HTTP 200 (a body or a stream event), or None.
    """

    def build_request(
        self, request: ModelRequest, endpoint: Endpoint, *, stream: bool = ...
    ) -> PreparedRequest: ...

    def parse_response(self, body: Mapping[str, Any], *, provider: str = ...) -> ModelResponse: ...

    def map_usage(self, raw: Any) -> Usage: ...

    def map_error(
        self,
        status: int,
        body: Any,
        headers: Mapping[str, str],
        *,
        provider: str = ...,
        key_id: str = ...,
    ) -> ProviderError: ...

    def in_band_error(
        self,
        body: Any,
        headers: Mapping[str, str],
        *,
        provider: str = ...,
        key_id: str = ...,
        usage: Usage | None = ...,
    ) -> ProviderError | None: ...


def reveal_key(endpoint: Endpoint) -> str:
    """The raw key for a header, refused if an HTTP header cannot carry it.

    The HTTP stack would otherwise reject such a key with an error whose
    message quotes the header value, i.e. the key itself.
    """
    key = endpoint.api_key.reveal()
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        who = f"key {endpoint.key_id!r}" if endpoint.key_id else "the key"
        raise AuthenticationError(
            f"{who} for {endpoint.provider} contains whitespace or characters an HTTP header "
            "cannot carry: store it again with `byok keys rotate`",
            provider=endpoint.provider,
            error_type="malformed_key",
        )
    return key


def mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: Any) -> list[Any]:
    """`value` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def integer(value: Any) -> int:
    """A token count: a non-negative int, with null, missing or junk read as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def text(value: Any) -> str | None:
    """`value` if it is a string, else None."""
    return value if isinstance(value, str) else None
