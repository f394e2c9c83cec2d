"""What `byok run` does for sensitive inputs before the flow starts.

A `-` reference is read here, from standard input (a hidden prompt when it is
a terminal), and handed to the run in memory; a `file:` reference is checked
for readability so a typo fails in one line before Prefect starts. Secret
blocks are read by the run itself: they live in Prefect.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import click

from flows.cli.console import fail
from flows.engine.sensitive import read_file_reference
from flows.recipe import Recipe
from flows.recipe.references import parse_reference

__all__ = ["read_stdin_inputs"]


def read_stdin_inputs(recipe: Recipe, values: Mapping[str, Any]) -> dict[str, str]:
    """Values for the sensitive inputs given as `-`, by name; checks `file:` references."""
    from_stdin: list[str] = []
    for name, spec in recipe.inputs.items():
        if not spec.sensitive or values.get(name) is None:
            continue
        reference = parse_reference(values[name])
        if reference.kind == "stdin":
            from_stdin.append(name)
        elif reference.kind == "file":
            try:
                read_file_reference(reference)
            except ValueError as e:
                fail(f"input {name!r}: {e}")
    if len(from_stdin) > 1:
        fail(
            f"inputs {', '.join(map(repr, from_stdin))} all ask for stdin; only one can read "
            "it: give the others as file:PATH or secret:NAME"
        )
    return {name: _read_stdin(name) for name in from_stdin}


def _read_stdin(name: str) -> str:
    if sys.stdin.isatty():
        text = str(click.prompt(name, hide_input=True, err=True))
    else:
        text = sys.stdin.read().rstrip("\r\n")
    if not text:
        fail(f"input {name!r}: nothing was given on stdin")
    return text
