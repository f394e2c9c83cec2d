"""Reading the ledger: a run's rows, filtered rows, and grouped totals for `byok usage`.

Sums are done in Python with `Decimal` because costs are stored as exact text.
A group's cost is null only when none of its rows could be priced; rows that
could not be priced are counted so reports can say so. Every row falls in
exactly one group, so the groups always add up to the total of the rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from flows.ledger.grouping import GroupBy
from flows.ledger.models import UsageRecord

__all__ = [
    "TOKEN_KINDS",
    "GroupBy",
    "UsageGroup",
    "group_key",
    "ledger_orgs",
    "money",
    "row_json",
    "rows_for_run",
    "select_rows",
    "sum_costs",
    "summarize",
    "total_cost",
]

#: Token columns of a ledger row, in the order reports show them. Nested kinds
#: (see `providers.types.Usage`) are parts of the kind before them, not extra.
TOKEN_KINDS = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cache_write_1h_tokens",
)


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """Totals for one value of the grouping column (or for all rows: key `total`)."""

    key: str
    calls: int
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_usd: Decimal | None
    unpriced_calls: int
    cache_write_1h_tokens: int = 0

    @classmethod
    def of(cls, key: str, rows: Sequence[UsageRecord]) -> UsageGroup:
        """The totals of `rows`."""
        tokens = {kind: sum(getattr(row, kind) for row in rows) for kind in TOKEN_KINDS}
        return cls(
            key=key,
            calls=len(rows),
            cost_usd=total_cost(rows),
            unpriced_calls=sum(1 for row in rows if row.cost_usd is None),
            **tokens,
        )

    @classmethod
    def combine(cls, key: str, groups: Sequence[UsageGroup]) -> UsageGroup:
        """The totals of several groups: the same as the totals of all their rows."""
        costs = [g.cost_usd for g in groups if g.cost_usd is not None]
        return cls(
            key=key,
            calls=sum(g.calls for g in groups),
            input_tokens=sum(g.input_tokens for g in groups),
            cache_read_tokens=sum(g.cache_read_tokens for g in groups),
            cache_write_tokens=sum(g.cache_write_tokens for g in groups),
            output_tokens=sum(g.output_tokens for g in groups),
            reasoning_tokens=sum(g.reasoning_tokens for g in groups),
            cost_usd=sum(costs, Decimal(0)) if costs else None,
            unpriced_calls=sum(g.unpriced_calls for g in groups),
            cache_write_1h_tokens=sum(g.cache_write_1h_tokens for g in groups),
        )

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape documented in the README (fields are only ever added).

        New fields go last, so `--csv` columns (the same keys, in this order)
        keep their positions.
        """
        return {
            "key": self.key,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": money(self.cost_usd),
            "unpriced_calls": self.unpriced_calls,
            "cache_write_1h_tokens": self.cache_write_1h_tokens,
        }


def rows_for_run(engine: Engine, run_id: str) -> list[UsageRecord]:
    """Every ledger row of one flow run, in the order the calls were recorded."""
    with Session(engine) as session:
        stmt = select(UsageRecord).where(UsageRecord.run_id == run_id).order_by(col(UsageRecord.id))
        return list(session.exec(stmt).all())


def select_rows(
    engine: Engine,
    *,
    org: str | None = None,
    since: datetime | None = None,
    orgs: Collection[str] | None = None,
) -> list[UsageRecord]:
    """Ledger rows of `org`, or of `orgs` (default: every org), made since `since`, oldest first."""
    with Session(engine) as session:
        stmt = select(UsageRecord)
        if org is not None:
            stmt = stmt.where(UsageRecord.org == org)
        if orgs is not None:
            stmt = stmt.where(col(UsageRecord.org).in_(list(orgs)))
        if since is not None:
            stmt = stmt.where(UsageRecord.created_at >= since)
        return list(session.exec(stmt.order_by(col(UsageRecord.id))).all())


def ledger_orgs(engine: Engine) -> list[str]:
    """Every org that has ledger rows, sorted."""
    with Session(engine) as session:
        return sorted(session.exec(select(UsageRecord.org).distinct()))


def total_cost(rows: Iterable[UsageRecord]) -> Decimal | None:
    """Sum of priced rows; null when no row has a price."""
    return sum_costs(r.cost_usd for r in rows)


def sum_costs(costs: Iterable[Decimal | None]) -> Decimal | None:
    """Sum of the known costs; null when none is known (unpriced calls count nothing)."""
    priced = [cost for cost in costs if cost is not None]
    return sum(priced, Decimal(0)) if priced else None


def summarize(
    engine: Engine,
    *,
    by: GroupBy,
    org: str | None = None,
    since: datetime | None = None,
    orgs: Collection[str] | None = None,
) -> list[UsageGroup]:
    """Grouped totals: days in date order, anything else largest cost first."""
    groups: dict[str, list[UsageRecord]] = {}
    for row in select_rows(engine, org=org, since=since, orgs=orgs):
        groups.setdefault(group_key(row, by), []).append(row)
    result = [UsageGroup.of(key, members) for key, members in groups.items()]
    if by is GroupBy.DAY:
        return sorted(result, key=lambda g: g.key)
    return sorted(result, key=lambda g: (-(g.cost_usd or Decimal(0)), g.key))


def row_json(row: UsageRecord) -> dict[str, Any]:
    """One ledger row as the stable JSON shape used by `byok run --json`."""
    return {
        "step": row.step,
        "attempt": row.attempt,
        "provider": row.provider,
        "model": row.model,
        "model_reported": row.model_reported,
        "key_id": row.key_id,
        "key_version": row.key_version,
        "input_tokens": row.input_tokens,
        "cache_read_tokens": row.cache_read_tokens,
        "cache_write_tokens": row.cache_write_tokens,
        "cache_write_1h_tokens": row.cache_write_1h_tokens,
        "output_tokens": row.output_tokens,
        "reasoning_tokens": row.reasoning_tokens,
        "input_cost_usd": money(row.input_cost_usd),
        "cache_read_cost_usd": money(row.cache_read_cost_usd),
        "cache_write_cost_usd": money(row.cache_write_cost_usd),
        "output_cost_usd": money(row.output_cost_usd),
        "cost_usd": money(row.cost_usd),
        "price_source": row.price_source,
        "latency_ms": row.latency_ms,
        "outcome": row.outcome,
    }


def group_key(row: UsageRecord, by: GroupBy) -> str:
    """The value of the grouping column for `row` (a UTC date for `day`)."""
    if by is GroupBy.MODEL:
        return f"{row.provider}:{row.model}"
    if by is GroupBy.RUN:
        return row.run_id
    if by is GroupBy.DAY:
        made = row.created_at
        # SQLite hands back naive datetimes; the ledger writes UTC.
        made = made.replace(tzinfo=UTC) if made.tzinfo is None else made.astimezone(UTC)
        return made.date().isoformat()
    value: str = getattr(row, by.value)
    return value


def money(value: Decimal | None) -> float | None:
    """A cost as a JSON number.

    Costs carry at most 15 significant digits, which a float round-trips
    exactly, so the printed number equals the stored decimal.
    """
    return None if value is None else float(value)
