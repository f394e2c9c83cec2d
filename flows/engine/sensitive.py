"""Reading sensitive inputs inside the flow run, from where their references point.

A sensitive input's flow parameter is a reference (`flows.recipe.references`);
the value is read here, at the start of the flow body, and kept only in the
run's memory. While the run holds it, the value is registered with the log
redaction (`providers.redaction`) like a live key, so a traceback or a debug
log line that happens to include it shows `[redacted key]` instead.

Errors name the input and the reference, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from flows.recipe import Recipe, RecipeInputError
from flows.recipe.errors import Problem
from flows.recipe.inputs import coerce_value
from flows.recipe.references import InputReference, parse_reference
from providers.secret import SecretKey

__all__ = ["read_file_reference", "resolve_sensitive", "stdin_inputs"]

# Values `byok run` read from standard input for `-` references, by input name.
# Set by the in-process caller only: a deployment run has no stdin to read.
stdin_inputs: ContextVar[Mapping[str, str] | None] = ContextVar("byok_stdin_inputs", default=None)


async def resolve_sensitive(
    recipe: Recipe, inputs: Mapping[str, Any]
) -> tuple[dict[str, Any], list[SecretKey]]:
    """`inputs` with each sensitive reference replaced by its value, plus redaction holders.

    Keep the holders alive for as long as the values are in use: each one
    keeps its value redacted from every log record.
    """
    values = dict(inputs)
    held: list[SecretKey] = []
    problems: list[Problem] = []
    for name, spec in recipe.inputs.items():
        if not spec.sensitive or inputs.get(name) is None:
            continue
        where = f"input {name!r}"
        try:
            reference = parse_reference(inputs[name])
            text = await _read(name, reference)
            values[name] = coerce_value(spec.type, text)
        except ValueError as e:
            problems.append(Problem(str(e), where=where))
            continue
        if text:
            held.append(SecretKey(text))
    if problems:
        raise RecipeInputError(problems, source=f"recipe {recipe.name!r}")
    return values, held


async def _read(name: str, reference: InputReference) -> str:
    match reference.kind:
        case "file":
            return read_file_reference(reference)
        case "secret":
            return await _read_prefect_secret(reference.target)
        case "stdin":
            given = (stdin_inputs.get() or {}).get(name)
            if given is None:
                raise ValueError(
                    "'-' (stdin) works only with `byok run`; use file:PATH or secret:NAME"
                )
            return given


def read_file_reference(reference: InputReference) -> str:
    """The text of a `file:` reference, without its trailing newline."""
    path = Path(reference.target).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{reference} is not UTF-8 text") from None
    except OSError as e:
        raise ValueError(f"cannot read {reference} ({e.strerror or type(e).__name__})") from None
    return text.rstrip("\r\n")


async def _read_prefect_secret(name: str) -> str:
    from prefect.blocks.system import Secret

    try:
        secret: Secret[Any] = await Secret.aload(name)
    except ValueError:
        raise ValueError(
            f"no Prefect Secret block named {name!r}: create it in the Prefect UI "
            "(Blocks, Secret) or with `Secret(value=...).save(name)`"
        ) from None
    value: object = secret.get()
    if not isinstance(value, str):
        raise ValueError(f"the Prefect Secret {name!r} holds JSON, not text")
    return value
