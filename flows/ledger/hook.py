"""The ledger as a call hook: every call that returned usage becomes one row.

That includes failed calls whose error carried usage (a structured reply that
did not validate is still billed) and every retry and fallback attempt, since
each is its own call with its own attempt number. Each row is committed
before its call's hooks return, in one transaction with the rows of calls
that finished alongside it (`flows.ledger.group_commit`). When the run ends,
its cost is published to Prefect (a table artifact and a log line, numbers
only), from the rows this hook committed: they are the run's rows (a run's
steps all run in its flow run's process), so reading them back would cost a
query and say nothing new.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from flows.ledger.group_commit import write_row
from flows.ledger.recorder import LedgerRow, new_row, outcome_of, price_call
from flows.ledger.run_report import publish_run_cost, run_logger
from providers.pricing import Cost, PriceFileError
from vault.db import get_engine

if TYPE_CHECKING:
    from datetime import datetime

    from flows.engine.hooks import CallInfo, CallOutcome, RunInfo
    from providers.types import Usage

__all__ = ["LedgerHook"]


class LedgerHook:
    """Writes a priced ledger row after each provider call that reported usage.

    One instance serves one run (see `flows.engine.wiring`), so the run's
    deployment is looked up once and remembered.
    """

    def __init__(self) -> None:
        self._deployment: tuple[str | None, str | None] | None = None
        self._committed: list[LedgerRow] = []  # this run's rows, in commit order

    async def before_call(self, call: CallInfo) -> None:
        """Nothing to check before a call."""

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Record the call's tokens and cost; calls with no usage cost nothing."""
        usage = outcome.usage
        if usage is None:
            return
        from datetime import UTC, datetime

        now = datetime.now(UTC)
        deployment_id, deployment = await self._current_deployment()
        model_reported = outcome.response.model if outcome.response else None
        row = new_row(
            call.context,
            provider=call.endpoint.provider,
            model=call.model.model,
            usage=usage,
            key_id=call.endpoint.key_id,
            key_version=call.endpoint.key_version,
            latency_ms=outcome.latency_ms,
            outcome=outcome_of(outcome.error),
            model_reported=model_reported,
            deployment_id=deployment_id,
            deployment=deployment,
            cost=_price_or_warn(call, usage, model_reported, now),
            at=now,
        )
        # Committed (with the rows of calls finishing alongside) before this returns.
        await write_row(get_engine(), row)
        self._committed.append(row)

    async def after_run(self, run: RunInfo) -> None:
        """Publish the run's cost per step to Prefect: an artifact and a log line."""
        await publish_run_cost(run.recipe, run.run_id, list(self._committed))

    async def _current_deployment(self) -> tuple[str | None, str | None]:
        """(id, name) of the Prefect deployment this run belongs to, or (None, None)."""
        if self._deployment is None:
            self._deployment = await asyncio.to_thread(_read_deployment)
        return self._deployment


def _read_deployment() -> tuple[str | None, str | None]:
    # prefect.runtime resolves the name through the API: run it off the event loop,
    # and not at all when the run in hand says it has no deployment.
    from prefect.context import FlowRunContext
    from prefect.runtime import deployment

    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if run is not None and run.deployment_id is None:
        return None, None
    deployment_id = deployment.id
    if deployment_id is None:
        return None, None
    return str(deployment_id), deployment.name


def _price_or_warn(
    call: CallInfo, usage: Usage, model_reported: str | None, at: datetime
) -> Cost | None:
    """The call's cost; a broken price file leaves the row unpriced (fixable later)."""
    try:
        return price_call(
            call.endpoint.provider, call.model.model, usage, model_reported=model_reported, at=at
        )
    except PriceFileError as error:
        run_logger().warning(
            "step %r: call recorded unpriced because %s; fix it, then run `byok usage reprice`",
            call.context.step,
            error,
        )
        return None
