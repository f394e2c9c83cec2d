"""Independent bookkeeping for ledger tests: what the simulator billed, priced by hand.

Nothing here uses the ledger's or the pricing module's code: replies are
re-fetched from the simulator with plain httpx and priced with genai-prices'
table numbers and `Decimal` arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import genai_prices
import httpx
from genai_prices.types import TieredPrices

from providers.simulator import RecordedRequest, SimulatorServer
from providers.types import Protocol

__all__ = ["Billed", "billed_calls", "hand_priced"]

_HEADERS: dict[Protocol, Callable[[str], dict[str, str]]] = {
    Protocol.ANTHROPIC: lambda key: {"x-api-key": key, "anthropic-version": "2023-06-01"},
    Protocol.OPENAI: lambda key: {"authorization": f"Bearer {key}"},
    Protocol.GOOGLE: lambda key: {"x-goog-api-key": key},
}


@dataclass(frozen=True, slots=True)
class Billed:
    """One call the simulator answered with usage: model and tokens as it reported them."""

    protocol: Protocol
    model: str
    input_tokens: int
    output_tokens: int


def billed_calls(
    sim: SimulatorServer, keys: dict[Protocol, str], calls: tuple[RecordedRequest, ...]
) -> list[Billed]:
    """Every answered call of `calls`, replayed as-is to read the usage it reported."""
    billed = []
    for call in calls:
        if call.status != 200:
            continue
        reply = httpx.post(
            f"{sim.url}{call.path}",
            json=call.body,
            headers=_HEADERS[call.protocol](keys[call.protocol]),
        )
        reply.raise_for_status()
        billed.append(Billed(call.protocol, call.model or "", *_usage(call.protocol, reply.json())))
    return billed


def _usage(protocol: Protocol, body: dict[str, Any]) -> tuple[int, int]:
    if protocol is Protocol.ANTHROPIC:
        u = body["usage"]
        cached = u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
        return u["input_tokens"] + cached, u["output_tokens"]
    if protocol is Protocol.OPENAI:
        u = body["usage"]
        return u["prompt_tokens"], u["completion_tokens"]
    u = body["usageMetadata"]
    return u["promptTokenCount"], u["candidatesTokenCount"] + u.get("thoughtsTokenCount", 0)


def hand_priced(provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """Tokens × the table's per-MTok prices, in exact decimals (prompts below any tier)."""
    table = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1), model, provider_id=provider
    ).model_price
    per_token_in = _base(table.input_mtok, input_tokens) / 10**6
    per_token_out = _base(table.output_mtok, input_tokens) / 10**6
    return input_tokens * per_token_in + output_tokens * per_token_out


def _base(value: object, input_tokens: int) -> Decimal:
    """A flat price, or a tiered price's base rate for a prompt below its first tier."""
    if isinstance(value, TieredPrices):
        assert all(input_tokens <= tier.start for tier in value.tiers)
        return value.base
    assert isinstance(value, Decimal)
    return value
