"""The entrypoint of every recipe deployment: `deployments.entrypoint.<recipe name>`.

A worker (or `byok serve`) runs a deployment by importing its entrypoint in a
new process. The flow cannot be one generic function taking `**inputs`:
Prefect maps a run's parameters onto the flow function's signature by name and
refuses names the signature doesn't declare, and the run form's parameters
must be the recipe's own inputs. So this one static module builds each
recipe's flow when Prefect asks for it by name, with the same compiler that
`byok run` uses (typed parameters from the recipe's inputs, one task per step,
the call hooks, the ledger), for the recipe found by `deployments.source`.

    >>> import deployments.entrypoint as entrypoint
    >>> flow = getattr(entrypoint, "support-triage")    # what Prefect's import does
"""

from __future__ import annotations

from typing import Any

from prefect import Flow

from deployments.source import locate_recipe
from flows.engine import compile_recipe
from flows.recipe.base import check_slug

__all__ = ["entrypoint_for"]


def entrypoint_for(recipe_name: str) -> str:
    """The entrypoint a deployment of `recipe_name` names (a module path, not a file)."""
    return f"{__name__}.{recipe_name}"


def __getattr__(name: str) -> Flow[..., Any]:
    # Only recipe names are flows here; anything else (dunders probed by
    # copy, pickle or doctest) is an ordinary missing attribute.
    try:
        check_slug(name)
    except ValueError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    target = locate_recipe(name)
    return compile_recipe(target.recipe, org=target.org, user=target.user)
