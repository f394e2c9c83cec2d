"""Compiling a recipe into a Prefect flow.

The flow is named after the recipe and takes the recipe's inputs as typed
parameters (so Prefect validates them and the UI renders a form). Its body is
a small DAG scheduler: each step starts as soon as the steps it depends on
have completed, so independent steps run concurrently. A failed step fails
the flow run with a message naming the step; steps that depend on it are not
started at all (rather than left `Pending`, which is what Prefect does).

A failing flow returns a `Failed` state instead of raising: Prefect writes
the exception a flow raises to result storage (as a cloudpickle file under
`PREFECT_HOME/storage`) whatever `persist_result` says, and logs its
traceback. A returned state is stored only when persistence is on, which it
never is for our flows.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from prefect import Flow, Task, get_run_logger
from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.runtime import flow_run
from prefect.states import Failed

from flows.budget.errors import BudgetError
from flows.driver_logs import quiet_parameter_loggers
from flows.engine.errors import RunError, StepFailedError
from flows.engine.hooks import CallHook, RunInfo, finish_run
from flows.engine.persistence import PersistenceError, check_flow, check_run_context
from flows.engine.retry import DEFAULT_RETRY_POLICY, RetryPolicy, should_fall_back
from flows.engine.scope import KeyResolver, RunScope, StepOutputs, output_sink, run_scope
from flows.engine.sensitive import resolve_sensitive
from flows.engine.step import StepTasks
from flows.engine.wiring import default_hooks
from flows.recipe import (
    ModelRef,
    Recipe,
    RecipeError,
    RecipeInputError,
    Step,
    TemplateRenderError,
)
from providers import redaction
from providers.client import ProviderClient
from providers.errors import ProviderError
from vault import VaultError, VaultKeys

__all__ = ["compile_recipe"]

_PYTHON_TYPES: dict[str, type] = {"string": str, "number": float, "integer": int, "boolean": bool}


def compile_recipe(
    recipe: Recipe,
    *,
    org: str = "default",
    user: str = "local",
    keys: KeyResolver | None = None,
    policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    hooks: Callable[[], Sequence[CallHook]] = default_hooks,
) -> Flow[..., Coroutine[Any, Any, State[None] | None]]:
    """A Prefect flow that runs `recipe` for `user` of `org` with that org's keys only.

    The flow returns nothing (or a `Failed` state): outputs are user content
    and never pass through Prefect states. In-process callers collect them
    through `output_sink`.
    `hooks` makes the call hooks for each run (see `flows.engine.wiring`).
    """
    redaction.install()  # live keys are redacted from every log record in this process
    quiet_parameter_loggers()  # nor do database drivers log the run's parameters
    dependencies = recipe.dependencies()
    order = recipe.topological_order()
    tasks = StepTasks(policy)  # built at a run's first use, copied for each run

    async def run_recipe_flow(**inputs: Any) -> State[None] | None:
        try:
            check_run_context()
        except PersistenceError as refused:
            return _failed(refused)
        resolver = keys if keys is not None else VaultKeys(org=org)
        try:
            # Sensitive inputs arrive as references; `held` keeps their values redacted.
            values, held = await resolve_sensitive(recipe, inputs)
        except RecipeInputError as unreadable:
            return _failed(unreadable)
        async with ProviderClient() as client:
            scope = RunScope(
                org=org,
                user=user,
                recipe=recipe.name,
                run_id=str(flow_run.id),
                inputs=values,
                keys=resolver,
                client=client,
                hooks=hooks(),
                results=output_sink.get() or StepOutputs(),
                budget_usd=recipe.budget_usd,
            )
            with run_scope(scope):
                error: BaseException | None = None
                try:
                    await _run_dag(recipe, order, dependencies, scope, tasks)
                except Exception as failure:
                    error = failure
                    return _failed(failure)
                except BaseException as failure:  # cancelled or interrupted: Prefect's to handle
                    error = failure
                    raise
                finally:
                    await finish_run(scope.hooks, _run_info(scope, error))
                    held.clear()
        return None

    run_recipe_flow.__signature__ = _signature(recipe)  # type: ignore[attr-defined]
    run_recipe_flow.__doc__ = recipe.description or None
    flow: Flow[..., Coroutine[Any, Any, State[None] | None]] = Flow(
        run_recipe_flow,
        name=recipe.name,
        description=recipe.description or None,
        persist_result=False,
        retries=0,
        log_prints=False,
        validate_parameters=True,
    )
    check_flow(flow)
    return flow


def _failed(error: Exception) -> State[None]:
    """The flow run's final state for `error`, with a message free of content.

    A `RunError`'s message names steps, models and error types only, and a
    `RecipeError`'s (an unreadable sensitive input) names inputs and
    references, never values; any
    other exception is a bug whose text may hold content, so only its type
    and where it was raised are logged. The state carries an empty result
    record, which Prefect never writes to storage even if it would persist.
    """
    if isinstance(error, RunError | RecipeError):
        message = str(error)
    else:
        frames = traceback.StackSummary.extract(traceback.walk_tb(error.__traceback__))
        get_run_logger().error(
            "recipe run failed with an unexpected %s, raised at:\n%s",
            type(error).__name__,
            "".join(frames.format()),
        )
        message = f"unexpected {type(error).__name__} (see the flow run's logs)"
    context = FlowRunContext.get()
    record = context.result_store.create_result_record(None) if context is not None else None
    return Failed(message=message, data=record)


def _run_info(scope: RunScope, error: BaseException | None) -> RunInfo:
    return RunInfo(
        org=scope.org,
        user=scope.user,
        recipe=scope.recipe,
        run_id=scope.run_id,
        answered_by=dict(scope.results.answered_by),
        error=error,
    )


def _signature(recipe: Recipe) -> inspect.Signature:
    params = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            # A sensitive input's parameter is a reference (text) to where its value is.
            annotation=str if spec.sensitive else _PYTHON_TYPES[spec.type],
            default=inspect.Parameter.empty if spec.default is None else spec.default,
        )
        for name, spec in recipe.inputs.items()
    ]
    return inspect.Signature(params, return_annotation=None)


async def _run_dag(
    recipe: Recipe,
    order: list[str],
    dependencies: dict[str, frozenset[str]],
    scope: RunScope,
    tasks: StepTasks,
) -> None:
    waiting = list(order)
    done: set[str] = set()
    blocked: set[str] = set()
    failures: dict[str, StepFailedError] = {}
    running: dict[asyncio.Task[None], str] = {}
    while waiting or running:
        for step_id in list(waiting):
            deps = dependencies[step_id]
            if deps & blocked:
                waiting.remove(step_id)
                blocked.add(step_id)
            elif deps <= done:
                waiting.remove(step_id)
                step = recipe.step(step_id)
                running[asyncio.create_task(_run_step(step, scope, tasks))] = step_id
        if not running:
            break
        finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        for fut in finished:
            step_id = running.pop(fut)
            error = fut.exception()
            if error is None:
                done.add(step_id)
            elif isinstance(error, StepFailedError):
                failures[step_id] = error
                blocked.add(step_id)
            else:
                raise error
    if failures:
        first = next(sid for sid in order if sid in failures)
        skipped = tuple(sid for sid in order if sid in blocked and sid not in failures)
        error = failures[first]
        raise StepFailedError(error.step, error.model, error.reason, skipped=skipped)


async def _run_step(step: Step, scope: RunScope, tasks: StepTasks) -> None:
    """Run `step` on its model, then on each fallback in turn while the failure allows it.

    The next fallback is tried only when a transient error outlived the
    retries or the circuit breaker refused the call (`should_fall_back`),
    never after an error the request or key caused. Every model's key comes
    from the run's own org (the resolver is bound to it: fail closed).
    """
    models = [step.model_ref, *step.fallback_refs]
    given_up: list[str] = []  # "openai:gpt-5-mini (OverloadedError)", for the failure message
    for index, model in enumerate(models):
        step_task: Task[[], Coroutine[Any, Any, Any]] = tasks.for_run(step, model)
        try:
            output = await step_task()
        except ProviderError as error:
            if should_fall_back(error) and index + 1 < len(models):
                given_up.append(f"{model} ({type(error).__name__})")
                _log_fallback(step, model, models[index + 1], error)
                continue
            reason = _after_fallbacks(str(error), given_up)
            raise StepFailedError(step.id, str(model), reason) from error
        except (TemplateRenderError, VaultError, BudgetError, PersistenceError) as error:
            reason = _after_fallbacks(str(error), given_up)
            raise StepFailedError(step.id, str(model), reason) from error
        except Exception as error:
            # Unknown errors may carry content in their text: name the type only.
            reason = f"unexpected {type(error).__name__} (see the task run's logs)"
            reason = _after_fallbacks(reason, given_up)
            raise StepFailedError(step.id, str(model), reason) from error
        scope.results.outputs[step.id] = output
        scope.results.answered_by[step.id] = str(model)
        return


def _after_fallbacks(reason: str, given_up: list[str]) -> str:
    return f"{reason} (after {', '.join(given_up)})" if given_up else reason


def _log_fallback(step: Step, model: ModelRef, fallback: ModelRef, error: ProviderError) -> None:
    # Ids and the error's type only: the log table is content-free.
    get_run_logger().warning(
        "step %r: %s gave up with %s; trying fallback %s",
        step.id,
        model,
        type(error).__name__,
        fallback,
    )
