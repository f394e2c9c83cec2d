"""The recipe model: what a YAML recipe file means, and the Python authoring API.

    Recipe(name="triage", inputs={"ticket": InputSpec()}, steps=[Step(...), ...])

is the same object `load_recipe("triage.yaml")` returns. Field-level checks live
on each model (`Step`, `InputSpec`, `Schedule`); this module adds the checks that
need the whole recipe: unique step ids, references to steps and inputs that
exist, and a dependency graph without cycles.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from flows.recipe.base import RecipeModel, check_identifier, check_slug, did_you_mean
from flows.recipe.errors import Problem, ProblemList, RecipeInputError
from flows.recipe.graph import find_cycle, layers, topological_order
from flows.recipe.inputs import InputSpec, coerce_inputs
from flows.recipe.model_ref import ModelRef
from flows.recipe.schedule import Schedule
from flows.recipe.step import Step

__all__ = ["InputSpec", "ModelRef", "Recipe", "Schedule", "Step"]


def _check_input_name(name: str) -> str:
    return check_identifier(name, what="an input name", usage="inputs.<name>")


InputName = Annotated[str, AfterValidator(_check_input_name)]


class Recipe(RecipeModel):
    """A named DAG of model-call steps, with declared inputs and optional budget/schedule.

    Dependencies come from each step's `needs` and from `steps.<id>` references
    in its templates; steps with no path between them run concurrently.
    """

    name: str = Field(description="Slug, unique per org, e.g. support-triage")
    description: str = Field("", description="One line shown in listings and the Prefect UI")
    inputs: dict[InputName, InputSpec] = Field(
        default_factory=dict, description="Values a run provides, by name"
    )
    steps: list[Step] = Field(description="The model calls, in any order")
    budget_usd: Decimal | None = Field(None, gt=0, description="Per-run spending cap in USD")
    schedule: Schedule | None = Field(None, description="Run automatically on a cron schedule")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return check_slug(value)

    @field_validator("steps")
    @classmethod
    def _check_not_empty(cls, value: list[Step]) -> list[Step]:
        if not value:
            raise ValueError("a recipe needs at least one step")
        return value

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        duplicates = self._duplicate_problems()
        problems = [*duplicates, *self._reference_problems()]
        if not duplicates:
            cycle = find_cycle(self.dependencies(), self.step_ids)
            if cycle:
                problems.append(Problem("cycle " + " → ".join(cycle), where="steps"))
        if self.schedule is not None:
            _, input_problems = coerce_inputs(self.inputs, self.schedule.inputs)
            problems += [Problem(str(p), "schedule", "inputs") for p in input_problems]
        if problems:
            raise ProblemList(problems)
        return self

    def _duplicate_problems(self) -> list[Problem]:
        first: dict[str, int] = {}
        problems = []
        for number, step in enumerate(self.steps, start=1):
            if step.id in first:
                problems.append(
                    Problem(
                        f"duplicate step id {step.id!r} (steps #{first[step.id]} and #{number})",
                        where="steps",
                    )
                )
            first.setdefault(step.id, number)
        return problems

    def _reference_problems(self) -> list[Problem]:
        ids = self.step_ids
        steps_hint = f"; steps are: {', '.join(dict.fromkeys(ids))}"
        problems = []
        for step in self.steps:
            where = f"step {step.id!r}"
            for need in step.needs:
                if need not in ids:
                    hint = did_you_mean(need, ids) or steps_hint
                    problems.append(Problem(f"unknown step {need!r}{hint}", where, "needs"))
            for field, refs in step.template_refs().items():
                for ref, line in refs.steps.items():
                    if ref not in ids:
                        hint = did_you_mean(ref, ids) or steps_hint
                        message = f"line {line}: steps.{ref} is not a step{hint}"
                        problems.append(Problem(message, where, field))
                for name, line in refs.inputs.items():
                    if name not in self.inputs:
                        hint = did_you_mean(name, self.inputs) or "; declare it under inputs"
                        message = f"line {line}: inputs.{name} is not declared{hint}"
                        problems.append(Problem(message, where, field))
        return problems

    @property
    def step_ids(self) -> list[str]:
        """Step ids in file order."""
        return [s.id for s in self.steps]

    def step(self, step_id: str) -> Step:
        """The step with id `step_id`; `KeyError` naming the known ids otherwise."""
        for candidate in self.steps:
            if candidate.id == step_id:
                return candidate
        raise KeyError(f"no step {step_id!r} in recipe {self.name!r}; steps: {self.step_ids}")

    def dependencies(self) -> dict[str, frozenset[str]]:
        """For each step id, the steps it waits for (`needs` ∪ template references)."""
        return {s.id: s.dependencies for s in self.steps}

    def topological_order(self) -> list[str]:
        """Step ids, each after its dependencies; ties keep file order."""
        return topological_order(self.dependencies(), self.step_ids)

    def layers(self) -> list[list[str]]:
        """Step ids by wave: steps in one layer can run in parallel."""
        return layers(self.dependencies(), self.step_ids)

    def coerce_inputs(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Typed inputs for a run: text coerced, defaults applied, everything checked.

        Raises `RecipeInputError` listing every unknown, missing or invalid input;
        messages never repeat the values given.
        """
        values, problems = coerce_inputs(self.inputs, raw)
        if problems:
            raise RecipeInputError(problems, source=f"recipe {self.name!r}")
        return values
