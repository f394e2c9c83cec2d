"""Anthropic's 1-hour cache writes cost their own rate, not the 5-minute one.

Each expected figure is computed here from the model's prices in genai-prices'
bundled table, by hand (uncached prompt, cache reads, 5-minute writes, 1-hour
writes, output), not by calling the pricing code under test.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices.data_snapshot import get_snapshot
from genai_prices.types import TieredPrices

from providers import anthropic
from providers.price_file import PriceFileError
from providers.pricing import price
from providers.types import Usage

MTOK = Decimal(10**6)


def _rate(prices: Any, key: str, prompt_tokens: int) -> Decimal:
    """The model's per-million rate for `key`, past any tier the prompt crosses."""
    value = getattr(prices, key)
    if isinstance(value, TieredPrices):
        tiers = [tier for tier in value.tiers if prompt_tokens > tier.start]
        return tiers[-1].price if tiers else value.base
    assert isinstance(value, Decimal)
    return value


def _by_hand(model: str, usage: Usage) -> dict[str, Decimal]:
    """Components of `usage` on Anthropic's `model`, from the bundled price data."""
    provider = next(p for p in get_snapshot().providers if p.id == "anthropic")
    prices = next(m for m in provider.models if m.id == model).prices
    prompt = usage.input_tokens

    def rate(key: str) -> Decimal:
        return _rate(prices, key, prompt)

    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    five_minute = usage.cache_write_tokens - usage.cache_write_1h_tokens
    return {
        "input": uncached * rate("input_mtok") / MTOK,
        "cache_read": usage.cache_read_tokens * rate("cache_read_mtok") / MTOK,
        "cache_write": (
            five_minute * rate("cache_write_mtok")
            + usage.cache_write_1h_tokens * rate("cache_write_1h_mtok")
        )
        / MTOK,
        "output": usage.output_tokens * rate("output_mtok") / MTOK,
    }


def _usage(prompt: int, read: int, write: int, write_1h: int, out: int) -> Usage:
    return Usage(
        input_tokens=prompt,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        output_tokens=out,
    )


CASES = [
    # model, usage(input, cache read, cache write (all), of which 1h, output)
    ("claude-haiku-4-5", _usage(10_000, 2_000, 4_000, 1_000, 500)),
    ("claude-haiku-4-5", _usage(10_000, 0, 4_000, 4_000, 500)),  # every write 1-hour
    ("claude-haiku-4-5", _usage(10_000, 0, 4_000, 0, 500)),  # every write 5-minute
    ("claude-sonnet-4-0", _usage(50_000, 30_000, 15_000, 5_000, 2_000)),
    ("claude-opus-4-1", _usage(3_000, 0, 2_500, 2_500, 100)),
    ("claude-3-5-haiku-latest", _usage(8_000, 1_000, 6_000, 3_000, 1_000)),
    ("claude-sonnet-4-5", _usage(20_000, 0, 10_000, 6_000, 800)),  # below the 200k tier
    ("claude-sonnet-4-5", _usage(250_000, 100_000, 120_000, 70_000, 800)),  # past the tier
]


@pytest.mark.parametrize(("model", "usage"), CASES)
def test_one_hour_writes_are_priced_at_the_one_hour_rate(model: str, usage: Usage) -> None:
    expected = _by_hand(model, usage)

    cost = price("anthropic", model, usage)

    assert cost is not None
    assert cost.input_usd == expected["input"]
    assert cost.cache_read_usd == expected["cache_read"]
    assert cost.cache_write_usd == expected["cache_write"]
    assert cost.output_usd == expected["output"]
    assert cost.total_usd == sum(expected.values())


def test_a_one_hour_write_costs_twice_the_base_input_price() -> None:
    """Anthropic's documented rule, checked against the table for a plain model."""
    one_hour = price(
        "anthropic",
        "claude-haiku-4-5",
        Usage(input_tokens=10**6, cache_write_tokens=10**6, cache_write_1h_tokens=10**6),
    )
    uncached = price("anthropic", "claude-haiku-4-5", Usage(input_tokens=10**6))

    assert one_hour is not None
    assert uncached is not None
    assert one_hour.cache_write_usd == 2 * uncached.input_usd


def test_anthropic_usage_with_a_one_hour_cache_is_priced_end_to_end() -> None:
    """From the wire `usage` object an Anthropic reply carries to dollars."""
    usage = anthropic.map_usage(
        {
            "input_tokens": 50,
            "cache_creation_input_tokens": 3000,
            "cache_read_input_tokens": 1000,
            "cache_creation": {
                "ephemeral_5m_input_tokens": 1000,
                "ephemeral_1h_input_tokens": 2000,
            },
            "output_tokens": 200,
        }
    )

    cost = price("anthropic", "claude-haiku-4-5", usage)

    assert usage.cache_write_1h_tokens == 2000
    assert cost is not None
    # 1000 × $1.25/M + 2000 × $2/M, not 3000 × $1.25/M.
    assert cost.cache_write_usd == Decimal("0.00525")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_PRICES_FILE", raising=False)
    return tmp_path


USAGE_1H = Usage(input_tokens=10**6, cache_write_tokens=600_000, cache_write_1h_tokens=200_000)


def test_a_price_file_can_set_the_one_hour_rate(home: Path) -> None:
    (home / "prices.yaml").write_text(
        "anthropic:claude-haiku-4-5:\n"
        "  {input_mtok: 1, output_mtok: 5, cache_write_mtok: 1.5, cache_write_1h_mtok: 3}\n"
    )

    cost = price("anthropic", "claude-haiku-4-5", USAGE_1H)

    assert cost is not None
    assert cost.input_usd == Decimal("0.4")
    assert cost.cache_write_usd == Decimal("0.4") * Decimal("1.5") + Decimal("0.2") * 3


def test_without_a_one_hour_rate_a_price_file_bills_the_cache_write_rate(home: Path) -> None:
    (home / "prices.yaml").write_text(
        "anthropic:*: {input_mtok: 1, output_mtok: 5, cache_write_mtok: 1.5}\n"
    )

    cost = price("anthropic", "claude-haiku-4-5", USAGE_1H)

    assert cost is not None
    assert cost.cache_write_usd == Decimal("0.6") * Decimal("1.5")


def test_a_one_hour_rate_without_a_cache_write_rate_is_an_error(home: Path) -> None:
    prices = home / "prices.yaml"
    prices.write_text("anthropic:*: {input_mtok: 1, output_mtok: 5, cache_write_1h_mtok: 2}\n")

    with pytest.raises(PriceFileError, match="cache_write_1h_mtok needs cache_write_mtok"):
        price("anthropic", "claude-haiku-4-5", USAGE_1H)
