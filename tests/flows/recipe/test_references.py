"""Sensitive inputs are given by reference, and nothing echoes a value given instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.recipe import RecipeError, RecipeInputError, load_recipe, parse_recipe
from flows.recipe.references import InputReference, parse_reference

VALUE = "hunter2-canary-7f3a9c"

RECIPE = (
    "name: r\ninputs:\n  token: {sensitive: true}\n  n: {type: integer, default: 3}\n"
    "steps: [{id: a, model: 'openai:m', prompt: '{{ inputs.token }} {{ inputs.n }}'}]\n"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("file:/run/secrets/token", InputReference("file", "/run/secrets/token")),
        ("file:~/token.txt", InputReference("file", "~/token.txt")),
        ("secret:crm-token", InputReference("secret", "crm-token")),
        (" secret:crm-token\n", InputReference("secret", "crm-token")),
        ("-", InputReference("stdin")),
    ],
)
def test_references_parse_and_print_back(text: str, expected: InputReference) -> None:
    reference = parse_reference(text)
    assert reference == expected
    assert parse_reference(str(reference)) == reference


@pytest.mark.parametrize("given", [VALUE, f"sk-{VALUE}", f"{VALUE}:x", "file:", "http://x", 42])
def test_anything_else_is_refused_without_repeating_it(given: object) -> None:
    with pytest.raises(ValueError, match="give a reference to its value") as caught:
        parse_reference(given)
    assert VALUE not in str(caught.value)
    assert "http" not in str(caught.value)


def test_secret_names_must_be_prefect_block_names() -> None:
    with pytest.raises(ValueError, match="lowercase letters, digits and dashes"):
        parse_reference("secret:My_Token")


def test_stdin_is_refused_where_there_is_no_stdin() -> None:
    with pytest.raises(ValueError, match="only with `byok run`"):
        parse_reference("-", allow_stdin=False)


def test_a_value_given_for_a_sensitive_input_is_refused_and_not_echoed() -> None:
    recipe = parse_recipe(RECIPE)
    with pytest.raises(RecipeInputError) as caught:
        recipe.coerce_inputs({"token": VALUE})
    message = str(caught.value)
    assert "input 'token': is sensitive: give a reference" in message
    assert VALUE not in message


def test_references_pass_as_text_and_other_inputs_keep_their_types() -> None:
    recipe = parse_recipe(RECIPE)
    assert recipe.coerce_inputs({"token": "secret:crm-token"}) == {
        "token": "secret:crm-token",
        "n": 3,
    }
    assert recipe.coerce_inputs({"token": "-", "n": "5"}) == {"token": "-", "n": 5}


def test_a_sensitive_default_must_be_a_reference(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(
        f"name: r\ninputs: {{token: {{sensitive: true, default: {VALUE}}}}}\n"
        "steps: [{id: a, model: 'openai:m', prompt: '{{ inputs.token }}'}]\n",
        encoding="utf-8",
    )
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "field 'default': must be a reference" in message
    assert VALUE not in message


def test_a_sensitive_default_cannot_be_stdin_or_list_values() -> None:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(
            "name: r\ninputs: {token: {sensitive: true, default: '-', enum: [a, b]}}\n"
            "steps: [{id: a, model: 'openai:m', prompt: '{{ inputs.token }}'}]\n"
        )
    message = str(caught.value)
    assert "field 'enum': a sensitive input cannot list its values" in message
    assert "field 'default': must be a reference: '-' (stdin) works only with `byok run`" in message


def test_a_reference_default_is_used_when_the_run_gives_none() -> None:
    recipe = parse_recipe(
        "name: r\ninputs: {token: {sensitive: true, default: 'file:/run/secrets/t'}}\n"
        "steps: [{id: a, model: 'openai:m', prompt: '{{ inputs.token }}'}]\n"
    )
    assert recipe.coerce_inputs({}) == {"token": "file:/run/secrets/t"}
