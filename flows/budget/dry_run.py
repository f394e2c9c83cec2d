"""The worst-case cost of a whole recipe, computed here without calling any provider.

Each step's prompt and system templates are rendered locally with the run's
inputs, in the same sandbox a run uses. Outputs of upstream steps do not
exist yet, so each reference to one renders as a marker that counts as that
step's whole `max_tokens` of text (structured fields included: a field is
never longer than the output it is part of). The prompt is then bounded the
way a budget bounds it (`flows.budget.estimate`), the output by `max_tokens`,
and each step's cost is the dearest of its model and its fallbacks. The
recipe's worst case is the sum over its steps.

What a dry run cannot see: a template that loops over an upstream output is
counted as one pass through the loop, an `if` on an upstream output is
counted as true, and a structured field named like a dict method (`items`,
`keys`, `values`, `get`) is not counted. Failed attempts
that a provider bills (rare: most transient errors are not billed) come on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flows.budget.estimate import WorstCase, prompt_token_bound, worst_case
from flows.ledger.queries import money
from flows.recipe import ModelRef, Recipe, Step, render
from providers.types import ModelRequest

__all__ = ["ModelEstimate", "RecipeEstimate", "StepEstimate", "estimate_recipe"]

_MARKER = re.compile(r"@@byokstep(\d+)@@", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ModelEstimate:
    """The worst case of one call of a step on one model (its primary or a fallback)."""

    model: str
    provider: str
    worst: WorstCase

    def to_json(self) -> dict[str, Any]:
        """Part of the `byok run --dry-run --json` document."""
        return {
            "model": self.model,
            "provider": self.provider,
            "input_tokens": self.worst.input_tokens,
            "output_tokens": self.worst.output_tokens,
            "cost_usd": money(self.worst.cost_usd),
        }


@dataclass(frozen=True, slots=True)
class StepEstimate:
    """A step's worst case: the dearest of the models it may call."""

    step: str
    models: tuple[ModelEstimate, ...]

    @property
    def cost_usd(self) -> Decimal | None:
        """The dearest priced model's cost; None when no model of the step has a price."""
        priced = [m.worst.cost_usd for m in self.models if m.worst.cost_usd is not None]
        return max(priced) if priced else None

    @property
    def unpriced(self) -> tuple[str, ...]:
        """The step's models with no known price."""
        return tuple(m.model for m in self.models if m.worst.cost_usd is None)

    def to_json(self) -> dict[str, Any]:
        """Part of the `byok run --dry-run --json` document."""
        return {
            "step": self.step,
            "cost_usd": money(self.cost_usd),
            "models": [m.to_json() for m in self.models],
        }


@dataclass(frozen=True, slots=True)
class RecipeEstimate:
    """A recipe's worst-case cost, step by step, and how it compares to its budget."""

    recipe: str
    budget_usd: Decimal | None
    steps: tuple[StepEstimate, ...]

    @property
    def cost_usd(self) -> Decimal:
        """The sum of the steps' worst cases (unpriced models count nothing)."""
        return sum((s.cost_usd or Decimal(0) for s in self.steps), Decimal(0))

    @property
    def unpriced(self) -> tuple[str, ...]:
        """Models with no known price: the worst case leaves them out."""
        return tuple(dict.fromkeys(model for s in self.steps for model in s.unpriced))

    @property
    def within_budget(self) -> bool | None:
        """Whether the worst case fits `budget_usd`; None when the recipe has none."""
        return None if self.budget_usd is None else self.cost_usd <= self.budget_usd

    def to_json(self) -> dict[str, Any]:
        """The stable `byok run --dry-run --json` document."""
        return {
            "recipe": self.recipe,
            "dry_run": True,
            "worst_case_usd": money(self.cost_usd),
            "budget_usd": money(self.budget_usd),
            "within_budget": self.within_budget,
            "unpriced_models": list(self.unpriced),
            "steps": [s.to_json() for s in self.steps],
        }


def estimate_recipe(
    recipe: Recipe,
    inputs: Mapping[str, Any],
    *,
    provider_of: Callable[[ModelRef], str],
) -> RecipeEstimate:
    """The worst case of running `recipe` once with `inputs` (already coerced).

    `provider_of` names the provider a model's key bills through (the vault
    knows: `ollama:llama3.2` may be provider `ollama`). Raises
    `TemplateRenderError` like a run would, and `PriceFileError` if the user's
    price file is broken.
    """
    order = recipe.topological_order()
    estimates = []
    for step_id in order:
        step = recipe.step(step_id)
        request = _bounding_request(step, inputs, recipe, order)
        refs = [step.model_ref, *(ModelRef.parse(m) for m in step.fallbacks)]
        estimates.append(
            StepEstimate(
                step.id,
                tuple(
                    ModelEstimate(
                        str(ref),
                        provider_of(ref),
                        worst_case(
                            provider_of(ref),
                            ref.model,
                            prompt_token_bound(request),
                            step.max_tokens,
                        ),
                    )
                    for ref in refs
                ),
            )
        )
    return RecipeEstimate(recipe.name, recipe.budget_usd, tuple(estimates))


def _bounding_request(
    step: Step, inputs: Mapping[str, Any], recipe: Recipe, order: list[str]
) -> ModelRequest:
    """The step's request with upstream outputs replaced by text at least as long."""
    max_tokens = {sid: recipe.step(sid).max_tokens for sid in order}
    unknown = [
        (sid, _marker(index) if recipe.step(sid).output is None else _Structured(index))
        for index, sid in enumerate(order)
    ]
    context = {"inputs": inputs, "steps": {sid: {"output": output} for sid, output in unknown}}

    def expand(template: str, field: str) -> str:
        rendered = render(template, context, step=step.id, field=field)
        # Each marker stands for up to max_tokens of the upstream step's text: one
        # byte per token keeps the byte-based bound an upper bound.
        return _MARKER.sub(lambda m: "x" * max_tokens[order[int(m.group(1))]], rendered)

    return ModelRequest(
        model=step.model_ref.model,
        prompt=expand(step.prompt, "prompt"),
        system=expand(step.system, "system") if step.system else None,
        max_tokens=step.max_tokens,
        output_schema=step.output,
    )


class _Structured(dict[str, str]):
    """A structured upstream output that is not known yet: every field of it is itself.

    Its only key is the step's marker, so it renders as the marker (as text or
    as JSON) and iterating it yields the marker once; a missing key (any field
    the template reads) is another such object. Never holds real content.
    """

    def __init__(self, index: int) -> None:
        super().__init__({_marker(index): ""})
        self.index = index

    def __missing__(self, key: str) -> _Structured:
        return _Structured(self.index)

    def __str__(self) -> str:
        return _marker(self.index)


def _marker(index: int) -> str:
    return f"@@byokstep{index}@@"
