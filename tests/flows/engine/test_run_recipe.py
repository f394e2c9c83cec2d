"""Recipes run end to end on Prefect against the simulator, over real loopback HTTP.

Expected values are not hard-coded: each call the engine made is replayed
against the simulator with plain httpx, and the outputs and the ledger's tokens
and costs must equal what the simulator answered, priced independently.
"""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from typing import Any
from uuid import UUID

import genai_prices
import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.events.worker import EventsWorker

from flows.engine import run_recipe
from flows.recipe import Recipe
from providers.simulator import Fault, FaultKind, SimulatorServer, key_fingerprint
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

SCHEMA = {
    "type": "object",
    "properties": {
        "topic": {"type": "string"},
        "urgent": {"type": "boolean"},
        "sentiment": {"type": "string", "enum": ["negative", "neutral", "positive"]},
    },
    "required": ["topic", "urgent", "sentiment"],
}


def triage(**overrides: Any) -> Recipe:
    """Three providers: `extract` and `summarize` in parallel, then `reply`."""
    steps: list[dict[str, Any]] = [
        {
            "id": "extract",
            "model": "anthropic:claude-haiku-4-5",
            "system": "You extract facts.",
            "prompt": "Ticket: {{ inputs.ticket }}",
            "output": SCHEMA,
            "max_tokens": 300,
        },
        {
            "id": "summarize",
            "model": "google:gemini-2.5-flash",
            "prompt": "Summarise in one line: {{ inputs.ticket }}",
        },
        {
            "id": "reply",
            "model": "openai:gpt-5-mini",
            "prompt": (
                "Reply about {{ steps.extract.output.topic }} given {{ steps.summarize.output }}"
            ),
        },
    ]
    for step in steps:
        step.update(overrides.get(step["id"], {}))
    return Recipe.model_validate(
        {
            "name": "triage-test",
            "inputs": {"ticket": {"type": "string"}},
            "steps": steps,
        }
    )


INPUTS = {"ticket": "I was charged twice for the March invoice."}


def replay(sim: SimulatorServer, index: int, key: str) -> dict[str, Any]:
    """Send the engine's recorded request again, as-is, and return the JSON reply."""
    call = sim.requests[index]
    headers = {
        Protocol.ANTHROPIC: {"x-api-key": key, "anthropic-version": "2023-06-01"},
        Protocol.OPENAI: {"authorization": f"Bearer {key}"},
        Protocol.GOOGLE: {"x-goog-api-key": key},
    }[call.protocol]
    reply = httpx.post(f"{sim.url}{call.path}", json=call.body, headers=headers)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


def usage_of(protocol: Protocol, body: dict[str, Any]) -> tuple[int, int]:
    """(all input tokens, all output tokens) as the provider reported them."""
    if protocol is Protocol.ANTHROPIC:
        u = body["usage"]
        return u["input_tokens"] + u["cache_read_input_tokens"], u["output_tokens"]
    if protocol is Protocol.OPENAI:
        u = body["usage"]
        return u["prompt_tokens"], u["completion_tokens"]
    u = body["usageMetadata"]
    return u["promptTokenCount"], u["candidatesTokenCount"] + u.get("thoughtsTokenCount", 0)


def text_of(protocol: Protocol, body: dict[str, Any]) -> str:
    if protocol is Protocol.ANTHROPIC:
        return "".join(b["text"] for b in body["content"] if b["type"] == "text")
    if protocol is Protocol.OPENAI:
        text: str = body["choices"][0]["message"]["content"]
        return text
    return "".join(p["text"] for p in body["candidates"][0]["content"]["parts"])


