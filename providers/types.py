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

    `input_tokens` is *all* prompt tokens, including the cached-read and
    cache-write tokens that are also counted separately; `output_tokens` is all
    generated tokens, including `reasoning_tokens`. Adapters normalise each
    provider's own subset rules into this shape (see each adapter's `map_usage`).
    """

    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ModelRequest:
    """One model call, as a step asks for it.

    `output_schema` is a JSON Schema; when set, the adapter uses the provider's
    native structured-output mechanism and the reply is parsed into `parsed`.
    """

    model: str
    prompt: str
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    output_schema: Mapping[str, Any] | None = None

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
