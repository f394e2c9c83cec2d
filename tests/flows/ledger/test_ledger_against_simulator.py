"""Every billed call of a real run is one ledger row, priced exactly; its cost reaches Prefect.

One recipe covers what users find mispriced elsewhere: a normal structured
call, a reply that does not match its schema (billed, then failed), a reply
cut off by `max_tokens` (billed, invalid JSON), and a primary that keeps
failing with 503 (not billed) so its fallback answers. The simulator's
replies are replayed and priced by hand (`billing.py`), row by row.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import genai_prices
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import State
from prefect.flow_engine import run_flow_async
from prefect.logging.handlers import APILogHandler

from flows.engine import RunResult, compile_recipe, run_recipe
from flows.ledger import UsageRecord, rows_for_run
from flows.ledger.run_report import artifact_key
from flows.recipe import Recipe
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT
from tests.flows.ledger.billing import billed_calls, hand_priced
from vault import KeyStore
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

CANARY = "canary-7f3a1c-prompt-text"

STEPS: list[dict[str, Any]] = [
    {
        "id": "extract",
        "model": "anthropic:claude-haiku-4-5",
        "prompt": "Ticket: {{ inputs.ticket }}",
        "output": {
            "type": "object",
            "properties": {"topic": {"type": "string"}, "urgent": {"type": "boolean"}},
            "required": ["topic", "urgent"],
        },
    },
    {
        # The simulator ignores `pattern`: its JSON is valid, but not for this schema.
        "id": "code",
        "model": "openai:gpt-5-mini",
        "prompt": "Give the ticket's four-digit code: {{ inputs.ticket }}",
        "output": {
            "type": "object",
            "properties": {"code": {"type": "string", "pattern": "^[0-9]{4}$"}},
            "required": ["code"],
        },
    },
    {
        # Three output tokens cannot hold the object: the reply is cut mid-JSON.
        "id": "cut",
        "model": "anthropic:claude-sonnet-4-5",
        "prompt": "Classify: {{ inputs.ticket }}",
        "output": {
            "type": "object",
            "properties": {"label": {"type": "string"}},
            "required": ["label"],
        },
        "max_tokens": 3,
    },
    {
        "id": "summary",
        "model": "openai:gpt-5-nano",
        "prompt": "Summarise: {{ inputs.ticket }}",
        "fallbacks": ["google:gemini-2.5-flash"],
        "retries": 1,
    },
]

EXPECTED_OUTCOME = {
    "claude-haiku-4-5": "ok",
    "gpt-5-mini": "ResponseError:schema_mismatch",
    "claude-sonnet-4-5": "ResponseError:invalid_json",
    "gemini-2.5-flash": "ok",
}


async def _run(sim: SimulatorServer) -> RunResult:
    sim.inject(Fault.error(503, provider=Protocol.OPENAI, model="gpt-5-nano", times=None))
    recipe = Recipe.model_validate(
        {"name": "ledger-check", "inputs": {"ticket": {"type": "string"}}, "steps": STEPS}
    )
    return await run_recipe(recipe, {"ticket": f"charged twice {CANARY}"}, policy=NO_WAIT)


async def test_every_billed_call_is_one_row_priced_exactly(
    sim: SimulatorServer, keys: dict[Protocol, str], byok_home: Path
) -> None:
    result = await _run(sim)
    answered = sim.requests

    assert result.state == "FAILED"  # `code` and `cut` failed: their replies were unusable
    assert "summary" in result.outputs
    assert result.answered_by["summary"] == "google:gemini-2.5-flash"
    billed = billed_calls(sim, keys, answered)
    statuses = Counter(call.status for call in answered)
    assert statuses == {200: 4, 503: 2}  # the primary and its retry: 503s bill nothing
    rows = {row.model: row for row in result.usage}
    assert len(result.usage) == len(billed) == 4
    store = KeyStore.open()
    for call in billed:
        row = rows[call.model]
        key = store.find_key("default", call.protocol.value)
        assert (row.provider, row.key_id, row.key_version) == (
            call.protocol.value,
            key.id,
            key.version,
        )
        assert (row.input_tokens, row.output_tokens) == (call.input_tokens, call.output_tokens)
        assert row.cache_read_tokens == row.cache_write_tokens == row.reasoning_tokens == 0
        expected = hand_priced(row.provider, row.model, call.input_tokens, call.output_tokens)
        assert row.cost_usd == expected
        assert row.cost_usd == _genai_total(row)
        assert row.input_cost_usd == hand_priced(row.provider, row.model, call.input_tokens, 0)
        assert row.output_cost_usd == hand_priced(row.provider, row.model, 0, call.output_tokens)
        assert row.cache_read_cost_usd == row.cache_write_cost_usd == 0
        assert row.price_source == f"genai-prices {genai_prices.__version__}"
        assert row.outcome == EXPECTED_OUTCOME[row.model]
        assert (row.org, row.user, row.recipe, row.run_id) == (
            "default",
            "local",
            "ledger-check",
            result.run_id,
        )
        assert row.deployment is None
        assert row.attempt == 1
        assert row.latency_ms >= 0
    assert rows["claude-haiku-4-5"].model_reported == "claude-haiku-4-5"
    # Numbers and ids only: the prompt is nowhere in the database (ledger, budgets, vault).
    for part in byok_home.glob("byok.db*"):
        assert CANARY.encode() not in part.read_bytes(), part.name
    by_hand = [hand_priced(r.provider, r.model, r.input_tokens, r.output_tokens)
               for r in result.usage]  # fmt: skip
    assert result.cost_usd == sum(by_hand, Decimal(0))


async def test_the_run_publishes_its_cost_per_step_to_prefect(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = await _run(sim)
    await APILogHandler.aflush()

    run_id = UUID(result.run_id)
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
        logs = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
        )
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    tables = [a for a in artifacts if a.type == "table"]
    assert [a.key for a in tables] == [artifact_key("ledger-check")] == ["cost-ledger-check"]
    table = json.loads(str(tables[0].data))
    *calls, total = table
    assert [(c["step"], c["model"], c["cost_usd"]) for c in calls] == [
        (r.step, f"{r.provider}:{r.model}", float(r.cost_usd or 0)) for r in result.usage
    ]
    assert total["step"] == "total"
    assert total["cost_usd"] == float(result.cost_usd or 0)
    assert total["input_tokens"] == sum(r.input_tokens for r in result.usage)
    lines = [log.message for log in logs if log.message.startswith("run cost:")]
    assert lines == [f"run cost: {result.cost_usd} USD over 4 provider calls (0 unpriced)"]
    # Numbers and ids only: the prompt never reaches the artifact, the logs or the run.
    assert CANARY not in json.dumps(table)
    assert CANARY not in (tables[0].description or "")
    assert all(CANARY not in log.message for log in logs)
    assert runs[0].state is not None
    assert CANARY not in (runs[0].state.message or "")


def _genai_total(row: UsageRecord) -> Decimal:
    return genai_prices.calc_price(
        genai_prices.Usage(input_tokens=row.input_tokens, output_tokens=row.output_tokens),
        row.model,
        provider_id=row.provider,
    ).total_price


async def test_a_deployment_run_records_its_deployment(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    recipe = Recipe.model_validate(
        {
            "name": "deployed-recipe",
            "inputs": {"ticket": {"type": "string"}},
            "steps": [
                {"id": "only", "model": "google:gemini-2.5-flash", "prompt": "{{ inputs.ticket }}"}
            ],
        }
    )
    flow = compile_recipe(recipe, policy=NO_WAIT)
    async with get_client() as client:
        flow_id = await client.create_flow_from_name(recipe.name)
        deployment_id = await client.create_deployment(flow_id=flow_id, name="nightly")
        flow_run = await client.create_flow_run_from_deployment(
            deployment_id, parameters={"ticket": "x"}
        )

    state = await run_flow_async(
        flow, flow_run=flow_run, parameters={"ticket": "x"}, return_type="state"
    )

    assert isinstance(state, State)
    assert state.is_completed()
    (row,) = rows_for_run(get_engine(), str(flow_run.id))
    assert (row.deployment_id, row.deployment) == (str(deployment_id), "nightly")
