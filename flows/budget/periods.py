"""Budget periods: calendar windows in UTC that a budget's spend resets with.

A `month` budget counts the calls made from the first of the month 00:00 UTC
to the first of the next; `week` starts on Monday; `day` at midnight UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

__all__ = ["Period", "window"]


class Period(StrEnum):
    """How often a budget starts again from zero."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def adjective(self) -> str:
        """`daily`, `weekly`, `monthly`: how messages name the budget."""
        return {"day": "daily", "week": "weekly", "month": "monthly"}[self.value]


def window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """`[start, end)` of the period that contains `now`, in UTC."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        return day, day + timedelta(days=1)
    if period is Period.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end
