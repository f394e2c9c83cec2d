"""The user's price file beats genai-prices, is re-read when it changes, and fails loudly."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import pytest

from providers.price_file import PriceFileError
from providers.pricing import price, price_source
from providers.types import Usage

USAGE = Usage(input_tokens=1_000_000, cache_read_tokens=200_000, cache_write_tokens=100_000,
              output_tokens=500_000, reasoning_tokens=100_000)  # fmt: skip


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BYOK_HOME", str(tmp_path))
    monkeypatch.delenv("BYOK_PRICES_FILE", raising=False)
    return tmp_path


def _digest(path: Path) -> str:
    return "price file sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_a_negotiated_price_beats_the_public_one(home: Path) -> None:
    prices = home / "prices.yaml"
    prices.write_text(
        "openai:gpt-5-mini:\n"
        '  input_mtok: "0.20"\n'
        '  cache_read_mtok: "0.02"\n'
        '  cache_write_mtok: "0.30"\n'
        '  output_mtok: "1.60"\n'
    )

    cost = price("openai", "gpt-5-mini", USAGE)
    untouched = price("anthropic", "claude-haiku-4-5", USAGE)

    assert cost is not None
    assert cost.input_usd == Decimal("0.7") * Decimal("0.20")
    assert cost.cache_read_usd == Decimal("0.2") * Decimal("0.02")
    assert cost.cache_write_usd == Decimal("0.1") * Decimal("0.30")
    assert cost.output_usd == Decimal("0.5") * Decimal("1.60")
    assert cost.source == _digest(prices)
    assert untouched is not None
    assert untouched.source == price_source()


def test_a_provider_wildcard_prices_self_hosted_models(home: Path) -> None:
    (home / "prices.yaml").write_text("ollama:*: {input_mtok: 0.1, output_mtok: 0.4}\n")

    cost = price("ollama", "llama3.2", USAGE)

    assert cost is not None
    # No cache prices given: cached prompt tokens are billed as plain input.
    assert cost.input_usd == Decimal(1) * Decimal("0.1")
    assert cost.cache_read_usd == cost.cache_write_usd == 0
    assert cost.output_usd == Decimal("0.5") * Decimal("0.4")
    assert price("vllm", "llama3.2", USAGE) is None


def test_an_exact_entry_beats_the_wildcard(home: Path) -> None:
    (home / "prices.yaml").write_text(
        "ollama:*: {input_mtok: 1, output_mtok: 1}\nollama:big: {input_mtok: 5, output_mtok: 5}\n"
    )
    big, small = price("ollama", "big", USAGE), price("ollama", "small", USAGE)
    assert big is not None
    assert small is not None
    assert big.total_usd == 5 * small.total_usd


def test_the_file_named_by_the_environment_is_used_and_may_be_json(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "prices.yaml").write_text("ollama:*: {input_mtok: 1, output_mtok: 1}\n")
    explicit = tmp_path / "negotiated.json"
    explicit.write_text(json.dumps({"ollama:*": {"input_mtok": "2", "output_mtok": "2"}}))
    monkeypatch.setenv("BYOK_PRICES_FILE", str(explicit))

    cost = price("ollama", "x", Usage(input_tokens=10**6))

    assert cost is not None
    assert cost.total_usd == 2
    assert cost.source == _digest(explicit)


def test_an_edited_file_applies_to_the_next_call(home: Path) -> None:
    prices = home / "prices.yaml"
    prices.write_text("ollama:*: {input_mtok: 1, output_mtok: 1}\n")
    first = price("ollama", "x", Usage(input_tokens=10**6))
    prices.write_text("ollama:*: {input_mtok: 3, output_mtok: 1}  # corrected\n")
    second = price("ollama", "x", Usage(input_tokens=10**6))

    assert first is not None
    assert second is not None
    assert (first.total_usd, second.total_usd) == (Decimal(1), Decimal(3))
    assert first.source != second.source == _digest(prices)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("ollama:*: [1, 2\n", "not valid YAML or JSON at line"),
        ("- ollama:x\n", "expected a mapping"),
        ("llama3.2: {input_mtok: 1, output_mtok: 1}\n", '"provider:model"'),
        ("ollama:x: {input_mtok: -1, output_mtok: 1}\n", "input_mtok"),
        ("ollama:x: {input_mtok: 1}\n", "output_mtok"),
        ("ollama:x: {input_mtok: 1, output_mtok: 1, cache_mtok: 1}\n", "cache_mtok"),
        ("ollama:x: {input_mtok: .nan, output_mtok: 1}\n", "input_mtok"),
    ],
    ids=["yaml", "not-mapping", "no-provider", "negative", "missing", "unknown-field", "nan"],
)
def test_a_broken_file_is_an_error_naming_the_file_and_the_problem(
    home: Path, content: str, expected: str
) -> None:
    prices = home / "prices.yaml"
    prices.write_text(content)

    with pytest.raises(PriceFileError) as caught:
        price("ollama", "x", USAGE)

    assert str(prices) in str(caught.value)
    assert expected in str(caught.value)


def test_a_missing_explicit_file_is_an_error(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_PRICES_FILE", str(home / "nope.yaml"))
    with pytest.raises(PriceFileError, match="BYOK_PRICES_FILE"):
        price("openai", "gpt-5-mini", USAGE)
