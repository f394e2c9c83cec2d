"""Provider-neutral request, response and usage types.

Every adapter maps *to* and *from* these, so the compiler, the ledger and the
pricing code never see a provider's wire format. They are frozen dataclasses:
cheap to build on the hot path, hashable, and safe to hand between tasks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "FinishReason",
    "ModelRequest",
    "ModelResponse",
    "Protocol",
    "Usage",
]


class Protocol(StrEnum):
    """The wire protocol a key speaks; an OpenAI-compatible server speaks `openai`."""

    ANTHROPIC = "anthropic"
    OPENAI = "openai"
    GOOGLE = "google"


class FinishReason(StrEnum):
    """Why the model stopped, normalised across providers."""

    STOP = "stop"  # natural end or a stop sequence
    MAX_TOKENS = "max_tokens"  # cut off by the token limit
    REFUSAL = "refusal"  # the model declined
    SAFETY = "safety"  # blocked by a provider's safety filter
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one provider call, with genai-prices' semantics.

    The counts nest; nothing is counted twice when priced:

        input_tokens            every prompt token, cached or not
        ├── cache_read_tokens       read from the provider's prompt cache
        └── cache_write_tokens      written to it (Anthropic, some OpenAI-compatible servers)
            └── cache_write_1h_tokens   of which into Anthropic's 1-hour cache
        output_tokens           every generated token, visible or not
        └── reasoning_tokens        thinking, billed as output

    The uncached prompt is `input_tokens - cache_read_tokens - cache_write_tokens`,
    and 5-minute cache writes are `cache_write_tokens - cache_write_1h_tokens`
    (genai-prices' `cache_write_1h_tokens` has the same meaning). Adapters fold
    each provider's own subset rules into this shape (see each adapter's
    `map_usage`).
    """

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One model call, as a step asks for it.

    `output_schema` is a JSON Schema; when set, the adapter uses the provider's
    native structured-output mechanism and the reply is parsed into `parsed`.
    `stream` asks for server-sent events (True), a single reply (False), or
    lets `max_tokens` decide (None; see `providers.streaming.wants_stream`).
    """

    model: str
    prompt: str
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    output_schema: Mapping[str, Any] | None = None
    stream: bool | None = None

    def __repr__(self) -> str:
        # Prompts are user content: keep them out of reprs, tracebacks and logs.
        return f"ModelRequest(model={self.model!r}, max_tokens={self.max_tokens})"


@dataclass(frozen=True, slots=True)
class ModelResponse:
    """A model's reply: text, the parsed object for structured steps, usage."""

    text: str
    usage: Usage
    finish_reason: FinishReason
    model: str  # as reported by the provider
    parsed: Any = None
    request_id: str | None = field(default=None)

    def __repr__(self) -> str:
        return (
            f"ModelResponse(model={self.model!r}, finish_reason={self.finish_reason.value}, "
            f"usage={self.usage!r})"
        )
