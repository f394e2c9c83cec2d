"""Writing ledger rows: one per provider call, idempotent on `call_key`.

The row is built from numbers the provider returned and ids the run knows;
pricing happens here so every row records which price source produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, Executable
from sqlalchemy.dialects import postgresql, sqlite

from flows.ledger.models import UsageRecord
from providers.pricing import price
from providers.types import Usage

__all__ = ["CallContext", "build_record", "record"]


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who and what a provider call belongs to."""

    org: str
    user: str
    recipe: str
    run_id: str
    step: str
    attempt: int


def build_record(
    ctx: CallContext,
    *,
    provider: str,
    model: str,
    usage: Usage,
    key_id: str,
    key_version: int,
    latency_ms: int,
    outcome: str = "ok",
    model_reported: str | None = None,
) -> UsageRecord:
    """A priced ledger row; `cost_usd` stays null when the model has no known price."""
    cost = price(provider, model, usage)
    return UsageRecord(
        call_key=f"{ctx.run_id}:{ctx.step}:{ctx.attempt}:{provider}:{model}",
        org=ctx.org,
        user=ctx.user,
        recipe=ctx.recipe,
        run_id=ctx.run_id,
        step=ctx.step,
        attempt=ctx.attempt,
        key_id=key_id,
        key_version=key_version,
        provider=provider,
        model=model,
        model_reported=model_reported,
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        output_tokens=usage.output_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        input_cost_usd=cost.input_usd if cost else None,
        output_cost_usd=cost.output_usd if cost else None,
        cost_usd=cost.total_usd if cost else None,
        price_source=cost.source if cost else None,
        latency_ms=latency_ms,
        outcome=outcome,
    )


def record(engine: Engine, row: UsageRecord) -> None:
    """Insert `row` unless a row with the same `call_key` exists (retried writes)."""
    values = row.model_dump(exclude={"id"})
    table = UsageRecord.__table__  # type: ignore[attr-defined]
    stmt: Executable
    if engine.dialect.name == "postgresql":
        stmt = postgresql.insert(table).values(values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(table).values(values).on_conflict_do_nothing()
    with engine.begin() as conn:
        conn.execute(stmt)
