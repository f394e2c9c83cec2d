"""Which failed attempts Prefect retries, and how long it waits first.

Only errors the provider taxonomy marks retryable are retried (rate limits,
overload, 5xx, dropped connections); an invalid request, a bad key or an
exhausted quota fails at once. The wait is exponential in the attempt number,
raised to the provider's own hint (Retry-After) when it sent one, and capped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.client.schemas.objects import State, TaskRun
from prefect.tasks import Task

from providers.errors import ProviderError

__all__ = ["DEFAULT_RETRY_POLICY", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts and backoff for a step whose recipe does not say otherwise."""

    retries: int = 2
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    jitter_factor: float = 0.2

    def delay_for(self, attempt: int, hint_s: float | None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        backoff = self.base_delay_s * 2.0 ** max(attempt - 1, 0)
        wanted = max(backoff, hint_s or 0.0)
        return min(wanted, self.max_delay_s)

    def should_retry(self, task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
        """Prefect `retry_condition_fn`: retry transient provider errors only.

        Prefect reads the task's `retry_delay_seconds` right after this returns,
        so the provider's wait hint is applied here, on the step's own task copy.
        """
        error = state.data
        if not isinstance(error, ProviderError) or not error.retryable:
            return False
        task.retry_delay_seconds = [self.delay_for(task_run.run_count, error.retry_after_s)]
        return True


DEFAULT_RETRY_POLICY = RetryPolicy()
