"""What a recipe's deployment carries so that any worker can run it: recipe, org and user.

A Prefect worker starts a flow run knowing only its id and the deployment's
entrypoint, so everything else a run needs travels with the deployment, in its
job variables under `byok`:

    {"byok": {"recipe": {...the recipe...}, "org": "acme", "user": "ana@acme.example"}}

Recipes are configuration, not secrets, and carrying them means a worker needs
the installed package and its vault settings, never a copy of the recipe files.
Org and user are fixed when the deployment is registered, by someone the vault
allowed to run recipes with that org's keys (`byok deploy`/`byok serve` check
it): every run executes as that user and the vault checks it again on each key
use. Nothing a run is started with (parameters, its own job variables) can
change them.

Job variables, unlike pull-step arguments, are not templated by Prefect unless a
work pool's job template names them; Prefect would otherwise substitute the
`{{ ... }}` in a recipe's prompts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.recipe import Recipe, RecipeError, validate_recipe
from vault.access import DEFAULT_ORG, LOCAL_OPERATOR

__all__ = ["JOB_VARIABLE", "RecipeDeployment", "run_as"]

JOB_VARIABLE = "byok"
_VERSION_LENGTH = 12


@dataclass(frozen=True, slots=True)
class RecipeDeployment:
    """One recipe as a Prefect deployment, run as `user` of `org`."""

    recipe: Recipe
    org: str = DEFAULT_ORG
    user: str = LOCAL_OPERATOR

    @property
    def name(self) -> str:
        """The deployment's name, which is also its flow's name: the recipe's."""
        return self.recipe.name

    @property
    def full_name(self) -> str:
        """`flow/deployment`, as `prefect deployment run` and the API name it."""
        return f"{self.name}/{self.name}"

    @property
    def entrypoint(self) -> str:
        """The module path workers import (see `deployments.entrypoint`)."""
        from deployments.entrypoint import entrypoint_for

        return entrypoint_for(self.name)

    def job_variables(self) -> dict[str, Any]:
        """What the deployment stores for its runs (see the module docstring)."""
        recipe = self.recipe.model_dump(mode="json", exclude_defaults=True)
        return {JOB_VARIABLE: {"recipe": recipe, "org": self.org, "user": self.user}}

    @property
    def version(self) -> str:
        """A fingerprint of recipe, org and user: the deployment's version.

        Flow runs record the version they were created from, so a run can be
        traced to the exact recipe it ran, and a restart can tell a changed
        recipe from an unchanged one.
        """
        canonical = json.dumps(self.job_variables(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:_VERSION_LENGTH]

    @classmethod
    def from_job_variables(
        cls, variables: Mapping[str, Any], *, source: str
    ) -> RecipeDeployment | None:
        """The recipe a deployment carries with its org and user, or None if it carries none.

        Raises `RecipeError` naming `source` when what is stored is not valid.
        """
        stored = variables.get(JOB_VARIABLE)
        if not isinstance(stored, Mapping) or "recipe" not in stored:
            return None
        org, user = run_as(variables, source=source)
        return cls(validate_recipe(stored["recipe"], source=source), org=org, user=user)


def run_as(variables: Mapping[str, Any], *, source: str) -> tuple[str, str]:
    """The org and user in a deployment's job variables (`byok.org`, `byok.user`).

    A hand-written deployment (see `prefect.yaml`) may set them without a recipe;
    left out, they are the default org and the local operator.
    """
    stored = variables.get(JOB_VARIABLE) or {}
    org = stored.get("org", DEFAULT_ORG) if isinstance(stored, Mapping) else None
    user = stored.get("user", LOCAL_OPERATOR) if isinstance(stored, Mapping) else None
    if not isinstance(org, str) or not isinstance(user, str) or not org or not user:
        raise RecipeError(
            [f"job variable {JOB_VARIABLE!r} must map org and user to names"], source=source
        )
    return org, user
