"""Recipe errors: one exception carrying every problem found, one line each.

    RecipeError             the recipe is invalid (file, step, field named per line)
    ├── RecipeInputError    run inputs don't match the recipe's declared inputs
    └── TemplateRenderError a template failed at run time (undefined value, sandbox)

A user fixing a recipe wants the whole list at once, not one problem per attempt,
so validation collects `Problem`s and raises a single `RecipeError`. Messages name
places (file, step id, field, template line) and never carry input values, rendered
text or model output: Prefect stores exception text in state messages and events.
Every class pickles through `__reduce__`, because Prefect moves exceptions between
processes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Problem",
    "ProblemList",
    "RecipeError",
    "RecipeInputError",
    "TemplateRenderError",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a recipe, located as precisely as we can.

    `where` is the part of the recipe (`step 'reply'`, `input 'ticket'`,
    `schedule`, `steps`) and `field` the key inside it (`model`, `fallbacks[1]`);
    both are empty for problems with the recipe as a whole.
    """

    message: str
    where: str = ""
    field: str = ""

    def __str__(self) -> str:
        parts = [self.where] if self.where else []
        if self.field:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)


class ProblemList(ValueError):
    """Several located problems raised from inside a pydantic validator.

    Pydantic wraps a `ValueError` from a validator in its `ValidationError`
    and keeps the original in the error's context; the loader unpacks it to
    keep each problem's location instead of one flattened string.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[type[ProblemList], tuple[tuple[Problem, ...]]]:
        return (type(self), (self.problems,))


class RecipeError(ValueError):
    """A recipe (or something done with it) is invalid.

    `problems` lists each one; `source` (a file name, `<string>`, or a recipe
    label) prefixes every line of the message so that editors and CI logs
    point straight at the file.
    """

    def __init__(self, problems: Iterable[Problem | str], source: str | None = None) -> None:
        self.problems: tuple[Problem, ...] = tuple(
            p if isinstance(p, Problem) else Problem(p) for p in problems
        )
        self.source = source
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The message, one line per problem, each prefixed with the source."""
        prefix = f"{self.source}: " if self.source else ""
        return [f"{prefix}{p}" for p in self.problems] or [f"{prefix}invalid recipe"]

    def __reduce__(self) -> tuple[type[RecipeError], tuple[tuple[Problem, ...], str | None]]:
        return (type(self), (self.problems, self.source))


class RecipeInputError(RecipeError):
    """Run inputs are unknown, missing, of the wrong type or outside the enum."""


class TemplateRenderError(RecipeError):
    """A step's template could not be rendered with this run's values.

    The message names the template line and the undefined name or blocked
    operation, but never the values being rendered.
    """
