"""`byok usage`: what the ledger says was spent, grouped the way you ask."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.console import fail, out, print_json
from flows.ledger import GroupBy, money, summarize
from vault.db import get_engine

__all__ = ["parse_since", "usage"]


def usage(
    by: Annotated[GroupBy, typer.Option(help="Group rows by this column.")] = GroupBy.RECIPE,
    since: Annotated[
        str | None,
        typer.Option(help="Only calls since this ISO date/time, or a period such as 7d or 12h."),
    ] = None,
    org: Annotated[str | None, typer.Option(help="Only this organisation.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Tokens and cost of recorded provider calls, grouped."""
    groups = summarize(get_engine(), by=by, org=org, since=parse_since(since))
    priced = [g.cost_usd for g in groups if g.cost_usd is not None]
    total = sum(priced, Decimal(0)) if priced else None
    if json_output:
        print_json(
            {
                "by": by.value,
                "groups": [g.to_json() for g in groups],
                "total": {
                    "calls": sum(g.calls for g in groups),
                    "input_tokens": sum(g.input_tokens for g in groups),
                    "output_tokens": sum(g.output_tokens for g in groups),
                    "cost_usd": money(total),
                },
            }
        )
        return
    table = Table(title=f"usage by {by.value}", title_justify="left")
    table.add_column(by.value)
    for column in ("calls", "input tok", "output tok", "cost (USD)"):
        table.add_column(column, justify="right")
    for g in groups:
        cost = "unpriced" if g.cost_usd is None else f"{g.cost_usd:.6f}"
        if g.unpriced_calls and g.cost_usd is not None:
            cost += f" (+{g.unpriced_calls} unpriced)"
        table.add_row(g.key, str(g.calls), f"{g.input_tokens:,}", f"{g.output_tokens:,}", cost)
    table.add_section()
    table.add_row(
        "total",
        str(sum(g.calls for g in groups)),
        f"{sum(g.input_tokens for g in groups):,}",
        f"{sum(g.output_tokens for g in groups):,}",
        "unpriced" if total is None else f"{total:.6f}",
    )
    out.print(table)


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
