"""`byok recipes validate|show` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.recipes import app

DEMO = Path(__file__).parents[3] / "flows" / "examples" / "demo.yaml"

BROKEN = """\
name: broken
steps:
  - id: a
    model: gpt5
    prompt: "{{ steps.b.output }}"
  - id: b
    model: openai:gpt-5-mini
    promt: hi
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    return path


def test_validate_ok(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(DEMO)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"ok: {DEMO} (3 steps)\n"


def test_validate_lists_every_problem_and_exits_2(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(app, ["validate", str(DEMO), str(broken)])
    assert result.exit_code == 2
    assert result.stdout == f"ok: {DEMO} (3 steps)\n"
    assert result.stderr.splitlines() == [
        f"error: {broken}: step 'a': field 'model': "
        "expected PREFIX:MODEL such as openai:gpt-5-mini, got 'gpt5'",
        f"error: {broken}: step 'b': missing required field 'prompt'",
        f"error: {broken}: step 'b': unknown field 'promt' (did you mean 'prompt'?)",
        "error: 1 of 2 recipes invalid",
    ]


def test_validate_a_folder_and_a_missing_path(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(app, ["validate", str(broken.parent), str(broken.parent / "gone.yaml")])
    assert result.exit_code == 2
    assert f"error: {broken.parent / 'gone.yaml'}: no such file or folder" in result.stderr
    assert f"error: {broken}: step 'b'" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: 2 of 2 recipes invalid"


def test_validate_an_empty_folder(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == "error: no recipe files (*.yaml, *.yml) found\n"


def test_problems_with_brackets_are_printed_verbatim(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\nsteps:\n- {id: a, model: 'openai:x', prompt: hi, fallbacks: ['[bold]x']}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert "field 'fallbacks[0]': expected PREFIX:MODEL" in result.stderr
    assert "got '[bold]x'" in result.stderr


def test_show_json_shape(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", str(DEMO), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["name"] == "support-triage-demo"
    assert shown["description"]
    assert set(shown["inputs"]["ticket"]) == {
        "type",
        "description",
        "required",
        "default",
        "enum",
        "sensitive",
    }
    assert shown["steps"] == [
        {"id": "extract", "model": "anthropic:claude-haiku-4-5", "needs": [], "layer": 1},
        {"id": "summarize", "model": "google:gemini-2.5-flash", "needs": [], "layer": 1},
        {
            "id": "reply",
            "model": "openai:gpt-5-mini",
            "needs": ["extract", "summarize"],
            "layer": 2,
        },
    ]


def test_show_gives_a_sensitive_inputs_reference(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\ninputs: {token: {sensitive: true, default: 'secret:crm-token'}}\n"
        "steps: [{id: a, model: 'openai:x', prompt: '{{ inputs.token }}'}]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["show", str(path), "--json"])
    token = json.loads(result.stdout)["inputs"]["token"]
    assert token["sensitive"] is True
    assert token["default"] == "secret:crm-token"


def test_validate_refuses_a_sensitive_value_without_showing_it(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        "name: r\ninputs: {token: {sensitive: true, default: hunter2-canary}}\n"
        "steps: [{id: a, model: 'openai:x', prompt: '{{ inputs.token }}'}]\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code != 0
    assert "must be a reference" in result.output
    assert "hunter2-canary" not in result.output


def test_show_table_lists_steps_by_layer(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", str(DEMO)], terminal_width=120)
    assert result.exit_code == 0, result.output
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    assert [row.split("│")[1:3] for row in rows[:3]] == [
        ["     1 ", " extract   "],
        ["     1 ", " summarize "],
        ["     2 ", " reply     "],
    ]
    assert "anthropic:claude-haiku-4-5" in result.stdout
    assert "extract, summarize" in result.stdout
    assert "↳ google:gemini-2.5-flash" in result.stdout
    assert "Steps in the same layer run in parallel." in result.stdout


def test_show_an_invalid_recipe(runner: CliRunner, broken: Path) -> None:
    result = runner.invoke(app, ["show", str(broken)])
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 3
    assert result.stdout == ""
