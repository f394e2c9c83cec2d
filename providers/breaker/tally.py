"""Answered calls of a healthy breaker, counted in memory and written in batches.

On the success path of a closed breaker with no failure in a row, a call's
outcome changes one number: the window's call count. Writing that row after
every call made the breaker a database write (and, on SQLite, an fsync) per
provider call. Instead each process counts those answers here and folds them
into the row:

- with the next write the breaker needs anyway (a failure, a reset of a run
  of failures, a probe, a new window), so a failure is judged against every
  answer this process has seen;
- when `FLUSH_EVERY` answers are pending or the oldest is `FLUSH_AFTER_S`
  old;
- when a run ends (`BreakerHook.after_run`), so `byok breakers` after a run
  shows its calls.

Pending answers belong to the window and generation they were counted in:
if the breaker moved on meanwhile (a new window, or it opened), they are
dropped rather than counted against the wrong window, exactly as a late
outcome is ignored by `state.record`.

Whether an answer is such a quiet one is judged on the breaker as the call's
admission read it, so the answer costs no read either. A caller's answer
after its own failure always resets the run of failures (its admission saw
the failure). What this trades: a failure recorded by a concurrent call
while this one was out is not reset by this call's answer (the two calls
overlapped; either order is a fair reading), another worker's failure-rate
judgement may miss up to `FLUSH_AFTER_S` of this worker's answers, and a
worker that dies loses its pending answers (counts only; the circuit state
and every failure are written at once, as before).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

from providers.breaker.state import Breaker, BreakerKey, Circuit

__all__ = ["FLUSH_AFTER_S", "FLUSH_EVERY", "Tally", "apply", "count", "take", "take_all"]

FLUSH_EVERY = 50
FLUSH_AFTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Tally:
    """Answers counted for one breaker in one window of one generation."""

    generation: int
    window_started_at: float
    answers: int
    last_at: float
    since: float  # time.monotonic() of the first pending answer


_pending: dict[tuple[Any, BreakerKey], Tally] = {}
_lock = threading.Lock()


def quiet(breaker: Breaker, generation: int, now: float, window_s: float) -> bool:
    """Whether an answer admitted in `generation` would only bump the window's count."""
    return (
        breaker.circuit is Circuit.CLOSED
        and breaker.generation == generation
        and breaker.consecutive_failures == 0
        and now - breaker.window_started_at < window_s
    )


def count(scope: Any, key: BreakerKey, breaker: Breaker, now: float) -> Tally | None:
    """Count one quiet answer; returns the tally to write when it is due, else None."""
    with _lock:
        tally = _pending.get((scope, key))
        if tally is None or (tally.generation, tally.window_started_at) != (
            breaker.generation,
            breaker.window_started_at,
        ):
            tally = Tally(breaker.generation, breaker.window_started_at, 0, now, time.monotonic())
        tally = replace(tally, answers=tally.answers + 1, last_at=max(tally.last_at, now))
        if tally.answers >= FLUSH_EVERY or time.monotonic() - tally.since >= FLUSH_AFTER_S:
            _pending.pop((scope, key), None)
            return tally
        _pending[(scope, key)] = tally
        return None


def take(scope: Any, key: BreakerKey) -> Tally | None:
    """Remove and return the answers pending for `key` (to fold into a write)."""
    with _lock:
        return _pending.pop((scope, key), None)


def take_all(scope: Any) -> list[tuple[BreakerKey, Tally]]:
    """Remove and return every breaker's pending answers in `scope`."""
    with _lock:
        mine = [(k, t) for (s, k), t in _pending.items() if s is scope]
        for key, _ in mine:
            del _pending[(scope, key)]
        return mine


def apply(breaker: Breaker, tally: Tally | None) -> Breaker:
    """`breaker` with the tally's answers counted, if it is still their window."""
    if tally is None or tally.answers == 0:
        return breaker
    if (
        breaker.circuit is not Circuit.CLOSED
        or breaker.generation != tally.generation
        or breaker.window_started_at != tally.window_started_at
    ):
        return breaker  # the breaker moved on: these answers belong to a finished window
    return replace(
        breaker,
        window_calls=breaker.window_calls + tally.answers,
        updated_at=max(breaker.updated_at, tally.last_at),
    )
