"""Rewrite each subschema of a JSON Schema into a copy, innermost first.

The structured-output adapters must change a step's schema in many places
(close every object, drop keywords a provider refuses) without touching the
step's own schema, which still validates the reply. `rewrite` copies the
schema, descending through every keyword that holds subschemas, and hands
each copied subschema to a function that may change it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["is_object_schema", "rewrite"]

# Keywords whose value is one subschema, a list of them, or a name → subschema map.
_ONE = (
    "items",
    "additionalItems",
    "additionalProperties",
    "contains",
    "not",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")
_NAMED = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")

Visit = Callable[[Mapping[str, Any], dict[str, Any]], None]


def rewrite(schema: Mapping[str, Any], visit: Visit) -> dict[str, Any]:
    """A copy of `schema`; `visit(original, copy)` may edit each subschema's copy in place."""
    out: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _ONE and isinstance(value, Mapping):
            out[keyword] = rewrite(value, visit)
        elif keyword in _MANY and isinstance(value, list):
            out[keyword] = [rewrite(v, visit) if isinstance(v, Mapping) else v for v in value]
        elif keyword in _NAMED and isinstance(value, Mapping):
            out[keyword] = {
                name: rewrite(v, visit) if isinstance(v, Mapping) else v
                for name, v in value.items()
            }
        else:
            out[keyword] = value
    visit(schema, out)
    return out


def is_object_schema(node: Mapping[str, Any]) -> bool:
    """Whether `node` describes objects: `type: object` (alone or in a list), or properties."""
    kind = node.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return True
    return kind is None and "properties" in node
