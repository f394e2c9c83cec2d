"""The ledger as a call hook: every call that returned usage becomes one row.

That includes failed calls whose error carried usage (a structured reply that
did not validate is still billed) and every retry and fallback attempt, since
each is its own call with its own attempt number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.ledger.recorder import build_record, record
from vault.db import get_engine

if TYPE_CHECKING:
    from flows.engine.hooks import CallInfo, CallOutcome, RunInfo

__all__ = ["LedgerHook"]


class LedgerHook:
    """Writes a priced ledger row after each provider call that reported usage."""

    async def before_call(self, call: CallInfo) -> None:
        """Nothing to check before a call."""

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Record the call's tokens and cost; calls with no usage cost nothing."""
        usage = outcome.usage
        if usage is None:
            return
        error = outcome.error
        row = build_record(
            call.context,
            provider=call.endpoint.provider,
            model=call.model.model,
            usage=usage,
            key_id=call.endpoint.key_id,
            key_version=call.endpoint.key_version,
            latency_ms=outcome.latency_ms,
            outcome="ok" if error is None else type(error).__name__,
            model_reported=outcome.response.model if outcome.response else None,
        )
        record(get_engine(), row)

    async def after_run(self, run: RunInfo) -> None:
        """Rows are written per call; nothing is left to do at the end of a run."""
