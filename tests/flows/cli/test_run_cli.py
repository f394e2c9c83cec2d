"""`byok run` and `byok usage` as a user drives them: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from providers.simulator import Fault, FaultKind, SimulatorServer
from providers.types import Protocol

RECIPE = """\
name: cli-triage
inputs:
  ticket: {type: string}
  priority: {type: integer, default: 2}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    prompt: "P{{ inputs.priority }}: {{ inputs.ticket }}"
    output:
      type: object
      properties: {topic: {type: string}}
      required: [topic]
    retries: 0
  - id: reply
    model: openai:gpt-5-mini
    prompt: "Reply about {{ steps.extract.output.topic }}"
    retries: 0
"""


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "triage.yaml"
    path.write_text(RECIPE)
    return path


runner = CliRunner()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_run_json_has_the_documented_shape(
    recipe_file: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    result = runner.invoke(
        app, ["run", str(recipe_file), "--input", "ticket=charged twice", "--json"]
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) >= {"run_id", "state", "outputs", "cost_usd", "usage"}
    assert payload["state"] == "COMPLETED"
    assert isinstance(payload["outputs"]["extract"], dict)
    assert isinstance(payload["outputs"]["reply"], str)
    assert [row["step"] for row in payload["usage"]] == ["extract", "reply"]
    for row in payload["usage"]:
        assert {"provider", "model", "input_tokens", "output_tokens", "cost_usd"} <= set(row)
        assert row["input_tokens"] > 0
    assert payload["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in payload["usage"]))
    for key in keys.values():
        assert key not in result.output

    usage = runner.invoke(app, ["usage", "--by", "step", "--json"])
    assert usage.exit_code == 0, usage.output
    report = json.loads(usage.stdout)
    assert {g["key"] for g in report["groups"]} == {"extract", "reply"}
    assert report["total"]["calls"] == 2
    assert report["total"]["cost_usd"] == pytest.approx(payload["cost_usd"])


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_failed_run_exits_1_and_says_which_step(
    recipe_file: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    sim.inject(Fault(kind=FaultKind.STATUS, provider=Protocol.OPENAI, status=401))

    result = runner.invoke(app, ["run", str(recipe_file), "-i", "ticket=x", "--json"])

    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["state"] == "FAILED"
    assert payload["error"].startswith("step 'reply' (openai:gpt-5-mini) failed:")
    assert "extract" in payload["outputs"]
    assert keys[Protocol.OPENAI] not in result.output


def test_missing_key_is_one_line_before_prefect_starts(recipe_file: Path, byok_home: Path) -> None:
    result = runner.invoke(app, ["run", str(recipe_file), "-i", "ticket=x"])

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no key" in lines[0]
    assert "byok keys add" in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-i", "priority=2"], "ticket"),  # a required input is missing
        (["-i", "ticket=x", "-i", "priority=high"], "priority"),  # not an integer
        (["-i", "ticket=x", "-i", "colour=red"], "colour"),  # not a declared input
        (["-i", "ticket"], "KEY=VALUE"),  # malformed pair
    ],
)
def test_bad_input_is_a_clear_error(
    recipe_file: Path, byok_home: Path, args: list[str], expected: str
) -> None:
    result = runner.invoke(app, ["run", str(recipe_file), *args])

    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_unreadable_recipe_is_a_clear_error(tmp_path: Path, byok_home: Path) -> None:
    missing = tmp_path / "nope.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsteps: [\n")

    for path in (missing, broken):
        result = runner.invoke(app, ["run", str(path)])
        assert result.exit_code == 2
        assert str(path.name) in result.stderr
        assert "Traceback" not in result.output
