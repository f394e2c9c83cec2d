"""Shared terminal output: results to stdout, diagnostics to stderr, one-line errors.

Errors a user can fix end the command with one clear line and exit status 2,
never a traceback.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["err", "fail", "out", "print_json"]

out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 2) -> NoReturn:
    """Print `error: message` on stderr and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


def print_json(payload: Any) -> None:
    """Print one JSON document on stdout, with no Rich markup or wrapping."""
    typer.echo(json.dumps(payload, indent=2, sort_keys=False, default=str))
