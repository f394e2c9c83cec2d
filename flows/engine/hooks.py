"""Hooks around every provider call: the one seam reliability and cost plug into.

A step's task renders its prompt, resolves its key, then makes the call
through `call_with_hooks`. Each hook sees the call before it is made (and may
refuse it by raising: an open circuit breaker, an exhausted budget) and after
it returned or failed (to record usage, settle a reservation, count a failure
for the breaker). Hooks that ran `before_call` get `after_call` in reverse
order, whatever happened, like nested context managers.

Hooks see the request, which holds the prompt, only in memory: a hook must
never store, log or raise with content (invariant 1).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from flows.ledger import CallContext
from flows.recipe import ModelRef
from providers.endpoint import Endpoint
from providers.errors import ProviderError
from providers.types import ModelRequest, ModelResponse, Usage

__all__ = ["CallHook", "CallInfo", "CallOutcome", "RunInfo", "call_with_hooks", "finish_run"]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """One provider call about to be made: who it is for, where it goes, what it asks."""

    context: CallContext
    model: ModelRef
    endpoint: Endpoint
    request: ModelRequest


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """How a call ended: a response, or a provider error (either may carry usage)."""

    latency_ms: int
    response: ModelResponse | None = None
    error: BaseException | None = None
    sent: bool = True  # False when a hook refused the call before it was sent

    @property
    def usage(self) -> Usage | None:
        """Tokens the provider reported for this call, if any."""
        if self.response is not None:
            return self.response.usage
        if isinstance(self.error, ProviderError):
            return self.error.usage
        return None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A finished run, as hooks see it: ids and which model answered each step."""

    org: str
    user: str
    recipe: str
    run_id: str
    answered_by: Mapping[str, str]
    error: BaseException | None


class CallHook(Protocol):
    """Something that must happen around every provider call, and once per run."""

    async def before_call(self, call: CallInfo) -> None:
        """Runs before the request is sent; raise to prevent the call."""
        ...

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Runs after the call returned or failed, if `before_call` ran."""
        ...

    async def after_run(self, run: RunInfo) -> None:
        """Runs once when the flow run's steps are done, completed or failed."""
        ...


async def call_with_hooks(
    hooks: Sequence[CallHook],
    call: CallInfo,
    send: Callable[[], Awaitable[ModelResponse]],
) -> ModelResponse:
    """Run `send` inside `hooks`; the provider's error, if any, propagates unchanged."""
    entered: list[CallHook] = []
    try:
        for hook in hooks:
            await hook.before_call(call)
            entered.append(hook)
    except BaseException as refusal:
        # A hook refused the call: nothing was sent, unwind the hooks that ran.
        await _after(entered, call, CallOutcome(0, error=refusal, sent=False))
        raise
    started = time.perf_counter()
    try:
        response = await send()
    except BaseException as error:
        await _after(entered, call, CallOutcome(_elapsed_ms(started), error=error))
        raise
    await _after(entered, call, CallOutcome(_elapsed_ms(started), response=response))
    return response


async def _after(hooks: list[CallHook], call: CallInfo, outcome: CallOutcome) -> None:
    for hook in reversed(hooks):
        await hook.after_call(call, outcome)


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def finish_run(hooks: Sequence[CallHook], run: RunInfo) -> None:
    """Tell every hook the run is over, all at once; the first error is raised after all ran.

    Run ends are independent (the ledger publishes the run's cost to Prefect,
    the breaker writes its pending counts), so they wait for their databases
    and the Prefect API together rather than one after the other; a hook that
    fails does not keep the others from finishing.
    """
    results = await asyncio.gather(
        *(hook.after_run(run) for hook in reversed(hooks)), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
