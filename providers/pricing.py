"""What a call cost, by component, from the user's price file or genai-prices.

Where a price comes from, first match wins:

1. the user price file (`providers.price_file`): self-hosted or negotiated
   prices; `Cost.source` is "price file sha256:<digest>";
2. the table bundled with the installed `genai-prices`; `Cost.source` is
   "genai-prices 0.2.3". This module never starts `genai_prices.UpdatePrices`,
   so no price is fetched from the network; if something else in the process
   did, `source` says so.

`Usage` already has genai-prices' semantics (`input_tokens` includes cache
reads and writes; `output_tokens` includes reasoning), so it maps field for
field, with reasoning passed as `output_reasoning_tokens` for the few models
that price it apart, and Anthropic's 1-hour cache writes as
`cache_write_1h_tokens` (a subset of `cache_write_tokens`). genai-prices bills
those at the model's `cache_write_1h_mtok` (2x the base input price for every
Anthropic model it lists, as Anthropic documents) and the rest of the writes
at `cache_write_mtok`; where a table has no 1-hour price (a re-seller, or a
price file entry without one) genai-prices falls back to the 5-minute rate.

The cost is split into the four components a bill shows by pricing the same
usage once per price with every other price set to zero: tiers (which depend
on the whole prompt) and overlapping token kinds are then handled by
genai-prices itself, and the components add up to the total exactly. An
unknown provider or model yields `None`, never a made-up zero: the ledger then
shows the call as unpriced instead of free.

Every ledger row is priced here, so the number of genai-prices calculations
per call is per-step overhead (~0.2 ms of CPU each). Two shortcuts keep it
down without changing any amount (a `Decimal` may now show fewer or more
trailing zeros, e.g. `0` for `0.00`; it compares equal):

- a component none of whose tokens were used costs price x 0 whatever its
  tiers, so it is not calculated (the input never counts as unused: a
  per-request fee is charged to it even for an empty prompt);
- the calculation that found the model's price already split output from the
  rest (its `output_price` sums the `output_*` prices, exactly the output
  component), so only the cache components that were used get a calculation
  of their own and the input is what remains of the total. A call without
  cache tokens costs one calculation instead of four or five.

A user price-file entry has no such first calculation: only the first
shortcut applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from importlib.metadata import version
from typing import TYPE_CHECKING

from providers.price_file import PriceFileError, load_price_table
from providers.types import Usage

if TYPE_CHECKING:
    import genai_prices
    from genai_prices.types import ModelPrice

__all__ = ["Cost", "PriceFileError", "price", "price_source"]


@dataclass(frozen=True, slots=True)
class Cost:
    """The price of one call in US dollars, by component, and where the prices came from.

    `input_usd` is the uncached prompt (plus any per-request fee), `output_usd`
    all generated tokens including reasoning; the four components add up to
    `total_usd`.
    """

    input_usd: Decimal
    cache_read_usd: Decimal
    cache_write_usd: Decimal
    output_usd: Decimal
    total_usd: Decimal
    source: str


@cache
def price_source() -> str:
    """The bundled price table's name and version, e.g. "genai-prices 0.2.3".

    Read once: the table in memory is the one imported at start-up, whatever is
    installed later, and reading package metadata costs milliseconds per call.
    """
    return f"genai-prices {version('genai-prices')}"


def price(provider: str, model: str, usage: Usage, *, at: datetime | None = None) -> Cost | None:
    """The cost of `usage` on `provider`'s `model`, or None if it has no known price.

    `provider` is the key's provider (`anthropic`, `openai`, `google`, or a
    custom one such as `ollama`); `at` is when the call was made (default:
    now), for time-dependent prices. Raises `PriceFileError` when the user
    price file is broken: guessing a price instead would make the bill wrong.
    """
    import genai_prices  # deferred: loading the price table takes ~0.4 s
    from genai_prices.types import ModelPrice

    table = load_price_table()
    entry = table.lookup(provider, model) if table is not None else None
    if table is not None and entry is not None:
        return _split(ModelPrice(**entry.price_keys()), usage, table.source)
    try:
        calc = genai_prices.calc_price(
            _genai_usage(usage), model, provider_id=provider, genai_request_timestamp=at
        )
    except LookupError:
        return None
    source = price_source()
    if calc.auto_update_timestamp is not None:
        source += f" (auto-updated {calc.auto_update_timestamp.isoformat()})"
    if not _output_price_is_output_component() or None in vars(calc.model_price).values():
        # `_split` prices an explicit None as zero, which counts its tokens
        # apart: only the split itself gives the split's result for such a price.
        return _split(calc.model_price, usage, source)
    # Each amount is a price times a count over a power of ten (tokens per
    # million, requests per thousand: no other count is ever non-zero here),
    # far fewer digits than Decimal's 28, so the remainder is exact.
    parts = _components(calc.model_price, usage, ("cache_read", "cache_write"))
    parts["output"] = calc.output_price
    parts["input"] = (
        calc.total_price - calc.output_price - parts["cache_read"] - parts["cache_write"]
    )
    return _cost(parts, source)


def _genai_usage(usage: Usage) -> genai_prices.Usage:
    import genai_prices

    return genai_prices.Usage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_tokens=usage.output_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
    )


_COMPONENTS = ("input", "cache_read", "cache_write", "output")


def _split(model_price: ModelPrice, usage: Usage, source: str) -> Cost:
    """Price `usage` once per used bill component, the other components' prices zeroed."""
    return _cost(_components(model_price, usage, _COMPONENTS), source)


