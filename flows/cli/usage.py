"""`byok usage`: what the ledger says was spent, grouped the way you ask; and `reprice`.

    byok usage [--by recipe|user|model|step|run|day] [--since 7d] [--org O] [--json|--csv]
    byok usage reprice [--since 30d] [--org O] [--dry-run] [--json]

Costs are shown as the exact decimals the ledger stores, so the total line is
the sum of the lines above it, digit for digit.

Both sign in like the vault commands (`BYOK_TOKEN`, or the local operator):
reading needs any role in the org (`usage.read`), repricing admin or owner
(`usage.reprice`, audited). Without `--org` they cover every org the
principal may do that in; another org is "not found".
"""

from __future__ import annotations

import csv
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from flows.cli.console import fail, out, print_json
from flows.cli.signin import open_vault, vault_errors
from flows.ledger.grouping import GroupBy
from vault.access import Action

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from flows.ledger import UsageGroup

__all__ = ["app", "parse_since", "usage"]

app = typer.Typer(
    help="Tokens and cost of recorded provider calls.",
    invoke_without_command=True,
    no_args_is_help=False,
)

_SINCE_HELP = "Only calls since this ISO date/time, or a period such as 7d or 12h."
_ORG_HELP = "Only this organisation (default: every org you belong to)."


@app.callback()
def usage(
    ctx: typer.Context,
    *,
    by: Annotated[GroupBy, typer.Option(help="Group rows by this column.")] = GroupBy.RECIPE,
    since: Annotated[str | None, typer.Option(help=_SINCE_HELP)] = None,
    org: Annotated[str | None, typer.Option(help=_ORG_HELP)] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    csv_output: Annotated[bool, typer.Option("--csv", help="Print CSV, one line a group.")] = False,
) -> None:
    """Tokens and cost of recorded provider calls, grouped; `reprice` recomputes costs."""
    from flows.ledger import queries as ledger  # SQLAlchemy: not for `--help`

    if ctx.invoked_subcommand is not None:
        return
    if json_output and csv_output:
        fail("choose one of --json and --csv")
    start = parse_since(since)
    orgs = _orgs(org, Action.USAGE_READ)
    groups = ledger.summarize(_engine(), by=by, orgs=orgs, since=start)
    total = ledger.UsageGroup.combine("total", groups)
    if json_output:
        totals = total.to_json()
        del totals["key"]
        print_json({"by": by.value, "groups": [g.to_json() for g in groups], "total": totals})
    elif csv_output:
        _print_csv(by, groups)
    else:
        _print_table(by, groups, total)


@app.command("reprice")
def reprice_command(
    since: Annotated[str | None, typer.Option(help=_SINCE_HELP)] = None,
    org: Annotated[str | None, typer.Option(help=_ORG_HELP)] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Recompute recorded costs with today's prices (price file, then genai-prices)."""
    from flows.ledger import queries as ledger  # SQLAlchemy: not for `--help`
    from flows.ledger.reprice import reprice
    from providers.pricing import PriceFileError

    start = parse_since(since)
    vault = open_vault()
    with vault_errors():
        orgs = vault.orgs_for(org, Action.USAGE_REPRICE, seen=ledger.ledger_orgs(_engine()))
    try:
        result = reprice(_engine(), orgs=orgs, since=start, dry_run=dry_run)
    except PriceFileError as error:
        fail(str(error))
    if not dry_run and result.changed:
        detail = f"{result.changed} of {result.rows} recorded calls repriced"
        detail += f" since {start.isoformat()}" if start else ""
        detail += f" (orgs {', '.join(orgs)})" if len(orgs) > 1 else ""
        for each in orgs:
            vault.record(Action.USAGE_REPRICE, each, detail=detail)
    if json_output:
        print_json(
            {
                "dry_run": dry_run,
                "rows": result.rows,
                "changed": result.changed,
                "cost_before_usd": ledger.money(result.cost_before_usd),
                "cost_after_usd": ledger.money(result.cost_after_usd),
                "unpriced_before": result.unpriced_before,
                "unpriced_after": result.unpriced_after,
            }
        )
        return
    if not result.rows:
        out.print("no recorded calls match: nothing to reprice")
        return
    verb = "would change" if dry_run else "changed"
    out.print(f"{verb} {result.changed} of {result.rows} recorded calls")
    out.print(f"total cost: {_usd(result.cost_before_usd)} → {_usd(result.cost_after_usd)} USD")
    out.print(f"unpriced calls: {result.unpriced_before} → {result.unpriced_after}")


def _orgs(org: str | None, action: Action) -> list[str]:
    """The orgs whose rows the principal of BYOK_TOKEN may see for `action` (or exit 2)."""
    from flows.ledger import queries as ledger  # SQLAlchemy: not for `--help`

    vault = open_vault()
    with vault_errors():
        return vault.orgs_for(org, action, seen=ledger.ledger_orgs(_engine()))


def _print_table(by: GroupBy, groups: list[UsageGroup], total: UsageGroup) -> None:
    table = Table(title=f"usage by {by.value}", title_justify="left")
    # Numbers never wrap or get cut: narrow terminals fold the group names instead.
    table.add_column(by.value, overflow="fold")
    for column in ("calls", "input", "cache read", "cache write", "output", "reasoning"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("cost (USD)", justify="right", no_wrap=True)
    for g in [*groups, total]:
        if g is total:
            table.add_section()
        cost = _usd(g.cost_usd)
        if g.unpriced_calls and g.cost_usd is not None:
            cost += f" (+{g.unpriced_calls} unpriced)"
        table.add_row(
            g.key,
            f"{g.calls:,}",
            f"{g.input_tokens:,}",
            f"{g.cache_read_tokens:,}",
            f"{g.cache_write_tokens:,}",
            f"{g.output_tokens:,}",
            f"{g.reasoning_tokens:,}",
            cost,
        )
    out.print(table)


def _print_csv(by: GroupBy, groups: list[UsageGroup]) -> None:
    """One line a group, costs as exact decimals (empty when unpriced).

    No total line: a spreadsheet that sums a column gets the total itself.
    """
    from flows.ledger import queries as ledger  # SQLAlchemy: not for `--help`

    writer = csv.writer(sys.stdout, lineterminator="\n")
    columns = list(ledger.UsageGroup.combine("", []).to_json())
    writer.writerow([by.value, *columns[1:]])
    for g in groups:
        row = g.to_json()
        row["cost_usd"] = "" if g.cost_usd is None else format(g.cost_usd, "f")
        writer.writerow(row.values())


def _usd(value: Decimal | None) -> str:
    return "unpriced" if value is None else format(value, "f")


def parse_since(value: str | None) -> datetime | None:
    """`7d`, `12h`, `30m` or an ISO date/time (UTC when no zone is given)."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    number, unit = value[:-1], value[-1:]
    if unit in units and number.isdigit():
        return datetime.now(UTC) - timedelta(**{units[unit]: int(number)})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since expects an ISO date/time or a period like 7d, 12h, 30m; got {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _engine() -> Engine:
    from vault.db import get_engine

    return get_engine()
