"""The breaker as a call hook: refuse calls to a failing provider, count every outcome.

`before_call` asks the shared breaker for (provider, model, key id) whether
the call may go out. Refused, it raises `CircuitOpenError` at once: no key
is sent anywhere, no connection is opened, and the engine moves on to the
step's fallback model. `after_call` classifies the outcome and folds it in:

    counts as a failure   retryable provider errors: 429, 529/503 overload,
                          other 5xx, timeouts, dropped connections
    counts as answered    a reply, or an error reply that shows the provider
                          is up (400, 401, quota, unusable output)
    counts as nothing     a call refused by a later hook, cancelled, or
                          failed before a reply for a reason of our own

The database work runs in a thread so a busy database never stalls the
other steps of the run. An answer that changes nothing but the window's call
count is counted in memory and written in batches (`providers.breaker.tally`):
on the success path a call costs the admission's read and no write. Wired first in
`flows.engine.wiring`, so a refused call costs one indexed read and reaches no
other hook.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

from providers.breaker import tally
from providers.breaker.errors import CircuitOpenError
from providers.breaker.events import Emit, emit_transition
from providers.breaker.policy import BreakerPolicy
from providers.breaker.settings import policy_from_env
from providers.breaker.state import (
    Admission,
    Breaker,
    BreakerKey,
    CallResult,
    Circuit,
    admit,
    record,
)
from providers.breaker.store import BreakerStore, Change
from providers.errors import ProviderError
from vault.db import get_engine

if TYPE_CHECKING:
    from flows.engine.hooks import CallInfo, CallOutcome, RunInfo

__all__ = ["BreakerHook", "classify_outcome", "failure_label"]

_fallback_logger = logging.getLogger("byok.breaker")


class BreakerHook:
    """Shares one circuit breaker per provider, model and key through the database.

    With no arguments it uses the worker's `BYOK_BREAKER_*` settings, the
    BYOK database and the wall clock (shared by every machine); tests inject
    a policy, a store, a clock and an event sink.
    """

    def __init__(
        self,
        *,
        policy: BreakerPolicy | None = None,
        store: BreakerStore | None = None,
        clock: Callable[[], float] = time.time,
        emit: Emit = emit_transition,
        enabled: bool | None = None,
    ) -> None:
        configured = policy if policy is not None else policy_from_env()
        self._enabled = (configured is not None) if enabled is None else enabled
        self._policy = configured or BreakerPolicy()
        self._store = store
        self._clock = clock
        self._emit = emit
        # Per call in flight: its breaker, its admission, and the breaker as admission read it.
        self._admitted: dict[int, tuple[BreakerKey, Admission, Breaker]] = {}

    async def before_call(self, call: CallInfo) -> None:
        """Refuse the call with `CircuitOpenError` if its breaker is open."""
        if not self._enabled:
            return
        key = BreakerKey(call.endpoint.provider, call.model.model, call.endpoint.key_id)
        now = self._clock()
        change = await asyncio.to_thread(
            self._store_().change, key, lambda breaker: admit(breaker, now, self._policy)
        )
        self._announce(change)
        if not change.value.allowed:
            raise _refusal(key, change.after, now)
        self._admitted[id(call)] = (key, change.value, change.after)

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Count the outcome; a failure may open the breaker, a probe's success closes it."""
        admitted = self._admitted.pop(id(call), None)
        if admitted is None:
            return
        key, admission, seen = admitted
        result = classify_outcome(outcome)
        if result is CallResult.UNKNOWN and not admission.probe:
            return  # nothing learned, and no probe slot to give back
        now = self._clock()
        store = self._store_()
        quiet = result is CallResult.ANSWERED and not admission.probe
        if quiet and tally.quiet(seen, admission.generation, now, self._policy.window_s):
            # Only the window's count changes: counted in memory, written when due.
            due = tally.count(store.engine, key, seen, now)
            if due is not None:
                await asyncio.to_thread(store.change, key, partial(_counted, due))
            return
        label = failure_label(outcome.error) if result is CallResult.FAILURE else None
        pending = tally.take(store.engine, key)

        def fold(breaker: Breaker) -> tuple[Breaker, None]:
            counted = tally.apply(breaker, pending)
            return record(counted, admission, result, now, self._policy, failure=label), None

        self._announce(await asyncio.to_thread(store.change, key, fold))

    async def after_run(self, run: RunInfo) -> None:  # noqa: ARG002
        """Write the answers this process counted but has not written yet."""
        if self._enabled and self._store is not None:
            await asyncio.to_thread(_flush, self._store)

    def _store_(self) -> BreakerStore:
        if self._store is None:
            self._store = BreakerStore(get_engine())
        return self._store

    def _announce(self, change: Change[Any]) -> None:
        if not change.transitioned:
            return
        self._emit(change.key, change.before, change.after)
        after = change.after
        if after.circuit is Circuit.OPEN:
            _logger().warning(
                "circuit breaker for %s opened (%s; last failure: %s): calls are refused "
                "for %g s, fallback models answer instead",
                change.key,
                after.reason,
                after.last_failure or "unknown",
                self._policy.cool_down_s,
            )
        else:
            _logger().info(
                "circuit breaker for %s is now %s (%s)",
                change.key,
                after.circuit.value.replace("_", "-"),
                after.reason,
            )


def _flush(store: BreakerStore) -> None:
    for key, pending in tally.take_all(store.engine):
        store.change(key, partial(_counted, pending))


def _counted(pending: tally.Tally, breaker: Breaker) -> tuple[Breaker, None]:
    return tally.apply(breaker, pending), None


def classify_outcome(outcome: CallOutcome) -> CallResult:
    """What one call's outcome says about the provider's health (see the module doc)."""
    if not outcome.sent:
        return CallResult.UNKNOWN
    error = outcome.error
    if error is None:
        return CallResult.ANSWERED
    if not isinstance(error, ProviderError):
        return CallResult.UNKNOWN
    if error.retryable:
        return CallResult.FAILURE
    return CallResult.ANSWERED if error.status is not None else CallResult.UNKNOWN


def failure_label(error: BaseException | None) -> str | None:
    """`OverloadedError HTTP 503`: the error's type and status, never its message."""
    if error is None:
        return None
    status = getattr(error, "status", None)
    label = type(error).__name__ + (f" HTTP {status}" if isinstance(status, int) else "")
    return label[:100]


def _refusal(key: BreakerKey, breaker: Breaker, now: float) -> CircuitOpenError:
    wait = max((breaker.retry_at or now) - now, 0.0)
    if breaker.circuit is Circuit.HALF_OPEN:
        state = "is half-open and its probe call is still out"
    else:
        last = f", last failure {breaker.last_failure}" if breaker.last_failure else ""
        state = f"is open ({breaker.reason}{last}); a probe call goes out in {math.ceil(wait)} s"
    return CircuitOpenError(
        f"circuit breaker for {key} {state}: the call was not sent. Give the step a "
        "fallback model, or see `byok breakers`",
        provider=key.provider,
        error_type="circuit_open",
        retry_after_s=wait,
    )


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return _fallback_logger
