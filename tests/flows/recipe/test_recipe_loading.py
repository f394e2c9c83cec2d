"""Loading recipes from YAML: one error listing every problem by file, step and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.recipe import RecipeError, find_recipes, load_recipe, parse_recipe, validate_recipe

DEMO = Path(__file__).parents[3] / "flows" / "examples" / "demo.yaml"

VALID = """\
name: triage
inputs:
  ticket: {type: string}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    prompt: "Ticket: {{ inputs.ticket }}"
  - id: reply
    model: openai:gpt-5-mini
    prompt: "Reply about {{ steps.extract.output }}"
"""


def error_lines(text: str, source: str = "recipes/triage.yaml") -> list[str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, source=source)
    assert str(info.value) == "\n".join(info.value.lines())
    return info.value.lines()


def test_demo_recipe_is_valid_and_uses_three_providers_in_parallel() -> None:
    demo = load_recipe(DEMO)
    assert {s.model_ref.prefix for s in demo.steps} == {"anthropic", "openai", "google"}
    assert demo.layers() == [["extract", "summarize"], ["reply"]]
    assert demo.step("extract").structured
    assert demo.dependencies()["reply"] == {"extract", "summarize"}
    assert demo.coerce_inputs({})["ticket"].startswith("Hi,")


def test_valid_yaml_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "triage.yaml"
    path.write_text(VALID, encoding="utf-8")
    loaded = load_recipe(path)
    assert loaded == parse_recipe(VALID)
    assert loaded.topological_order() == ["extract", "reply"]
    assert validate_recipe(loaded.model_dump(mode="json")) == loaded


def test_a_bad_model_string_names_file_step_and_field() -> None:
    text = VALID.replace("openai:gpt-5-mini", "gpt5")
    assert error_lines(text) == [
        "recipes/triage.yaml: step 'reply': field 'model': "
        "expected PREFIX:MODEL such as openai:gpt-5-mini, got 'gpt5'"
    ]


def test_an_unknown_key_gets_a_suggestion() -> None:
    text = VALID.replace('    prompt: "Reply', '    promt: "Reply')
    assert error_lines(text) == [
        "recipes/triage.yaml: step 'reply': missing required field 'prompt'",
        "recipes/triage.yaml: step 'reply': unknown field 'promt' (did you mean 'prompt'?)",
    ]
    assert error_lines(VALID + "budget: 1\n") == [
        "recipes/triage.yaml: unknown field 'budget' (did you mean 'budget_usd'?)"
    ]


def test_a_cycle_is_reported_as_a_path() -> None:
    text = VALID.replace("{{ inputs.ticket }}", "{{ steps.reply.output }}")
    assert error_lines(text) == ["recipes/triage.yaml: steps: cycle extract → reply → extract"]


def test_every_field_problem_is_listed_at_once() -> None:
    text = """\
name: Triage
inputs:
  ticket: {type: string, default: 3}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    prompt: "{{ inputs.ticket"
    output: {type: objekt}
    fallbacks: [google:gemini-2.5-flash, gemini]
  - id: reply
    model: openai:gpt-5-mini
    prompt: hi
    max_tokens: lots
  - just text
"""
    assert error_lines(text, "t.yaml") == [
        "t.yaml: field 'name': expected a slug of lowercase letters, digits, '-' and '_' "
        "(at most 64 characters, e.g. support-triage), got 'Triage'",
        "t.yaml: input 'ticket': field 'default': expected text, got a number",
        "t.yaml: step 'extract': field 'prompt': line 1: template syntax error: "
        "unexpected end of template, expected 'end of print statement'.",
        "t.yaml: step 'extract': field 'output': not a valid JSON Schema: "
        "'objekt' is not valid under any of the given schemas (at /type)",
        "t.yaml: step 'extract': field 'fallbacks[1]': "
        "expected PREFIX:MODEL such as openai:gpt-5-mini, got 'gemini'",
        "t.yaml: step 'reply': field 'max_tokens': should be a valid integer, got 'lots'",
        "t.yaml: step #3: expected a mapping of fields, got text",
    ]


def test_reference_problems_are_listed_together() -> None:
    text = VALID.replace(
        "{{ steps.extract.output }}", "{{ steps.extrac.output }} {{ inputs.tiket }}"
    )
    text = text.replace('    prompt: "Ticket', '    needs: [fetch]\n    prompt: "Ticket')
    assert error_lines(text) == [
        "recipes/triage.yaml: step 'extract': field 'needs': "
        "unknown step 'fetch'; steps are: extract, reply",
        "recipes/triage.yaml: step 'reply': field 'prompt': "
        "line 1: steps.extrac is not a step (did you mean 'extract'?)",
        "recipes/triage.yaml: step 'reply': field 'prompt': "
        "line 1: inputs.tiket is not declared (did you mean 'ticket'?)",
    ]


def test_templates_with_hidden_dependencies_are_rejected() -> None:
    text = VALID.replace("{{ steps.extract.output }}", "{% for s in steps %}{{ s }}{% endfor %}")
    assert error_lines(text) == [
        "recipes/triage.yaml: step 'reply': field 'prompt': line 1: refer to another step as "
        "steps.<id> or steps['<id>'] so the dependency is known before the run"
    ]


def test_yaml_syntax_errors_give_line_and_column() -> None:
    assert error_lines("name: x\nsteps: [\n", "r.yaml") == [
        "r.yaml:3:1: YAML syntax error: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)"
    ]


def test_duplicate_yaml_keys_are_errors() -> None:
    text = VALID.replace('    prompt: "Reply', '    prompt: first\n    prompt: "Reply')
    assert error_lines(text) == [
        "recipes/triage.yaml:11:5: YAML syntax error: "
        "duplicate key 'prompt' (first given on line 10)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file; a recipe needs at least name and steps"),
        ("# only a comment\n", "empty file; a recipe needs at least name and steps"),
        ("- a\n- b\n", "expected a mapping with name and steps at the top level, got a list"),
        ("just words", "expected a mapping with name and steps at the top level, got text"),
        ("name: x\n", "missing required field 'steps'"),
        ("name: x\nsteps: []\n", "field 'steps': a recipe needs at least one step"),
        ("name: x\nsteps: {a: 1}\n", "field 'steps': expected a list, got a mapping"),
        (
            "name: x\ninputs: [a]\nsteps: []\n",
            "field 'inputs': expected a mapping of fields, got a list",
        ),
    ],
)
def test_files_that_are_not_recipes(text: str, message: str) -> None:
    assert error_lines(text, "r.yaml")[0] == f"r.yaml: {message}"


def test_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"missing\.yaml: no such file"):
        load_recipe(tmp_path / "missing.yaml")
    with pytest.raises(RecipeError, match="is a directory"):
        load_recipe(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RecipeError, match="not UTF-8 text"):
        load_recipe(binary)


def test_find_recipes_lists_yaml_files_in_folders(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.yml", "notes.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "c.yaml").write_text("x", encoding="utf-8")
    explicit = tmp_path / "notes.txt"
    assert find_recipes([tmp_path, explicit, tmp_path / "b.yaml"]) == [
        tmp_path / "a.yml",
        tmp_path / "b.yaml",
        explicit,
    ]
    with pytest.raises(RecipeError, match="no such file or folder"):
        find_recipes([tmp_path / "nope"])
