"""Gemini streams (`:streamGenerateContent?alt=sse`): unnamed events, one response each.

Every event is a `GenerateContentResponse` holding the next piece of text;
each carries `usageMetadata` so far and the last one the `finishReason` and
the final counts, so the last usage seen is the call's usage. A prompt
blocked before generation yields one event with `promptFeedback.blockReason`
and no candidates. A failing stream ends with a google.rpc.Status
(`{"error": {...}}`). Gemini sends no end marker: the stream is complete once
a finish reason (or a block) arrived.
"""

from __future__ import annotations

from providers import google
from providers.streaming.assembly import Assembly
from providers.streaming.sse import ServerSentEvent
from providers.types import FinishReason
from providers.wire import items, mapping, text

__all__ = ["GoogleStream"]


class GoogleStream(Assembly):
    """Assembles a streamGenerateContent stream into a `ModelResponse`."""

    def feed(self, event: ServerSentEvent) -> None:
        """Take one response chunk; an error object raises the error it stands for."""
        chunk = event.json()
        error = google.in_band_error(
            chunk,
            self.headers,
            provider=self.provider,
            key_id=self.key_id,
            usage=self.usage_reported(),
        )
        if error is not None:
            raise error
        chunk = mapping(chunk)
        if chunk.get("usageMetadata"):
            self.usage = google.map_usage(chunk["usageMetadata"])
        self.model = text(chunk.get("modelVersion")) or self.model
        self.request_id = text(chunk.get("responseId")) or self.request_id
        candidates = items(chunk.get("candidates"))
        if not candidates and mapping(chunk.get("promptFeedback")).get("blockReason"):
            self.finish = FinishReason.SAFETY
            return
        if candidates:
            candidate = mapping(candidates[0])
            self.append(google.answer_text(candidate))
            if candidate.get("finishReason"):
                self.finish = google.map_finish_reason(candidate["finishReason"])

    @property
    def complete(self) -> bool:
        """Complete once a finish reason or a block arrived (Gemini sends no end marker)."""
        return self.finish is not None
