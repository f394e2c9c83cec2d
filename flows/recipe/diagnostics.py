"""Turning pydantic's validation errors into located, readable recipe problems.

Pydantic reports `('steps', 2, 'model')`; a person editing the file wants
`step 'reply': field 'model'`, a suggestion for a misspelt key, and the recipe's
own vocabulary instead of "Input should be a valid dictionary".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from flows.recipe.base import did_you_mean, kind_of
from flows.recipe.errors import Problem, ProblemList
from flows.recipe.inputs import InputSpec
from flows.recipe.model import Recipe
from flows.recipe.schedule import Schedule
from flows.recipe.step import Step

__all__ = ["problems_from_validation_error"]

_SHOW_GOT = 60  # longest recipe value quoted back in a type error
_MAPPING_ERRORS = frozenset({"dict_type", "model_type", "model_attributes_type"})


def problems_from_validation_error(exc: ValidationError, data: Any) -> list[Problem]:
    """One `Problem` per pydantic error, located by step id rather than list index.

    `data` is what was validated, used to find each step's id.
    """
    problems: list[Problem] = []
    for error in exc.errors():
        where, model, path = _locate(error["loc"], data)
        problems += _describe(error, where, model, path)
    return problems


def _locate(loc: tuple[int | str, ...], data: Any) -> tuple[str, type[BaseModel], list[int | str]]:
    """Split a pydantic location into (part of the recipe, its model, path inside it)."""
    head, rest = (loc[0], list(loc[1:])) if loc else ("", [])
    if head == "steps" and rest and isinstance(rest[0], int):
        return _step_label(data, rest[0]), Step, rest[1:]
    if head == "inputs" and rest:
        # Errors in a key itself (an invalid input name) end in pydantic's '[key]'.
        return f"input {rest[0]!r}", InputSpec, [p for p in rest[1:] if p != "[key]"]
    if head == "schedule":
        return "schedule", Schedule, rest
    return "", Recipe, list(loc)


def _step_label(data: Any, index: int) -> str:
    """`step 'reply'` when the step has a usable id, else its 1-based position."""
    steps = data.get("steps") if isinstance(data, Mapping) else None
    if isinstance(steps, Sequence) and index < len(steps):
        step = steps[index]
        step_id = step.get("id") if isinstance(step, Mapping) else getattr(step, "id", None)
        if isinstance(step_id, str) and step_id:
            return f"step {step_id!r}"
    return f"step #{index + 1}"


def _field_name(path: Sequence[int | str]) -> str:
    """`fallbacks[1]`, `output` or `inputs.ticket` from a location path."""
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


def _describe(
    error: ErrorDetails, where: str, model: type[BaseModel], path: list[int | str]
) -> list[Problem]:
    kind = error["type"]
    if kind == "extra_forbidden":
        key = path[-1] if path else "?"
        inner = _field_name(path[:-1])
        hint = did_you_mean(key, model.model_fields) if not inner else ""
        return [Problem(f"unknown field {key!r}{hint}", where, inner)]
    if kind == "missing":
        return [Problem(f"missing required field {path[-1]!r}", where, _field_name(path[:-1]))]

    field = _field_name(path)
    original = error.get("ctx", {}).get("error")
    if isinstance(original, ProblemList):
        # A problem that names its own part of the recipe is fully located already.
        return [
            p if p.where else Problem(p.message, where, _join(field, p.field))
            for p in original.problems
        ]
    got = kind_of(error["input"])
    if kind in _MAPPING_ERRORS:
        return [Problem(f"expected a mapping of fields, got {got}", where, field)]
    if kind == "list_type":
        return [Problem(f"expected a list, got {got}", where, field)]
    if isinstance(original, Exception):
        message = str(original)
    else:
        message = error["msg"].replace("Input should", "should", 1)
        value = error["input"]
        if isinstance(value, str | int | float | bool) and len(repr(value)) <= _SHOW_GOT:
            message += f", got {value!r}"
    return [Problem(message, where, field)]


def _join(outer: str, inner: str) -> str:
    """A ProblemList raised by a field validator may name a sub-field of its own."""
    if outer and inner:
        return f"{outer}.{inner}"
    return outer or inner
