"""The usage ledger: what every provider call cost, and who it belongs to.

models.py       UsageRecord, one row per provider call that returned usage
recorder.py     building a priced row and committing it, idempotent on call_key
group_commit.py rows of calls that finish together committed in one transaction
queries.py      a run's rows, filtered rows, grouped totals
hook.py         LedgerHook: the ledger as a call hook
run_report.py   a run's cost as a Prefect table artifact and a log line
reprice.py      recomputing costs after a price fix
"""

from flows.ledger.models import UsageRecord
from flows.ledger.queries import (
    TOKEN_KINDS,
    GroupBy,
    UsageGroup,
    group_key,
    ledger_orgs,
    money,
    row_json,
    rows_for_run,
    select_rows,
    summarize,
    total_cost,
)
from flows.ledger.recorder import (
    CallContext,
    build_record,
    call_key,
    cost_columns,
    outcome_of,
    price_call,
    record,
)

__all__ = [
    "TOKEN_KINDS",
    "CallContext",
    "GroupBy",
    "UsageGroup",
    "UsageRecord",
    "build_record",
    "call_key",
    "cost_columns",
    "group_key",
    "ledger_orgs",
    "money",
    "outcome_of",
    "price_call",
    "record",
    "row_json",
    "rows_for_run",
    "select_rows",
    "summarize",
    "total_cost",
]
