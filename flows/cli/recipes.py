"""`byok recipes validate|show`: check recipe files and see how their steps will run.

Both work offline: nothing here touches keys, providers or Prefect (a recipe with a
schedule imports Prefect to check the cron expression).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flows.cli.console import err, fail, out, print_json
from flows.recipe import Recipe, RecipeError, find_recipes, load_recipe

__all__ = ["app", "describe", "show", "validate"]

app = typer.Typer(
    help="Check recipe files and see how their steps will run.",
    no_args_is_help=True,
)

_MASKED = "********"


def _report(error: RecipeError) -> None:
    """Every problem on its own `error:` line, as `fail` prints one."""
    for line in error.lines():
        err.print(f"[bold red]error:[/] {escape(line)}", markup=True)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Recipe files, or folders of *.yaml / *.yml", show_default=False),
    ],
) -> None:
    """Check recipes and list every problem; exit status 2 if any is invalid."""
    files: list[Path] = []
    missing = 0
    for path in paths:
        try:
            files += find_recipes([path])
        except RecipeError as e:  # the path doesn't exist
            missing += 1
            _report(e)
    unique = list(dict.fromkeys(files))
    if not unique and not missing:
        fail("no recipe files (*.yaml, *.yml) found")
    invalid = missing
    for file in unique:
        try:
            recipe = load_recipe(file)
        except RecipeError as e:
            invalid += 1
            _report(e)
        else:
            out.print(f"ok: {file} ({_plural(len(recipe.steps), 'step')})", markup=False)
    if invalid:
        fail(f"{invalid} of {_plural(missing + len(unique), 'recipe')} invalid")


@app.command()
def show(
    path: Annotated[Path, typer.Argument(help="The recipe file", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Show the steps as a DAG: models, dependencies and which steps run in parallel.

    Layer 1 steps start at once; each later layer's steps start when the
    steps they depend on have finished.
    """
    try:
        recipe = load_recipe(path)
    except RecipeError as e:
        _report(e)
        raise typer.Exit(2) from None
    if as_json:
        print_json(describe(recipe))
    else:
        _print_table(recipe)


def describe(recipe: Recipe) -> dict[str, Any]:
    """The stable JSON shape of `byok recipes show --json` (layers count from 1)."""
    layer_of = {step: n for n, layer in enumerate(recipe.layers(), start=1) for step in layer}
    dependencies = recipe.dependencies()
    return {
        "name": recipe.name,
        "description": recipe.description,
        "inputs": {
            name: {
                "type": spec.type,
                "description": spec.description,
                "required": spec.required,
                "default": spec.default,  # a sensitive input's default is a reference
                "enum": spec.enum,
                "sensitive": spec.sensitive,
            }
            for name, spec in recipe.inputs.items()
        },
        "steps": [
            {
                "id": step.id,
                "model": step.model,
                "needs": sorted(dependencies[step.id]),
                "layer": layer_of[step.id],
            }
            for step in recipe.steps
        ],
    }


def _print_table(recipe: Recipe) -> None:
    header = Text(recipe.name, style="bold")
    if recipe.description:
        header.append(f" — {recipe.description}", style="")
    out.print(header)
    for name, spec in recipe.inputs.items():
        detail = spec.type if spec.required else f"{spec.type}, optional"
        line = Text(f"  input {name} ({detail})")
        if spec.description:
            line.append(f": {spec.description}")
        out.print(line)
    if recipe.budget_usd is not None:
        out.print(Text(f"  budget ${recipe.budget_usd} per run"))
    if recipe.schedule is not None:
        out.print(Text(f"  schedule {recipe.schedule.cron} ({recipe.schedule.timezone})"))

    dependencies = recipe.dependencies()
    caption = "Steps in the same layer run in parallel."
    if any(step.fallbacks for step in recipe.steps):
        caption += " ↳ marks fallback models, tried in order."
    table = Table(caption=caption, caption_justify="left")
    models = [m for step in recipe.steps for m in (step.model, *step.fallbacks)]
    table.add_column("Layer", justify="right")
    table.add_column("Step")
    # Model strings are what users copy into other recipes: never truncate them.
    table.add_column("Model", min_width=max(len(m) for m in models) + 2, overflow="fold")
    table.add_column("Depends on")
    table.add_column("Output")
    for number, layer in enumerate(recipe.layers(), start=1):
        for step_id in layer:
            step = recipe.step(step_id)
            model = Text(step.model)
            for fallback in step.fallbacks:
                model.append(f"\n↳ {fallback}", style="dim")
            table.add_row(
                str(number),
                Text(step.id),
                model,
                Text(", ".join(sorted(dependencies[step.id])) or "—"),
                "structured" if step.structured else "text",
            )
    out.print(table)
