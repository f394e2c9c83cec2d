"""Deterministic JSON values that satisfy a JSON Schema: the simulator's structured output.

Structured steps are only testable end to end if the simulator answers with
an object the step's schema accepts. `instance_for(schema, seed)` builds one
from the schema alone, choosing among valid values with a hash of `seed` and
the value's path, so the same request always gets the same object while
different prompts get different ones.

Covered: `type` (one or a list; Gemini's upper-case OpenAPI names too),
objects with `properties`/`required`, strings with `enum`, `const`,
`minLength`/`maxLength` and common `format`s, integers and numbers with
inclusive or exclusive bounds and `multipleOf`, booleans, null, arrays with
`items`/`prefixItems`/`minItems`/`maxItems`/`uniqueItems`, local `$ref`s
(`#/$defs/...`, `#/definitions/...`), `allOf` (merged), and `anyOf`/`oneOf`
(first branch). Not honoured: `pattern`, `not`, `if`/`then`, dependencies.
Past a nesting depth, optional properties and array items are left out so
recursive schemas still end.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

__all__ = ["instance_for"]

_SOFT_DEPTH = 6  # beyond this, only what the schema requires is generated
_HARD_DEPTH = 32  # a schema that requires infinite nesting gets `null` here
_DEFAULT_ITEMS = 2

_FORMATS: dict[str, Callable[[int, str], str]] = {
    "date-time": lambda n, _: f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
    "date": lambda n, _: f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}",
    "time": lambda n, _: f"{n % 24:02d}:{n % 60:02d}:00Z",
    "duration": lambda n, _: f"PT{1 + n % 90}M",
    "email": lambda _, tag: f"sim-{tag}@example.com",
    "idn-email": lambda _, tag: f"sim-{tag}@example.com",
    "hostname": lambda _, tag: f"sim-{tag}.example.com",
    "idn-hostname": lambda _, tag: f"sim-{tag}.example.com",
    "ipv4": lambda n, _: f"192.0.2.{1 + n % 254}",
    "ipv6": lambda _, tag: f"2001:db8::{tag}",
    "uri": lambda _, tag: f"https://example.com/sim/{tag}",
    "uri-reference": lambda _, tag: f"https://example.com/sim/{tag}",
    "iri": lambda _, tag: f"https://example.com/sim/{tag}",
    "url": lambda _, tag: f"https://example.com/sim/{tag}",
    "uuid": lambda n, _: str(uuid.UUID(int=n % (1 << 128), version=4)),
}


def instance_for(schema: Mapping[str, Any] | bool, seed: str) -> Any:
    """A JSON value valid for `schema`, the same one every time for the same `seed`."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Generator(root, seed).value(schema, "$", "value", 0)


