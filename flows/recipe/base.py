"""What every recipe model shares: strictness, immutability and name rules.

Unknown keys are errors (`extra="forbid"`) because a misspelt optional field
(`retires: 3`) would otherwise be silently ignored. Models are frozen so a
recipe validated once stays valid; build a changed one with `model_validate`
(`model_copy(update=...)` skips validation).
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

__all__ = ["RecipeModel", "check_identifier", "check_slug", "did_you_mean", "kind_of"]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")
_SLUG_MAX = 64


class RecipeModel(BaseModel):
    """Base of the recipe models: unknown keys rejected, instances immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_identifier(value: str, *, what: str, usage: str) -> str:
    """Check a step id or input name.

    They appear in templates as `steps.<id>` / `inputs.<name>` and input names
    become flow parameters, so they must be Python identifiers.
    """
    if not _IDENTIFIER.fullmatch(value) or keyword.iskeyword(value):
        raise ValueError(
            f"{what} must be letters, digits and '_', not starting with a digit "
            f"(templates refer to it as {usage}), got {value!r}"
        )
    return value


def check_slug(value: str) -> str:
    """Recipe names end up in flow and deployment names and in ledger rows."""
    if not _SLUG.fullmatch(value) or len(value) > _SLUG_MAX:
        raise ValueError(
            "expected a slug of lowercase letters, digits, '-' and '_' "
            f"(at most {_SLUG_MAX} characters, e.g. support-triage), got {value!r}"
        )
    return value


def did_you_mean(word: object, options: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest option, or an empty string."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true/false"),  # before int: bool is an int subclass
    ((int, float, Decimal), "a number"),
    (str, "text"),
    (Mapping, "a mapping"),
    ((list, tuple), "a list"),
)


def kind_of(value: object) -> str:
    """A value's YAML-level kind for messages (`a list`, `text`), never the value itself."""
    if value is None:
        return "null"
    for types, label in _KINDS:
        if isinstance(value, types):
            return label
    return f"a {type(value).__name__}"
