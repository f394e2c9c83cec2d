"""A process that spends against one budget as fast as it can (for the concurrency test).

Run in several processes at once: each reserves random worst cases, checks
the budget's invariant right after each reservation, and settles to a random
actual cost no larger than what it reserved, like a real call.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from sqlalchemy import create_engine

from flows.budget.book import BudgetBook
from flows.budget.errors import BudgetExceededError
from flows.budget.money import charge_pico
from flows.ledger import CallContext

__all__ = ["spend"]


def spend(url: str, seed: int, calls: int, start: Any, results: Any) -> None:
    """Make `calls` reservations after `start` (a barrier); put (charges, refusals, breaches)."""
    book = BudgetBook(create_engine(url))  # the test migrated the database already
    rng = random.Random(seed)
    ctx = CallContext(org="acme", user=f"user{seed}", recipe="r", run_id=f"run{seed}", step="s",
                      attempt=1)  # fmt: skip
    charges: list[int] = []
    refusals = breaches = 0
    start.wait()
    for _ in range(calls):
        needed = Decimal(rng.randint(1, 60)) / 1000
        try:
            hold = book.reserve(book.windows_for(ctx), needed)
        except BudgetExceededError:
            refusals += 1
            continue
        counter = book.window(hold.windows[0])
        if counter.spent_pico + counter.reserved_pico > counter.limit_pico:
            breaches += 1
        actual = needed * rng.randint(0, 100) / 100
        book.settle(hold, actual)
        charges.append(charge_pico(actual))
    results.put((charges, refusals, breaches))