class _Generator:
    """Walks one schema; `_number(path)` is the only source of variation."""

    def __init__(self, root: Mapping[str, Any], seed: str) -> None:
        self._root = root
        self._seed = seed

    def value(self, schema: Any, path: str, name: str, depth: int) -> Any:
        if depth > _HARD_DEPTH or not isinstance(schema, Mapping | bool) or schema is False:
            return None  # `false` accepts nothing: no valid value exists
        schema = self._flatten({} if schema is True else schema)
        if "const" in schema:
            return schema["const"]
        enum = schema.get("enum")
        if isinstance(enum, list) and enum:
            return enum[self._number(path) % len(enum)]
        return self._typed(schema, path, name, depth)

    def _typed(self, schema: Mapping[str, Any], path: str, name: str, depth: int) -> Any:
        kind = _type_of(schema)
        if kind == "object":
            return self._object(schema, path, depth)
        if kind == "array":
            return self._array(schema, path, name, depth)
        if kind in ("integer", "number"):
            return _numeric(schema, self._number(path), integer=kind == "integer")
        if kind == "boolean":
            return self._number(path) % 2 == 0
        return None if kind == "null" else self._string(schema, path, name)

    def _flatten(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Resolve `$ref`s and reduce `anyOf`/`oneOf` (first branch) and `allOf` (merged)."""
        for _ in range(_HARD_DEPTH):
            schema = self._resolve(schema)
            for keyword in ("anyOf", "oneOf", "allOf"):
                parts = schema.get(keyword)
                if isinstance(parts, list) and parts:
                    rest = {k: v for k, v in schema.items() if k != keyword}
                    chosen = parts if keyword == "allOf" else parts[:1]
                    schema = self._merge([rest, *chosen])
                    break
            else:
                return schema
        return schema

    def _object(self, schema: Mapping[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = [name for name in schema.get("required") or () if isinstance(name, str)]
        result: dict[str, Any] = {}
        for name, subschema in properties.items():
            if depth >= _SOFT_DEPTH and name not in required:
                continue
            result[name] = self.value(subschema, f"{path}.{name}", name, depth + 1)
        for name in required:
            if name not in result:
                result[name] = self._string({}, f"{path}.{name}", name)
        return result

    def _array(self, schema: Mapping[str, Any], path: str, name: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        prefix = prefix if isinstance(prefix, list) else []
        items = schema.get("items")
        if isinstance(items, list):  # draft-4 tuple form
            prefix, items = items, schema.get("additionalItems", {})
        minimum = int(schema.get("minItems", 0))
        wanted = _DEFAULT_ITEMS if depth < _SOFT_DEPTH else 0
        count = max(minimum, len(prefix), wanted)
        if isinstance(schema.get("maxItems"), int):
            count = min(count, schema["maxItems"])
        if items is False:
            count = min(count, len(prefix))
        unique = bool(schema.get("uniqueItems"))
        values: list[Any] = []
        for index in range(count):
            subschema = prefix[index] if index < len(prefix) else items
            subschema = {} if subschema is None else subschema
            value = self.value(subschema, f"{path}[{index}]", name, depth + 1)
            attempt = 0
            while unique and value in values and attempt < 8:
                attempt += 1
                value = self.value(subschema, f"{path}[{index}]#{attempt}", name, depth + 1)
            if unique and value in values and len(values) >= minimum:
                break  # no further distinct value: stop at a valid length
            values.append(value)
        return values

    def _string(self, schema: Mapping[str, Any], path: str, name: str) -> str:
        tag = self._tag(path)
        make = _FORMATS.get(str(schema.get("format", "")).lower())
        text = make(self._number(path), tag) if make else f"{name} {tag}"
        min_length = schema.get("minLength")
        if isinstance(min_length, int) and len(text) < min_length:
            text += "x" * (min_length - len(text))
        max_length = schema.get("maxLength")
        if isinstance(max_length, int):
            text = text[:max_length]
        return text

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """Follow local `$ref`s; keywords next to a `$ref` still apply."""
        for _ in range(_HARD_DEPTH):
            ref = schema.get("$ref")
            if not isinstance(ref, str):
                return schema
            target = self._pointer(ref)
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **siblings}
        return {}

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            return {}  # remote references are not fetched: accept anything
        node: Any = self._root
        for token in filter(None, ref[1:].split("/")):
            key = token.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, Mapping) else None
        return node if isinstance(node, Mapping) else {}

    def _merge(self, parts: list[Any]) -> dict[str, Any]:
        """Combine subschemas that must all hold (allOf): union properties and required."""
        merged: dict[str, Any] = {}
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            for key, value in self._resolve(part).items():
                if key == "properties" and isinstance(value, Mapping):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = [*merged.get("required", []), *value]
                else:
                    merged[key] = value
        return merged

    def _number(self, path: str) -> int:
        digest = hashlib.sha256(f"{self._seed}:{path}".encode()).digest()
        return int.from_bytes(digest[:16], "big")

    def _tag(self, path: str) -> str:
        return f"{self._number(path) % 0x10000:04x}"


def _type_of(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    if isinstance(declared, list):
        names = [str(name).lower() for name in declared]
        return next((name for name in names if name != "null"), "null")
    if isinstance(declared, str):
        return declared.lower()
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(key in schema for key in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return "string"


def _bounds(schema: Mapping[str, Any]) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low_exclusive, high_exclusive), for both draft-4 and 2020-12 styles."""
    low, high = _number_or_none(schema.get("minimum")), _number_or_none(schema.get("maximum"))
    low_x = high_x = False
    exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if exclusive_min is True:  # draft 4: a flag on `minimum`
        low_x = True
    elif _is_number(exclusive_min) and (low is None or exclusive_min >= low):
        low, low_x = exclusive_min, True
    if exclusive_max is True:
        high_x = True
    elif _is_number(exclusive_max) and (high is None or exclusive_max <= high):
        high, high_x = exclusive_max, True
    return low, high, low_x, high_x


def _number_or_none(value: Any) -> float | None:
    return value if _is_number(value) else None


def _numeric(schema: Mapping[str, Any], n: int, *, integer: bool) -> int | float:
    low, high, low_x, high_x = _bounds(schema)
    raw_step = schema.get("multipleOf")
    step: float | None = raw_step if _is_number(raw_step) and raw_step > 0 else None
    if integer:
        lo = None if low is None else (math.floor(low) + 1 if low_x else math.ceil(low))
        hi = None if high is None else (math.ceil(high) - 1 if high_x else math.floor(high))
        whole = _spread(lo, hi, n)
        return whole if step is None else int(_multiple(whole, step, lo, hi))
    value: float
    if low is not None and high is not None:
        value = low + (high - low) * ((n % 99) + 1) / 100  # strictly inside the bounds
    elif low is not None:
        value = low + 1 + (n % 1000) / 10
    elif high is not None:
        value = high - 1 - (n % 1000) / 10
    else:
        value = (n % 100_000) / 100
    if step is not None:
        return _multiple(value, step, low, high)
    rounded = round(value, 2)
    return rounded if _within(rounded, low, high, low_x, high_x) else value


def _spread(low: int | None, high: int | None, n: int) -> int:
    if low is not None and high is not None:
        return low + n % (high - low + 1) if high >= low else low
    if low is not None:
        return low + n % 10
    if high is not None:
        return high - n % 10
    return n % 100


def _multiple(value: float, step: float, low: float | None, high: float | None) -> int | float:
    """The multiple of `step` nearest `value` that stays above `low` (best effort)."""
    count = math.ceil(low / step) if low is not None and value < low else round(value / step)
    candidate = count * step
    if high is not None and candidate > high:
        candidate = math.floor(high / step) * step
    return int(candidate) if float(candidate).is_integer() else candidate


def _within(value: float, low: float | None, high: float | None, low_x: bool, high_x: bool) -> bool:
    above = low is None or (value > low if low_x else value >= low)
    below = high is None or (value < high if high_x else value <= high)
    return above and below


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
