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
on the success path a call costs no write. Wired first in
`flows.engine.wiring`, so a refused call costs one indexed read and reaches no
other hook.

Each hook (one per run) remembers every breaker as it last read or wrote it,
and when. A call to a breaker remembered closed less than `refresh_s` ago
(`BYOK_BREAKER_REFRESH_S`, default 1 s) is admitted by the same pure
`admit` on that state, with no database work and no thread hop: a chain of
steps on a healthy provider reads the row about once a second instead of
once a call. Only admissions that change nothing are made this way; an open
or half-open breaker, and any probe, is read (and written) as before. Every
change this hook writes (a failure, a probe's result, a flush of counted
answers) replaces what it remembers, and parallel steps that find nothing
remembered share one read (single-flight) and each judge their call on it.

    what a run sees                        when
    its own failures, and what they        at once: the next call is judged
    did (opened the breaker)               on the state the failure wrote
    another worker opening the breaker     within `refresh_s`: until then the
                                           run may send calls on its closed
                                           view (each one's failure, written,
                                           shows it the open breaker at once)
    another worker's failures that have    the same, and they never decide this
    not opened it                          run's admissions anyway

`refresh_s=0` reads the row before every call, as before this memory existed.
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
from providers.breaker.settings import policy_from_env, refresh_from_env
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
    a policy, a store, a clock, an event sink and `refresh_s` (how long a
    closed breaker this hook read or wrote admits calls without a read; 0
    reads before every call).
    """

    def __init__(
        self,
        *,
        policy: BreakerPolicy | None = None,
        store: BreakerStore | None = None,
        clock: Callable[[], float] = time.time,
        emit: Emit = emit_transition,
        enabled: bool | None = None,
        refresh_s: float | None = None,
    ) -> None:
        configured = policy if policy is not None else policy_from_env()
        self._enabled = (configured is not None) if enabled is None else enabled
        self._policy = configured or BreakerPolicy()
        if refresh_s is None:
            refresh_s = refresh_from_env() if self._enabled else 0.0
        if not (math.isfinite(refresh_s) and refresh_s >= 0):
            raise ValueError(f"refresh_s must be 0 or more, got {refresh_s}")
        self._refresh_s = refresh_s
        self._store = store
        self._clock = clock
        self._emit = emit
        # Per call in flight: its breaker, its admission, and the breaker as admission read it.
        self._admitted: dict[int, tuple[BreakerKey, Admission, Breaker]] = {}
        # Per breaker: its state as this hook last read or wrote it, and the clock then.
        self._seen: dict[BreakerKey, tuple[Breaker, float]] = {}
        # Per breaker: the read that callers finding nothing remembered are waiting for.
        self._reading: dict[BreakerKey, asyncio.Task[Change[Admission]]] = {}

    async def before_call(self, call: CallInfo) -> None:
        """Refuse the call with `CircuitOpenError` if its breaker is open."""
        if not self._enabled:
            return
        key = BreakerKey(call.endpoint.provider, call.model.model, call.endpoint.key_id)
        now = self._clock()
        remembered = self._recent(key, now)
        if remembered is not None and remembered.circuit is Circuit.CLOSED:
            admission = _admit_unchanged(remembered, now, self._policy)
            if admission is not None and admission.allowed:
                self._admitted[id(call)] = (key, admission, remembered)
                return
        change, mine = await self._read_shared(key, now)
        admission = change.value if mine else _admit_unchanged(change.after, now, self._policy)
        if admission is None:
            # The shared read left a decision that changes the breaker (a probe): our own.
            change = await self._read(key, now)
            admission = change.value
        if not admission.allowed:
            raise _refusal(key, change.after, now)
        self._admitted[id(call)] = (key, admission, change.after)

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
                flushed = await asyncio.to_thread(store.change, key, partial(_counted, due))
                self._remember(key, flushed.after, now)
            return
        label = failure_label(outcome.error) if result is CallResult.FAILURE else None
        pending = tally.take(store.engine, key)

        def fold(breaker: Breaker) -> tuple[Breaker, None]:
            counted = tally.apply(breaker, pending)
            return record(counted, admission, result, now, self._policy, failure=label), None

        change = await asyncio.to_thread(store.change, key, fold)
        self._remember(key, change.after, now)  # this run's next call is judged on it at once
        self._announce(change)

    async def after_run(self, run: RunInfo) -> None:  # noqa: ARG002
        """Write the answers this process counted but has not written yet."""
        if self._enabled and self._store is not None:
            now = self._clock()
            for change in await asyncio.to_thread(_flush, self._store):
                self._remember(change.key, change.after, now)

    def _recent(self, key: BreakerKey, now: float) -> Breaker | None:
        """The breaker as this hook last saw it, if that was less than `refresh_s` ago."""
        seen = self._seen.get(key)
        if seen is None or not 0.0 <= now - seen[1] < self._refresh_s:
            return None  # never seen, too old, or the clock went back
        return seen[0]

    def _remember(self, key: BreakerKey, breaker: Breaker, at: float) -> None:
        """Keep `breaker`, seen at `at`, unless a later generation is remembered and recent.

        A read that started before this hook wrote a transition (its own
        failure opening the breaker) can finish after it: the older
        generation it read must not hide the transition. Generations only go
        back when `byok breakers --reset` deletes the row; then the newer
        state wins once the remembered one is `refresh_s` old.
        """
        kept = self._seen.get(key)
        if (
            kept is not None
            and kept[0].generation > breaker.generation
            and 0.0 <= at - kept[1] < self._refresh_s
        ):
            return
        self._seen[key] = (breaker, at)

    async def _read_shared(self, key: BreakerKey, now: float) -> tuple[Change[Admission], bool]:
        """Admit through the store, sharing a read already under way for `key`.

        Returns the change and whether it holds this caller's own admission
        (True) or another caller's, read while this one waited (False). The
        read runs as its own task, so a caller cancelled while waiting does
        not cancel it for the others. With `refresh_s=0` every call reads.
        """
        if self._refresh_s <= 0:
            return await self._read(key, now), True
        loop = asyncio.get_running_loop()
        reading = self._reading.get(key)
        if reading is not None and not reading.done() and reading.get_loop() is loop:
            try:
                return await asyncio.shield(reading), False
            except Exception:  # the read's own caller gets its error; this call tries again
                return await self._read(key, now), True
        reading = loop.create_task(self._read(key, now))
        self._reading[key] = reading
        reading.add_done_callback(partial(self._landed, key))
        return await asyncio.shield(reading), True

    def _landed(self, key: BreakerKey, reading: asyncio.Task[Change[Admission]]) -> None:
        if self._reading.get(key) is reading:
            del self._reading[key]
        if not reading.cancelled():
            reading.exception()  # retrieved: a caller that was cancelled cannot re-raise it

    async def _read(self, key: BreakerKey, now: float) -> Change[Admission]:
        """Read the breaker and admit a call at `now`, writing if admission changes it."""
        change = await asyncio.to_thread(
            self._store_().change, key, lambda breaker: admit(breaker, now, self._policy)
        )
        self._remember(key, change.after, now)
        self._announce(change)
        return change

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


def _flush(store: BreakerStore) -> list[Change[None]]:
    return [store.change(k, partial(_counted, p)) for k, p in tally.take_all(store.engine)]


def _admit_unchanged(breaker: Breaker, now: float, policy: BreakerPolicy) -> Admission | None:
    """`admit`'s verdict on `breaker` if it needs no write (not a probe), else None."""
    after, admission = admit(breaker, now, policy)
    return admission if after == breaker and not admission.probe else None


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
