"""The default event thresholds of a budget, in a module of its own.

`byok budgets set --help` shows them, and the CLI must not import the budget
tables (SQLModel, SQLAlchemy) just to print its help.
"""

from __future__ import annotations

__all__ = ["DEFAULT_THRESHOLDS"]

#: Percentages of a limit whose crossing emits a Prefect event, unless set otherwise.
DEFAULT_THRESHOLDS = "80,100"
