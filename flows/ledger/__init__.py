"""The usage ledger: what every provider call cost, and who it belongs to."""

from flows.ledger.models import UsageRecord
from flows.ledger.queries import (
    GroupBy,
    UsageGroup,
    money,
    row_json,
    rows_for_run,
    summarize,
    total_cost,
)
from flows.ledger.recorder import CallContext, build_record, record

__all__ = [
    "CallContext",
    "GroupBy",
    "UsageGroup",
    "UsageRecord",
    "build_record",
    "money",
    "record",
    "row_json",
    "rows_for_run",
    "summarize",
    "total_cost",
]
