"""The run form's schema: what the Prefect UI draws and what its API enforces.

Where Prefect's own generator has something to say (types, defaults, order,
required), the schema must agree with what Prefect derives from the compiled
flow's signature; descriptions, allowed values and masking come from the recipe.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from prefect.utilities.callables import parameter_schema as prefect_parameter_schema

from deployments.schema import parameter_schema
from flows.engine import compile_recipe
from flows.recipe import Recipe, parse_recipe
from tests.deployments.recipes import typed_recipe


def _validator(recipe: Recipe) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(parameter_schema(recipe))


def test_types_defaults_order_and_required_agree_with_prefects_own_generator() -> None:
    recipe = typed_recipe()
    ours = parameter_schema(recipe)
    theirs = prefect_parameter_schema(compile_recipe(recipe).fn).model_dump()

    assert ours["required"] == theirs["required"]
    assert list(ours["properties"]) == list(theirs["properties"])
    for name, prop in theirs["properties"].items():
        for key in ("type", "default", "position", "title"):
            assert ours["properties"][name].get(key) == prop.get(key), (name, key)


def test_descriptions_and_allowed_values_come_from_the_recipe() -> None:
    recipe = typed_recipe()
    properties = parameter_schema(recipe)["properties"]

    for name, spec in recipe.inputs.items():
        assert properties[name].get("description", "") == spec.description
    assert properties["tone"]["enum"] == ["friendly", "formal"]
    assert "enum" not in properties["ticket"]


def test_a_number_default_is_offered_as_a_number() -> None:
    recipe = parse_recipe(
        "name: n\ninputs: {x: {type: number, default: 1}}\nsteps: [{id: a, model: 'openai:m', "
        "prompt: '{{ inputs.x }}'}]"
    )

    default = parameter_schema(recipe)["properties"]["x"]["default"]

    assert default == 1.0
    assert isinstance(default, float)


def test_sensitive_inputs_take_a_reference_never_a_value() -> None:
    recipe = parse_recipe(
        "name: s\ninputs: {token: {sensitive: true, type: integer}}\nsteps: [{id: a, "
        "model: 'openai:m', prompt: '{{ inputs.token }}'}]"
    )

    prop = parameter_schema(recipe)["properties"]["token"]
    assert prop["type"] == "string"  # the reference, whatever the value's type
    assert "secret:NAME" in prop["description"]

    _validator(recipe).validate({"token": "secret:crm-token"})
    _validator(recipe).validate({"token": "file:/run/secrets/token"})
    for given in ("hunter2", "-", "secret:Not_A_Block"):
        with pytest.raises(jsonschema.ValidationError):
            _validator(recipe).validate({"token": given})


def test_parameters_the_recipe_accepts_pass() -> None:
    recipe = typed_recipe()
    good = {"ticket": "hi", "tone": "formal", "max_words": 80, "temperature": 1, "urgent": True}

    _validator(recipe).validate(good)
    _validator(recipe).validate(recipe.coerce_inputs({"ticket": "defaults only"}))


@pytest.mark.parametrize(
    ("parameters", "complaint"),
    [
        ({}, "required"),
        ({"ticket": 5}, "type"),
        ({"ticket": "x", "tone": "rude"}, "enum"),
        ({"ticket": "x", "max_words": 1.5}, "type"),
        ({"ticket": "x", "urgent": "maybe"}, "type"),
        ({"ticket": "x", "tickets": "typo"}, "additionalProperties"),
    ],
)
def test_parameters_the_recipe_rejects_fail(parameters: dict[str, Any], complaint: str) -> None:
    recipe = typed_recipe()

    errors = list(_validator(recipe).iter_errors(parameters))

    assert [error.validator for error in errors] == [complaint]
    # and the recipe's own input check agrees that these are bad
    with pytest.raises(ValueError, match="input"):
        recipe.coerce_inputs(parameters)
