"""Writing ledger rows: one per provider call, idempotent on `call_key`, committed at once.

The row is built from numbers the provider returned and ids the run knows;
pricing happens here so every row records which price source produced it.
Each row is committed as soon as its call returns (with the rows of calls that
finished alongside, `group_commit`), so a process killed mid-run loses no call
that already returned.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypedDict

from sqlalchemy import Engine, Executable
from sqlalchemy.dialects import postgresql, sqlite

from flows.ledger.models import UsageRecord
from providers.errors import ProviderError
from providers.pricing import Cost, price
from providers.types import Usage

__all__ = [
    "CallContext",
    "CostColumns",
    "LedgerRow",
    "build_record",
    "call_key",
    "cost_columns",
    "new_row",
    "outcome_of",
    "price_call",
    "record",
    "record_many",
    "row_values",
]

# Error types come from provider error bodies: only plain identifiers are kept.
_SAFE_ERROR_TYPE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who and what a provider call belongs to.

    `run_budget_usd` is the recipe's per-run cap (`budget_usd`), carried with
    the call so the budget hook can enforce it; the ledger does not store it.
    """

    org: str
    user: str
    recipe: str
    run_id: str
    step: str
    attempt: int
    run_budget_usd: Decimal | None = None


def call_key(ctx: CallContext, *, key_id: str, provider: str, model: str) -> str:
    """The deterministic identity of one call: the same call always gets the same key."""
    parts = (ctx.run_id, ctx.step, str(ctx.attempt), key_id, provider, model)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def outcome_of(error: BaseException | None) -> str:
    """`ok`, or the error's class and (when it is a plain identifier) its type.

    e.g. `ResponseError:schema_mismatch` for a structured reply that did not
    validate: billed, and recorded as such. Never the error's message.
    """
    if error is None:
        return "ok"
    name = type(error).__name__
    kind = error.error_type if isinstance(error, ProviderError) else None
    if kind and _SAFE_ERROR_TYPE.fullmatch(kind):
        return f"{name}:{kind}"[:64]
    return name[:64]


def price_call(
    provider: str, model: str, usage: Usage, *, model_reported: str | None, at: datetime
) -> Cost | None:
    """The call's cost at the requested model's price, else at the reported model's.

    A deployment name (Azure) or an alias has no price of its own, while the
    model the provider reports does. Raises `PriceFileError` if the user's
    price file is broken.
    """
    cost = price(provider, model, usage, at=at)
    if cost is None and model_reported and model_reported != model:
        cost = price(provider, model_reported, usage, at=at)
    return cost


class CostColumns(TypedDict):
    """A row's cost columns: all null when the call is unpriced."""

    input_cost_usd: Decimal | None
    cache_read_cost_usd: Decimal | None
    cache_write_cost_usd: Decimal | None
    output_cost_usd: Decimal | None
    cost_usd: Decimal | None
    price_source: str | None


class LedgerRow(CostColumns):
    """One ledger row's columns as inserted: `UsageRecord`'s fields but `id`, in a plain dict.

    The ledger hook builds one per provider call on the event loop. Making a
    `UsageRecord` (SQLModel's instrumented per-attribute construction) and
    then `model_dump`-ing it back into a dict for the insert cost more CPU
    than the insert's own execution; the hook's run report reads the same
    dict. Field meanings are documented on `UsageRecord`.
    """

    call_key: str
    created_at: datetime
    org: str
    user: str
    recipe: str
    run_id: str
    deployment_id: str | None
    deployment: str | None
    step: str
    attempt: int
    key_id: str
    key_version: int
    provider: str
    model: str
    model_reported: str | None
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    reasoning_tokens: int
    repriced_at: datetime | None
    latency_ms: int
    outcome: str


