"""Costs from genai-prices' bundled table, with None (never zero) for unknown models."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from providers import anthropic, google, openai
from providers.pricing import Cost, price, price_source
from providers.types import Usage


def test_cache_reads_are_billed_at_the_cache_rate() -> None:
    # claude-haiku-4-5: $1/M input, $0.10/M cache read, $1.25/M cache write, $5/M output.
    usage = Usage(
        input_tokens=1000, cache_read_tokens=200, cache_write_tokens=100, output_tokens=100
    )

    assert price("anthropic", "claude-haiku-4-5", usage) == Cost(
        input_usd=Decimal("0.0007"),  # 700 uncached × $1/M
        cache_read_usd=Decimal("0.00002"),  # 200 × $0.1/M
        cache_write_usd=Decimal("0.000125"),  # 100 × $1.25/M
        output_usd=Decimal("0.0005"),
        total_usd=Decimal("0.001345"),
        source=price_source(),
    )


def test_tiered_prices_apply_to_every_component() -> None:
    """Past 200k prompt tokens Gemini 2.5 Pro doubles its rates; the split follows."""
    usage = Usage(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=1000)
    independent = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=300_000, cache_read_tokens=100_000, output_tokens=1000),
        "gemini-2.5-pro",
        provider_id="google",
    )

    cost = price("google", "gemini-2.5-pro", usage)

    assert cost is not None
    assert cost.input_usd == 200_000 * Decimal("2.5") / 10**6
    assert cost.cache_read_usd == 100_000 * Decimal("0.25") / 10**6
    assert cost.output_usd == 1000 * Decimal(15) / 10**6
    assert cost.total_usd == independent.total_price


def test_source_names_the_bundled_table_version() -> None:
    cost = price("openai", "gpt-5-mini", Usage(input_tokens=1))

    assert cost is not None
    assert cost.source == price_source()
    assert price_source().startswith("genai-prices ")


ANTHROPIC_USAGE = {
    "input_tokens": 12,
    "cache_creation_input_tokens": 1000,
    "cache_read_input_tokens": 2000,
    "output_tokens": 300,
}
OPENAI_USAGE = {
    "prompt_tokens": 1500,
    "completion_tokens": 700,
    "prompt_tokens_details": {"cached_tokens": 1024},
    "completion_tokens_details": {"reasoning_tokens": 576},
}
GOOGLE_USAGE = {
    "promptTokenCount": 1200,
    "candidatesTokenCount": 80,
    "cachedContentTokenCount": 1000,
    "thoughtsTokenCount": 220,
}


@pytest.mark.parametrize(
    ("provider", "model", "usage"),
    [
        ("anthropic", "claude-haiku-4-5-20251001", anthropic.map_usage(ANTHROPIC_USAGE)),
        ("openai", "gpt-5-mini-2025-08-07", openai.map_usage(OPENAI_USAGE)),
        ("google", "gemini-2.5-flash", google.map_usage(GOOGLE_USAGE)),
    ],
    ids=["anthropic", "openai", "google"],
)
def test_usage_from_each_adapter_is_priced(provider: str, model: str, usage: Usage) -> None:
    cost = price(provider, model, usage)

    assert cost is not None
    parts = cost.input_usd + cost.cache_read_usd + cost.cache_write_usd + cost.output_usd
    assert cost.total_usd == parts > 0


def test_reasoning_tokens_cost_the_same_as_the_output_they_are_part_of() -> None:
    plain = price("openai", "gpt-5", Usage(input_tokens=10, output_tokens=1000))
    reasoning = price(
        "openai", "gpt-5", Usage(input_tokens=10, output_tokens=1000, reasoning_tokens=900)
    )

    assert plain == reasoning


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "no-such-model-xyz"), ("ollama", "llama3.2"), ("anthropic", "")],
    ids=["unknown-model", "unknown-provider", "empty-model"],
)
def test_unknown_models_are_unpriced_not_free(provider: str, model: str) -> None:
    assert price(provider, model, Usage(input_tokens=100, output_tokens=100)) is None


def test_every_bundled_price_lands_in_the_component_its_unit_belongs_to() -> None:
    """The split follows genai-prices' own unit dimensions for every key it ships."""
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.units import _get_registry

    from providers.pricing import _component

    registry = _get_registry()
    keys = set()
    for provider in get_snapshot().providers:
        for model in provider.models:
            for variant in model.prices if isinstance(model.prices, list) else [model.prices]:
                keys |= {k for k in vars(getattr(variant, "prices", variant)) if k[0] != "_"}
    for key in sorted(keys):
        dims = registry.unit_for_price_key(key).dimensions
        expected = {"cache_read": "cache_read", "cache_write": "cache_write"}.get(
            dims.get("token_type", ""), "output" if dims.get("direction") == "output" else "input"
        )
        assert _component(key) == expected, key


def test_a_separate_reasoning_price_is_used_and_counted_as_output() -> None:
    # sonar-deep-research: $8/M output, $3/M reasoning.
    cost = price(
        "perplexity",
        "sonar-deep-research",
        Usage(input_tokens=0, output_tokens=1000, reasoning_tokens=600),
    )

    assert cost is not None
    assert cost.output_usd == (400 * Decimal(8) + 600 * Decimal(3)) / 10**6
    assert cost.total_usd == cost.output_usd
