"""The most a call can cost, known before it is sent.

Budgets reserve this amount and dry runs print it, so it must be an upper
bound, not a guess: a reservation smaller than the bill would let concurrent
runs overspend together.

- Prompt tokens: every tokenizer the providers use (byte-level BPE, or
  SentencePiece with byte fallback) spends at least one byte of UTF-8 text
  per token, so the byte length of everything sent (system, prompt, output
  schema) bounds the text's tokens; a fixed allowance covers the tokens the
  provider adds around messages and structured-output instructions. For
  English this is about four times the real count.
- Output tokens: `max_tokens`, which every provider applies to all generated
  tokens, reasoning included.
- Price: the higher of billing the prompt as plain input and as a cache
  write, since a provider may cache a prompt at the write price.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from providers.pricing import price
from providers.types import ModelRequest, Usage

__all__ = [
    "MESSAGE_OVERHEAD_TOKENS",
    "SCHEMA_OVERHEAD_TOKENS",
    "WorstCase",
    "prompt_token_bound",
    "text_token_bound",
    "worst_case",
]

#: Tokens a provider may add around the messages of one request (roles, separators).
MESSAGE_OVERHEAD_TOKENS = 64
#: Tokens a provider may add to enforce a structured output (instructions, tool wrappers).
SCHEMA_OVERHEAD_TOKENS = 512


@dataclass(frozen=True, slots=True)
class WorstCase:
    """The largest usage a call can report, and its price (None when unpriced)."""

    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None


def text_token_bound(text: str) -> int:
    """At most this many tokens: one per UTF-8 byte."""
    return len(text.encode())


def prompt_token_bound(request: ModelRequest) -> int:
    """An upper bound on the prompt tokens `request` will be billed for."""
    tokens = MESSAGE_OVERHEAD_TOKENS + text_token_bound(request.prompt)
    if request.system:
        tokens += text_token_bound(request.system)
    if request.output_schema is not None:
        schema = json.dumps(request.output_schema, ensure_ascii=False)
        tokens += SCHEMA_OVERHEAD_TOKENS + text_token_bound(schema)
    return tokens


def worst_case(
    provider: str,
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    at: datetime | None = None,
) -> WorstCase:
    """The price of `input_tokens` in and `output_tokens` out, at the dearer input rate.

    Raises `PriceFileError` if the user's price file is broken.
    """
    plain = price(provider, model, Usage(input_tokens, output_tokens=output_tokens), at=at)
    if plain is None:
        return WorstCase(input_tokens, output_tokens, None)
    cached = price(
        provider,
        model,
        Usage(input_tokens, cache_write_tokens=input_tokens, output_tokens=output_tokens),
        at=at,
    )
    cost = max(plain.total_usd, cached.total_usd if cached else plain.total_usd)
    return WorstCase(input_tokens, output_tokens, cost)
