"""Trip conditions judge failure counts, compose with `|`, and reject nonsense settings."""

from __future__ import annotations

import pytest

from providers.breaker import (
    BreakerPolicy,
    ConsecutiveFailures,
    FailureCounts,
    FailureRate,
    TripAny,
)


def test_consecutive_failures_trips_at_its_count() -> None:
    rule = ConsecutiveFailures(3)
    assert rule.reason(FailureCounts(2, 10, 2)) is None
    assert rule.reason(FailureCounts(3, 10, 3)) == "3 consecutive failures"


def test_failure_rate_needs_enough_calls_and_enough_failures() -> None:
    rule = FailureRate(0.5, min_calls=10)
    assert rule.reason(FailureCounts(0, 9, 9)) is None  # too few calls to judge
    assert rule.reason(FailureCounts(0, 10, 4)) is None  # 40 %
    assert rule.reason(FailureCounts(0, 10, 5)) == "5 of 10 calls failed"


def test_conditions_combine_with_or_and_report_the_first_that_tripped() -> None:
    rule = ConsecutiveFailures(5) | FailureRate(0.5, min_calls=4) | ConsecutiveFailures(2)
    assert isinstance(rule, TripAny)
    assert len(rule.conditions) == 3
    assert rule.reason(FailureCounts(1, 3, 1)) is None
    assert rule.reason(FailureCounts(2, 3, 2)) == "2 consecutive failures"
    assert rule.reason(FailureCounts(1, 4, 2)) == "2 of 4 calls failed"
    assert rule.describe() == (
        "5 consecutive failures or 50% of at least 4 calls failed or 2 consecutive failures"
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ConsecutiveFailures(0), "count of 1 or more"),
        (lambda: FailureRate(0.0), r"rate in \(0, 1\]"),
        (lambda: FailureRate(1.5), r"rate in \(0, 1\]"),
        (lambda: FailureRate(0.5, min_calls=0), "min_calls of 1 or more"),
        (lambda: BreakerPolicy(cool_down_s=0), "cool_down_s must be more than 0"),
        (lambda: BreakerPolicy(probes=0), "probes must be 1 or more"),
    ],
)
def test_nonsense_settings_are_rejected_with_the_field_named(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]
