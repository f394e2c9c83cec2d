"""Running a recipe in this process and collecting what the caller needs.

The Python entry point behind `byok run` and `byok demo`: it runs the compiled
flow, takes the step outputs from memory (never from Prefect), and reads the
run's calls back from the ledger.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, cast

from prefect import Flow
from prefect.client.schemas.objects import State

from flows.engine.compiler import compile_recipe
from flows.engine.prefect_clients import reused_prefect_clients
from flows.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy
from flows.engine.scope import KeyResolver, StepOutputs, output_sink
from flows.engine.sensitive import stdin_inputs
from flows.ledger import UsageRecord, money, row_json, rows_for_run, total_cost
from flows.recipe import Recipe
from vault.db import get_engine

__all__ = ["RunResult", "run_recipe"]

_COMPILED_KEPT = 32
# Compiled flows by (recipe as JSON, org, user, policy): building a Prefect flow
# costs ~9 ms (its parameter models), which a process running one recipe many
# times (the benchmarks, a long-lived caller) paid on every run. The flow holds
# no per-run state; each run still makes its own hooks, resolver and clients.
_flows: OrderedDict[tuple[str, str, str, RetryPolicy], Flow[..., Any]] = OrderedDict()


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


def _compiled(
    recipe: Recipe, *, org: str, user: str, keys: KeyResolver | None, policy: RetryPolicy
) -> Flow[..., Any]:
    """The flow for `recipe`, compiled once per recipe content, org, user and policy."""
    if keys is not None:  # a caller's own resolver: compile for it alone
        return compile_recipe(recipe, org=org, user=user, keys=keys, policy=policy)
    key = (recipe.model_dump_json(), org, user, policy)
    flow = _flows.get(key)
    if flow is None:
        flow = _flows[key] = compile_recipe(recipe, org=org, user=user, policy=policy)
        if len(_flows) > _COMPILED_KEPT:
            _flows.popitem(last=False)
    else:
        _flows.move_to_end(key)
    return flow


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
    flow = _compiled(recipe, org=org, user=user, keys=keys, policy=policy)
    sink = StepOutputs()
    token = output_sink.set(sink)
    stdin_token = stdin_inputs.set(stdin)
    try:
        # Prefect's overloads pick the plain-coroutine signature for `**kwargs`.
        async with reused_prefect_clients():
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
