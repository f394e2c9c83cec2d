"""Pricing with fewer genai-prices calculations gives exactly the costs it gave before.

`price()` skips the calculation of components whose tokens are all zero and
reads output and input off genai-prices' first calculation. The reference here
is a copy of the algorithm it replaced (one calculation per priced component,
for every call), compared Decimal for Decimal over a grid of usages with zeros
and non-zeros in every field, across a tier threshold, on models with cache
prices, a 1-hour cache-write price, a separate reasoning price, a per-request
fee, and on user price-file entries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from genai_prices.types import ModelPrice

from providers.price_file import load_price_table

# The old split used the same token mapping and component names as today's code:
# only the choice of what to calculate changed, so the reference shares those helpers.
from providers.pricing import Cost, _component, _genai_usage, price, price_source
from providers.types import Usage


def _reference_split(model_price: ModelPrice, usage: Usage, source: str) -> Cost:
    """The split as it was: every priced component calculated, used or not."""
    prices = {key: value for key, value in vars(model_price).items() if not key.startswith("_")}
    tokens = _genai_usage(usage)
    parts = dict.fromkeys(("input", "cache_read", "cache_write", "output"), Decimal(0))
    for component in {_component(k) for k, v in prices.items() if v is not None}:
        alone = ModelPrice(
            **{
                k: (v if v is not None and _component(k) == component else Decimal(0))
                for k, v in prices.items()
            }
        )
        parts[component] = alone.calc_price(tokens)["total_price"]
    return Cost(
        input_usd=parts["input"],
        cache_read_usd=parts["cache_read"],
        cache_write_usd=parts["cache_write"],
        output_usd=parts["output"],
        total_usd=sum(parts.values(), Decimal(0)),
        source=source,
    )


def _reference_price(provider: str, model: str, usage: Usage) -> Cost | None:
    table = load_price_table()
    entry = table.lookup(provider, model) if table is not None else None
    if table is not None and entry is not None:
        return _reference_split(ModelPrice(**entry.price_keys()), usage, table.source)
    try:
        calc = genai_prices.calc_price(_genai_usage(usage), model, provider_id=provider)
    except LookupError:
        return None
    return _reference_split(calc.model_price, usage, price_source())


def _outcome(
    pricer: Callable[[str, str, Usage], Cost | None], provider: str, model: str, usage: Usage
) -> Cost | tuple[str, str] | None:
    """The cost, or the error genai-prices raised for an inconsistent usage."""
    try:
        return pricer(provider, model, usage)
    except ValueError as error:
        return type(error).__name__, str(error)


def _grid() -> list[Usage]:
    """Usages with every field zero and non-zero; 250k prompts cross the 200k tiers.

    Includes inconsistent ones (a 1-hour write without writes, reasoning beyond
    output): those must fail the same way too.
    """
    return [
        Usage(
            input_tokens=prompt,
            cache_read_tokens=read,
            cache_write_tokens=write,
            cache_write_1h_tokens=write_1h,
            output_tokens=output,
            reasoning_tokens=reasoning,
        )
        for prompt, read, write, write_1h, output, reasoning in itertools.product(
            (0, 1234, 250_000), (0, 100), (0, 300), (0, 120), (0, 7, 4000), (0, 5)
        )
        if read + write <= prompt
    ]


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("anthropic", "claude-sonnet-4-5"),  # tiered, 5-minute and 1-hour write prices
        ("openai", "gpt-5-mini"),
        ("google", "gemini-2.5-flash"),  # audio prices that stay at zero tokens
        ("perplexity", "sonar"),  # a per-request fee
        ("perplexity", "sonar-deep-research"),  # reasoning priced apart from output
    ],
)
def test_bundled_prices_match_the_split_of_every_component(provider: str, model: str) -> None:
    for usage in _grid():
        expected = _outcome(_reference_price, provider, model, usage)
        assert expected is not None

        assert _outcome(price, provider, model, usage) == expected, usage


@pytest.mark.parametrize(
    ("entry", "model"),
    [
        (
            '{input_mtok: "0.20", cache_read_mtok: "0.02", cache_write_mtok: "0.30",'
            ' cache_write_1h_mtok: "0.40", output_mtok: "1.60"}',
            "gpt-5-mini",
        ),
        ("{input_mtok: 0.1, output_mtok: 0.4}", "llama3.2"),
    ],
    ids=["every-key", "input-and-output-only"],
)
def test_price_file_entries_match_the_split_of_every_component(
    entry: str, model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_PRICES_FILE", raising=False)
    provider = "openai" if model == "gpt-5-mini" else "ollama"
    (tmp_path / "prices.yaml").write_text(f"{provider}:{model}: {entry}\n")

    for usage in _grid():
        expected = _outcome(_reference_price, provider, model, usage)
        assert isinstance(expected, Cost | tuple), usage
        if isinstance(expected, Cost):
            assert expected.source.startswith("price file sha256:")

        assert _outcome(price, provider, model, usage) == expected, usage


@pytest.mark.parametrize(
    ("usage", "calculations"),
    [
        (Usage(input_tokens=30, output_tokens=12, reasoning_tokens=4), 1),
        (Usage(input_tokens=3000, cache_read_tokens=2048, output_tokens=12), 2),
    ],
    ids=["no-cache", "cache-read"],
)
def test_a_call_costs_one_genai_prices_calculation_plus_one_per_cache_kind_used(
    usage: Usage, calculations: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The per-call CPU budget: the calculation that finds the price, plus used cache parts."""
    made: list[object] = []
    original = ModelPrice.calc_price

    def counted(self: ModelPrice, usage: Any) -> Any:
        made.append(usage)
        return original(self, usage)

    monkeypatch.setattr(ModelPrice, "calc_price", counted)

    cost = price("anthropic", "claude-sonnet-4-5", usage)

    assert cost is not None
    assert cost.output_usd == 12 * Decimal(15) / 10**6
    assert len(made) == calculations
