"""Recipes: small DAGs of model calls, written in YAML or Python, validated up front.

    recipe = load_recipe("recipes/triage.yaml")     # or Recipe(name=..., steps=[...])
    recipe.topological_order()                      # ['extract', 'summarize', 'reply']
    inputs = recipe.coerce_inputs({"ticket": "..."})
    prompt = render(recipe.step("reply").prompt, {"inputs": inputs, "steps": {...}})

Everything a user can get wrong raises a `RecipeError` whose message lists each
problem on its own line, naming the file, step and field.
"""

from flows.recipe.errors import Problem, RecipeError, RecipeInputError, TemplateRenderError
from flows.recipe.inputs import InputSpec, InputType
from flows.recipe.loading import find_recipes, load_recipe, parse_recipe, validate_recipe
from flows.recipe.model import Recipe
from flows.recipe.model_ref import ModelRef
from flows.recipe.schedule import Schedule
from flows.recipe.step import Step
from flows.recipe.templating import TemplateRefs, analyze_template, referenced_names, render

__all__ = [
    "InputSpec",
    "InputType",
    "ModelRef",
    "Problem",
    "Recipe",
    "RecipeError",
    "RecipeInputError",
    "Schedule",
    "Step",
    "TemplateRefs",
    "TemplateRenderError",
    "analyze_template",
    "find_recipes",
    "load_recipe",
    "parse_recipe",
    "referenced_names",
    "render",
    "validate_recipe",
]
