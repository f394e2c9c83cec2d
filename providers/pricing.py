"""What a call cost, from the price table bundled with `genai-prices`.

Prices come only from the installed package's snapshot: this module never
starts `genai_prices.UpdatePrices`, so no price is fetched from the network
and `Cost.source` ("genai-prices 0.2.3") names exactly the table used. If
something else in the process did start an updater, `source` says so.

`Usage` already has genai-prices' semantics (`input_tokens` includes cache
reads and writes; `output_tokens` includes reasoning), so it maps field for
field. An unknown provider or model yields `None`, never a made-up zero: the
ledger then shows the call as unpriced instead of free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from importlib.metadata import version

from providers.types import Usage

__all__ = ["Cost", "price", "price_source"]


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of one call in US dollars, and the price table it came from."""

    input_usd: Decimal
    output_usd: Decimal
    total_usd: Decimal
    source: str


def price_source() -> str:
    """The bundled price table's name and version, e.g. "genai-prices 0.2.3"."""
    return f"genai-prices {version('genai-prices')}"


def price(provider: str, model: str, usage: Usage, *, at: datetime | None = None) -> Cost | None:
    """The cost of `usage` on `provider`'s `model`, or None if it has no known price.

    `provider` is a genai-prices provider id (`anthropic`, `openai`, `google`,
    …); `at` is when the call was made (default: now), for time-dependent prices.
    """
    import genai_prices  # deferred: loading the price table takes ~0.4 s

    tokens = genai_prices.Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
    )
    try:
        calc = genai_prices.calc_price(
            tokens, model, provider_id=provider, genai_request_timestamp=at
        )
    except LookupError:
        return None
    source = price_source()
    if calc.auto_update_timestamp is not None:
        source += f" (auto-updated {calc.auto_update_timestamp.isoformat()})"
    return Cost(
        input_usd=calc.input_price,
        output_usd=calc.output_price,
        total_usd=calc.total_price,
        source=source,
    )
