"""The DAGs the benchmarks run, in three equivalent forms.

The same DAG of model calls runs as (1) a recipe through the engine, (2) a
hand-written Prefect flow whose tasks make the same HTTP calls with httpx, the
way a Prefect user would write it without BYOK, and (3) plain asyncio + httpx
with no orchestrator. All three send the same Chat Completions request per step
to the same simulator and start each step as soon as its dependencies are done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE

from flows.recipe import Recipe

__all__ = [
    "INPUTS",
    "MODEL",
    "Dag",
    "call_openai",
    "deep",
    "handwritten_flow",
    "plain_run",
    "request_body",
    "run_dag",
    "wide",
]

MODEL = "gpt-5-mini"
INPUTS = {"text": "Benchmarks measure what the engine adds around each model call."}
_PROMPT_TEMPLATE = "Summarise in five words: {{ inputs.text }}"
_MAX_TOKENS = 64
_RETRIES = 2  # the engine's default RetryPolicy
_TIMEOUT_S = 120.0  # the engine's default call timeout (httpx's own is 5 s)


@dataclass(frozen=True, slots=True)
class Dag:
    """Steps and what each waits for; `critical_steps` is the longest chain's length."""

    name: str
    dependencies: Mapping[str, frozenset[str]]

    @property
    def steps(self) -> int:
        """How many model calls one run makes."""
        return len(self.dependencies)

    @property
    def critical_steps(self) -> int:
        """Calls on the longest dependency chain: the run's floor is this × latency."""

        @cache
        def depth(step: str) -> int:
            return 1 + max((depth(d) for d in self.dependencies[step]), default=0)

        return max(depth(step) for step in self.dependencies)

    def recipe(self) -> Recipe:
        """The DAG as a recipe: every step the same prompt, ordered by `needs`."""
        return Recipe.model_validate(
            {
                "name": self.name,
                "inputs": {"text": {"type": "string"}},
                "steps": [
                    {
                        "id": step,
                        "model": f"openai:{MODEL}",
                        "prompt": _PROMPT_TEMPLATE,
                        "max_tokens": _MAX_TOKENS,
                        "needs": sorted(needs),
                    }
                    for step, needs in self.dependencies.items()
                ],
            }
        )


def wide(n: int) -> Dag:
    """`n` independent steps: the critical path is one call."""
    return Dag(f"bench-wide-{n}", {f"s{i}": frozenset() for i in range(n)})


def deep(n: int) -> Dag:
    """`n` steps in a chain: the critical path is every call."""
    deps = {f"s{i}": frozenset({f"s{i - 1}"} if i else set()) for i in range(n)}
    return Dag(f"bench-deep-{n}", deps)


def request_body() -> dict[str, Any]:
    """The Chat Completions body the engine's OpenAI adapter sends for each step."""
    prompt = _PROMPT_TEMPLATE.replace("{{ inputs.text }}", INPUTS["text"])
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": prompt}],
        "max_completion_tokens": _MAX_TOKENS,
    }


async def call_openai(client: httpx.AsyncClient, base_url: str, key: str) -> str:
    """One step, hand-written: POST the body, fail on an HTTP error, return the text."""
    reply = await client.post(
        f"{base_url}/chat/completions",
        json=request_body(),
        headers={"authorization": f"Bearer {key}"},
    )
    reply.raise_for_status()
    text: str = reply.json()["choices"][0]["message"]["content"]
    return text


async def run_dag(dag: Dag, call: Callable[[str], Awaitable[str]]) -> dict[str, str]:
    """Start each step once its dependencies are done; every step's output by id."""
    started: dict[str, asyncio.Task[str]] = {}

    async def run(step: str) -> str:
        for dependency in dag.dependencies[step]:
            await started[dependency]
        return await call(step)

    for step in dag.dependencies:  # insertion order is a topological order here
        started[step] = asyncio.create_task(run(step))
    await asyncio.gather(*started.values())
    return {step: t.result() for step, t in started.items()}


async def plain_run(dag: Dag, base_url: str, key: str) -> dict[str, str]:
    """The DAG with no orchestrator: one pooled httpx client, asyncio for concurrency."""
    async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
        return await run_dag(dag, lambda _step: call_openai(client, base_url, key))


_client: ContextVar[httpx.AsyncClient] = ContextVar("bench_handwritten_client")


def handwritten_flow(
    dag: Dag, base_url: str, key: str
) -> Flow[[], Coroutine[Any, Any, dict[str, str]]]:
    """The DAG as a Prefect user would write it: one async task per call, same retries.

    The task is defined once, like a module-level `@task`; the flow run's httpx
    client reaches it through a context variable, as tasks copy the context.
    """

    @task(name="call", persist_result=False, cache_policy=NO_CACHE, retries=_RETRIES)
    async def call(step: str) -> str:
        return await call_openai(_client.get(), base_url, key)

    @flow(name=f"{dag.name}-handwritten", persist_result=False, log_prints=False)
    async def handwritten() -> dict[str, str]:
        async with httpx.AsyncClient(timeout=_TIMEOUT_S) as client:
            token = _client.set(client)
            try:
                return await run_dag(dag, call)
            finally:
                _client.reset(token)

    return handwritten
