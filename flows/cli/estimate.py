"""`byok run --dry-run`: a recipe's worst-case cost, with no provider called at all.

Prompts are rendered here with the given inputs; nothing is sent anywhere,
Prefect is not started, and no key is decrypted (the vault is only asked
which provider a key prefix bills through).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any

from rich.markup import escape
from rich.table import Table

from flows.budget.dry_run import RecipeEstimate, estimate_recipe
from flows.cli.console import err, fail, out, print_json
from flows.recipe import ModelRef, Recipe, TemplateRenderError

__all__ = ["print_estimate"]


def print_estimate(recipe: Recipe, inputs: dict[str, Any], *, org: str, json_output: bool) -> None:
    """Estimate `recipe` with `inputs` and print it as a table or as JSON."""
    from providers.pricing import PriceFileError

    try:
        estimate = estimate_recipe(recipe, inputs, provider_of=_provider_resolver(org))
    except (TemplateRenderError, PriceFileError) as error:
        fail(str(error))
    if json_output:
        print_json(estimate.to_json())
    else:
        _print_table(estimate)


def _provider_resolver(org: str) -> Callable[[ModelRef], str]:
    """PREFIX -> the provider its key in `org` bills through; the prefix itself if unknown."""
    from vault import KeyStore, VaultError

    cache: dict[str, str] = {}
    try:
        store: KeyStore | None = KeyStore.open()
    except VaultError:
        store = None

    def provider_of(ref: ModelRef) -> str:
        if ref.prefix not in cache:
            provider = ref.prefix
            if store is not None:
                # No key yet: a provider-named prefix (`openai:...`) still prices.
                with suppress(VaultError):
                    provider = store.find_key(org, ref.prefix).provider
            cache[ref.prefix] = provider
        return cache[ref.prefix]

    return provider_of


def _print_table(estimate: RecipeEstimate) -> None:
    table = Table(
        title=f"worst case of one run of {estimate.recipe}",
        title_justify="left",
        caption="each step counts its dearest model; retries of unbilled errors cost nothing",
        caption_justify="left",
    )
    table.add_column("step", overflow="fold")
    table.add_column("model", overflow="fold")
    for column in ("input tok ≤", "output tok ≤", "cost (USD) ≤"):
        table.add_column(column, justify="right", no_wrap=True)
    for step in estimate.steps:
        for index, model in enumerate(step.models):
            cost = model.worst.cost_usd
            table.add_row(
                step.step if index == 0 else "",
                model.model if index == 0 else f"fallback {model.model}",
                f"{model.worst.input_tokens:,}",
                f"{model.worst.output_tokens:,}",
                "unpriced" if cost is None else format(cost, "f"),
            )
    table.add_section()
    table.add_row("total", "", "", "", format(estimate.cost_usd, "f"))
    out.print(table)
    if estimate.unpriced:
        err.print(
            f"[yellow]no known price for {escape(', '.join(estimate.unpriced))}: not counted; "
            "add them to your price file (docs/cost.md)[/]"
        )
    if estimate.budget_usd is not None:
        verdict = "fits" if estimate.within_budget else "does NOT fit"
        out.print(f"the worst case {verdict} the recipe's budget_usd of {estimate.budget_usd}")
    out.print("[dim]dry run: no provider was called[/]")
