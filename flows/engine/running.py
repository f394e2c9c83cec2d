"""Running a recipe in this process and collecting what the caller needs.

The Python entry point behind `byok run` and `byok demo`: it runs the compiled
flow, takes the step outputs from memory (never from Prefect), and reads the
run's calls back from the ledger.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, cast

from prefect.client.schemas.objects import State

from flows.engine.compiler import compile_recipe
from flows.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from flows.engine.scope import KeyResolver, StepOutputs, output_sink
from flows.engine.sensitive import stdin_inputs
from flows.ledger import UsageRecord, money, row_json, rows_for_run, total_cost
from flows.recipe import Recipe
from vault.db import get_engine

__all__ = ["RunResult", "run_recipe"]


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one run: state, outputs of completed steps, and its calls."""

    run_id: str
    state: Literal["COMPLETED", "FAILED"]
    outputs: dict[str, Any]
    answered_by: dict[str, str]
    usage: list[UsageRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def cost_usd(self) -> Decimal | None:
        """Total priced cost of the run's calls; null when none could be priced."""
        return total_cost(self.usage)

    def to_json(self) -> dict[str, Any]:
        """The stable `byok run --json` document (see the README)."""
        return {
            "run_id": self.run_id,
            "state": self.state,
            "outputs": self.outputs,
            "answered_by": self.answered_by,
            "error": self.error,
            "cost_usd": money(self.cost_usd),
            "usage": [row_json(row) for row in self.usage],
        }


async def run_recipe(
    recipe: Recipe,
    inputs: Mapping[str, Any],
    *,
    org: str = "default",
    user: str = "local",
    keys: KeyResolver | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    stdin: Mapping[str, str] | None = None,
) -> RunResult:
    """Run `recipe` once with already-validated `inputs` and wait for the result.

    `stdin` holds the values read from standard input for sensitive inputs
    given as `-`, by input name; they reach the run in memory, never as
    flow parameters.
    """
    flow = compile_recipe(recipe, org=org, user=user, keys=keys, policy=policy)
    sink = StepOutputs()
    token = output_sink.set(sink)
    stdin_token = stdin_inputs.set(stdin)
    try:
        # Prefect's overloads pick the plain-coroutine signature for `**kwargs`.
        pending = cast("Awaitable[State[None]]", flow(**dict(inputs), return_state=True))
        state = await pending
    finally:
        stdin_inputs.reset(stdin_token)
        output_sink.reset(token)
    run_id = str(state.state_details.flow_run_id)
    usage = rows_for_run(get_engine(), run_id)
    if state.is_completed():
        return RunResult(run_id, "COMPLETED", sink.outputs, sink.answered_by, usage)
    failure = await state.aresult(raise_on_failure=False)
    reason = str(failure) if isinstance(failure, Exception) else (state.message or state.name)
    return RunResult(run_id, "FAILED", sink.outputs, sink.answered_by, usage, error=reason)
