"""When a breaker opens, how long it stays open, and how it tests the water again.

Trip conditions are small composable objects in the style of tenacity's
`stop_*` objects: each looks at the failure counts and says whether the
breaker should open (and why), and `|` combines them:

    ConsecutiveFailures(5) | FailureRate(0.5, min_calls=20)

Counts are kept over a fixed window of `window_s` seconds that restarts when
it runs out, so the failure rate is "of the calls in the last minute or so",
and an old bad spell does not keep counting against a provider that recovered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

__all__ = [
    "DEFAULT_BREAKER_POLICY",
    "BreakerPolicy",
    "ConsecutiveFailures",
    "FailureCounts",
    "FailureRate",
    "TripAny",
    "TripCondition",
]


@dataclass(frozen=True, slots=True)
class FailureCounts:
    """What a trip condition judges: failures in a row, and calls/failures in the window."""

    consecutive_failures: int
    window_calls: int
    window_failures: int


class TripCondition(ABC):
    """Decides whether failure counts are bad enough to open the breaker."""

    @abstractmethod
    def reason(self, counts: FailureCounts) -> str | None:
        """Why the breaker should open on `counts`, or None if it should stay closed."""

    @abstractmethod
    def describe(self) -> str:
        """The condition in words, for docs and the CLI."""

    def __or__(self, other: TripCondition) -> TripCondition:
        return TripAny((self, other))


@dataclass(frozen=True, slots=True)
class ConsecutiveFailures(TripCondition):
    """Open after `count` failed calls in a row (a success resets the run)."""

    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"ConsecutiveFailures needs a count of 1 or more, got {self.count}")

    def reason(self, counts: FailureCounts) -> str | None:
        """Tripped when the current run of failures reaches `count`."""
        if counts.consecutive_failures >= self.count:
            return f"{counts.consecutive_failures} consecutive failures"
        return None

    def describe(self) -> str:
        """E.g. `5 consecutive failures`."""
        return f"{self.count} consecutive failures"


@dataclass(frozen=True, slots=True)
class FailureRate(TripCondition):
    """Open when at least `rate` of the window's calls failed, once it has `min_calls`."""

    rate: float
    min_calls: int = 20

    def __post_init__(self) -> None:
        if not 0.0 < self.rate <= 1.0:
            raise ValueError(f"FailureRate needs a rate in (0, 1], got {self.rate}")
        if self.min_calls < 1:
            raise ValueError(f"FailureRate needs min_calls of 1 or more, got {self.min_calls}")

    def reason(self, counts: FailureCounts) -> str | None:
        """Tripped when the window holds enough calls and enough of them failed."""
        calls, failures = counts.window_calls, counts.window_failures
        if calls >= self.min_calls and failures >= self.rate * calls:
            return f"{failures} of {calls} calls failed"
        return None

    def describe(self) -> str:
        """E.g. `50% of at least 20 calls failed`."""
        return f"{self.rate:.0%} of at least {self.min_calls} calls failed"


@dataclass(frozen=True, slots=True)
class TripAny(TripCondition):
    """Open when any of `conditions` says so (what `a | b` builds)."""

    conditions: tuple[TripCondition, ...]

    def reason(self, counts: FailureCounts) -> str | None:
        """The first tripped condition's reason."""
        for condition in self.conditions:
            if (why := condition.reason(counts)) is not None:
                return why
        return None

    def describe(self) -> str:
        """The conditions joined with `or`."""
        return " or ".join(condition.describe() for condition in self.conditions)

    def __or__(self, other: TripCondition) -> TripCondition:
        return TripAny((*self.conditions, other))


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """The whole behaviour of one breaker.

    `window_s`: how long failure counts are kept before they start over.
    `cool_down_s`: how long an open breaker refuses every call.
    `probes`: calls let through once the cool-down is over (half-open); that
    many successes close the breaker, one health failure opens it again.
    `probe_lease_s`: how long a probe may take before the breaker assumes its
    worker died and lets another probe through (longer than a call's timeout).
    """

    trip: TripCondition = ConsecutiveFailures(5) | FailureRate(0.5, min_calls=20)
    window_s: float = 60.0
    cool_down_s: float = 30.0
    probes: int = 1
    probe_lease_s: float = 150.0

    def __post_init__(self) -> None:
        for name in ("window_s", "cool_down_s", "probe_lease_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be more than 0, got {getattr(self, name)}")
        if self.probes < 1:
            raise ValueError(f"probes must be 1 or more, got {self.probes}")


DEFAULT_BREAKER_POLICY = BreakerPolicy()
