"""Anthropic Messages streams: named events, usage in the first and the last.

    message_start          the message shell: id, model, usage so far (the prompt's counts)
    content_block_start    a block begins (text, thinking, tool use) at an index
    content_block_delta    text_delta (answer text), thinking_delta, signature_delta, …
    content_block_stop
    message_delta          stop_reason, and usage *cumulative* so far: each count it
                           carries replaces the earlier one
    message_stop           the end
    ping                   keep-alive
    error                  `{"type": "error", "error": {...}}`: the call failed mid-stream

Only `text_delta`s of text blocks are the answer; thinking is billed (in
`output_tokens`) but not returned.
"""

from __future__ import annotations

from typing import Any

from providers import anthropic
from providers.streaming.assembly import Assembly
from providers.streaming.sse import ServerSentEvent
from providers.wire import mapping, text

__all__ = ["AnthropicStream"]


class AnthropicStream(Assembly):
    """Assembles a Messages stream into a `ModelResponse`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._usage: dict[str, Any] = {}  # the raw counts, merged event by event
        self._text_blocks: set[int] = set()

    def feed(self, event: ServerSentEvent) -> None:
        """Take one event; an `error` event raises the error it stands for."""
        data = mapping(event.json())
        kind = data.get("type") or event.event
        if kind == "error" or event.event == "error":
            error = anthropic.in_band_error(
                {**data, "type": "error"},
                self.headers,
                provider=self.provider,
                key_id=self.key_id,
                usage=self.usage_reported(),
            )
            if error is not None:
                raise error
        if kind == "message_start":
            message = mapping(data.get("message"))
            self.model = text(message.get("model")) or ""
            self.request_id = text(message.get("id"))
            self._count(message.get("usage"))
        elif kind == "content_block_start":
            block = mapping(data.get("content_block"))
            if block.get("type") == "text":
                self._text_blocks.add(_index(data))
                self.append(text(block.get("text")))
        elif kind == "content_block_delta":
            delta = mapping(data.get("delta"))
            if delta.get("type") == "text_delta" and _index(data) in self._text_blocks:
                self.append(text(delta.get("text")))
        elif kind == "message_delta":
            stop_reason = mapping(data.get("delta")).get("stop_reason")
            if stop_reason:
                self.finish = anthropic.map_finish_reason(stop_reason)
            self._count(data.get("usage"))
        elif kind == "message_stop":
            self.done = True

    def _count(self, raw: Any) -> None:
        """Merge cumulative counts: a count that is present replaces the earlier one."""
        self._usage.update({k: v for k, v in mapping(raw).items() if v is not None})
        self.usage = anthropic.map_usage(self._usage)


def _index(data: Any) -> int:
    index = mapping(data).get("index")
    return index if isinstance(index, int) else 0
