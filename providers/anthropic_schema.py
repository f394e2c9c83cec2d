"""Fit a step's JSON Schema to what Anthropic's structured outputs accept.

Anthropic compiles `output_config.format.schema` into a grammar and answers
400 to what the grammar cannot express: numeric bounds (`minimum`,
`maximum`, the exclusive pair, `multipleOf`), string lengths (`minLength`,
`maxLength`), array sizes other than `minItems` 0 or 1 (`maxItems`, larger
`minItems`, `uniqueItems`), object sizes (`minProperties`,
`maxProperties`), string `format`s outside its list, and any
`additionalProperties` but `false`. `for_anthropic` sends a copy without them:

* each removed keyword is written into that subschema's `description`
  (`"… {minimum: 1, maxLength: 40}"`), so the model still reads the rule;
* every object is closed (`additionalProperties: false`); an object that
  allowed extra keys gets none, which its own schema still accepts;
* the reply is then validated against the step's *original* schema
  (`providers.structured`), so a rule that was only described is still
  enforced: a reply that breaks it fails the step, it never passes silently.

This is the same adaptation Anthropic's Python SDK applies in
`transform_schema`, written for this project.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from providers.schema_walk import is_object_schema, rewrite

__all__ = ["SUPPORTED_FORMATS", "UNSUPPORTED_KEYWORDS", "for_anthropic"]

UNSUPPORTED_KEYWORDS: Final = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
)
SUPPORTED_FORMATS: Final = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)


def for_anthropic(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `schema` that Anthropic accepts (see the module docstring)."""
    return rewrite(schema, _fit)


def _fit(node: Mapping[str, Any], out: dict[str, Any]) -> None:
    removed: dict[str, Any] = {}
    for keyword in UNSUPPORTED_KEYWORDS:
        if keyword in out:
            removed[keyword] = out.pop(keyword)
    if isinstance(out.get("minItems"), int) and out["minItems"] > 1:
        removed["minItems"] = out.pop("minItems")
    if "format" in out and out["format"] not in SUPPORTED_FORMATS:
        removed["format"] = out.pop("format")
    if is_object_schema(node):
        extra = out.get("additionalProperties", False)
        if extra is not False:
            removed["additionalProperties"] = node.get("additionalProperties")
        out["additionalProperties"] = False
    if removed:
        rules = ", ".join(f"{key}: {json.dumps(value)}" for key, value in removed.items())
        description = out.get("description")
        prefix = f"{description}\n\n" if isinstance(description, str) and description else ""
        out["description"] = f"{prefix}{{{rules}}}"
