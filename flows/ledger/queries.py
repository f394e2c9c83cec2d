"""Reading the ledger: a run's rows and grouped totals for `byok usage`.

Sums are done in Python with `Decimal` because costs are stored as exact text.
A group's cost is null only when none of its rows could be priced; rows that
could not be priced are counted so reports can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from flows.ledger.models import UsageRecord

__all__ = ["GroupBy", "UsageGroup", "money", "row_json", "rows_for_run", "summarize", "total_cost"]


class GroupBy(StrEnum):
    """The columns `byok usage --by` can group on."""

    RECIPE = "recipe"
    USER = "user"
    MODEL = "model"
    STEP = "step"
    RUN = "run"


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """Totals for one value of the grouping column."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: Decimal | None
    unpriced_calls: int

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape documented in the README."""
        return {
            "key": self.key,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": money(self.cost_usd),
            "unpriced_calls": self.unpriced_calls,
        }


def rows_for_run(engine: Engine, run_id: str) -> list[UsageRecord]:
    """Every ledger row of one flow run, in the order the calls were recorded."""
    with Session(engine) as session:
        stmt = select(UsageRecord).where(UsageRecord.run_id == run_id).order_by(col(UsageRecord.id))
        return list(session.exec(stmt).all())


def total_cost(rows: Sequence[UsageRecord]) -> Decimal | None:
    """Sum of priced rows; null when no row has a price."""
    priced = [r.cost_usd for r in rows if r.cost_usd is not None]
    return sum(priced, Decimal(0)) if priced else None


def summarize(
    engine: Engine,
    *,
    by: GroupBy,
    org: str | None = None,
    since: datetime | None = None,
) -> list[UsageGroup]:
    """Grouped totals, largest cost first."""
    with Session(engine) as session:
        stmt = select(UsageRecord)
        if org is not None:
            stmt = stmt.where(UsageRecord.org == org)
        if since is not None:
            stmt = stmt.where(UsageRecord.created_at >= since)
        rows = session.exec(stmt).all()
    groups: dict[str, list[UsageRecord]] = {}
    for row in rows:
        groups.setdefault(_group_key(row, by), []).append(row)
    result = [
        UsageGroup(
            key=key,
            calls=len(members),
            input_tokens=sum(r.input_tokens for r in members),
            output_tokens=sum(r.output_tokens for r in members),
            cost_usd=total_cost(members),
            unpriced_calls=sum(1 for r in members if r.cost_usd is None),
        )
        for key, members in groups.items()
    ]
    return sorted(result, key=lambda g: (-(g.cost_usd or Decimal(0)), g.key))


def row_json(row: UsageRecord) -> dict[str, Any]:
    """One ledger row as the stable JSON shape used by `byok run --json`."""
    return {
        "step": row.step,
        "attempt": row.attempt,
        "provider": row.provider,
        "model": row.model,
        "key_id": row.key_id,
        "input_tokens": row.input_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "output_tokens": row.output_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "cost_usd": money(row.cost_usd),
        "price_source": row.price_source,
        "outcome": row.outcome,
    }


def _group_key(row: UsageRecord, by: GroupBy) -> str:
    if by is GroupBy.MODEL:
        return f"{row.provider}:{row.model}"
    if by is GroupBy.RUN:
        return row.run_id
    value: str = getattr(row, by.value)
    return value


def money(value: Decimal | None) -> float | None:
    """A cost as a JSON number.

    Costs carry at most 15 significant digits, which a float round-trips
    exactly, so the printed number equals the stored decimal.
    """
    return None if value is None else float(value)
