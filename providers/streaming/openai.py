"""Chat Completions streams: unnamed `chat.completion.chunk` events, then `[DONE]`.

    {"choices": [{"delta": {"content": "Hel"}, "finish_reason": null}], ...}
    {"choices": [{"delta": {}, "finish_reason": "stop"}], ...}
    {"choices": [], "usage": {...}}     only with `stream_options.include_usage`
    [DONE]

Refusals stream as `delta.refusal`. Groq puts the usage in `x_groq.usage`
instead. A chunk with an `error` object (OpenAI, or OpenRouter after its
HTTP 200) ends the call with the error it stands for. Some compatible
servers omit `[DONE]`: a stream that ended after a finish reason is complete.
"""

from __future__ import annotations

from typing import Any

from providers import openai
from providers.streaming.assembly import Assembly
from providers.streaming.sse import ServerSentEvent
from providers.wire import items, mapping, text

__all__ = ["OpenAIStream"]


class OpenAIStream(Assembly):
    """Assembles a Chat Completions stream into a `ModelResponse`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._refusal: list[str] = []
        self._reason: Any = None

    def feed(self, event: ServerSentEvent) -> None:
        """Take one chunk; a chunk with an `error` object raises the error."""
        if event.data.strip() == "[DONE]":
            self.done = True
            return
        chunk = mapping(event.json())
        error = openai.in_band_error(
            chunk,
            self.headers,
            provider=self.provider,
            key_id=self.key_id,
            usage=self.usage_reported(),
        )
        if error is not None:
            raise error
        self.model = text(chunk.get("model")) or self.model
        self.request_id = text(chunk.get("id")) or self.request_id
        usage = chunk.get("usage") or mapping(chunk.get("x_groq")).get("usage")
        if usage:
            self.usage = openai.map_usage(usage)
        for choice in (mapping(c) for c in items(chunk.get("choices"))):
            if choice.get("index", 0) != 0:
                continue
            delta = mapping(choice.get("delta"))
            self.append(text(delta.get("content")))
            if refusal := text(delta.get("refusal")):
                self._refusal.append(refusal)
            if choice.get("finish_reason"):
                self._reason = choice["finish_reason"]
        refused = bool(self._refusal)
        if self._reason is not None or refused:
            self.finish = openai.map_finish_reason(self._reason, refused=refused)

    @property
    def complete(self) -> bool:
        """Complete at `[DONE]`, or when the stream ended after a finish reason."""
        return self.done or self._reason is not None

    def text(self) -> str:
        """The content; a refusal's explanation when there is none, as when not streamed."""
        return super().text() or "".join(self._refusal)