async def test_outputs_and_ledger_equal_what_the_providers_returned(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert [r.protocol for r in sim.requests].count(Protocol.OPENAI) == 1
    assert len(sim.requests) == 3
    by_step = {row.step: row for row in result.usage}
    assert set(by_step) == {"extract", "summarize", "reply"}
    step_of = {
        Protocol.ANTHROPIC: "extract",
        Protocol.GOOGLE: "summarize",
        Protocol.OPENAI: "reply",
    }
    for index, call in enumerate(sim.requests):
        step = step_of[call.protocol]
        body = replay(sim, index, keys[call.protocol])
        text = text_of(call.protocol, body)
        import json

        expected_output = json.loads(text) if step == "extract" else text
        assert result.outputs[step] == expected_output
        row = by_step[step]
        assert (row.input_tokens, row.output_tokens) == usage_of(call.protocol, body)
        price = genai_prices.calc_price(
            genai_prices.Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
            row.model,
            provider_id=row.provider,
        )
        assert row.cost_usd == price.total_price
    assert result.cost_usd == sum((r.cost_usd or Decimal(0) for r in result.usage), Decimal(0))
    assert result.answered_by == {
        "extract": "anthropic:claude-haiku-4-5",
        "summarize": "google:gemini-2.5-flash",
        "reply": "openai:gpt-5-mini",
    }


async def test_each_call_carries_its_own_providers_key(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED"
    for call in sim.requests:
        assert call.key_fingerprint == key_fingerprint(keys[call.protocol])
        assert not call.key_in_url


async def test_independent_steps_run_concurrently(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.settings = dataclasses.replace(sim.settings, latency_ms=400)

    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED"
    calls = {call.protocol: call for call in sim.requests}
    extract, summarize = calls[Protocol.ANTHROPIC], calls[Protocol.GOOGLE]
    reply = calls[Protocol.OPENAI]
    assert max(extract.started, summarize.started) < min(extract.ended, summarize.ended)
    assert reply.started >= max(extract.ended, summarize.ended)


async def test_failed_step_fails_the_run_and_names_the_step(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(Fault(kind=FaultKind.STATUS, provider=Protocol.ANTHROPIC, status=400, times=None))

    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert result.error is not None
    assert result.error.startswith("step 'extract' (anthropic:claude-haiku-4-5) failed:")
    assert "not run: reply" in result.error
    protocols = [call.protocol for call in sim.requests]
    assert protocols.count(Protocol.ANTHROPIC) == 1  # an invalid request is never retried
    assert Protocol.OPENAI not in protocols  # the dependent step never called its provider
    assert "summarize" in result.outputs  # the independent step still completed
    async with get_client() as client:
        flow_run = await client.read_flow_run(UUID(result.run_id))
    assert flow_run.state is not None
    assert flow_run.state.is_failed()
    assert "step 'extract'" in (flow_run.state.message or "")


async def test_transient_errors_are_retried_through_prefect(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(
        Fault(kind=FaultKind.STATUS, provider=Protocol.GOOGLE, status=429, retry_after_s=0),
        Fault(kind=FaultKind.DROP, provider=Protocol.GOOGLE),
    )

    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    google_calls = [c for c in sim.requests if c.protocol is Protocol.GOOGLE]
    assert len(google_calls) == 3
    summarize_rows = [r for r in result.usage if r.step == "summarize"]
    assert [r.attempt for r in summarize_rows] == [3]  # failed attempts returned no usage


async def test_fallback_answers_when_the_primary_keeps_failing(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(Fault(kind=FaultKind.STATUS, provider=Protocol.OPENAI, status=503, times=None))
    recipe = triage(reply={"fallbacks": ["anthropic:claude-sonnet-4-5"], "retries": 1})

    result = await run_recipe(recipe, INPUTS, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert result.answered_by["reply"] == "anthropic:claude-sonnet-4-5"
    assert [c.protocol for c in sim.requests].count(Protocol.OPENAI) == 2
    reply_rows = [r for r in result.usage if r.step == "reply"]
    assert [(r.provider, r.model) for r in reply_rows] == [("anthropic", "claude-sonnet-4-5")]


async def test_a_run_uses_only_its_own_orgs_keys(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(triage(), INPUTS, org="acme", policy=NO_WAIT)

    assert result.state == "FAILED"
    assert result.error is not None
    assert "no key" in result.error
    assert "acme" in result.error
    assert sim.requests == ()


async def test_task_runs_are_named_after_step_and_model(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await run_recipe(triage(), INPUTS, policy=NO_WAIT)

    # Task runs reach the server as events, which it records asynchronously.
    await asyncio.to_thread(EventsWorker.drain_all)
    async with get_client() as client:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        in_run = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(result.run_id)]))
        for _ in range(100):
            runs = await client.read_task_runs(flow_run_filter=in_run)
            if len(runs) == 3 and all(r.state is not None and r.state.is_final() for r in runs):
                break
            await asyncio.sleep(0.1)  # the server records events in batches
        flow_run = await client.read_flow_run(UUID(result.run_id))
        flow = await client.read_flow(flow_run.flow_id)
    assert flow.name == "triage-test"
    assert sorted(run.name for run in runs) == [
        "extract · anthropic:claude-haiku-4-5",
        "reply · openai:gpt-5-mini",
        "summarize · google:gemini-2.5-flash",
    ]
    assert all(run.state is not None and run.state.is_completed() for run in runs)
