"""Budgets as a call hook: reserve the worst case before a call, settle after.

`before_call` finds every budget the call falls under (the recipe's
`budget_usd` for this run, the org's and the user's period budgets), prices
the worst case of the request (`flows.budget.estimate`) and reserves it in
all of them at once; if one has no room the call is not made and the step
fails with `BudgetExceededError`, which is neither retried nor handed to a
fallback. `after_call` settles the reservation to what the provider billed,
or releases it when nothing was billed, then announces thresholds crossed.

It is wired before the ledger (`flows.engine.wiring`), so it refuses before
anything else runs and settles after the ledger has written the call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from flows.budget.book import DEFAULT_TTL, BudgetBook, Hold
from flows.budget.errors import BudgetError, BudgetExceededError, BudgetUnpricedError
from flows.budget.estimate import prompt_token_bound, worst_case
from flows.budget.events import emit_refused, emit_threshold
from flows.budget.money import usd
from flows.ledger.recorder import price_call
from flows.ledger.run_report import run_logger
from providers.pricing import PriceFileError
from vault.db import get_engine

if TYPE_CHECKING:
    from datetime import timedelta

    from sqlalchemy import Engine

    from flows.engine.hooks import CallInfo, CallOutcome, RunInfo
    from providers.types import Usage

__all__ = ["BudgetHook"]


class BudgetHook:
    """Holds each call's worst case against its budgets until the call's real cost is known.

    `engine` defaults to the configured database (read at the first call);
    `clock` picks the budget period and stamps reservations.
    """

    def __init__(
        self,
        *,
        engine: Callable[[], Engine] = get_engine,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ttl: timedelta = DEFAULT_TTL,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._ttl = ttl
        self._holds: dict[int, Hold] = {}
        self._book_of_run: BudgetBook | None = None

    async def before_call(self, call: CallInfo) -> None:
        """Reserve the call's worst-case cost in every budget it falls under."""
        book = self._book()
        specs = book.windows_for(call.context)
        if not specs:
            return
        provider, model = call.endpoint.provider, call.model.model
        try:
            bound = worst_case(
                provider,
                model,
                prompt_token_bound(call.request),
                call.request.max_tokens,
                at=self._clock(),
            )
        except PriceFileError as error:
            raise BudgetError(f"{specs[0].label} applies, but {error}") from None
        if bound.cost_usd is None:
            raise BudgetUnpricedError(specs[0].label, provider=provider, model=model)
        try:
            self._holds[id(call)] = book.reserve(specs, bound.cost_usd)
        except BudgetExceededError as refusal:
            ctx = call.context
            emit_refused(refusal, org=ctx.org, user=ctx.user, run_id=ctx.run_id)
            raise

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Settle to the billed cost, or release when the call billed nothing."""
        hold = self._holds.pop(id(call), None)
        if hold is None:
            return
        book = self._book()
        usage = outcome.usage
        if usage is None:
            book.release(hold)
            return
        for crossing in book.settle(hold, self._actual_cost(call, outcome, usage, hold)):
            emit_threshold(crossing, run_id=call.context.run_id)

    async def after_run(self, run: RunInfo) -> None:
        """Every call settled as it returned: nothing is left at the end of a run."""

    def _book(self) -> BudgetBook:
        # One book per run: it remembers the ids of the windows it opened.
        if self._book_of_run is None:
            self._book_of_run = BudgetBook(self._engine(), clock=self._clock, ttl=self._ttl)
        return self._book_of_run

    def _actual_cost(
        self, call: CallInfo, outcome: CallOutcome, usage: Usage, hold: Hold
    ) -> Decimal:
        """What the provider billed, priced like the ledger prices it.

        If that price cannot be known any more (the price file broke during the
        call), the reservation is kept as the charge: a budget must not lose
        track of money that was spent.
        """
        try:
            cost = price_call(
                call.endpoint.provider,
                call.model.model,
                usage,
                model_reported=outcome.response.model if outcome.response else None,
                at=self._clock(),
            )
        except PriceFileError:
            cost = None
        if cost is None:
            run_logger().warning(
                "step %r: the call's price is unknown now; its budgets are charged the "
                "reserved worst case",
                call.context.step,
            )
            return usd(hold.amount_pico)
        return cost.total_usd
