"""Budgets: spending limits that hold under concurrency, and cost estimates.

errors.py       BudgetError, BudgetExceededError, BudgetUnpricedError
models.py       budgets, budget_windows (counters), budget_reservations
money.py        picodollar arithmetic the database can do atomically
periods.py      UTC day / week / month windows
estimate.py     the worst-case cost of a request, before it is sent
book.py         reserve / settle / release against every window that applies
definitions.py  set, list and remove budgets
events.py       Prefect events: threshold crossed, call refused
hook.py         BudgetHook: the book around every provider call
dry_run.py      the worst-case cost of a whole recipe, with no provider call
"""

from typing import TYPE_CHECKING

from flows.budget.errors import BudgetError, BudgetExceededError, BudgetUnpricedError
from flows.budget.periods import Period
from providers.lazy import lazy_attributes

if TYPE_CHECKING:
    from flows.budget.hook import BudgetHook

__all__ = ["BudgetError", "BudgetExceededError", "BudgetHook", "BudgetUnpricedError", "Period"]


# The hook (Prefect, SQLAlchemy) is imported on first use, so the CLI's
# `byok budgets` and `--help` do not pay for it.
__getattr__ = lazy_attributes(__name__, {"BudgetHook": "flows.budget.hook"})
