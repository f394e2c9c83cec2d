"""Where and how to reach a provider with one key: what the vault hands a task."""

from __future__ import annotations

from dataclasses import dataclass

from providers.secret import SecretKey
from providers.types import Protocol

__all__ = ["DEFAULT_BASE_URLS", "Endpoint"]

# Each official SDK's convention: the adapters append their own paths to these.
DEFAULT_BASE_URLS: dict[Protocol, str] = {
    Protocol.ANTHROPIC: "https://api.anthropic.com",
    Protocol.OPENAI: "https://api.openai.com/v1",
    Protocol.GOOGLE: "https://generativelanguage.googleapis.com",
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A provider key resolved for one call.

    `key_id` and `key_version` identify the vault row for the ledger and audit;
    `provider` is the pricing provider (e.g. `openai`, or `ollama` for a custom
    OpenAI-compatible key) while `protocol` picks the adapter.
    """

    protocol: Protocol
    api_key: SecretKey
    base_url: str
    provider: str
    key_id: str
    key_version: int = 1

    @classmethod
    def for_protocol(
        cls,
        protocol: Protocol,
        api_key: SecretKey,
        *,
        base_url: str | None = None,
        provider: str | None = None,
        key_id: str = "",
        key_version: int = 1,
    ) -> Endpoint:
        """Build an endpoint, falling back to the protocol's official base URL."""
        return cls(
            protocol=protocol,
            api_key=api_key,
            base_url=(base_url or DEFAULT_BASE_URLS[protocol]).rstrip("/"),
            provider=provider or protocol.value,
            key_id=key_id,
            key_version=key_version,
        )
