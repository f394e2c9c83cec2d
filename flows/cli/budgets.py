"""`byok budgets`: spending limits per org or per user, per UTC day, week or month.

    byok budgets set --org acme --period month --limit-usd 100 [--user ana] [--threshold 80 ...]
    byok budgets list [--org acme] [--json]
    byok budgets remove --org acme --period month [--user ana]

A call that could take a budget past its limit is not made (see docs/cost.md).
Commands sign in like the vault commands (`BYOK_TOKEN`, or the local
operator): `set` and `remove` need admin or owner in the org and are audited;
`list` needs any role, and without `--org` lists every org the principal
belongs to. Another org is "not found". `--org` defaults to `default` or the
principal's only org, as for `byok keys`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.table import Table

from flows.budget.periods import Period
from flows.budget.thresholds import DEFAULT_THRESHOLDS
from flows.cli.console import fail, out, print_json
from flows.cli.signin import open_vault, vault_errors
from vault.access import Action

__all__ = ["app"]

app = typer.Typer(help="Spending limits per org or per user.", no_args_is_help=True)

_Org = Annotated[
    str | None,
    typer.Option(help="Organisation the budget applies to (default: 'default' or yours)."),
]
_User = Annotated[str | None, typer.Option(help="Only this user's calls (default: the whole org).")]
_PeriodOpt = Annotated[Period, typer.Option(help="When the budget starts again (UTC).")]


@app.command("set")
def set_command(
    limit_usd: Annotated[
        str, typer.Option("--limit-usd", help="The limit in US dollars, e.g. 250 or 12.50.")
    ],
    *,
    org: _Org = None,
    user: _User = None,
    period: _PeriodOpt = Period.MONTH,
    threshold: Annotated[
        list[int] | None,
        typer.Option(
            help="Percent of the limit that emits a Prefect event when reached; repeatable "
            f"(default {DEFAULT_THRESHOLDS.replace(',', ' and ')})."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a budget, or change its limit and thresholds (effective at once)."""
    # The budget tables (SQLAlchemy) are imported when a command runs, not for `--help`.
    from flows.budget.definitions import list_budgets, parse_thresholds, set_budget
    from vault.db import get_engine

    limit = _parse_limit(limit_usd)
    try:
        thresholds = parse_thresholds(threshold) if threshold else DEFAULT_THRESHOLDS
    except ValueError as error:
        fail(str(error))
    vault = open_vault()
    with vault_errors():
        org = vault.authorize(org, Action.BUDGET_SET)
    try:
        engine = get_engine()
        set_budget(
            engine,
            org=org,
            user=user or "",
            period=period,
            limit_usd=limit,
            thresholds=thresholds,
        )
    except ValueError as error:
        vault.record(Action.BUDGET_SET, org, detail=str(error), failed=True)
        fail(str(error))
    vault.record(
        Action.BUDGET_SET,
        org,
        detail=f"{_subject(org, user)}: {period.adjective} limit {_usd(limit)} USD, "
        f"events at {thresholds}",
    )
    status = next(
        s
        for s in list_budgets(engine, org=org)
        if s.budget.user == (user or "") and s.budget.period == period.value
    )
    if json_output:
        print_json(status.to_json())
        return
    out.print(
        f"{_subject(org, user)}: {period.adjective} limit {_usd(limit)} USD "
        f"({_usd(status.spent_usd)} spent this {period.value}); "
        f"events at {', '.join(f'{p}%' for p in thresholds.split(','))}"
    )


@app.command("list")
def list_command(
    org: Annotated[
        str | None, typer.Option(help="Only this organisation (default: every org you belong to).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """Every budget with its spend in the current period."""
    from flows.budget.definitions import budget_orgs, list_budgets
    from vault.db import get_engine

    engine = get_engine()
    vault = open_vault()
    with vault_errors():
        orgs = vault.orgs_for(org, Action.USAGE_READ, seen=budget_orgs(engine))
    statuses = [s for o in orgs for s in list_budgets(engine, org=o)]
    if json_output:
        print_json([status.to_json() for status in statuses])
        return
    table = Table(
        title="budgets (USD, this period)",
        title_justify="left",
        caption="held: reserved by calls in flight",
        caption_justify="left",
    )
    for column in ("org", "user"):
        table.add_column(column, overflow="fold", min_width=4)
    table.add_column("period", no_wrap=True)
    for column in ("limit", "spent", "held", "left", "used"):
        table.add_column(column, justify="right", no_wrap=True)
    for s in statuses:
        used = s.spent_usd * 100 / s.budget.limit_usd
        table.add_row(
            s.budget.org,
            s.budget.user or "(everyone)",
            s.budget.period,
            _usd(s.budget.limit_usd),
            _usd(s.spent_usd),
            _usd(s.reserved_usd),
            _usd(s.remaining_usd),
            f"{used:.1f}%",
        )
    out.print(table)


@app.command("remove")
def remove_command(org: _Org = None, user: _User = None, period: _PeriodOpt = Period.MONTH) -> None:
    """Delete a budget; its history stays in the ledger."""
    from flows.budget.definitions import remove_budget
    from vault.db import get_engine

    vault = open_vault()
    with vault_errors():
        org = vault.authorize(org, Action.BUDGET_REMOVE)
    if not remove_budget(get_engine(), org=org, user=user or "", period=period):
        fail(f"{_subject(org, user)} has no {period.adjective} budget: see `byok budgets list`")
    vault.record(
        Action.BUDGET_REMOVE, org, detail=f"{_subject(org, user)}: {period.adjective} budget"
    )
    out.print(f"removed the {period.adjective} budget of {_subject(org, user)}")


def _parse_limit(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().removeprefix("$"))
    except InvalidOperation:
        fail(f"--limit-usd expects an amount in US dollars such as 250 or 12.50, got {text!r}")
    if not value.is_finite() or value <= 0:
        fail(f"--limit-usd must be more than 0, got {text!r}")
    return value


def _subject(org: str, user: str | None) -> str:
    return f"user '{user}' of org '{org}'" if user else f"org '{org}'"


def _usd(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"
