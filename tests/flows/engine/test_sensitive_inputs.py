"""Sensitive inputs reach the prompt by reference, and Prefect only ever holds the reference.

Each run goes through Prefect (test harness API) to the simulator in echo mode,
so the reply repeats the rendered prompt: the value must be in the output, and
the flow run's stored parameters must hold the reference and nothing else.
"""

from __future__ import annotations

import gc
import json
import secrets
from pathlib import Path
from uuid import UUID

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client

from flows.engine import run_recipe
from flows.engine.sensitive import resolve_sensitive
from flows.recipe import Recipe, parse_recipe
from providers import redaction
from providers.simulator import SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol
from tests.conftest import NO_WAIT

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def recipe(kind: str = "string") -> Recipe:
    return parse_recipe(
        f"name: sensitive-test\ninputs:\n  token: {{sensitive: true, type: {kind}}}\n"
        "  topic: {type: string, default: billing}\n"
        "steps: [{id: ask, model: 'openai:gpt-5-mini', "
        "prompt: 'Topic {{ inputs.topic }}, token {{ inputs.token }}'}]\n"
    )


def canary() -> str:
    return f"sensitive-canary-{secrets.token_hex(8)}"


async def stored_parameters(run_id: str) -> dict[str, object]:
    async with get_client() as client:
        run = await client.read_flow_run(UUID(run_id))
    return dict(run.parameters)


@pytest.fixture
def echo(sim: SimulatorServer) -> SimulatorServer:
    sim.settings = SimulatorSettings(echo=True)
    return sim


async def test_a_file_reference_is_read_in_the_run_and_only_the_reference_is_stored(
    echo: SimulatorServer, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    value = canary()
    path = tmp_path / "token.txt"
    path.write_text(value + "\n", encoding="utf-8")  # the trailing newline is not the value

    result = await run_recipe(recipe(), {"token": f"file:{path}"}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert f"token {value}" in result.outputs["ask"]
    parameters = await stored_parameters(result.run_id)
    assert parameters == {"token": f"file:{path}", "topic": "billing"}
    assert value not in json.dumps(parameters)


async def test_a_prefect_secret_reference_is_read_in_the_run(
    echo: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    value = canary()
    name = f"byok-test-{secrets.token_hex(4)}"
    await Secret(value=value).save(name)

    result = await run_recipe(recipe(), {"token": f"secret:{name}"}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert f"token {value}" in result.outputs["ask"]
    assert await stored_parameters(result.run_id) == {"token": f"secret:{name}", "topic": "billing"}


async def test_stdin_values_reach_the_run_in_memory(
    echo: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    value = canary()

    result = await run_recipe(recipe(), {"token": "-"}, policy=NO_WAIT, stdin={"token": value})

    assert result.state == "COMPLETED", result.error
    assert f"token {value}" in result.outputs["ask"]
    assert (await stored_parameters(result.run_id))["token"] == "-"


async def test_a_value_is_typed_like_any_input(
    echo: SimulatorServer, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    path = tmp_path / "pin.txt"
    path.write_text("004217\n", encoding="utf-8")

    result = await run_recipe(recipe("integer"), {"token": f"file:{path}"}, policy=NO_WAIT)

    assert result.state == "COMPLETED", result.error
    assert "token 4217" in result.outputs["ask"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("file:{tmp}/missing.txt", "input 'token': cannot read file:{tmp}/missing.txt (No such"),
        ("secret:no-such-block-here", "no Prefect Secret block named 'no-such-block-here'"),
        ("-", "input 'token': '-' (stdin) works only with `byok run`"),
    ],
)
async def test_an_unreadable_reference_fails_the_run_before_any_call(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    tmp_path: Path,
    reference: str,
    message: str,
) -> None:
    given = reference.format(tmp=tmp_path)

    result = await run_recipe(recipe(), {"token": given}, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert message.format(tmp=tmp_path) in (result.error or "")
    assert not sim.requests
    assert result.usage == []


async def test_a_value_of_the_wrong_type_fails_without_showing_it(
    sim: SimulatorServer, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    value = canary()
    path = tmp_path / "pin.txt"
    path.write_text(value, encoding="utf-8")

    result = await run_recipe(recipe("integer"), {"token": f"file:{path}"}, policy=NO_WAIT)

    assert result.state == "FAILED"
    assert "input 'token': expected a whole number" in (result.error or "")
    assert value not in (result.error or "")
    assert not sim.requests


async def test_values_are_redacted_from_logs_while_the_run_holds_them(tmp_path: Path) -> None:
    value = canary()
    path = tmp_path / "token.txt"
    path.write_text(value, encoding="utf-8")

    values, held = await resolve_sensitive(recipe(), {"token": f"file:{path}", "topic": "x"})

    assert values == {"token": value, "topic": "x"}
    assert redaction.redact(f"oops {value}") == f"oops {redaction.REDACTED}"
    held.clear()
    gc.collect()
    assert redaction.redact(f"oops {value}") == f"oops {value}"
