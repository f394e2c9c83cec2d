"""Sensitive inputs travel by reference: `file:PATH`, `secret:NAME` or `-` (stdin).

Prefect stores every flow parameter as given, in its database and in the run
form's history. An input marked `sensitive: true` must not be one, so its
parameter holds only where the value is: a file the run can read, a Prefect
`Secret` block (encrypted by the Prefect server, readable by whoever may read
its blocks), or, for `byok run` only, standard input. The value itself is read
inside the flow run and lives only in memory (see `flows.engine.sensitive`).

Parsing is strict and its messages never repeat what was given: a user who
types the secret itself where a reference belongs must not see it echoed into
a terminal log or a Prefect state message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["REFERENCE_FORMS", "REFERENCE_PATTERN", "InputReference", "parse_reference"]

ReferenceKind = Literal["file", "secret", "stdin"]

# Prefect block document names: lowercase letters, digits and dashes.
_BLOCK_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
REFERENCE_FORMS = "file:PATH, secret:NAME (a Prefect Secret block) or - (stdin, `byok run` only)"
# What a deployment's run form accepts (stdin has no meaning for a deployment run).
REFERENCE_PATTERN = r"^(file:.+|secret:[a-z0-9][a-z0-9-]*)$"


@dataclass(frozen=True, slots=True)
class InputReference:
    """Where a sensitive input's value is read from at run time."""

    kind: ReferenceKind
    target: str = ""

    def __str__(self) -> str:
        return "-" if self.kind == "stdin" else f"{self.kind}:{self.target}"


def parse_reference(value: object, *, allow_stdin: bool = True) -> InputReference:
    """The reference `value` spells, or a `ValueError` that does not repeat it."""
    if not isinstance(value, str):
        raise ValueError(
            f"give a reference to its value, never the value itself ({REFERENCE_FORMS})"
        )
    text = value.strip()
    if text == "-":
        if not allow_stdin:
            raise ValueError("'-' (stdin) works only with `byok run`; use file:PATH or secret:NAME")
        return InputReference("stdin")
    kind, sep, target = text.partition(":")
    if sep and kind == "file" and target:
        return InputReference("file", target)
    if sep and kind == "secret" and _BLOCK_NAME.fullmatch(target):
        return InputReference("secret", target)
    if sep and kind == "secret":
        raise ValueError(
            "secret:NAME needs a Prefect block name (lowercase letters, digits and dashes)"
        )
    raise ValueError(f"give a reference to its value, never the value itself ({REFERENCE_FORMS})")
