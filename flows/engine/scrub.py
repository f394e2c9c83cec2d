"""The call's key is cut out of its model output before anyone sees it.

A provider, or an OpenAI-compatible server an admin pointed a key at, can
repeat the key it was called with in its reply. Outputs go to the person who
ran the recipe and into later steps' prompts; a member may run recipes but
must never read a raw key back. So every string in an output passes through
the same redaction as log records, for that key, in every common encoding.
Only the key: an output quoting the run's own (sensitive) inputs is the
user's content and stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers import redaction
from providers.secret import SecretKey

__all__ = ["scrub_output"]


def scrub_output(value: Any, key: SecretKey) -> Any:
    """`value` (text, or a parsed structured output) with `key` redacted everywhere in it."""
    return _scrub(value, redaction.redactor((key,)))  # the key's pattern, built once


def _scrub(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {_scrub(k, redact): _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item, redact) for item in value]
    return value
