"""Budget events for Prefect Automations: thresholds crossed and calls refused.

    byok.budget.threshold-crossed   settled spend reached a threshold (once per
                                    threshold per period, across every process)
    byok.budget.call-refused        a call was not made because it could exceed

The resource is the budget (`byok.budget.<id>`, or `byok.run-budget.<flow run
id>` for a recipe's `budget_usd`), named by its label; the flow run is a
related resource. Payloads hold numbers and ids only. An event that cannot be
sent is logged and dropped: alerting must never fail a call.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from flows.budget.book import Crossing
from flows.budget.errors import BudgetExceededError
from flows.budget.money import usd

__all__ = ["CALL_REFUSED", "THRESHOLD_CROSSED", "emit_refused", "emit_threshold"]

THRESHOLD_CROSSED = "byok.budget.threshold-crossed"
CALL_REFUSED = "byok.budget.call-refused"

_log = logging.getLogger(__name__)


def emit_threshold(crossing: Crossing, *, run_id: str) -> None:
    """Announce that a budget's spend reached `crossing.threshold_pct` of its limit."""
    counter = crossing.window
    _emit(
        THRESHOLD_CROSSED,
        _resource(counter.budget_id, run_id, counter.label, counter.org, counter.user),
        run_id,
        {
            "threshold_pct": crossing.threshold_pct,
            "limit_usd": _text(usd(counter.limit_pico)),
            "spent_usd": _text(usd(counter.spent_pico)),
            "period_start": counter.starts_at.isoformat() if counter.starts_at else None,
            "period_end": counter.ends_at.isoformat() if counter.ends_at else None,
        },
    )


def emit_refused(error: BudgetExceededError, *, org: str, user: str, run_id: str) -> None:
    """Announce that a call was refused because it could exceed a budget."""
    _emit(
        CALL_REFUSED,
        _resource(error.budget_id, run_id, error.budget, org, user),
        run_id,
        {
            "limit_usd": _text(error.limit_usd),
            "spent_usd": _text(error.spent_usd),
            "reserved_usd": _text(error.reserved_usd),
            "needed_usd": _text(error.needed_usd),
        },
    )


def _resource(
    budget_id: str | None, run_id: str, label: str, org: str, user: str
) -> dict[str, str]:
    resource = {
        "prefect.resource.id": (
            f"byok.budget.{budget_id}" if budget_id else f"byok.run-budget.{run_id}"
        ),
        "prefect.resource.name": label,
        "byok.org": org,
    }
    if user:
        resource["byok.user"] = user
    return resource


def _emit(event: str, resource: dict[str, str], run_id: str, payload: dict[str, Any]) -> None:
    from prefect.events import emit_event

    related = [
        {"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}
    ]
    try:
        emit_event(event=event, resource=resource, related=related, payload=payload)
    except Exception as error:
        _log.warning("could not emit %s (%s)", event, type(error).__name__)


def _text(value: Decimal) -> str:
    return format(value, "f")
