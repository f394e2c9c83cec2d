"""A step's `stream` option: SSE on the wire, the same output and ledger tokens as without.

Each protocol gets two steps with the same model and prompt, one with
`stream: false` and one with `stream: true`; the simulator's record shows
which call asked for a stream, and the simulator answers the same request the
same way whether it streams it or not, so outputs, tokens and costs must match.
"""

from __future__ import annotations

from typing import Any

import pytest

from flows.engine import run_recipe
from flows.recipe import Recipe
from providers.simulator import SimulatorServer
from providers.streaming import STREAM_MIN_MAX_TOKENS
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

MODELS = {
    Protocol.ANTHROPIC: "anthropic:claude-haiku-4-5",
    Protocol.OPENAI: "openai:gpt-5-mini",
    Protocol.GOOGLE: "google:gemini-2.5-flash",
}
LONG = STREAM_MIN_MAX_TOKENS + 1000


def _recipe() -> Recipe:
    steps: list[dict[str, Any]] = []
    for protocol, model in MODELS.items():
        prompt = f"Summarise for {protocol.value}: {{{{ inputs.ticket }}}}"
        steps.append(
            {"id": f"{protocol.value}_plain", "model": model, "prompt": prompt, "stream": False}
        )
        steps.append(
            {"id": f"{protocol.value}_streamed", "model": model, "prompt": prompt, "stream": True}
        )
    # Unset means automatic: a long max_tokens streams, unless the step says false.
    steps.append({"id": "auto_long", "model": "openai:gpt-4o", "prompt": "Hi", "max_tokens": LONG})
    steps.append(
        {
            "id": "forced_off",
            "model": "openai:gpt-4.1",
            "prompt": "Hi",
            "max_tokens": LONG,
            "stream": False,
        }
    )
    return Recipe.model_validate(
        {"name": "stream-option", "inputs": {"ticket": {"type": "string"}}, "steps": steps}
    )


async def test_streamed_steps_use_sse_and_match_unstreamed_ones(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(_recipe(), {"ticket": "charged twice"}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    for protocol, model in MODELS.items():
        calls = [r for r in sim.requests if r.model == model.partition(":")[2]]
        assert sorted(r.stream for r in calls) == [False, True], protocol
        assert all(r.status == 200 for r in calls)
        plain, streamed = f"{protocol.value}_plain", f"{protocol.value}_streamed"
        assert result.outputs[streamed] == result.outputs[plain] != ""
        rows = {row.step: row for row in result.usage}
        for kind in ("input_tokens", "cache_read_tokens", "output_tokens", "reasoning_tokens"):
            assert getattr(rows[streamed], kind) == getattr(rows[plain], kind), (protocol, kind)
        assert rows[streamed].output_tokens > 0
        assert rows[streamed].cost_usd == rows[plain].cost_usd is not None
    by_model = {r.model: r.stream for r in sim.requests}
    assert by_model["gpt-4o"] is True  # automatic: long max_tokens streams
    assert by_model["gpt-4.1"] is False  # `stream: false` wins over the automatic choice
    assert len(result.usage) == len(sim.requests) == 8
