"""What one flow run's step tasks share, held in a context variable.

Step tasks take no Prefect parameters: inputs and upstream outputs are user
content, and anything passed as a task parameter is walked, hashed and shown
by Prefect. The flow body opens a `RunScope` and every task it starts (tasks
copy the current context) reads it from here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from flows.engine.hooks import CallHook
from flows.ledger import CallContext
from providers.client import ProviderClient
from providers.endpoint import Endpoint

__all__ = ["KeyResolver", "RunScope", "StepOutputs", "current_scope", "output_sink", "run_scope"]


class KeyResolver(Protocol):
    """Turns a model-string prefix into a decrypted endpoint (the vault block).

    `user` is who the run executes as (the vault checks they may use the org's
    keys); `run_id` and `step` go into the audit event recording the use.
    """

    def resolve(
        self,
        prefix: str,
        *,
        user: str | None = None,
        run_id: str | None = None,
        step: str | None = None,
    ) -> Endpoint: ...


@dataclass(slots=True)
class StepOutputs:
    """Outputs of the steps that completed, and which model answered each."""

    outputs: dict[str, Any] = field(default_factory=dict)
    answered_by: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class RunScope:
    """Per-run state: who runs it, its inputs, the outputs so far, shared clients."""

    org: str
    user: str
    recipe: str
    run_id: str
    inputs: Mapping[str, Any]
    keys: KeyResolver
    client: ProviderClient
    hooks: Sequence[CallHook] = ()
    results: StepOutputs = field(default_factory=StepOutputs)
    budget_usd: Decimal | None = None  # the recipe's per-run cap, enforced by the budget hook

    def call_context(self, step: str, attempt: int) -> CallContext:
        """Ledger ownership of one provider call made by `step`."""
        return CallContext(
            org=self.org,
            user=self.user,
            recipe=self.recipe,
            run_id=self.run_id,
            step=step,
            attempt=attempt,
            run_budget_usd=self.budget_usd,
        )


_scope: ContextVar[RunScope | None] = ContextVar("byok_run_scope", default=None)

# Set by an in-process caller (the CLI) to receive step outputs, even of a failed
# run, without routing user content through Prefect states or results.
output_sink: ContextVar[StepOutputs | None] = ContextVar("byok_output_sink", default=None)


def current_scope() -> RunScope:
    """The scope of the flow run this task belongs to."""
    scope = _scope.get()
    if scope is None:
        raise RuntimeError("a recipe step ran outside its flow run")
    return scope


@contextmanager
def run_scope(scope: RunScope) -> Iterator[RunScope]:
    """Make `scope` visible to the step tasks started inside the block."""
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)
