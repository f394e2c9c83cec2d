"""Budget periods are UTC calendar windows; a call's worst case is never below its bill."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import genai_prices
import pytest

from flows.budget.estimate import (
    MESSAGE_OVERHEAD_TOKENS,
    SCHEMA_OVERHEAD_TOKENS,
    prompt_token_bound,
    worst_case,
)
from flows.budget.money import charge_pico, limit_pico, usd
from flows.budget.periods import Period, window
from providers.simulator import count_tokens
from providers.types import ModelRequest

T = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (Period.DAY, datetime(2026, 12, 31, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (Period.WEEK, datetime(2026, 12, 28, tzinfo=UTC), datetime(2027, 1, 4, tzinfo=UTC)),
        (Period.MONTH, datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_periods_are_utc_calendar_windows(period: Period, start: datetime, end: datetime) -> None:
    assert window(period, T) == (start, end)
    # The same instant seen from another zone is in the same window.
    assert window(period, T.astimezone(timezone(timedelta(hours=5)))) == (start, end)


def test_money_rounds_charges_up_and_limits_down() -> None:
    tiny = Decimal("0.0000000000001")  # a tenth of a picodollar
    assert charge_pico(tiny) == 1
    assert limit_pico(Decimal("1") + tiny) == 10**12
    assert usd(charge_pico(Decimal("0.000123"))) == Decimal("0.000123")


@pytest.mark.parametrize(
    "text",
    ["Plain English text about an invoice.", "東京の請求書が二重です", "🙂🙃" * 40, "a" * 4000],
    ids=["english", "japanese", "emoji", "long"],
)
def test_the_prompt_bound_covers_every_byte(text: str) -> None:
    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    plain = ModelRequest(model="m", prompt=text, system="Be brief.")
    structured = ModelRequest(model="m", prompt=text, output_schema=schema)

    assert prompt_token_bound(plain) == (
        MESSAGE_OVERHEAD_TOKENS + len(text.encode()) + len(b"Be brief.")
    )
    assert prompt_token_bound(structured) > SCHEMA_OVERHEAD_TOKENS + len(text.encode())
    # Far above what the simulator (and any real tokenizer) counts for the same text.
    assert prompt_token_bound(plain) >= count_tokens(text) + count_tokens("Be brief.")


def test_the_worst_case_bills_the_prompt_at_the_dearer_input_rate() -> None:
    table = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1), "claude-haiku-4-5", provider_id="anthropic"
    ).model_price
    write, out = Decimal(str(table.cache_write_mtok)), Decimal(str(table.output_mtok))

    bound = worst_case("anthropic", "claude-haiku-4-5", 2000, 400)

    assert write > Decimal(str(table.input_mtok))  # writing the cache costs more than input
    assert bound.cost_usd == (2000 * write + 400 * out) / 10**6
    assert worst_case("ollama", "llama3.2", 10, 10).cost_usd is None