def _components(
    model_price: ModelPrice, usage: Usage, components: tuple[str, ...]
) -> dict[str, Decimal]:
    """The cost of each of `components`, each priced alone; unused ones cost zero.

    Every calculation still prices the other components' keys (at zero), so
    genai-prices nests the token counts, picks tiers and rejects inconsistent
    usage exactly as it did when it priced the whole call.
    """
    from genai_prices.types import ModelPrice

    prices = {key: value for key, value in vars(model_price).items() if not key.startswith("_")}
    tokens = _genai_usage(usage)
    parts = dict.fromkeys(components, Decimal(0))
    # Each price key's charge depends on its own count only, so the keys of one
    # component are priced together: one pass per component, not per key.
    priced = {_component(key) for key, value in prices.items() if value is not None}
    for component in priced.intersection(components):
        if not _used(component, usage):
            continue
        alone = ModelPrice(
            **{
                k: (v if v is not None and _component(k) == component else Decimal(0))
                for k, v in prices.items()
            }
        )
        parts[component] = alone.calc_price(tokens)["total_price"]
    return parts


def _used(component: str, usage: Usage) -> bool:
    """Whether `usage` has tokens that `component`'s prices charge.

    A component's prices are charged on its own token counts only (genai-prices
    subtracts cache reads and writes from `input_tokens`, and prices reasoning
    as part of `output_tokens`, or apart where the model prices it apart: both
    are output), so with those counts at zero it costs price x 0 = 0, whatever
    tier the prompt reaches. The input is always used: a per-request fee
    (`requests_kcount`, no direction) belongs to it and is charged per call.
    """
    if component == "cache_read":
        return usage.cache_read_tokens != 0
    if component == "cache_write":
        return usage.cache_write_tokens != 0 or usage.cache_write_1h_tokens != 0
    if component == "output":
        return usage.output_tokens != 0 or usage.reasoning_tokens != 0
    return True


def _cost(parts: dict[str, Decimal], source: str) -> Cost:
    return Cost(
        input_usd=parts["input"],
        cache_read_usd=parts["cache_read"],
        cache_write_usd=parts["cache_write"],
        output_usd=parts["output"],
        total_usd=sum(parts.values(), Decimal(0)),
        source=source,
    )


@cache
def _output_price_is_output_component() -> bool:
    """Whether genai-prices' `output_price` is exactly what `_component` calls output.

    `ModelPrice.calc_price` adds a price to `output_price` when its unit's
    direction is output, and to `total_price` always. When the units that have
    an output direction are exactly the `output_*` keys, the output component
    can be read off the first calculation; a genai-prices release that breaks
    this makes `price` fall back to pricing every component apart.
    """
    from genai_prices.data_units import unit_data

    return all(
        (unit["dimensions"].get("direction") == "output")
        == (_component(unit.get("price_key", usage_key)) == "output")
        for usage_key, unit in unit_data.items()
    )


def _component(price_key: str) -> str:
    """The bill component of a genai-prices price key.

    genai-prices names its keys `<direction>_…` (`input_mtok`, `output_mtok`,
    `output_reasoning_mtok`, `input_audio_mtok`) and `cache_…read…` /
    `cache_…write…` for cache prices; keys with no direction (a per-request
    fee, `requests_kcount`) are charged for sending the request: input.
    """
    if price_key.startswith("cache_"):
        return "cache_write" if "write" in price_key else "cache_read"
    return "output" if price_key.startswith("output_") else "input"
