"""Costs from genai-prices' bundled table, with None (never zero) for unknown models."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers import anthropic, google, openai
from providers.pricing import Cost, price, price_source
from providers.types import Usage


def test_cache_reads_are_billed_at_the_cache_rate() -> None:
    # claude-haiku-4-5: $1/M input, $0.10/M cache read, $5/M output.
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=100)

    assert price("anthropic", "claude-haiku-4-5", usage) == Cost(
        input_usd=Decimal("0.00082"),  # 800 × $1/M + 200 × $0.1/M
        output_usd=Decimal("0.0005"),
        total_usd=Decimal("0.00132"),
        source=price_source(),
    )


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
    assert cost.total_usd == cost.input_usd + cost.output_usd > 0


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
