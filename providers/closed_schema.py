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

from providers.schema_walk import is_object_schema, rewrite

__all__ = ["ClosedSchema", "close_objects"]


@dataclass(frozen=True, slots=True)
class ClosedSchema:
    """The rewritten schema, and whether every object in it ended up closed."""

    schema: dict[str, Any]
    closed: bool


def close_objects(schema: Mapping[str, Any], *, require_all: bool = False) -> ClosedSchema:
    """A copy of `schema` with its objects closed (see the module docstring)."""
    closed = True

    def close(node: Mapping[str, Any], out: dict[str, Any]) -> None:
        nonlocal closed
        if not is_object_schema(node):
            return
        if "additionalProperties" not in out:
            out["additionalProperties"] = False
        elif out["additionalProperties"] is not False:
            closed = False
            return
        if require_all:
            out["required"] = list(out.get("properties", {}))

    return ClosedSchema(schema=rewrite(schema, close), closed=closed)
