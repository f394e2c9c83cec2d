"""The budgets users set (`byok budgets set|list|remove`), and where each one stands.

A budget is a limit in US dollars for an org, or for one user of an org, per
calendar period (UTC day, week or month). Setting it again changes its limit
and thresholds at once, including for the period in progress.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from flows.budget.book import BudgetBook, crossed_threshold
from flows.budget.models import DEFAULT_THRESHOLDS, Budget, BudgetWindow
from flows.budget.money import limit_pico, usd
from flows.budget.periods import Period, window
from flows.ledger.queries import money

__all__ = [
    "BudgetStatus",
    "budget_orgs",
    "list_budgets",
    "parse_thresholds",
    "remove_budget",
    "set_budget",
]


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget and its current period: what was spent and what calls in flight hold."""

    budget: Budget
    starts_at: datetime
    ends_at: datetime
    spent_usd: Decimal
    reserved_usd: Decimal

    @property
    def remaining_usd(self) -> Decimal:
        """What calls can still spend this period (never negative)."""
        return max(self.budget.limit_usd - self.spent_usd - self.reserved_usd, Decimal(0))

    def to_json(self) -> dict[str, Any]:
        """The stable `byok budgets list --json` shape."""
        return {
            "id": self.budget.id,
            "org": self.budget.org,
            "user": self.budget.user or None,
            "period": self.budget.period,
            "limit_usd": money(self.budget.limit_usd),
            "thresholds": [int(p) for p in self.budget.thresholds.split(",")],
            "period_start": self.starts_at.isoformat(),
            "period_end": self.ends_at.isoformat(),
            "spent_usd": money(self.spent_usd),
            "reserved_usd": money(self.reserved_usd),
            "remaining_usd": money(self.remaining_usd),
        }


def parse_thresholds(values: Iterable[int]) -> str:
    """Threshold percentages as stored: sorted, unique, each between 1 and 1000."""
    pcts = sorted(set(values))
    if not pcts or any(not 1 <= p <= 1000 for p in pcts):
        raise ValueError("thresholds are percentages of the limit between 1 and 1000, e.g. 80")
    return ",".join(str(p) for p in pcts)


def set_budget(
    engine: Engine,
    *,
    org: str,
    period: Period,
    limit_usd: Decimal,
    user: str = "",
    thresholds: str = DEFAULT_THRESHOLDS,
    now: datetime | None = None,
) -> Budget:
    """Create or change the budget of `org` (or of `user` in it) for `period`."""
    if limit_usd <= 0:
        raise ValueError("a budget's limit must be more than 0 USD")
    stamp = now or datetime.now(UTC)
    with Session(engine) as session:
        budget = session.exec(
            select(Budget).where(
                Budget.org == org, Budget.user == user, Budget.period == period.value
            )
        ).first()
        if budget is None:
            budget = Budget(
                id=f"bud_{secrets.token_hex(8)}",
                org=org,
                user=user,
                period=period.value,
                limit_usd=limit_usd,
                thresholds=thresholds,
                created_at=stamp,
                updated_at=stamp,
            )
        else:
            budget.limit_usd, budget.thresholds, budget.updated_at = limit_usd, thresholds, stamp
        session.add(budget)
        # Windows already open (this period's) take the new limit at once; the
        # thresholds already passed under it are not announced again.
        for counter in session.exec(
            select(BudgetWindow).where(BudgetWindow.budget_id == budget.id)
        ).all():
            counter.limit_pico, counter.thresholds = limit_pico(limit_usd), thresholds
            counter.alerted_pct = crossed_threshold(
                counter.spent_pico, counter.limit_pico, thresholds
            )
            session.add(counter)
        session.commit()
        session.refresh(budget)
        return budget


def remove_budget(engine: Engine, *, org: str, period: Period, user: str = "") -> bool:
    """Delete a budget; False when there was none. Its counters stay, as history."""
    with Session(engine) as session:
        budget = session.exec(
            select(Budget).where(
                Budget.org == org, Budget.user == user, Budget.period == period.value
            )
        ).first()
        if budget is None:
            return False
        session.delete(budget)
        session.commit()
        return True


def budget_orgs(engine: Engine) -> list[str]:
    """Every org that has a budget, sorted."""
    with Session(engine) as session:
        return sorted(session.exec(select(Budget.org).distinct()))


def list_budgets(
    engine: Engine,
    *,
    org: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[BudgetStatus]:
    """Every budget (of `org`), with its spend in the current period."""
    now = clock()
    book = BudgetBook(engine, clock=lambda: now)
    with Session(engine) as session:
        stmt = select(Budget).order_by(col(Budget.org), col(Budget.user), col(Budget.period))
        if org is not None:
            stmt = stmt.where(Budget.org == org)
        budgets = session.exec(stmt).all()
    statuses = []
    for budget in budgets:
        starts, ends = window(Period(budget.period), now)
        spec = book.spec_for(budget)
        counter = book.find(spec.key)
        if counter is None:
            spent, reserved = book.ledger_spend(spec), 0
        else:
            spent, reserved = counter.spent_pico, counter.reserved_pico
        statuses.append(BudgetStatus(budget, starts, ends, usd(spent), usd(reserved)))
    return statuses
