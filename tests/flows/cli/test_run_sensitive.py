"""`byok run` with a sensitive input: stdin and files work, a value is refused unseen."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from providers.simulator import SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol

RECIPE = """\
name: cli-sensitive
inputs:
  token: {sensitive: true}
  other: {sensitive: true, default: "file:/nonexistent/never-read"}
steps:
  - id: ask
    model: openai:gpt-5-mini
    prompt: "Token {{ inputs.token }}"
    retries: 0
"""

runner = CliRunner()


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "sensitive.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    return path


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_value_piped_to_stdin_reaches_the_prompt(
    recipe_file: Path, sim: SimulatorServer, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    sim.settings = SimulatorSettings(echo=True)
    value = f"stdin-canary-{secrets.token_hex(8)}"
    other = tmp_path / "other.txt"
    other.write_text("unused", encoding="utf-8")

    result = runner.invoke(
        app,
        ["run", str(recipe_file), "-i", "token=-", "-i", f"other=file:{other}", "--json"],
        input=value + "\n",
    )

    assert result.exit_code == 0, result.output
    assert f"Token {value}" in json.loads(result.stdout)["outputs"]["ask"]


def test_a_value_typed_where_a_reference_belongs_is_refused_unseen(
    recipe_file: Path, byok_home: Path
) -> None:
    value = f"typed-canary-{secrets.token_hex(8)}"

    result = runner.invoke(app, ["run", str(recipe_file), "-i", f"token={value}"])

    assert result.exit_code == 2
    assert "input 'token': is sensitive: give a reference to its value" in result.output
    assert value not in result.output


def test_a_missing_file_is_one_line_before_prefect_starts(
    recipe_file: Path, keys: dict[Protocol, str], tmp_path: Path
) -> None:
    result = runner.invoke(app, ["run", str(recipe_file), "-i", f"token=file:{tmp_path}/nope"])

    assert result.exit_code == 2
    assert f"input 'token': cannot read file:{tmp_path}/nope (No such file" in result.output
    assert "ephemeral" not in result.output  # Prefect was never started


def test_only_one_input_can_read_stdin(recipe_file: Path, keys: dict[Protocol, str]) -> None:
    result = runner.invoke(app, ["run", str(recipe_file), "-i", "token=-", "-i", "other=-"])

    assert result.exit_code == 2
    assert "inputs 'token', 'other' all ask for stdin" in result.output
