"""The breaker's state machine, as pure functions of (state, time, policy).

    closed ──trip condition──▶ open ──cool-down over, next call──▶ half-open
      ▲                         ▲                                   │
      └──── `probes` successes ─┼───────────────────────────────────┤
                                └──── one health failure ───────────┘

`admit` decides whether a call may go out; `record` folds its outcome in.
The trip condition is judged when a failure is recorded (an answer can only
lower the failure rate, so it never opens a breaker).
Both return a new `Breaker` and never touch a database or a clock, so every
transition is tested with plain numbers, and the store can apply them
atomically (compare-and-set on `version`) however many workers race.

Each transition bumps `generation`, and every admitted call remembers the
generation it was admitted in: an outcome that arrives after the breaker
moved on (a slow call started before it opened) is ignored rather than
mistaken for a probe's result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from providers.breaker.policy import BreakerPolicy, FailureCounts

__all__ = ["Admission", "Breaker", "BreakerKey", "CallResult", "Circuit", "admit", "record"]


class Circuit(StrEnum):
    """Where a breaker is: calls flow (closed), are refused (open), or are probing."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CallResult(StrEnum):
    """What a call's outcome says about the provider's health."""

    FAILURE = "failure"  # overloaded, rate-limited, 5xx, timed out, connection dropped
    ANSWERED = "answered"  # any reply that shows the provider is up, errors like 400 included
    UNKNOWN = "unknown"  # not sent, cancelled, or failed for a reason of our own


@dataclass(frozen=True, slots=True)
class BreakerKey:
    """One breaker per provider, model and vault key id (ids only, never the key)."""

    provider: str
    model: str
    key_id: str

    def __str__(self) -> str:
        return f"{self.provider}:{self.model} (key {self.key_id})"

    @property
    def resource_id(self) -> str:
        """The Prefect event resource id, e.g. `byok.breaker.openai.gpt-5-mini.key_ab12`."""
        return f"byok.breaker.{self.provider}.{self.model}.{self.key_id}"


@dataclass(frozen=True, slots=True)
class Breaker:
    """One breaker's shared state. Times are seconds since the epoch (or the test's clock)."""

    circuit: Circuit = Circuit.CLOSED
    generation: int = 0
    consecutive_failures: int = 0
    window_started_at: float = 0.0
    window_calls: int = 0
    window_failures: int = 0
    opened_at: float | None = None
    retry_at: float | None = None
    probes_in_flight: int = 0
    probe_successes: int = 0
    probe_deadline: float | None = None
    times_opened: int = 0
    last_failure: str | None = None
    reason: str | None = None
    updated_at: float = 0.0

    @property
    def counts(self) -> FailureCounts:
        """What the trip condition judges."""
        return FailureCounts(self.consecutive_failures, self.window_calls, self.window_failures)


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict on one call: let through (maybe as a probe) or refused."""

    allowed: bool
    generation: int
    probe: bool = False


def admit(breaker: Breaker, now: float, policy: BreakerPolicy) -> tuple[Breaker, Admission]:
    """May a call go out now? A half-open breaker admits at most `policy.probes` at a time."""
    if breaker.circuit is Circuit.CLOSED:
        return breaker, Admission(allowed=True, generation=breaker.generation)
    if breaker.circuit is Circuit.OPEN:
        if breaker.retry_at is not None and now < breaker.retry_at:
            return breaker, Admission(allowed=False, generation=breaker.generation)
        probing = replace(
            breaker,
            circuit=Circuit.HALF_OPEN,
            generation=breaker.generation + 1,
            probes_in_flight=0,
            probe_successes=0,
            reason="cool-down over",
            updated_at=now,
        )
        return _admit_probe(probing, now, policy)
    if breaker.probes_in_flight < policy.probes:
        return _admit_probe(breaker, now, policy)
    if breaker.probe_deadline is not None and now >= breaker.probe_deadline:
        # The probes never reported back (their worker died): send a fresh one.
        return _admit_probe(replace(breaker, probes_in_flight=0), now, policy)
    return breaker, Admission(allowed=False, generation=breaker.generation)


def record(
    breaker: Breaker,
    admission: Admission,
    result: CallResult,
    now: float,
    policy: BreakerPolicy,
    *,
    failure: str | None = None,
) -> Breaker:
    """Fold the outcome of a call admitted with `admission` into the breaker.

    `failure` names what went wrong (an error type and status, never a message).
    """
    if not admission.allowed or admission.generation != breaker.generation:
        return breaker  # refused, or admitted before the breaker last changed
    if breaker.circuit is Circuit.CLOSED:
        return _record_closed(breaker, result, now, policy, failure)
    if breaker.circuit is Circuit.HALF_OPEN and admission.probe:
        return _record_probe(breaker, result, now, policy, failure)
    return breaker


def _admit_probe(breaker: Breaker, now: float, policy: BreakerPolicy) -> tuple[Breaker, Admission]:
    probing = replace(
        breaker,
        probes_in_flight=breaker.probes_in_flight + 1,
        probe_deadline=now + policy.probe_lease_s,
        updated_at=now,
    )
    return probing, Admission(allowed=True, generation=probing.generation, probe=True)


def _record_closed(
    breaker: Breaker,
    result: CallResult,
    now: float,
    policy: BreakerPolicy,
    failure: str | None,
) -> Breaker:
    if result is CallResult.UNKNOWN:
        return breaker
    if now - breaker.window_started_at >= policy.window_s:
        breaker = replace(breaker, window_started_at=now, window_calls=0, window_failures=0)
    if result is CallResult.ANSWERED:
        return replace(
            breaker, consecutive_failures=0, window_calls=breaker.window_calls + 1, updated_at=now
        )
    breaker = replace(
        breaker,
        consecutive_failures=breaker.consecutive_failures + 1,
        window_calls=breaker.window_calls + 1,
        window_failures=breaker.window_failures + 1,
        last_failure=failure,
        updated_at=now,
    )
    why = policy.trip.reason(breaker.counts)
    return breaker if why is None else _open(breaker, now, policy, why)


def _record_probe(
    breaker: Breaker,
    result: CallResult,
    now: float,
    policy: BreakerPolicy,
    failure: str | None,
) -> Breaker:
    released = replace(breaker, probes_in_flight=max(breaker.probes_in_flight - 1, 0))
    if result is CallResult.UNKNOWN:
        return replace(released, updated_at=now)
    if result is CallResult.FAILURE:
        failed = replace(released, last_failure=failure)
        return _open(failed, now, policy, "a probe call failed")
    successes = released.probe_successes + 1
    if successes < policy.probes:
        return replace(released, probe_successes=successes, updated_at=now)
    return Breaker(
        circuit=Circuit.CLOSED,
        generation=breaker.generation + 1,
        window_started_at=now,
        times_opened=breaker.times_opened,
        last_failure=breaker.last_failure,
        reason=f"{successes} probe call{'s' if successes > 1 else ''} succeeded",
        updated_at=now,
    )


def _open(breaker: Breaker, now: float, policy: BreakerPolicy, why: str) -> Breaker:
    return replace(
        breaker,
        circuit=Circuit.OPEN,
        generation=breaker.generation + 1,
        opened_at=now,
        retry_at=now + policy.cool_down_s,
        probes_in_flight=0,
        probe_successes=0,
        probe_deadline=None,
        times_opened=breaker.times_opened + 1,
        reason=why,
        updated_at=now,
    )
