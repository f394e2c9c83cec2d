"""A reply that repeats the key never hands the key to the user or to the next step."""

from __future__ import annotations

import pytest

from flows.engine import run_recipe
from flows.engine.scrub import scrub_output
from flows.recipe import parse_recipe
from providers import redaction
from providers.secret import SecretKey
from providers.simulator import SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol
from tests.conftest import NO_WAIT

RECIPE = """\
name: scrub-test
steps:
  - {id: first, model: 'openai:gpt-5-mini', prompt: 'Say hello'}
  - {id: second, model: 'anthropic:claude-haiku-4-5', prompt: 'Repeat: {{ steps.first.output }}'}
"""


def test_every_string_in_a_structured_output_is_scrubbed() -> None:
    key = SecretKey("sk-scrub-canary-0123456789")
    output = {"a": [f"x {key.reveal()} y", 3, None], key.reveal(): {"b": key.reveal()}}

    scrubbed = scrub_output(output, key)

    assert key.reveal() not in repr(scrubbed)
    assert scrubbed["a"] == [f"x {redaction.REDACTED} y", 3, None]


def test_only_the_calls_key_is_scrubbed() -> None:
    key, other = SecretKey("sk-scrub-canary-0123456789"), SecretKey("sensitive-input-value-42")

    assert scrub_output(f"{other.reveal()}", key) == other.reveal()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
async def test_an_echoed_key_is_redacted_from_outputs_and_later_prompts(
    sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.settings = SimulatorSettings(echo=True, echo_key=True)

    result = await run_recipe(parse_recipe(RECIPE), {}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    openai_key = keys[Protocol.OPENAI]
    assert result.outputs["first"].endswith(f"Key: {redaction.REDACTED}")
    assert all(key not in str(result.outputs) for key in keys.values())
    second = next(r for r in sim.requests if r.protocol is Protocol.ANTHROPIC)
    assert openai_key not in str(second.body)  # the next step's prompt never carried it
