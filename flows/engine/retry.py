"""Which failed attempts Prefect retries, how long it waits first, and when to fall back.

Only errors the provider taxonomy marks retryable are retried (rate limits,
overload, 5xx, dropped connections, timeouts); an invalid request, a bad key
or an exhausted quota fails at once, and so does a call the circuit breaker
refused (asking again at once would only be refused again: the step's
fallback model, if any, answers instead).

The wait after failed attempt n is exponential backoff with jitter,

    backoff(n) = min(base_delay_s * 2**(n-1), max_delay_s)
    wait(n)    = backoff(n) * (1 - jitter_factor * U),  U uniform in [0, 1)

raised to the provider's own hint (Retry-After) when it sent one, and capped
at `max_delay_s`. The jitter is computed here rather than by Prefect, whose
Poisson jitter can shorten a wait below the provider's hint; the random
source is injected, so the numbers are testable.

Prefect runs the retry condition before it reads the task's delay, so
`RetryPolicy.should_retry` sets the wait on the step's own task copy; the
attempt then shows in the Prefect UI as `AwaitingRetry` (scheduled for the
computed time) and `Retrying`, like any Prefect retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task

from providers.breaker import CircuitOpenError
from providers.errors import ProviderError

__all__ = ["DEFAULT_RETRY_POLICY", "RetryPolicy", "should_fall_back"]

# 2**60 seconds is already far past any cap; larger exponents would overflow a float.
_MAX_EXPONENT = 60


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts and backoff for a step whose recipe does not say otherwise.

    The defaults follow the official SDKs (two retries) with a one-second
    base: a step fails over to its fallback within a few seconds when a
    provider keeps failing, while a single blip costs about one second.
    """

    retries: int = 2
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter_factor: float = 0.5
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("base_delay_s and max_delay_s must be 0 or more")
        if not 0.0 <= self.jitter_factor <= 1.0:
            raise ValueError(f"jitter_factor must be between 0 and 1, got {self.jitter_factor}")

    def backoff(self, attempt: int) -> float:
        """The un-jittered wait after failed attempt number `attempt` (1-based), capped."""
        exponent = min(max(attempt - 1, 0), _MAX_EXPONENT)
        return min(self.base_delay_s * 2.0**exponent, self.max_delay_s)

    def delay_for(self, attempt: int, hint_s: float | None) -> float:
        """Seconds to wait after failed attempt `attempt`: jittered backoff, or the hint, capped."""
        wait = self.backoff(attempt) * (1.0 - self.jitter_factor * self.random())
        if hint_s is not None:
            wait = max(wait, hint_s)
        return min(wait, self.max_delay_s)

    def should_retry(self, task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
        """Prefect `retry_condition_fn`: retry transient provider errors only.

        Prefect reads the task's `retry_delay_seconds` and `retry_jitter_factor`
        right after this returns, so the wait computed here (with the
        provider's hint) is set on the step's own task copy, and Prefect's
        jitter is switched off: it is already applied, and it must not cut a
        wait below the provider's hint.
        """
        error = state.data
        if not isinstance(error, ProviderError) or not error.retryable:
            return False
        task.retry_delay_seconds = [self.delay_for(task_run.run_count, error.retry_after_s)]
        task.retry_jitter_factor = None
        return True


def should_fall_back(error: BaseException) -> bool:
    """Whether a step tries its next fallback model after `error` ended a model's attempts.

    Yes after a transient error outlived the retries, and after the circuit
    breaker refused the call; never after an error the request or the key
    itself caused (a fallback would hide a bug or spend on a broken setup).
    """
    if isinstance(error, CircuitOpenError):
        return True
    return isinstance(error, ProviderError) and error.retryable


DEFAULT_RETRY_POLICY = RetryPolicy()
