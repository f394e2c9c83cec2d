"""Every usage field a provider bills by lands in `Usage`, with each provider's subset rules.

The table holds realistic replies (tests/providers/bodies.py) and variants of
them; the expected `Usage` is what `providers.types.Usage` documents: input
includes cache reads and writes, output includes reasoning, 1-hour cache
writes are part of the cache writes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import genai_prices
import pytest

from providers import anthropic, google, openai
from providers.pricing import price
from providers.types import Usage
from tests.providers.bodies import (
    ANTHROPIC_MESSAGE,
    GEMINI_RESPONSE,
    OPENAI_COMPLETION,
    OPENROUTER_COMPLETION,
)

Mapper = Callable[[Any], Usage]

CASES: dict[str, tuple[Mapper, Any, Usage]] = {
    "anthropic: cache writes split 5m/1h, cache reads, thinking": (
        anthropic.map_usage,
        ANTHROPIC_MESSAGE["usage"],
        Usage(
            input_tokens=21 + 3000 + 12000,
            cache_read_tokens=12000,
            cache_write_tokens=3000,
            cache_write_1h_tokens=2000,
            output_tokens=590,
            reasoning_tokens=412,
        ),
    ),
    "anthropic: no split object (older replies, proxies): all writes are 5-minute": (
        anthropic.map_usage,
        {"input_tokens": 10, "cache_creation_input_tokens": 500, "output_tokens": 3},
        Usage(input_tokens=510, cache_write_tokens=500, output_tokens=3),
    ),
    "anthropic: split without the total": (
        anthropic.map_usage,
        {
            "input_tokens": 10,
            "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60},
            "output_tokens": 3,
        },
        Usage(input_tokens=110, cache_write_tokens=100, cache_write_1h_tokens=60, output_tokens=3),
    ),
    "anthropic: nulls everywhere": (
        anthropic.map_usage,
        {
            "input_tokens": 4,
            "cache_creation_input_tokens": None,
            "cache_read_input_tokens": None,
            "cache_creation": None,
            "output_tokens": 2,
            "output_tokens_details": None,
        },
        Usage(input_tokens=4, output_tokens=2),
    ),
    "openai: cached and reasoning tokens are inside the totals": (
        openai.map_usage,
        OPENAI_COMPLETION["usage"],
        Usage(input_tokens=2306, cache_read_tokens=1920, output_tokens=403, reasoning_tokens=384),
    ),
    "openrouter: cache writes reported beside cache reads": (
        openai.map_usage,
        OPENROUTER_COMPLETION["usage"],
        Usage(input_tokens=5200, cache_read_tokens=1000, cache_write_tokens=4000, output_tokens=60),
    ),
    "deepseek-style: cache hits as prompt_cache_hit_tokens": (
        openai.map_usage,
        {
            "prompt_tokens": 900,
            "completion_tokens": 50,
            "prompt_cache_hit_tokens": 640,
            "prompt_cache_miss_tokens": 260,
        },
        Usage(input_tokens=900, cache_read_tokens=640, output_tokens=50),
    ),
    "ollama: totals only": (
        openai.map_usage,
        {"prompt_tokens": 26, "completion_tokens": 9, "total_tokens": 35},
        Usage(input_tokens=26, output_tokens=9),
    ),
    "openai: inconsistent details never exceed the totals": (
        openai.map_usage,
        {
            "prompt_tokens": 100,
            "completion_tokens": 10,
            "prompt_tokens_details": {"cached_tokens": 80, "cache_write_tokens": 50},
            "completion_tokens_details": {"reasoning_tokens": 15},
        },
        Usage(
            input_tokens=100,
            cache_read_tokens=80,
            cache_write_tokens=20,
            output_tokens=10,
            reasoning_tokens=10,
        ),
    ),
    "gemini: cached inside the prompt, thoughts and tool-use prompts beside": (
        google.map_usage,
        GEMINI_RESPONSE["usageMetadata"],
        Usage(
            input_tokens=1180 + 325,
            cache_read_tokens=1024,
            output_tokens=45 + 300,
            reasoning_tokens=300,
        ),
    ),
    "gemini: all budget spent thinking, no candidates tokens": (
        google.map_usage,
        {"promptTokenCount": 12, "thoughtsTokenCount": 200, "totalTokenCount": 212},
        Usage(input_tokens=12, output_tokens=200, reasoning_tokens=200),
    ),
}


@pytest.mark.parametrize(("mapper", "raw", "expected"), CASES.values(), ids=CASES.keys())
def test_usage_mapping(mapper: Mapper, raw: Any, expected: Usage) -> None:
    assert mapper(raw) == expected


@pytest.mark.parametrize(("mapper", "raw", "expected"), CASES.values(), ids=CASES.keys())
def test_the_nesting_invariants_hold(mapper: Mapper, raw: Any, expected: Usage) -> None:
    usage = mapper(raw)

    assert usage.cache_read_tokens + usage.cache_write_tokens <= usage.input_tokens
    assert usage.cache_write_1h_tokens <= usage.cache_write_tokens
    assert usage.reasoning_tokens <= usage.output_tokens


def test_totals_agree_with_what_each_provider_says_its_total_is() -> None:
    """Gemini's totalTokenCount and OpenAI's total_tokens are sums of what we bill."""
    gemini = google.map_usage(GEMINI_RESPONSE["usageMetadata"])
    assert gemini.input_tokens + gemini.output_tokens == 1850

    oai = openai.map_usage(OPENAI_COMPLETION["usage"])
    assert oai.input_tokens + oai.output_tokens == OPENAI_COMPLETION["usage"]["total_tokens"]


def _per_token(model_price: Any, key: str) -> Decimal:
    value = getattr(model_price, key, None)
    return Decimal(0) if value is None else Decimal(value) / 1_000_000


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("openai", "gpt-5-mini", openai.map_usage(OPENAI_COMPLETION["usage"])),
        ("google", "gemini-2.5-flash", google.map_usage(GEMINI_RESPONSE["usageMetadata"])),
        (
            "anthropic",
            "claude-haiku-4-5",
            anthropic.map_usage(
                {
                    "input_tokens": 21,
                    "cache_creation_input_tokens": 3000,
                    "cache_read_input_tokens": 12000,
                    "output_tokens": 590,
                    "output_tokens_details": {"thinking_tokens": 412},
                }
            ),
        ),
    ],
    ids=["openai-cached-reasoning", "gemini-cached-thoughts-tools", "anthropic-cache-thinking"],
)
def test_priced_as_an_independent_per_token_calculation(
    provider: str, model: str, usage: Usage
) -> None:
    """Cost = uncached input + cache reads + cache writes + output (reasoning inside), per token."""
    table = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1), model, provider_id=provider
    ).model_price
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    write_price = _per_token(table, "cache_write_mtok") or _per_token(table, "input_mtok")
    expected = (
        uncached * _per_token(table, "input_mtok")
        + usage.cache_read_tokens * _per_token(table, "cache_read_mtok")
        + usage.cache_write_tokens * write_price
        + usage.output_tokens * _per_token(table, "output_mtok")
    )

    cost = price(provider, model, usage)

    assert cost is not None
    assert cost.total_usd == expected
