"""The breaker's state machine, transition by transition, with plain numbers for time."""

from __future__ import annotations

from providers.breaker import (
    Admission,
    Breaker,
    BreakerPolicy,
    CallResult,
    Circuit,
    ConsecutiveFailures,
    FailureRate,
)
from providers.breaker.state import admit, record

POLICY = BreakerPolicy(
    trip=ConsecutiveFailures(3) | FailureRate(0.5, min_calls=6),
    window_s=60.0,
    cool_down_s=30.0,
    probes=2,
    probe_lease_s=100.0,
)


def call(
    breaker: Breaker, result: CallResult, now: float, policy: BreakerPolicy = POLICY
) -> Breaker:
    """Admit one call at `now` and record its result at the same instant."""
    breaker, admission = admit(breaker, now, policy)
    assert admission.allowed
    return record(breaker, admission, result, now, policy, failure="OverloadedError HTTP 529")


def failing(count: int, start: float = 1000.0) -> Breaker:
    breaker = Breaker()
    for i in range(count):
        breaker = call(breaker, CallResult.FAILURE, start + i)
    return breaker


def test_opens_after_the_configured_consecutive_failures() -> None:
    assert failing(2).circuit is Circuit.CLOSED
    opened = failing(3)
    assert opened.circuit is Circuit.OPEN
    assert opened.opened_at == 1002.0
    assert opened.retry_at == 1002.0 + POLICY.cool_down_s
    assert opened.reason == "3 consecutive failures"
    assert opened.last_failure == "OverloadedError HTTP 529"
    assert opened.times_opened == 1


def test_an_answer_resets_the_run_of_failures() -> None:
    breaker = failing(2)
    breaker = call(breaker, CallResult.ANSWERED, 1010.0)
    assert breaker.consecutive_failures == 0
    breaker = call(breaker, CallResult.FAILURE, 1011.0)
    breaker = call(breaker, CallResult.FAILURE, 1012.0)
    assert breaker.circuit is Circuit.CLOSED


def test_opens_on_the_failure_rate_of_the_window() -> None:
    breaker = Breaker()
    # answer, failure, answer, failure, …: never 3 in a row, but half of the calls fail.
    results = [CallResult.ANSWERED, CallResult.FAILURE] * 3
    for i, result in enumerate(results):
        breaker = call(breaker, result, 1000.0 + i)
    assert breaker.circuit is Circuit.OPEN
    assert breaker.reason == "3 of 6 calls failed"


def test_the_window_starts_over_when_it_runs_out() -> None:
    breaker = Breaker()
    for i, result in enumerate(
        [CallResult.FAILURE, CallResult.ANSWERED] * 2 + [CallResult.FAILURE]
    ):
        breaker = call(breaker, result, 1000.0 + i)
    assert (breaker.window_calls, breaker.window_failures) == (5, 3)
    later = 1000.0 + POLICY.window_s  # the window began at the first call
    breaker = call(breaker, CallResult.ANSWERED, later)
    assert (breaker.window_calls, breaker.window_failures) == (1, 0)
    assert breaker.window_started_at == later
    assert breaker.circuit is Circuit.CLOSED


def test_open_refuses_until_the_cool_down_is_over() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    same, admission = admit(opened, opened.retry_at - 0.001, POLICY)
    assert same == opened
    assert not admission.allowed


def test_half_open_lets_through_exactly_the_configured_probes() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    now = opened.retry_at
    breaker, first = admit(opened, now, POLICY)
    assert breaker.circuit is Circuit.HALF_OPEN
    assert first.allowed
    assert first.probe
    breaker, second = admit(breaker, now, POLICY)
    assert second.allowed
    assert second.probe
    breaker, third = admit(breaker, now, POLICY)
    assert not third.allowed
    assert breaker.probes_in_flight == POLICY.probes


def test_probe_successes_close_the_breaker() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    now = opened.retry_at
    breaker, one = admit(opened, now, POLICY)
    breaker, two = admit(breaker, now, POLICY)
    breaker = record(breaker, one, CallResult.ANSWERED, now + 1, POLICY)
    assert breaker.circuit is Circuit.HALF_OPEN  # two probes must succeed
    breaker = record(breaker, two, CallResult.ANSWERED, now + 2, POLICY)
    assert breaker.circuit is Circuit.CLOSED
    assert breaker.reason == "2 probe calls succeeded"
    assert (breaker.consecutive_failures, breaker.window_calls, breaker.window_failures) == (
        0,
        0,
        0,
    )
    assert breaker.times_opened == 1  # history survives recovery


def test_a_failed_probe_opens_the_breaker_for_a_new_cool_down() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    now = opened.retry_at + 5
    breaker, probe = admit(opened, now, POLICY)
    breaker = record(breaker, probe, CallResult.FAILURE, now + 1, POLICY, failure="ServerError")
    assert breaker.circuit is Circuit.OPEN
    assert breaker.retry_at == now + 1 + POLICY.cool_down_s
    assert breaker.reason == "a probe call failed"
    assert breaker.times_opened == 2


def test_a_probe_that_learned_nothing_gives_its_slot_back() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    now = opened.retry_at
    breaker, one = admit(opened, now, POLICY)
    breaker, _two = admit(breaker, now, POLICY)
    breaker = record(breaker, one, CallResult.UNKNOWN, now, POLICY)
    assert breaker.circuit is Circuit.HALF_OPEN
    breaker, again = admit(breaker, now, POLICY)
    assert again.allowed
    assert again.probe


def test_probes_that_never_report_back_are_replaced_after_their_lease() -> None:
    opened = failing(3)
    assert opened.retry_at is not None
    now = opened.retry_at
    breaker, _ = admit(opened, now, POLICY)
    breaker, _ = admit(breaker, now, POLICY)  # both probes' workers die
    _, refused = admit(breaker, now + POLICY.probe_lease_s - 1, POLICY)
    assert not refused.allowed
    breaker, fresh = admit(breaker, now + POLICY.probe_lease_s, POLICY)
    assert fresh.allowed
    assert fresh.probe
    assert breaker.probes_in_flight == 1


def test_outcomes_of_calls_admitted_before_a_transition_are_ignored() -> None:
    breaker, slow_call = admit(Breaker(), 1000.0, POLICY)  # admitted while closed
    breaker = failing(3, start=1001.0)
    assert breaker.circuit is Circuit.OPEN
    assert breaker.retry_at is not None
    now = breaker.retry_at
    breaker, probe = admit(breaker, now, POLICY)
    # The slow call finally succeeds: that says nothing about the provider now.
    unchanged = record(breaker, slow_call, CallResult.ANSWERED, now, POLICY)
    assert unchanged == breaker
    assert probe.generation != slow_call.generation


def test_a_refused_call_changes_nothing() -> None:
    opened = failing(3)
    refused = Admission(allowed=False, generation=opened.generation)
    assert record(opened, refused, CallResult.FAILURE, 2000.0, POLICY) == opened


def test_unknown_outcomes_do_not_count_while_closed() -> None:
    breaker = failing(2)
    assert call(breaker, CallResult.UNKNOWN, 1100.0) == breaker
