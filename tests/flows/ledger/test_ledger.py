"""The ledger records each call once, prices it exactly, and sums what it shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import Session, select

from flows.ledger import (
    CallContext,
    GroupBy,
    UsageRecord,
    build_record,
    record,
    rows_for_run,
    summarize,
    total_cost,
)
from providers.types import Usage
from vault.db import get_engine


def _ctx(run: str = "run-1", step: str = "extract", attempt: int = 1) -> CallContext:
    return CallContext(
        org="default", user="ana", recipe="triage", run_id=run, step=step, attempt=attempt
    )


def _row(
    ctx: CallContext,
    model: str = "claude-haiku-4-5",
    provider: str = "anthropic",
    usage: Usage | None = None,
) -> UsageRecord:
    return build_record(
        ctx,
        provider=provider,
        model=model,
        usage=usage or Usage(input_tokens=1000, cache_read_tokens=200, output_tokens=500),
        key_id="key_abc",
        key_version=1,
        latency_ms=12,
    )


def test_priced_row_matches_independent_calculation(byok_home: Path) -> None:
    row = _row(_ctx())
    # Haiku 4.5: $1/M input, $0.10/M cache read, $5/M output.
    expected_input = Decimal(800) * Decimal("1") / 10**6 + Decimal(200) * Decimal("0.1") / 10**6
    expected_output = Decimal(500) * Decimal("5") / 10**6
    assert row.input_cost_usd == expected_input
    assert row.output_cost_usd == expected_output
    assert row.cost_usd == expected_input + expected_output
    assert row.price_source is not None
    assert row.price_source.startswith("genai-prices")


def test_unknown_model_is_null_not_zero(byok_home: Path) -> None:
    row = _row(_ctx(), model="llama3.2", provider="ollama")
    assert row.cost_usd is None
    assert row.price_source is None
    assert total_cost([row]) is None


def test_same_call_recorded_twice_is_one_row(byok_home: Path) -> None:
    engine = get_engine()
    record(engine, _row(_ctx()))
    record(engine, _row(_ctx()))
    record(engine, _row(_ctx(attempt=2)))
    rows = rows_for_run(engine, "run-1")
    assert [(r.step, r.attempt) for r in rows] == [("extract", 1), ("extract", 2)]


def test_costs_survive_the_database_exactly(byok_home: Path) -> None:
    engine = get_engine()
    original = _row(_ctx())
    record(engine, original)
    with Session(engine) as session:
        stored = session.exec(select(UsageRecord)).one()
    assert stored.cost_usd == original.cost_usd
    assert isinstance(stored.cost_usd, Decimal)


def test_summaries_add_up_to_the_rows(byok_home: Path) -> None:
    engine = get_engine()
    rows = [
        _row(_ctx(step="extract")),
        _row(_ctx(step="reply"), model="gpt-5-mini", provider="openai"),
        _row(_ctx(run="run-2", step="reply"), model="gpt-5-mini", provider="openai"),
        _row(_ctx(run="run-2", step="local"), model="llama3.2", provider="ollama"),
    ]
    for row in rows:
        record(engine, row)
    by_model = {g.key: g for g in summarize(engine, by=GroupBy.MODEL)}
    assert set(by_model) == {"anthropic:claude-haiku-4-5", "openai:gpt-5-mini", "ollama:llama3.2"}
    assert by_model["openai:gpt-5-mini"].calls == 2
    assert by_model["ollama:llama3.2"].cost_usd is None
    assert by_model["ollama:llama3.2"].unpriced_calls == 1
    priced_total = sum((g.cost_usd for g in by_model.values() if g.cost_usd), Decimal(0))
    assert priced_total == total_cost(rows)
    by_run = {g.key: g.calls for g in summarize(engine, by=GroupBy.RUN)}
    assert by_run == {"run-1": 2, "run-2": 2}


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
