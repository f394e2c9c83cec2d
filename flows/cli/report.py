"""Rich rendering of a finished run: step outputs, then a cost table."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from flows.engine.running import RunResult

__all__ = ["print_run"]


def print_run(console: Console, result: RunResult) -> None:
    """Outputs of completed steps, the calls with tokens and cost, and the state."""
    for step, output in result.outputs.items():
        body = output if isinstance(output, str) else json.dumps(output, indent=2)
        title = f"{step} · {result.answered_by.get(step, '?')}"
        # Model output is text, never Rich markup.
        console.print(Panel(Text(body), title=Text(title), title_align="left", expand=False))
    table = Table(title=f"run {result.run_id}", title_justify="left")
    for column in ("step", "attempt", "provider:model", "input tok", "output tok", "cost (USD)"):
        numeric = column in {"attempt", "input tok", "output tok", "cost (USD)"}
        table.add_column(
            column,
            justify="right" if numeric else "left",
            # Costs and model names are the point of the table: never cut them.
            no_wrap=column in {"cost (USD)", "step"},
            overflow="fold",
        )
    for row in result.usage:
        table.add_row(
            row.step,
            str(row.attempt),
            f"{row.provider}:{row.model}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            "unpriced" if row.cost_usd is None else f"{row.cost_usd:.6f}",
        )
    total = result.cost_usd
    table.add_section()
    table.add_row(
        "total",
        "",
        "",
        f"{sum(r.input_tokens for r in result.usage):,}",
        f"{sum(r.output_tokens for r in result.usage):,}",
        "unpriced" if total is None else f"{total:.6f}",
    )
    console.print(table)
    if result.state == "COMPLETED":
        console.print("[bold green]COMPLETED[/]")
    else:
        console.print(f"[bold red]FAILED[/]: {escape(result.error or '')}")
