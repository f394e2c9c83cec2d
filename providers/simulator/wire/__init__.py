"""The wire protocols the simulator speaks, one dialect each (Azure is OpenAI's, rerouted)."""

from __future__ import annotations

from providers.simulator.wire.anthropic import AnthropicDialect
from providers.simulator.wire.azure import AzureDialect
from providers.simulator.wire.base import (
    SSE,
    Credential,
    Dialect,
    ErrorSpec,
    Incoming,
    Rejected,
    StreamParts,
)
from providers.simulator.wire.google import GoogleDialect
from providers.simulator.wire.openai import OpenAIDialect

__all__ = [
    "SSE",
    "AnthropicDialect",
    "AzureDialect",
    "Credential",
    "Dialect",
    "ErrorSpec",
    "GoogleDialect",
    "Incoming",
    "OpenAIDialect",
    "Rejected",
    "StreamParts",
]
