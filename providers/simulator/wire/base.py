"""What each simulated wire protocol provides, and the helpers they share.

A `Dialect` knows one provider's HTTP surface: where the key travels, how the
request body maps to a `SimCall`, and how replies, streams and errors are
shaped. The app's request pipeline (latency, faults, recording) is the same
for all of them and lives in `app.py`; a dialect only translates.

A streamed reply is a list of server-sent events `(event name or None, data)`
in three parts: what precedes the text (Anthropic's `message_start`), one
event per piece of text, and what follows (finish reason, usage, end
marker). An in-band fault keeps the head and the first piece of text, then
ends with the dialect's error event instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeAlias

from providers.simulator.call import SimCall
from providers.simulator.replies import Completion
from providers.types import Protocol

__all__ = [
    "SSE",
    "Credential",
    "Dialect",
    "ErrorSpec",
    "Incoming",
    "Rejected",
    "StreamParts",
    "invalid",
    "optional_int",
    "retry_headers",
    "string_list",
    "text_of",
]


@dataclass(frozen=True, slots=True)
class Incoming:
    """What a dialect may read from an HTTP request.

    Header names are lower-case; `body` is the parsed JSON, `None` if the body
    was not JSON.
    """

    headers: Mapping[str, str]
    query: Mapping[str, str]
    path_params: Mapping[str, Any]
    body: Any

    def __repr__(self) -> str:
        # Headers carry the key and the body the prompt.
        return "Incoming(...)"

    def body_field(self, name: str) -> Any:
        """A top-level field of a JSON-object body, `None` if absent or not an object."""
        return self.body.get(name) if isinstance(self.body, Mapping) else None


class Credential(NamedTuple):
    """The API key a request carried (if any) and whether it came in the URL."""

    key: str | None
    in_url: bool


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """An error to answer with; the dialect fills in its protocol's defaults.

    `error_type` `None` means "the usual type for this status" (e.g.
    Anthropic's `rate_limit_error` for 429); `code` is OpenAI's `error.code`.
    """

    status: int
    message: str
    error_type: str | None = None
    code: str | None = None
    retry_after_s: float | None = None
    retry_after_ms: int | None = None


# One server-sent event: its name (None for unnamed) and its data, a JSON value
# or a raw string such as OpenAI's "[DONE]".
SSE: TypeAlias = tuple[str | None, Any]


@dataclass(frozen=True, slots=True)
class StreamParts:
    """A streamed reply: events before the text, one per piece of text, and after."""

    head: list[SSE]
    text: list[SSE]
    tail: list[SSE]


class Rejected(Exception):
    """Raised while parsing a request the provider would refuse."""

    def __init__(self, spec: ErrorSpec) -> None:
        super().__init__(f"simulator rejected the request with status {spec.status}")
        self.spec = spec


def invalid(message: str) -> Rejected:
    """A 400 in the dialect's invalid-request shape."""
    return Rejected(ErrorSpec(400, message))


def optional_int(value: Any, field: str, *, minimum: int = 1) -> int | None:
    """An optional integer field, refused (400) when present but not a valid integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise invalid(f"{field}: must be an integer >= {minimum}")
    return value


def string_list(value: Any, field: str) -> tuple[str, ...]:
    """A string or list of strings (stop sequences), refused when it is anything else."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise invalid(f"{field}: must be a string or a list of strings")


class Dialect(ABC):
    """One provider protocol as the simulator speaks it."""

    protocol: ClassVar[Protocol]
    # Header carrying the request id on every response, and the id's prefix.
    request_id_header: ClassVar[str | None] = None
    response_id_prefix: ClassVar[str] = ""

    @abstractmethod
    def credential(self, incoming: Incoming) -> Credential:
        """Find the API key in the request."""

    @abstractmethod
    def model_of(self, incoming: Incoming) -> str | None:
        """The model a call names, before the body is validated (used to match faults)."""

    @abstractmethod
    def parse(self, incoming: Incoming, credential: Credential, model: str | None) -> SimCall:
        """Validate the call like the provider would; raise `Rejected` if it wouldn't answer."""

    @abstractmethod
    def reply(self, call: SimCall, completion: Completion, response_id: str) -> dict[str, Any]:
        """The provider's success body."""

    @abstractmethod
    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        """The provider's error body and any extra headers (retry hints)."""

    def wants_stream(self, incoming: Incoming) -> bool:
        """Whether the call asked for a streamed reply (`"stream": true` by default)."""
        return incoming.body_field("stream") is True

    def as_events(self, incoming: Incoming) -> bool:  # noqa: ARG002 — Gemini's reads it
        """Whether a streamed reply is sent as server-sent events (else as one JSON array)."""
        return True

    @abstractmethod
    def stream_parts(
        self, call: SimCall, completion: Completion, response_id: str, incoming: Incoming
    ) -> StreamParts:
        """The provider's streamed reply, in its three parts."""

    @abstractmethod
    def stream_error(self, spec: ErrorSpec) -> SSE:
        """The event that ends a stream with an error."""

    def in_band_body(self, spec: ErrorSpec) -> Any:
        """The body of an HTTP 200 that reports an error: the stream's error event's data."""
        return self.stream_error(spec)[1]

    def stream(
        self,
        call: SimCall,
        completion: Completion,
        response_id: str,
        incoming: Incoming,
        *,
        fail: ErrorSpec | None = None,
    ) -> list[SSE]:
        """Every event of a streamed reply; with `fail`, cut after the first piece of text."""
        parts = self.stream_parts(call, completion, response_id, incoming)
        if fail is None:
            return [*parts.head, *parts.text, *parts.tail]
        return [*parts.head, *parts.text[:1], self.stream_error(fail)]


def retry_headers(spec: ErrorSpec, *, seconds_header: bool = True) -> dict[str, str]:
    """`retry-after` (seconds) and `retry-after-ms` headers for the hints a fault set."""
    headers: dict[str, str] = {}
    if seconds_header and spec.retry_after_s is not None:
        headers["retry-after"] = f"{spec.retry_after_s:g}"
    if spec.retry_after_ms is not None:
        headers["retry-after-ms"] = str(spec.retry_after_ms)
    return headers


def text_of(content: Any, field: str) -> str:
    """Text of a message's content: a string, or a list of parts with a `text` field.

    Non-text parts (images, tool results) are skipped: the simulator answers
    text only, but must not refuse requests that carry them.
    """
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    if content is None:
        return ""
    raise invalid(f"{field}: must be a string or a list of content parts")
