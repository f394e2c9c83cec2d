"""A recipe's inputs as the JSON Schema of its deployment's parameters.

The Prefect UI draws a deployment's run form from `parameter_openapi_schema`
(a text box, a number field, a toggle, a drop-down for `enum`, the default filled
in, the description under the label) and, with `enforce_parameter_schema`, the
Prefect API rejects a run whose parameters don't match it before any worker
sees it. Prefect would build this schema from a flow's signature, but a
signature cannot carry descriptions or allowed values, so it is built here from
the recipe, in the shape Prefect's own generator uses (`title`, `position`,
`required`); the tests check the two agree where both say something. A
sensitive input is a text field for its reference (`secret:NAME`, `file:PATH`).
"""

from __future__ import annotations

from typing import Any

from flows.recipe import InputSpec, Recipe
from flows.recipe.inputs import coerce_value
from flows.recipe.references import REFERENCE_PATTERN

__all__ = ["parameter_schema"]


def parameter_schema(recipe: Recipe) -> dict[str, Any]:
    """The deployment parameter schema for `recipe`'s inputs, in declaration order.

    Unknown parameters are rejected (`additionalProperties: false`): a misspelt
    input name in an API call fails instead of being silently dropped.
    """
    properties = {
        name: _property(name, spec, position)
        for position, (name, spec) in enumerate(recipe.inputs.items())
    }
    return {
        "title": "Parameters",
        "type": "object",
        "properties": properties,
        "required": [name for name, spec in recipe.inputs.items() if spec.required],
        "additionalProperties": False,
        "definitions": {},
    }


def _property(name: str, spec: InputSpec, position: int) -> dict[str, Any]:
    if spec.sensitive:
        return _reference_property(name, spec, position)
    schema: dict[str, Any] = {"title": name, "type": spec.type, "position": position}
    if spec.description:
        schema["description"] = spec.description
    if spec.default is not None:
        # The recipe's own coercion, so a number default of 1 is offered as 1.0.
        schema["default"] = coerce_value(spec.type, spec.default, from_text=False)
    if spec.enum is not None:
        schema["enum"] = [coerce_value(spec.type, value, from_text=False) for value in spec.enum]
    return schema


def _reference_property(name: str, spec: InputSpec, position: int) -> dict[str, Any]:
    # The parameter holds where the value is, never the value: Prefect stores
    # parameters as given. The API refuses anything but a reference.
    hint = "A reference to the value: secret:NAME (a Prefect Secret block) or file:PATH"
    schema: dict[str, Any] = {
        "title": name,
        "type": "string",
        "position": position,
        "description": f"{spec.description} ({hint})" if spec.description else hint,
        "pattern": REFERENCE_PATTERN,
    }
    if spec.default is not None:
        schema["default"] = spec.default
    return schema
