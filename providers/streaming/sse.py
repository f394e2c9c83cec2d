"""Server-sent events: `text/event-stream` lines → `ServerSentEvent`, per the WHATWG spec.

All three providers stream this format over one HTTP response; httpx splits
the body into lines (`Response.aiter_lines`), and this module groups lines
into events:

    event: content_block_delta          sets the event's type
    data: {"type": "content_block_delta", ...}   appended to its data
    : a comment, e.g. a keep-alive      ignored
    (blank line)                        dispatches the event

Several `data:` lines join with newlines; one space after the colon is
dropped; `id:` and `retry:` are read and ignored (nothing here reconnects); an
event with no data is not dispatched; a partial event at the end of the body
is discarded. Anthropic names every event, OpenAI and Gemini name none (type
"message").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEDecoder", "ServerSentEvent", "aiter_events"]


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event; `data` is model output, so it stays out of the repr."""

    event: str
    data: str

    def __repr__(self) -> str:
        return f"ServerSentEvent(event={self.event!r}, chars={len(self.data)})"

    def json(self) -> Any:
        """The data parsed as JSON, or None when it is not JSON (e.g. `[DONE]`)."""
        try:
            return json.loads(self.data)
        except ValueError:
            return None


class SSEDecoder:
    """Feed it lines without their line break; it returns each complete event."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ServerSentEvent | None:
        """Take one line; return the event a blank line completes, else None."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event, data = self._event or "message", self._data
        self._event, self._data = "", []
        return ServerSentEvent(event, "\n".join(data)) if data else None


async def aiter_events(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """The events in a stream of lines, e.g. `aiter_events(response.aiter_lines())`."""
    decoder = SSEDecoder()
    async for line in lines:
        if (event := decoder.feed(line)) is not None:
            yield event