def new_row(
    ctx: CallContext,
    *,
    provider: str,
    model: str,
    usage: Usage,
    key_id: str,
    key_version: int,
    latency_ms: int,
    outcome: str,
    model_reported: str | None,
    deployment_id: str | None,
    deployment: str | None,
    cost: Cost | None,
    at: datetime,
) -> LedgerRow:
    """The columns of the ledger row of one call made at `at`, priced at `cost`.

    `cost=None` records the call as unpriced (the cost columns null).
    """
    return {
        "call_key": call_key(ctx, key_id=key_id, provider=provider, model=model),
        "created_at": at,
        "org": ctx.org,
        "user": ctx.user,
        "recipe": ctx.recipe,
        "run_id": ctx.run_id,
        "deployment_id": deployment_id,
        "deployment": deployment,
        "step": ctx.step,
        "attempt": ctx.attempt,
        "key_id": key_id,
        "key_version": key_version,
        "provider": provider,
        "model": model,
        "model_reported": model_reported,
        "input_tokens": usage.input_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        **cost_columns(cost),
        "repriced_at": None,
        "latency_ms": latency_ms,
        "outcome": outcome,
    }


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
    deployment_id: str | None = None,
    deployment: str | None = None,
    cost: Cost | Literal["auto"] | None = "auto",
    at: datetime | None = None,
) -> UsageRecord:
    """A ledger row made at `at` (default now), priced then unless `cost` is given.

    `cost=None` records the call as unpriced (`cost_usd` null). An ORM entity,
    for callers that go on to use one; the ledger hook uses `new_row`.
    """
    when = at or datetime.now(UTC)
    if isinstance(cost, str):
        cost = price_call(provider, model, usage, model_reported=model_reported, at=when)
    return UsageRecord(
        **new_row(
            ctx,
            provider=provider,
            model=model,
            usage=usage,
            key_id=key_id,
            key_version=key_version,
            latency_ms=latency_ms,
            outcome=outcome,
            model_reported=model_reported,
            deployment_id=deployment_id,
            deployment=deployment,
            cost=cost,
            at=when,
        )
    )


def cost_columns(cost: Cost | None) -> CostColumns:
    """The row's cost columns for `cost` (all null when the call is unpriced)."""
    if cost is None:
        return {
            "input_cost_usd": None,
            "cache_read_cost_usd": None,
            "cache_write_cost_usd": None,
            "output_cost_usd": None,
            "cost_usd": None,
            "price_source": None,
        }
    return {
        "input_cost_usd": cost.input_usd,
        "cache_read_cost_usd": cost.cache_read_usd,
        "cache_write_cost_usd": cost.cache_write_usd,
        "output_cost_usd": cost.output_usd,
        "cost_usd": cost.total_usd,
        "price_source": cost.source,
    }


def record(engine: Engine, row: UsageRecord) -> None:
    """Insert and commit `row` unless a row with the same `call_key` exists."""
    record_many(engine, [row_values(row)])


def row_values(row: UsageRecord) -> dict[str, object]:
    """The columns to insert for `row` (the database assigns `id`)."""
    return row.model_dump(exclude={"id"})


# Built once per dialect: every provider call inserts a row, and building the insert and
# its ON CONFLICT clause per batch was CPU spent on a statement that never changes.
# `inline()`: nothing reads the new row's `id`, so a one-row insert does not fetch it back
# (SQLAlchemy would otherwise add `RETURNING id` on PostgreSQL and build a result for it).
_TABLE = UsageRecord.__table__  # type: ignore[attr-defined]
_INSERT_IGNORING_KNOWN: dict[str, Executable] = {
    "postgresql": postgresql.insert(_TABLE).inline().on_conflict_do_nothing(),
    "sqlite": sqlite.insert(_TABLE).inline().on_conflict_do_nothing(),
}


def record_many(engine: Engine, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert `rows` (`new_row`s or `row_values`) in one transaction, skipping known `call_key`s.

    Committed when this returns. Idempotent, so a batch that failed can be
    written again row by row without counting any call twice.
    """
    if not rows:
        return
    dialect = "postgresql" if engine.dialect.name == "postgresql" else "sqlite"
    stmt = _INSERT_IGNORING_KNOWN[dialect]
    if len(rows) == 1:
        # One statement is a transaction of its own: in autocommit mode the database
        # commits it before it answers, so the insert is durable when `execute`
        # returns, or else nothing of it is stored. That spares psycopg's BEGIN
        # and the COMMIT, two of the three round trips of a lone call's row (the
        # usual batch: steps in a chain finish one at a time).
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(stmt, rows[0])
        return
    with engine.begin() as conn:  # one transaction: BEGIN, a pipelined executemany, COMMIT
        conn.execute(stmt, list(rows))
