"""Streamed model calls: server-sent events assembled into one `ModelResponse`.

    wants_stream(request)   whether a call streams: its `stream`, else its max_tokens
    sse.py                  `text/event-stream` lines → `ServerSentEvent`
    assembly.py             the reply seen so far, shared by the three below
    anthropic.py            message_start … message_delta (cumulative usage) … message_stop
    openai.py               chat.completion.chunk …, usage chunk (`include_usage`), [DONE]
    google.py               GenerateContentResponse chunks; the last one has usage and finish

Why stream: an unstreamed reply sends no byte until the whole generation is
done, and a connection idle for minutes is cut by proxies and load balancers
(Anthropic's own SDK refuses unstreamed calls that may exceed ten minutes,
about 21,000 output tokens). Calls whose `max_tokens` is at least
`STREAM_MIN_MAX_TOKENS` therefore stream unless the request says otherwise;
the result, usage and errors are the same either way, including errors sent
mid-stream after an HTTP 200, which raise the `ProviderError` the same error
sent as a status would.
"""

from __future__ import annotations

from typing import Final

from providers.streaming.assembly import Assembly
from providers.streaming.sse import ServerSentEvent, SSEDecoder, aiter_events
from providers.types import ModelRequest

__all__ = [
    "STREAM_MIN_MAX_TOKENS",
    "Assembly",
    "SSEDecoder",
    "ServerSentEvent",
    "aiter_events",
    "wants_stream",
]

# At 16k output tokens a fast model already writes for minutes before its first byte.
STREAM_MIN_MAX_TOKENS: Final = 16_384


def wants_stream(request: ModelRequest) -> bool:
    """Whether `request` is sent as a stream: its own `stream`, else by `max_tokens`."""
    if request.stream is not None:
        return request.stream
    return request.max_tokens >= STREAM_MIN_MAX_TOKENS
