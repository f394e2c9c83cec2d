"""Recomputing ledger costs after a price fix (`byok usage reprice`).

Tokens are facts; prices are opinions that get corrected: a missing entry in
the price file, a negotiated discount agreed after the fact, a newer
genai-prices. Repricing recomputes every selected row from its own tokens, at
the time the call was made, with today's price sources, and marks the rows it
changed with `repriced_at`. It runs in one transaction: all rows or none.
Budget counters are not rewritten: they record what was charged when the
call was made.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Engine, update
from sqlmodel import col

from flows.ledger.models import UsageRecord
from flows.ledger.queries import select_rows, total_cost
from flows.ledger.recorder import CostColumns, cost_columns, price_call
from providers.types import Usage

__all__ = ["RepriceResult", "reprice"]


@dataclass(frozen=True, slots=True)
class RepriceResult:
    """What a reprice looked at and what it changed; totals before and after."""

    rows: int
    changed: int
    cost_before_usd: Decimal | None
    cost_after_usd: Decimal | None
    unpriced_before: int
    unpriced_after: int


def reprice(
    engine: Engine,
    *,
    org: str | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    orgs: Collection[str] | None = None,
) -> RepriceResult:
    """Recompute the costs of `org`'s (or `orgs`') rows since `since`; write them unless `dry_run`.

    Raises `PriceFileError` when the price file is broken, before writing anything.
    """
    rows = select_rows(engine, org=org, since=since, orgs=orgs)
    before = total_cost(rows)
    unpriced_before = sum(1 for row in rows if row.cost_usd is None)
    changes: dict[int, CostColumns] = {}
    new_totals: list[Decimal] = []
    for row in rows:
        made = row.created_at
        made = made.replace(tzinfo=UTC) if made.tzinfo is None else made
        cost = price_call(
            row.provider, row.model, _usage(row), model_reported=row.model_reported, at=made
        )
        columns = cost_columns(cost)
        if cost is not None:
            new_totals.append(cost.total_usd)
        changed = any(getattr(row, name) != value for name, value in columns.items())
        if changed and row.id is not None:  # rows read back always have an id
            changes[row.id] = columns
    if changes and not dry_run:
        stamp = now or datetime.now(UTC)
        with engine.begin() as conn:
            for row_id, changed_columns in changes.items():
                conn.execute(
                    update(UsageRecord)
                    .where(col(UsageRecord.id) == row_id)
                    .values(**changed_columns, repriced_at=stamp)
                )
    return RepriceResult(
        rows=len(rows),
        changed=len(changes),
        cost_before_usd=before,
        cost_after_usd=sum(new_totals, Decimal(0)) if new_totals else None,
        unpriced_before=unpriced_before,
        unpriced_after=len(rows) - len(new_totals),
    )


def _usage(row: UsageRecord) -> Usage:
    return Usage(
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cache_write_1h_tokens=row.cache_write_1h_tokens,
        output_tokens=row.output_tokens,
        reasoning_tokens=row.reasoning_tokens,
    )
