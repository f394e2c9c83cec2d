"""The call hooks every run gets, in order: the one place they are wired together.

`before_call` runs top to bottom, `after_call` bottom to top, so a hook that
can refuse a call cheaply comes first, and the ledger, which must see every
call that was actually made, comes last.
"""

from __future__ import annotations

from flows.engine.hooks import CallHook
from flows.ledger.hook import LedgerHook

__all__ = ["default_hooks"]


def default_hooks() -> list[CallHook]:
    """Fresh hook instances for one run."""
    return [LedgerHook()]
