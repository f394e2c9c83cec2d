"""Why a budget stopped a call, in words a user can act on.

    BudgetError              base: the call was not made, nothing was paid
    ├── BudgetExceededError  the call could cost more than a budget has left
    └── BudgetUnpricedError  a budget applies but the model has no known price

Neither is retried and neither falls back to another model: a retry or a
fallback would be the same spend against the same budget. Messages name the
budget, its limit and its spend (ids and numbers only, never content), since
Prefect stores them in state messages and events. Both pickle, because
Prefect moves exceptions between processes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["BudgetError", "BudgetExceededError", "BudgetUnpricedError"]


class BudgetError(Exception):
    """A budget refused a provider call before it was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[BudgetError], message: str, state: dict[str, Any]) -> BudgetError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class BudgetExceededError(BudgetError):
    """The call's worst-case cost does not fit in what a budget has left."""

    def __init__(
        self,
        budget: str,
        *,
        limit_usd: Decimal,
        spent_usd: Decimal,
        reserved_usd: Decimal,
        needed_usd: Decimal,
        hint: str,
        budget_id: str | None = None,
    ) -> None:
        self.budget = budget
        self.budget_id = budget_id
        self.limit_usd = limit_usd
        self.spent_usd = spent_usd
        self.reserved_usd = reserved_usd
        self.needed_usd = needed_usd
        in_flight = f" (+${_usd(reserved_usd)} held by calls in flight)" if reserved_usd else ""
        super().__init__(
            f"{budget} would be exceeded: limit ${_usd(limit_usd)}, spent "
            f"${_usd(spent_usd)}{in_flight}, this call could cost up to ${_usd(needed_usd)}; "
            f"{hint}"
        )


class BudgetUnpricedError(BudgetError):
    """A budget applies to the call but its model has no price, so it cannot be enforced."""

    def __init__(self, budget: str, *, provider: str, model: str) -> None:
        self.budget = budget
        self.provider = provider
        self.model = model
        super().__init__(
            f"{budget} applies, but {provider}:{model} has no known price, so the call "
            f"could not be checked against it: add '{provider}:{model}' to your price file "
            "(see docs/cost.md)"
        )


def _usd(value: Decimal) -> str:
    """Dollars with at least 2 decimals and no float noise: 10 -> 10.00, 0.0213 -> 0.0213."""
    text = format(value.normalize(), "f")
    whole, _, cents = text.partition(".")
    return f"{whole}.{cents.ljust(2, '0')}"
