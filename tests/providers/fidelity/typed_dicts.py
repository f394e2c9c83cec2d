"""Check a JSON value against an SDK's TypedDict request types, strictly.

pydantic's `TypeAdapter` accepts TypedDicts but ignores unknown keys and
validates `Iterable[...]` fields lazily, so a body with a misspelt or
unsupported field (say `temperature` where the API version has none) would
pass. `problems(value, SomeParams)` walks the type instead: unknown keys,
missing required keys, wrong literals and wrong JSON types are all reported,
each with its path.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from typing import Any

import typing_extensions

__all__ = ["problems"]

_LISTS = {list, tuple, collections.abc.Iterable, collections.abc.Sequence}
_MAPS = {dict, collections.abc.Mapping}


def problems(value: Any, tp: Any, path: str = "$") -> list[str]:  # noqa: PLR0911
    """Every way `value` fails to be a `tp`; empty when it conforms."""
    origin = typing_extensions.get_origin(tp)
    args = typing_extensions.get_args(tp)
    if origin is typing_extensions.Annotated:
        return problems(value, args[0], path)
    if tp in (Any, object):
        return []
    if origin in (typing.Union, types.UnionType):
        branches = [problems(value, arg, path) for arg in args]
        if any(not found for found in branches):
            return []
        return [f"{path}: matches no branch of {tp}: " + min(branches, key=len)[0]]
    if origin is typing_extensions.Literal or origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if typing_extensions.is_typeddict(tp):
        return _typed_dict(value, tp, path)
    if origin in _LISTS or getattr(origin, "__name__", "") == "SequenceNotStr":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        item = args[0] if args else Any
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{path}[{i}]")]
    if origin in _MAPS or tp is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            return [f"{path}: expected an object"]
        item = args[1] if len(args) == 2 else Any
        return [p for k, v in value.items() for p in problems(v, item, f"{path}.{k}")]
    return _scalar(value, tp, path)


def _typed_dict(value: Any, tp: Any, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({tp.__name__})"]
    hints = typing_extensions.get_type_hints(tp)
    found = [f"{path}.{key}: not a field of {tp.__name__}" for key in value if key not in hints]
    found += [
        f"{path}.{key}: required by {tp.__name__}"
        for key in tp.__required_keys__
        if key not in value
    ]
    for key, item in value.items():
        if key in hints:
            found += problems(item, hints[key], f"{path}.{key}")
    return found


def _scalar(value: Any, tp: Any, path: str) -> list[str]:
    if tp is type(None):
        ok = value is None
    elif tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"{path}: the checker does not know the type {tp!r}")
    return [] if ok else [f"{path}: {value!r} is not a {getattr(tp, '__name__', tp)}"]
