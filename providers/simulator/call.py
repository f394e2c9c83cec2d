"""A provider call reduced to what the simulator's reply depends on.

Each wire dialect parses its own request body into a `SimCall`; the reply
generator only ever sees this neutral shape, so the same prompt sent through
any protocol gets the same reply text and token counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["SimCall", "Turn"]


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation: `role` is `user` or `assistant`."""

    role: str
    text: str

    def __repr__(self) -> str:
        return f"Turn(role={self.role!r}, chars={len(self.text)})"


@dataclass(frozen=True, slots=True)
class SimCall:
    """The parts of a request that decide the reply.

    `schema` is the JSON Schema structured output must satisfy; `json_object`
    is set when JSON was asked for without a schema (OpenAI's `json_object`,
    Gemini's `application/json` with no schema). `max_tokens` is `None` when
    the request set no limit.
    """

    model: str
    system: str
    turns: tuple[Turn, ...]
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None
    json_object: bool = False

    def __repr__(self) -> str:
        # System and turns are prompt text: never in a repr.
        return (
            f"SimCall(model={self.model!r}, turns={len(self.turns)}, max_tokens={self.max_tokens})"
        )

    @property
    def prompt(self) -> str:
        """The last user message: what `echo` mode repeats."""
        for turn in reversed(self.turns):
            if turn.role == "user":
                return turn.text
        return ""
