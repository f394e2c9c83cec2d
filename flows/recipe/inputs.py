"""Recipe inputs: their declaration, and turning what a user typed into typed values.

Inputs arrive as text from `byok run --input k=v`, as JSON values from the Prefect
UI's run form, and as YAML values from a schedule; all go through `coerce_inputs`
so a recipe sees the same types whichever way it was started. Messages name the
input and the expected type but never repeat the value, which may be sensitive.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from typing import Any, Literal, Self

from pydantic import Field, model_validator

from flows.recipe.base import RecipeModel, did_you_mean, kind_of
from flows.recipe.errors import Problem, ProblemList
from flows.recipe.references import parse_reference

__all__ = ["InputSpec", "InputType", "coerce_inputs", "coerce_value"]

InputType = Literal["string", "number", "integer", "boolean"]

_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_MISMATCH = object()  # sentinel: no rule below accepted the value
_EXPECTED: dict[InputType, str] = {
    "string": "text",
    "number": "a number such as 0.5",
    "integer": "a whole number such as 42",
    "boolean": "true or false",
}


class InputSpec(RecipeModel):
    """One declared input: its type, help text, optional default and allowed values.

    An input without a default is required. A `sensitive` input is given by
    reference (`file:PATH`, `secret:NAME`, `-`), so the value itself is never a
    flow parameter; its default, if any, must be a reference too.
    """

    type: InputType = Field("string", description="string, number, integer or boolean")
    description: str = Field("", description="Shown in the CLI and the Prefect run form")
    default: Any = Field(None, description="Used when the run doesn't give a value")
    enum: list[Any] | None = Field(None, description="The only values allowed")
    sensitive: bool = Field(
        False, description="Given by reference (file:PATH, secret:NAME, -), never by value"
    )

    @property
    def required(self) -> bool:
        """True when a run must give a value (there is no default)."""
        return self.default is None

    @model_validator(mode="after")
    def _check_default_and_enum(self) -> Self:
        if self.sensitive:
            self._check_sensitive()
            return self
        problems: list[Problem] = []
        allowed: list[Any] = []
        if self.enum is not None:
            if not self.enum:
                problems.append(Problem("needs at least one value", field="enum"))
            for i, value in enumerate(self.enum):
                try:
                    allowed.append(coerce_value(self.type, value, from_text=False))
                except ValueError as e:
                    problems.append(Problem(str(e), field=f"enum[{i}]"))
        if self.default is not None:
            try:
                default = coerce_value(self.type, self.default, from_text=False)
            except ValueError as e:
                problems.append(Problem(str(e), field="default"))
            else:
                if allowed and default not in allowed:
                    choices = ", ".join(repr(v) for v in allowed)
                    problems.append(Problem(f"must be one of {choices}", field="default"))
        if problems:
            raise ProblemList(problems)
        return self

    def _check_sensitive(self) -> None:
        problems: list[Problem] = []
        if self.enum is not None:
            problems.append(
                Problem(
                    "a sensitive input cannot list its values (they would be in the recipe)",
                    field="enum",
                )
            )
        if self.default is not None:
            try:
                parse_reference(self.default, allow_stdin=False)
            except ValueError as e:
                problems.append(Problem(f"must be a reference: {e}", field="default"))
        if problems:
            raise ProblemList(problems)


def coerce_value(kind: InputType, value: Any, *, from_text: bool = True) -> Any:
    """`value` as a `kind` value, or a `ValueError` saying what was expected.

    `from_text` also accepts text spellings (`"42"`, `"yes"`), as typed on a
    command line; YAML and JSON values are otherwise taken as they are, except
    that a whole-number float counts as an integer and an integer as a number.
    """
    result: Any = _MISMATCH
    match kind, value:
        case "string", str():
            result = value
        case "boolean", bool():
            result = value
        case "boolean", str() if from_text and value.strip().lower() in _TRUE | _FALSE:
            result = value.strip().lower() in _TRUE
        case _, bool():
            pass  # True is an int in Python, but not a number in a recipe
        case "integer", int():
            result = value
        case "integer", float() if value.is_integer():
            result = int(value)
        case "integer", str() if from_text and _INTEGER_TEXT.fullmatch(value.strip()):
            result = int(value.strip())
        case "number", int() | float():
            with contextlib.suppress(OverflowError):  # an int too big for a float
                result = float(value)
        case "number", str() if from_text:
            with contextlib.suppress(ValueError):
                result = float(value.strip())
    if result is _MISMATCH or (isinstance(result, float) and not math.isfinite(result)):
        raise ValueError(f"expected {_EXPECTED[kind]}, got {kind_of(value)}")
    return result


def coerce_inputs(
    specs: Mapping[str, InputSpec], raw: Mapping[str, Any]
) -> tuple[dict[str, Any], list[Problem]]:
    """Typed values for every declared input, plus a problem per bad or missing one.

    A `None` value counts as not given. Defaults go through the same coercion so
    a `number` default of `1` arrives as `1.0`.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for name in raw:
        if name not in specs:
            declared = ", ".join(specs) if specs else "none"
            problems.append(
                Problem(
                    f"unknown input {name!r}{did_you_mean(name, specs)}; "
                    f"this recipe's inputs: {declared}"
                )
            )
    for name, spec in specs.items():
        value = raw.get(name)
        if value is None:
            value = spec.default
        if value is None:
            problems.append(Problem(f"missing required input {name!r}"))
            continue
        if spec.sensitive:
            try:
                values[name] = str(parse_reference(value))
            except ValueError as e:
                problems.append(Problem(f"is sensitive: {e}", where=f"input {name!r}"))
            continue
        try:
            value = coerce_value(spec.type, value)
        except ValueError as e:
            problems.append(Problem(str(e), where=f"input {name!r}"))
            continue
        if spec.enum is not None and value not in [
            coerce_value(spec.type, v, from_text=False) for v in spec.enum
        ]:
            choices = ", ".join(repr(v) for v in spec.enum)
            problems.append(Problem(f"must be one of {choices}", where=f"input {name!r}"))
            continue
        values[name] = value
    return values, problems
