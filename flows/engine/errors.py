"""Errors of a recipe run, as Prefect and the CLI show them.

    RunError               base
    └── StepFailedError    a step (and its fallbacks) failed; names step and model

Messages name steps, models and error types only, never content: Prefect
stores them in flow-run state messages and events.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RunError", "StepFailedError"]


class RunError(Exception):
    """A recipe run failed."""


class StepFailedError(RunError):
    """A step failed after its retries and fallbacks; downstream steps did not run."""

    def __init__(
        self, step: str, model: str, reason: str, *, skipped: tuple[str, ...] = ()
    ) -> None:
        self.step = step
        self.model = model
        self.reason = reason
        self.skipped = skipped
        message = f"step '{step}' ({model}) failed: {reason}"
        if skipped:
            message += f"; not run: {', '.join(skipped)}"
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.step, self.model, self.reason, self.skipped))


def _rebuild(step: str, model: str, reason: str, skipped: tuple[str, ...]) -> StepFailedError:
    return StepFailedError(step, model, reason, skipped=skipped)
