"""One recipe step as a Prefect task: render, resolve the key, call through the hooks.

Everything that touches content happens inside the task and stays in memory:
the prompt is rendered here, the key is decrypted here, in a worker thread of
the task's process (no cache, so a rotation applies to the next call), and the
hooks (ledger, and whatever else the run was compiled with) see only this
in-memory call.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Coroutine
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from flows.engine.hooks import CallInfo, call_with_hooks
from flows.engine.persistence import check_run_context, check_task
from flows.engine.retry import RetryPolicy
from flows.engine.scope import RunScope, current_scope
from flows.engine.scrub import scrub_output
from flows.recipe import ModelRef, Step, render
from providers.types import ModelRequest

__all__ = ["StepTasks", "build_step_task", "task_run_name"]


def task_run_name(step: Step, model: ModelRef) -> str:
    """`step · prefix:model`: what the Prefect UI lists; ids only, no content."""
    return f"{step.id} · {model}"


def build_step_task(
    step: Step, model: ModelRef, policy: RetryPolicy
) -> Task[[], Coroutine[Any, Any, Any]]:
    """A fresh task for one step and one model (the primary or a fallback).

    Each run needs its own (`StepTasks` copies one per run): the retry
    condition sets the wait on the task object.
    """

    async def call_model() -> Any:
        check_run_context()  # before any prompt is rendered or key decrypted
        return await _execute(step, model, current_scope())

    name = task_run_name(step, model)
    call_model.__name__ = call_model.__qualname__ = f"step_{step.id}"
    retries = policy.retries if step.retries is None else step.retries
    task: Task[[], Coroutine[Any, Any, Any]] = Task(
        call_model,
        name=name,
        task_run_name=name,
        cache_policy=NO_CACHE,
        persist_result=False,
        retries=retries,
        retry_delay_seconds=policy.base_delay_s,
        retry_jitter_factor=policy.jitter_factor,
        retry_condition_fn=policy.should_retry,
    )
    check_task(task)
    return task


class StepTasks:
    """The step tasks of one compiled recipe: each built once, then copied for every run.

    Building a Prefect task reads its function's source to derive the task's
    key, about 0.2 ms of CPU per step and run (more while other threads hold
    the GIL). A shallow copy takes microseconds and is all a run needs: the
    retry condition sets its wait on the run's copy (`RetryPolicy.should_retry`),
    never on the task that other runs copy.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._built: dict[tuple[str, str], Task[[], Coroutine[Any, Any, Any]]] = {}

    def for_run(self, step: Step, model: ModelRef) -> Task[[], Coroutine[Any, Any, Any]]:
        """A task of its own for this run's call of `step` on `model`."""
        key = (step.id, str(model))
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = build_step_task(step, model, self._policy)
        return copy.copy(built)


async def _execute(step: Step, model: ModelRef, scope: RunScope) -> Any:
    context = {
        "inputs": scope.inputs,
        "steps": {sid: {"output": out} for sid, out in scope.results.outputs.items()},
    }
    request = ModelRequest(
        model=model.model,
        prompt=render(step.prompt, context, step=step.id, field="prompt"),
        system=render(step.system, context, step=step.id, field="system") if step.system else None,
        max_tokens=step.max_tokens,
        temperature=step.temperature,
        stop=tuple(step.stop),
        output_schema=step.output,
        stream=step.stream,
    )
    # The vault's queries, decryption and audit write run in a worker thread, so
    # the run's other steps keep going while this one waits for the database.
    endpoint = await asyncio.to_thread(
        scope.keys.resolve, model.prefix, user=scope.user, run_id=scope.run_id, step=step.id
    )
    call = CallInfo(
        context=scope.call_context(step.id, attempt=task_run.run_count or 1),
        model=model,
        endpoint=endpoint,
        request=request,
    )
    response = await call_with_hooks(
        scope.hooks,
        call,
        lambda: scope.client.complete(endpoint, request, timeout_s=step.timeout_s),
    )
    # A reply that repeats the key must not hand it to the user or the next prompt.
    output = response.parsed if step.output is not None else response.text
    return scrub_output(output, endpoint.api_key)
