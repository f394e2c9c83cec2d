"""What `byok usage --by` groups on, in a module of its own.

The CLI builds `--by`'s choices from it when it starts, and must not import
the ledger's tables and queries (SQLAlchemy, SQLModel) just for that.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["GroupBy"]


class GroupBy(StrEnum):
    """The columns `byok usage --by` can group on."""

    RECIPE = "recipe"
    USER = "user"
    MODEL = "model"
    STEP = "step"
    RUN = "run"
    DAY = "day"
