"""Reading recipes from YAML files, strings or dicts into validated `Recipe`s.

Every way in ends in one `RecipeError` listing all problems found, each line
prefixed with the file name, so `byok recipes validate` and CI logs point at the
exact step and field. YAML is read with `safe_load` semantics (no object
construction) and duplicate keys are errors: YAML would otherwise keep the last
one silently.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from flows.recipe.base import kind_of
from flows.recipe.diagnostics import problems_from_validation_error
from flows.recipe.errors import Problem, RecipeError
from flows.recipe.model import Recipe

__all__ = ["RECIPE_SUFFIXES", "find_recipes", "load_recipe", "parse_recipe", "validate_recipe"]

RECIPE_SUFFIXES = frozenset({".yaml", ".yml"})
_MERGE_TAG = "tag:yaml.org,2002:merge"


class _RecipeLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that rejects a key repeated in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        first_line: dict[Hashable, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in first_line:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first given on line {first_line[key]})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def parse_recipe(text: str, *, source: str = "<string>") -> Recipe:
    """Parse and validate a recipe from YAML text; `source` names it in errors."""
    try:
        data = yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        raise RecipeError([_yaml_problem(e)], source=_position(source, e.problem_mark)) from None
    except yaml.YAMLError as e:
        raise RecipeError([f"YAML error: {e}"], source=source) from None
    if data is None:
        raise RecipeError(["empty file; a recipe needs at least name and steps"], source=source)
    return validate_recipe(data, source=source)


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate the recipe file at `path`."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(["no such file"], source=source) from None
    except IsADirectoryError:
        raise RecipeError(["is a directory; give a recipe .yaml file"], source=source) from None
    except UnicodeDecodeError:
        raise RecipeError(["not UTF-8 text; is this a recipe file?"], source=source) from None
    except OSError as e:
        raise RecipeError([f"cannot read: {e.strerror or e}"], source=source) from None
    return parse_recipe(text, source=source)


def validate_recipe(data: Any, *, source: str = "<data>") -> Recipe:
    """Validate already-parsed data (e.g. JSON) as a recipe, with the same errors as files."""
    if not isinstance(data, dict):
        raise RecipeError(
            [f"expected a mapping with name and steps at the top level, got {kind_of(data)}"],
            source=source,
        )
    try:
        return Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(problems_from_validation_error(e, data), source=source) from None


def find_recipes(paths: Iterable[str | Path]) -> list[Path]:
    """Recipe files named by `paths`: files as given, folders' *.yaml/*.yml (not recursive).

    Files are returned once each, in argument order, each folder's sorted by name.
    Raises `RecipeError` for a path that doesn't exist.
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.iterdir()):
                if child.suffix in RECIPE_SUFFIXES and child.is_file():
                    found.setdefault(child)
        elif path.exists():
            found.setdefault(path)
        else:
            raise RecipeError(["no such file or folder"], source=str(raw))
    return list(found)


def _position(source: str, mark: yaml.Mark | None) -> str:
    return f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source


def _yaml_problem(e: yaml.MarkedYAMLError) -> Problem:
    message = e.problem or "invalid YAML"
    if e.context:
        message += f" ({e.context})"
    return Problem(f"YAML syntax error: {message}")
