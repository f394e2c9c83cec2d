"""When a recipe runs by itself: a cron expression, its timezone, and the inputs to use.

The cron and timezone are checked with Prefect's own `CronSchedule`, so a recipe
that validates here is one Prefect will accept as a deployment schedule. Prefect
is imported only when a recipe has a schedule: it takes seconds to import, and
`byok recipes validate` on a plain recipe shouldn't pay for that.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field, ValidationError, model_validator

from flows.recipe.base import RecipeModel
from flows.recipe.errors import Problem, ProblemList

__all__ = ["Schedule"]


class Schedule(RecipeModel):
    """A cron schedule; `inputs` are checked against the recipe's declared inputs."""

    cron: str = Field(description="Five-field cron expression, e.g. '0 9 * * 1-5'")
    timezone: str = Field("UTC", description="IANA timezone name, e.g. Europe/Berlin")
    inputs: dict[str, Any] = Field(default_factory=dict, description="Inputs for each run")

    @model_validator(mode="after")
    def _check_with_prefect(self) -> Self:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=self.cron, timezone=self.timezone)
        except ValidationError as e:
            bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
            problems = []
            if "cron" in bad:
                problems.append(
                    Problem(
                        f"not a cron expression Prefect accepts: {self.cron!r} (five fields: "
                        "minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5')",
                        field="cron",
                    )
                )
            if "timezone" in bad:
                problems.append(
                    Problem(
                        f"unknown timezone {self.timezone!r}; use an IANA name such as "
                        "UTC or Europe/Berlin",
                        field="timezone",
                    )
                )
            raise ProblemList(problems or [Problem(f"rejected by Prefect: {e}")]) from None
        return self
