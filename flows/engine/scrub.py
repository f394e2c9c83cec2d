"""Live keys are cut out of model outputs before anyone sees them.

A provider, or an OpenAI-compatible server an admin pointed a key at, can
repeat the key it was called with in its reply. Outputs go to the person who
ran the recipe and into later steps' prompts; a member may run recipes but
must never read a raw key back (issue: vault roles). So every string in an
output passes through the same redaction as log records, which knows every
key alive in this process in every common encoding.
"""

from __future__ import annotations

from typing import Any

from providers import redaction

__all__ = ["scrub_output"]


def scrub_output(value: Any) -> Any:
    """`value` (text, or a parsed structured output) with every live key redacted."""
    if isinstance(value, str):
        return redaction.redact(value)
    if isinstance(value, dict):
        return {scrub_output(k): scrub_output(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_output(item) for item in value]
    return value
