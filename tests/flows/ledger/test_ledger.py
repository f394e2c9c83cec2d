"""The ledger records each call once, prices it exactly by component, and sums what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import genai_prices
import pytest
from sqlmodel import Session, select

from flows.ledger import (
    CallContext,
    GroupBy,
    UsageGroup,
    UsageRecord,
    build_record,
    outcome_of,
    record,
    rows_for_run,
    summarize,
    total_cost,
)
from flows.ledger.recorder import new_row, price_call, row_values
from providers.errors import RateLimitError, ResponseError
from providers.types import Usage
from vault.db import get_engine

MTOK = Decimal(10**6)


def _ctx(run: str = "run-1", step: str = "extract", attempt: int = 1) -> CallContext:
    return CallContext(
        org="default", user="ana", recipe="triage", run_id=run, step=step, attempt=attempt
    )


def _row(
    ctx: CallContext,
    *,
    model: str = "claude-haiku-4-5",
    provider: str = "anthropic",
    usage: Usage | None = None,
    key_id: str = "key_abc",
    at: datetime | None = None,
) -> UsageRecord:
    return build_record(
        ctx,
        provider=provider,
        model=model,
        usage=usage
        or Usage(
            input_tokens=1000, cache_read_tokens=200, cache_write_tokens=100, output_tokens=500
        ),
        key_id=key_id,
        key_version=1,
        latency_ms=12,
        at=at,
    )


def _table_price(provider: str, model: str) -> dict[str, Decimal]:
    """The model's per-MTok prices, read straight from genai-prices' table."""
    calc = genai_prices.calc_price(genai_prices.Usage(input_tokens=1), model, provider_id=provider)
    return {k: v for k, v in vars(calc.model_price).items() if isinstance(v, Decimal)}


@pytest.mark.parametrize(
    ("provider", "model"),
    [("anthropic", "claude-haiku-4-5"), ("openai", "gpt-5-mini"), ("google", "gemini-2.5-flash")],
)
def test_cost_components_match_the_price_table(byok_home: Path, provider: str, model: str) -> None:
    usage = Usage(
        input_tokens=5000,
        cache_read_tokens=1200,
        cache_write_tokens=300 if provider == "anthropic" else 0,
        output_tokens=800,
        reasoning_tokens=500,
    )
    row = _row(_ctx(), model=model, provider=provider, usage=usage)

    p = _table_price(provider, model)
    uncached = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    assert row.input_cost_usd == uncached * p["input_mtok"] / MTOK
    assert row.cache_read_cost_usd == usage.cache_read_tokens * p["cache_read_mtok"] / MTOK
    write_price = p.get("cache_write_mtok", Decimal(0))
    assert row.cache_write_cost_usd == usage.cache_write_tokens * write_price / MTOK
    # Reasoning is part of output and billed at the output price.
    assert row.output_cost_usd == usage.output_tokens * p["output_mtok"] / MTOK
    components = (
        row.input_cost_usd,
        row.cache_read_cost_usd,
        row.cache_write_cost_usd,
        row.output_cost_usd,
    )
    assert row.cost_usd == sum(components, Decimal(0))
    independent = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        ),
        model,
        provider_id=provider,
    )
    assert row.cost_usd == independent.total_price
    assert row.price_source == f"genai-prices {genai_prices.__version__}"


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "no-such-model"])
def test_the_hooks_plain_row_holds_what_a_usage_record_inserts(byok_home: Path, model: str) -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=500, reasoning_tokens=50)
    at = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    cost = price_call("anthropic", model, usage, model_reported=None, at=at)
    call = {
        "provider": "anthropic",
        "model": model,
        "usage": usage,
        "key_id": "key_abc",
        "key_version": 2,
        "latency_ms": 12,
        "outcome": "ResponseError:schema_mismatch",
        "model_reported": "claude-haiku-4-5-20251001",
        "deployment_id": "dep-1",
        "deployment": "triage/nightly",
    }

    plain = new_row(_ctx(attempt=3), cost=cost, at=at, **call)  # type: ignore[arg-type]
    entity = build_record(_ctx(attempt=3), cost=cost, at=at, **call)  # type: ignore[arg-type]

    assert plain == row_values(entity)
    assert list(plain) == list(row_values(entity))  # same columns, same order


def test_unknown_model_is_null_not_zero(byok_home: Path) -> None:
    row = _row(_ctx(), model="llama3.2", provider="ollama")
    assert row.cost_usd is None
    assert row.input_cost_usd is None
    assert row.price_source is None
    assert total_cost([row]) is None


def test_an_unknown_requested_model_is_priced_as_the_reported_one(byok_home: Path) -> None:
    usage = Usage(input_tokens=100, output_tokens=10)
    row = build_record(
        _ctx(),
        provider="openai",
        model="my-azure-deployment",
        model_reported="gpt-5-mini",
        usage=usage,
        key_id="k",
        key_version=1,
        latency_ms=1,
    )
    expected = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=100, output_tokens=10), "gpt-5-mini", provider_id="openai"
    )
    assert row.model == "my-azure-deployment"
    assert row.model_reported == "gpt-5-mini"
    assert row.cost_usd == expected.total_price


def test_same_call_recorded_twice_is_one_row(byok_home: Path) -> None:
    engine = get_engine()
    record(engine, _row(_ctx()))
    record(engine, _row(_ctx()))
    record(engine, _row(_ctx(attempt=2)))
    rows = rows_for_run(engine, "run-1")
    assert [(r.step, r.attempt) for r in rows] == [("extract", 1), ("extract", 2)]


def test_two_keys_of_one_provider_are_two_calls(byok_home: Path) -> None:
    """A fallback to the same model through another key of the provider is its own call."""
    engine = get_engine()
    record(engine, _row(_ctx(), key_id="key_primary"))
    record(engine, _row(_ctx(), key_id="key_backup"))
    assert [r.key_id for r in rows_for_run(engine, "run-1")] == ["key_primary", "key_backup"]


def test_costs_survive_the_database_exactly(byok_home: Path) -> None:
    engine = get_engine()
    original = _row(_ctx())
    record(engine, original)
    with Session(engine) as session:
        stored = session.exec(select(UsageRecord)).one()
    for column in ("input_cost_usd", "cache_read_cost_usd", "cache_write_cost_usd", "cost_usd"):
        assert getattr(stored, column) == getattr(original, column)
        assert isinstance(getattr(stored, column), Decimal)


def test_outcome_names_the_error_never_its_message() -> None:
    invalid = ResponseError(
        "secret output text", provider="openai", error_type="schema_mismatch", usage=Usage()
    )
    odd = RateLimitError("x", provider="openai", error_type="has spaces: and content")
    assert outcome_of(None) == "ok"
    assert outcome_of(invalid) == "ResponseError:schema_mismatch"
    assert outcome_of(odd) == "RateLimitError"
    assert outcome_of(ValueError("secret")) == "ValueError"


def test_summaries_add_up_to_the_rows(byok_home: Path) -> None:
    engine = get_engine()
    day1 = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    rows = [
        _row(_ctx(step="extract"), at=day1),
        _row(_ctx(step="reply"), model="gpt-5-mini", provider="openai", at=day1),
        _row(_ctx(run="run-2", step="reply"), model="gpt-5-mini", provider="openai"),
        _row(_ctx(run="run-2", step="local"), model="llama3.2", provider="ollama"),
    ]
    for row in rows:
        record(engine, row)
    for by in GroupBy:
        groups = summarize(engine, by=by)
        total = UsageGroup.combine("total", groups)
        assert total == UsageGroup.of("total", rows), by
        assert total.cost_usd == total_cost(rows)
    by_model = {g.key: g for g in summarize(engine, by=GroupBy.MODEL)}
    assert set(by_model) == {"anthropic:claude-haiku-4-5", "openai:gpt-5-mini", "ollama:llama3.2"}
    assert by_model["openai:gpt-5-mini"].calls == 2
    assert by_model["ollama:llama3.2"].cost_usd is None
    assert by_model["ollama:llama3.2"].unpriced_calls == 1
    assert {g.key: g.calls for g in summarize(engine, by=GroupBy.RUN)} == {"run-1": 2, "run-2": 2}
    days = [g.key for g in summarize(engine, by=GroupBy.DAY)]
    assert days == ["2026-03-01", datetime.now(UTC).date().isoformat()]


def test_since_and_org_filters(byok_home: Path) -> None:
    engine = get_engine()
    record(engine, _row(_ctx()))
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert summarize(engine, by=GroupBy.RECIPE, since=later) == []
    assert summarize(engine, by=GroupBy.RECIPE, org="other") == []
    assert [g.key for g in summarize(engine, by=GroupBy.RECIPE, org="default")] == ["triage"]


@pytest.mark.postgres
def test_ledger_on_postgresql(postgres_url: str) -> None:
    engine = get_engine(postgres_url)
    row = _row(_ctx())
    record(engine, row)
    record(engine, _row(_ctx()))  # idempotent there too
    rows = rows_for_run(engine, "run-1")
    assert len(rows) == 1
    assert rows[0].cost_usd == row.cost_usd
    assert rows[0].cache_write_cost_usd == row.cache_write_cost_usd
