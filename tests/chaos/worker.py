"""A worker process for the kill test: runs recipes until it is killed.

Run as `python -m tests.chaos.worker CONCURRENCY` with the test's BYOK home,
master key and Prefect API in its environment. It prints `RECORDED` each
time a provider call's ledger row has been committed (its hook is wired
first, so its `after_call` runs after the ledger's), which is how the test
knows rows are being written when it pulls the plug.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, cast

from flows.engine import RetryPolicy, compile_recipe
from flows.engine.hooks import CallHook, CallInfo, CallOutcome, RunInfo
from flows.engine.wiring import default_hooks
from flows.recipe import Recipe

RECIPE = Recipe.model_validate(
    {
        "name": "chaos-killed-worker",
        "inputs": {"ticket": {"type": "string"}},
        "steps": [
            {
                "id": "extract",
                "model": "anthropic:claude-haiku-4-5",
                "prompt": "{{ inputs.ticket }}",
            },
            {
                "id": "summarize",
                "model": "google:gemini-2.5-flash",
                "prompt": "{{ inputs.ticket }}",
            },
            {
                "id": "reply",
                "model": "openai:gpt-5-mini",
                "prompt": "{{ steps.extract.output }} {{ steps.summarize.output }}",
            },
        ],
    }
)
MARKER = "RECORDED"


class Announce:
    """Says on stdout when a call that returned usage has gone through every hook."""

    async def before_call(self, call: CallInfo) -> None:
        """Nothing to do before."""

    async def after_call(self, call: CallInfo, outcome: CallOutcome) -> None:
        """Runs last, so the ledger row is committed by now."""
        if outcome.usage is not None:
            print(MARKER, flush=True)

    async def after_run(self, run: RunInfo) -> None:
        """Nothing to do after a run."""


def hooks() -> list[CallHook]:
    return [Announce(), *default_hooks()]


async def main(concurrency: int) -> None:
    flow = compile_recipe(
        RECIPE, policy=RetryPolicy(retries=2, base_delay_s=0, max_delay_s=0), hooks=hooks
    )

    async def keep_running() -> None:
        while True:
            run = flow(ticket="I was charged twice", return_state=True)
            await cast("Awaitable[Any]", run)

    await asyncio.gather(*(keep_running() for _ in range(concurrency)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
