"""`byok run --dry-run`: the worst case of a recipe, with no provider called and no run started."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import genai_prices
import pytest
from typer.testing import CliRunner

from flows.budget.dry_run import estimate_recipe
from flows.budget.estimate import MESSAGE_OVERHEAD_TOKENS
from flows.cli.main import app
from flows.engine import run_recipe
from flows.recipe import Recipe, load_recipe
from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.conftest import NO_WAIT

runner = CliRunner()
CANARY = "canary-0c5e77-dry-run-input"

RECIPE = """\
name: estimate-me
inputs:
  ticket: {type: string}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    system: You extract facts.
    prompt: "Ticket: {{ inputs.ticket }}"
    max_tokens: 300
  - id: reply
    model: openai:gpt-5-mini
    prompt: "Reply about {{ steps.extract.output }}; again: {{ steps.extract.output | upper }}"
    fallbacks: [google:gemini-2.5-flash, ollama:llama3.2]
    max_tokens: 500
budget_usd: 0.01
"""


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "estimate.yaml"
    path.write_text(RECIPE)
    return path


def _per_mtok(provider: str, model: str) -> dict[str, Decimal]:
    table = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1), model, provider_id=provider
    ).model_price
    return {k: v for k, v in vars(table).items() if isinstance(v, Decimal)}


def _by_hand(provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal:
    p = _per_mtok(provider, model)
    dearer_input = max(p["input_mtok"], p.get("cache_write_mtok", Decimal(0)))
    return (input_tokens * dearer_input + output_tokens * p["output_mtok"]) / 10**6


def _dry_run(recipe_file: Path, *extra: str) -> dict[str, Any]:
    result = runner.invoke(
        app, ["run", str(recipe_file), "-i", f"ticket={CANARY}", "--dry-run", *extra]
    )
    assert result.exit_code == 0, result.output
    assert CANARY not in result.output  # numbers only, never the rendered prompt
    payload: dict[str, Any] = json.loads(result.stdout) if "--json" in extra else {}
    return payload


def test_dry_run_calls_no_provider_and_prices_the_worst_case(
    recipe_file: Path, byok_home: Path, sim: SimulatorServer
) -> None:
    estimate = _dry_run(recipe_file, "--json")

    assert sim.requests == ()
    extract, reply = estimate["steps"]
    prompt = len(f"Ticket: {CANARY}".encode()) + len(b"You extract facts.")
    assert extract["models"] == [
        {
            "model": "anthropic:claude-haiku-4-5",
            "provider": "anthropic",
            "input_tokens": prompt + MESSAGE_OVERHEAD_TOKENS,
            "output_tokens": 300,
            "cost_usd": float(
                _by_hand("anthropic", "claude-haiku-4-5", prompt + MESSAGE_OVERHEAD_TOKENS, 300)
            ),
        }
    ]
    # The upstream output appears twice, each up to its 300 tokens.
    reply_input = len(b"Reply about ; again: ") + 2 * 300 + MESSAGE_OVERHEAD_TOKENS
    costs = {m["model"]: m["cost_usd"] for m in reply["models"]}
    assert {m["input_tokens"] for m in reply["models"]} == {reply_input}
    assert costs == {
        "openai:gpt-5-mini": float(_by_hand("openai", "gpt-5-mini", reply_input, 500)),
        "google:gemini-2.5-flash": float(_by_hand("google", "gemini-2.5-flash", reply_input, 500)),
        "ollama:llama3.2": None,
    }
    assert reply["cost_usd"] == max(c for c in costs.values() if c is not None)
    assert estimate["worst_case_usd"] == pytest.approx(extract["cost_usd"] + reply["cost_usd"])
    assert estimate["unpriced_models"] == ["ollama:llama3.2"]
    assert estimate["budget_usd"] == 0.01
    assert estimate["within_budget"] is True


def test_the_table_says_what_was_left_out(recipe_file: Path, byok_home: Path) -> None:
    result = runner.invoke(
        app, ["run", str(recipe_file), "-i", "ticket=x", "--dry-run"], env={"COLUMNS": "160"}
    )

    assert result.exit_code == 0, result.output
    assert "no provider was called" in result.stdout
    assert "fits the recipe's budget_usd of 0.01" in result.stdout
    assert "no known price for ollama:llama3.2" in result.stderr


def test_a_missing_input_is_the_same_one_line_error_as_a_run(
    recipe_file: Path, byok_home: Path
) -> None:
    result = runner.invoke(app, ["run", str(recipe_file), "--dry-run"])

    assert result.exit_code == 2
    assert "ticket" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
async def test_a_real_run_never_costs_more_than_its_dry_run(
    recipe_file: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    estimate = _dry_run(recipe_file, "--json")
    recipe = load_recipe(recipe_file)

    result = await run_recipe(recipe, {"ticket": CANARY}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    worst = {step["step"]: Decimal(str(step["cost_usd"])) for step in estimate["steps"]}
    for row in result.usage:
        assert row.cost_usd is not None
        assert row.cost_usd <= worst[row.step]
    assert result.cost_usd is not None
    assert result.cost_usd <= Decimal(str(estimate["worst_case_usd"]))


def test_every_use_of_a_structured_upstream_output_counts_in_full() -> None:
    recipe = Recipe.model_validate(
        {
            "name": "structured",
            "steps": [
                {
                    "id": "extract",
                    "model": "openai:gpt-5-mini",
                    "prompt": "Extract.",
                    "max_tokens": 100,
                    "output": {"type": "object", "properties": {"topic": {"type": "string"}}},
                },
                {
                    "id": "reply",
                    "model": "openai:gpt-5-mini",
                    "prompt": (
                        "A {{ steps.extract.output.topic | upper }} "
                        "B {{ steps.extract.output.customer.name }} "
                        "C {% for tag in steps.extract.output.tags %}{{ tag }}{% endfor %} "
                        "D {{ steps.extract.output | tojson }}"
                    ),
                },
            ],
        }
    )

    estimate = estimate_recipe(recipe, {}, provider_of=lambda ref: ref.prefix)

    reply = estimate.steps[1].models[0].worst
    # Four uses, each up to extract's 100 tokens; a field that is itself unknown
    # renders as JSON, like the whole output, adding its braces and quotes.
    text = len('A  B {"": ""} C  D {"": ""}')
    assert reply.input_tokens == MESSAGE_OVERHEAD_TOKENS + text + 4 * 100
