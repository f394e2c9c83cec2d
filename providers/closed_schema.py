"""Adapt a step's JSON Schema to what strict structured-output modes accept.

OpenAI's strict mode and Anthropic's structured outputs decode against the
schema with a grammar, which needs every object closed
(`additionalProperties: false`); OpenAI's strict mode also needs every
property listed in `required`. Recipe authors rarely write either, so the
adapters send a rewritten *copy*:

* an object that does not mention `additionalProperties` gets `false`: the
  reply then has no keys the schema didn't name, which the step's schema
  accepts anyway;
* with `require_all`, every property becomes required: the model always fills
  optional fields, and the reply still validates against the original schema;
* an object that sets `additionalProperties` itself (true, or a schema for a
  map) is left alone, since closing it would change what the step accepts;
  `ClosedSchema.closed` is then False and OpenAI is asked for non-strict mode.

The reply is always validated against the step's original schema afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ClosedSchema", "close_objects"]

# Keywords whose value is one subschema, a list of them, or a name → subschema map.
_ONE = ("items", "additionalItems", "contains", "not", "if", "then", "else", "propertyNames")
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")


@dataclass(frozen=True, slots=True)
class ClosedSchema:
    """The rewritten schema, and whether every object in it ended up closed."""

    schema: dict[str, Any]
    closed: bool


def close_objects(schema: Mapping[str, Any], *, require_all: bool = False) -> ClosedSchema:
    """A copy of `schema` with its objects closed (see the module docstring)."""
    walker = _Walker(require_all)
    return ClosedSchema(schema=walker.visit(schema), closed=walker.closed)


class _Walker:
    def __init__(self, require_all: bool) -> None:
        self.require_all = require_all
        self.closed = True

    def visit(self, node: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for keyword, value in node.items():
            if keyword in _ONE or keyword == "additionalProperties":
                out[keyword] = self.visit(value) if isinstance(value, Mapping) else value
            elif keyword in _MANY and isinstance(value, list):
                out[keyword] = [self.visit(v) if isinstance(v, Mapping) else v for v in value]
            elif keyword in _NAMED and isinstance(value, Mapping):
                out[keyword] = {
                    name: self.visit(v) if isinstance(v, Mapping) else v
                    for name, v in value.items()
                }
            else:
                out[keyword] = value
        if _is_object(node):
            self._close(out)
        return out

    def _close(self, out: dict[str, Any]) -> None:
        if "additionalProperties" not in out:
            out["additionalProperties"] = False
        elif out["additionalProperties"] is not False:
            self.closed = False
            return
        if self.require_all:
            out["required"] = list(out.get("properties", {}))


def _is_object(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return True
    return kind is None and "properties" in node
