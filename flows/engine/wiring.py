"""The call hooks every run gets, in order: the one place they are wired together.

`before_call` runs top to bottom, `after_call` bottom to top, so a hook that
can refuse a call cheaply comes first, and the ledger, which must see every
call that was actually made, comes last.
"""

from __future__ import annotations

from flows.budget.hook import BudgetHook
from flows.engine.hooks import CallHook
from flows.engine.limits import KeyLimitsHook
from flows.ledger.hook import LedgerHook
from providers.breaker.hook import BreakerHook

__all__ = ["default_hooks"]


def default_hooks() -> list[CallHook]:
    """Fresh hook instances for one run."""
    # The breaker refuses calls to a failing provider with one read, before a
    # call waits for a per-key Prefect concurrency slot.
    # The budget reserves a call's worst case just before it is sent (after any
    # wait for a slot) and settles it after the ledger has written the call.
    return [BreakerHook(), KeyLimitsHook(), BudgetHook(), LedgerHook()]
