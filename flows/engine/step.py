"""One recipe step as a Prefect task: render, resolve the key, call, record.

Everything that touches content happens inside the task and stays in memory:
the prompt is rendered here, the key is decrypted here (no cache, so a
rotation applies to the next call), and only numbers go to the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any

from prefect import Task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run

from flows.engine.retry import RetryPolicy
from flows.engine.scope import RunScope, current_scope
from flows.ledger import build_record, record
from flows.recipe import ModelRef, Step, render
from providers.endpoint import Endpoint
from providers.errors import ProviderError
from providers.types import ModelRequest, Usage
from vault.db import get_engine

__all__ = ["build_step_task", "task_run_name"]


def task_run_name(step: Step, model: ModelRef) -> str:
    """`step · prefix:model`: what the Prefect UI lists; ids only, no content."""
    return f"{step.id} · {model}"


def build_step_task(
    step: Step, model: ModelRef, policy: RetryPolicy
) -> Task[[], Coroutine[Any, Any, Any]]:
    """A fresh task for one step and one model (the primary or a fallback).

    Fresh per run: the retry condition sets the wait on the task object.
    """

    async def call_model() -> Any:
        return await _execute(step, model, current_scope())

    name = task_run_name(step, model)
    call_model.__name__ = call_model.__qualname__ = f"step_{step.id}"
    retries = policy.retries if step.retries is None else step.retries
    return Task(
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
    )
    endpoint = scope.keys.resolve(model.prefix)
    call = _Call(scope, step, endpoint, model, attempt=task_run.run_count or 1)
    try:
        response = await scope.client.complete(endpoint, request, timeout_s=step.timeout_s)
    except ProviderError as error:
        if error.usage is not None:
            call.record(error.usage, outcome=type(error).__name__)
        raise
    call.record(response.usage, outcome="ok", model_reported=response.model)
    return response.parsed if step.output is not None else response.text


class _Call:
    """One provider call in flight: timed from creation, recorded once it returns."""

    def __init__(
        self, scope: RunScope, step: Step, endpoint: Endpoint, model: ModelRef, *, attempt: int
    ) -> None:
        self.scope, self.step, self.endpoint, self.model = scope, step, endpoint, model
        self.attempt = attempt
        self.started = time.perf_counter()

    def record(self, usage: Usage, *, outcome: str, model_reported: str | None = None) -> None:
        """Write this call's ledger row: numbers and ids only."""
        row = build_record(
            self.scope.call_context(self.step.id, self.attempt),
            provider=self.endpoint.provider,
            model=self.model.model,
            usage=usage,
            key_id=self.endpoint.key_id,
            key_version=self.endpoint.key_version,
            latency_ms=round((time.perf_counter() - self.started) * 1000),
            outcome=outcome,
            model_reported=model_reported,
        )
        record(get_engine(), row)
