"""Budget tables: what users set, and the counters that enforce it.

    budgets              one row per budget a user set: an org (user "") or one
                         user of an org, a period, a limit in exact dollars
    budget_windows       one counter per budget per period (or per run, for a
                         recipe's `budget_usd`): limit, spent and reserved, in
                         picodollars so the database adds them atomically
    budget_reservations  what each call in flight holds, until it settles or
                         expires (a process that died mid-call)

The tables live on the ledger's Alembic branch (`flows/ledger/migrations`),
since they account for the same spend. Numbers and ids only, never content.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

from flows.budget.thresholds import DEFAULT_THRESHOLDS
from flows.ledger.models import DecimalText

__all__ = ["DEFAULT_THRESHOLDS", "Budget", "BudgetReservation", "BudgetWindow"]


def _now() -> datetime:
    return datetime.now(UTC)


class Budget(SQLModel, table=True):
    """A spending limit for an org (`user` is "") or for one user of it, per period.

    `thresholds` are comma-separated percentages of the limit (e.g. "50,80,100")
    at which a `byok.budget.threshold` event is emitted once per period.
    """

    __tablename__ = "budgets"
    __table_args__ = (UniqueConstraint("org", "user", "period"),)

    id: str = Field(primary_key=True, max_length=40)
    org: str = Field(max_length=100, index=True)
    user: str = Field(default="", max_length=200)
    period: str = Field(max_length=16)
    limit_usd: Decimal = Field(sa_type=DecimalText)
    thresholds: str = Field(default=DEFAULT_THRESHOLDS, max_length=100)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class BudgetWindow(SQLModel, table=True):
    """The counter of one budget in one period, or of one run's `budget_usd`.

    `key` is `budget:<id>:<period start>` or `run:<flow run id>`; `label` is how
    messages and events name it. `alerted_pct` is the highest threshold already
    announced, so each crossing is emitted once however many processes settle.
    """

    __tablename__ = "budget_windows"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300, unique=True)
    budget_id: str | None = Field(default=None, max_length=40, index=True)
    label: str = Field(max_length=400)
    org: str = Field(max_length=100)
    user: str = Field(default="", max_length=200)
    starts_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ends_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    limit_pico: int = Field(sa_type=BigInteger)
    spent_pico: int = Field(default=0, sa_type=BigInteger)
    reserved_pico: int = Field(default=0, sa_type=BigInteger)
    thresholds: str = Field(default=DEFAULT_THRESHOLDS, max_length=100)
    alerted_pct: int = 0
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))


class BudgetReservation(SQLModel, table=True):
    """The worst-case cost one call in flight holds against one window."""

    __tablename__ = "budget_reservations"

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="budget_windows.id", index=True)
    amount_pico: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
