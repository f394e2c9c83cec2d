"""The three wire protocols the simulator speaks, one dialect each."""

from __future__ import annotations

from providers.simulator.wire.anthropic import AnthropicDialect
from providers.simulator.wire.base import Credential, Dialect, ErrorSpec, Incoming, Rejected
from providers.simulator.wire.google import GoogleDialect
from providers.simulator.wire.openai import OpenAIDialect

__all__ = [
    "AnthropicDialect",
    "Credential",
    "Dialect",
    "ErrorSpec",
    "GoogleDialect",
    "Incoming",
    "OpenAIDialect",
    "Rejected",
]
