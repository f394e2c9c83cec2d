"""`PREFIX:MODEL` strings: which key pays for a step, and which model it calls.

PREFIX names a key in the org's vault or a provider (`anthropic`, `openai`,
`google`); MODEL is passed to the provider verbatim, so it may itself contain
`/`, `:` or `.` (`openrouter:anthropic/claude-sonnet-4-5`, `ollama:llama3.2:1b`).
That is why the string is split on the first colon only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ModelRef"]

_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]*")
_EXAMPLE = "openai:gpt-5-mini"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model string; `str()` gives back `PREFIX:MODEL`."""

    prefix: str
    model: str

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(
                f"key prefix {self.prefix!r} must be lowercase letters, digits, '-' or '_' "
                f"(a vault key name or anthropic, openai, google), as in {_EXAMPLE}"
            )
        if not self.model.strip() or self.model != self.model.strip():
            raise ValueError(
                f"model name after {self.prefix + ':'!r} must be non-empty with no "
                f"surrounding spaces, as in {_EXAMPLE}"
            )

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Parse `PREFIX:MODEL`; a `ValueError` explains what a valid one looks like."""
        prefix, colon, model = text.partition(":")
        if not colon:
            raise ValueError(f"expected PREFIX:MODEL such as {_EXAMPLE}, got {text!r}")
        try:
            return cls(prefix, model)
        except ValueError as e:
            raise ValueError(f"{e}; got {text!r}") from None

    def __str__(self) -> str:
        return f"{self.prefix}:{self.model}"
