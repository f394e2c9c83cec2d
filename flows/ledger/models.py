"""The usage ledger's table: one row per provider HTTP call that returned usage.

Numbers and identifiers only, never prompt or output text (invariant 1). Money
is stored as decimal text so SQLite and PostgreSQL keep it exact; sums are
done with `Decimal` in Python.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, String, TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = ["DecimalText", "UsageRecord"]


class DecimalText(TypeDecorator[Decimal]):
    """A `Decimal` stored as text: exact on every database, ordered by nobody."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:  # noqa: ARG002
        return None if value is None else format(value, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:  # noqa: ARG002
        return None if value is None else Decimal(str(value))


def _now() -> datetime:
    return datetime.now(UTC)


class UsageRecord(SQLModel, table=True):
    """One provider call: who it belongs to, the tokens by kind, and its cost.

    `call_key` is deterministic (run, step, attempt, key, model) so a retried
    write of the same call adds nothing instead of a second row. `run_id` is
    the Prefect flow run id; `deployment` is null for runs started without a
    deployment. Tokens follow `providers.types.Usage`: `input_tokens` includes
    the cache reads and writes, `cache_write_tokens` the 1-hour writes
    (`cache_write_1h_tokens`), `output_tokens` the reasoning. The cost
    columns are exact decimals, null when the call could not be priced:
    `input_cost_usd` is the uncached prompt, and the four components add up to
    `cost_usd`. `price_source` names the table that priced the row;
    `repriced_at` is set when `byok usage reprice` changed it.
    """

    __tablename__ = "usage_records"

    id: int | None = Field(default=None, primary_key=True)
    call_key: str = Field(max_length=300, unique=True)
    created_at: datetime = Field(default_factory=_now, index=True, sa_type=DateTime(timezone=True))
    org: str = Field(max_length=100, index=True)
    user: str = Field(max_length=200, index=True)
    recipe: str = Field(max_length=200, index=True)
    run_id: str = Field(max_length=64, index=True)
    deployment_id: str | None = Field(default=None, max_length=64)
    deployment: str | None = Field(default=None, max_length=200)
    step: str = Field(max_length=100)
    attempt: int = 1
    key_id: str = Field(max_length=64)
    key_version: int = 1
    provider: str = Field(max_length=64)
    model: str = Field(max_length=200)
    model_reported: str | None = Field(default=None, max_length=200)
    input_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    input_cost_usd: Decimal | None = Field(default=None, sa_type=DecimalText)
    cache_read_cost_usd: Decimal | None = Field(default=None, sa_type=DecimalText)
    cache_write_cost_usd: Decimal | None = Field(default=None, sa_type=DecimalText)
    output_cost_usd: Decimal | None = Field(default=None, sa_type=DecimalText)
    cost_usd: Decimal | None = Field(default=None, sa_type=DecimalText)
    price_source: str | None = Field(default=None, max_length=100)
    repriced_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    latency_ms: int = 0
    outcome: str = Field(default="ok", max_length=64)
