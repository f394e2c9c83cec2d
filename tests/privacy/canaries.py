"""Unique canaries and every encoding under which a stored copy of one could hide.

A run plants one canary per provider key, one in a recipe input, one in a
sensitive input (given by reference: only the reference may be stored) and one
as a literal in a prompt template (so it exists only in the rendered prompt
and, through the simulator's echo, in model outputs). Each canary ends in a random
hex core; the core is what is searched, raw and encoded, so a copy is found
whether it was stored quoted, JSON-escaped, URL-encoded, hex-dumped or inside
a longer base64 string (a Basic auth header, a cloudpickle result file).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from providers.types import Protocol

__all__ = ["Canaries", "encodings", "found_in"]

# Shorter base64 fragments could match by chance.
_MIN_FRAGMENT = 8


def _core() -> str:
    return secrets.token_hex(10)


@dataclass(frozen=True)
class Canaries:
    """The values planted in one backend's runs."""

    keys: dict[Protocol, str] = field(
        default_factory=lambda: {p: f"sk-canary-{p.value}-{_core()}" for p in Protocol}
    )
    input: str = field(default_factory=lambda: f"ticket-{_core()}")
    literal: str = field(default_factory=lambda: f"LITERAL-{_core()}")
    sensitive: str = field(default_factory=lambda: f"SENSITIVE-{_core()}")

    def forbidden(self) -> dict[str, str]:
        """Canaries that may appear nowhere: the keys, the prompt-only literal, the secret input."""
        keys = {f"key:{p.value}": k for p, k in self.keys.items()}
        return {**keys, "literal": self.literal, "sensitive": self.sensitive}

    def everything(self) -> dict[str, str]:
        """Every canary by name, the input included."""
        return {**self.forbidden(), "input": self.input}


def encodings(value: str) -> dict[str, bytes]:
    """The byte strings that betray `value` (by its random core), by encoding name."""
    core = value.rsplit("-", 1)[-1].encode()
    forms = {"raw": core, "hex": core.hex().encode(), "HEX": core.hex().upper().encode()}
    forms["utf-16"] = core.decode().encode("utf-16-le")
    for offset in range(3):
        # Inside a longer base64 string the core starts at one of three byte
        # alignments; only the characters made of core bytes alone are stable.
        start = (offset * 4 + 2) // 3
        end = (offset + len(core)) // 3 * 4
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            stable = encode(b"\0" * offset + core)[start:end]
            if len(stable) >= _MIN_FRAGMENT:
                forms[f"{name}@{offset}"] = stable
    return forms


def found_in(data: bytes, value: str) -> str | None:
    """The name of the first encoding of `value` present in `data`, or None."""
    for name, form in encodings(value).items():
        if form in data:
            return name
    return None
