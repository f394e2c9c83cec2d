"""The recipes a privacy run exercises, the faults that shape them, and `byok` as a user runs it.

One recipe, `privacy-mix`, covers every failure path at once, because its
steps are independent and a failed step does not stop the others:

    answer → follow   succeed; outputs echo the prompt and the key
    extract           structured output the schema rejects (the echo is an extra member)
    rejected          HTTP 400 whose error body echoes the prompt and the key
    retried           one 429 (echoing both), then success on the retry
    fellback          503 with no retries left, then its fallback model answers
    budgeted          worst case beyond the run's budget: stopped before the call

`privacy-ok` completes (a structured step whose parsed output holds the echo
feeds the next prompt). A third run gives `privacy-ok` an input that fails
validation and the sensitive input's value where its reference belongs, which
`byok run` must reject without repeating either. Both recipes take a sensitive
input: `privacy-mix` reads it from stdin (`-`), `privacy-ok` from a file.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from providers.simulator import Fault, SimulatorServer
from providers.simulator.settings import SimulatorSettings
from providers.types import Protocol
from tests.deployments.processes import BYOK
from tests.privacy.canaries import Canaries

__all__ = ["RunOutput", "add_keys", "prepare_simulator", "run_scenarios", "write_recipes"]

MIX = """
name: privacy-mix
inputs:
  ticket: {type: string}
  token: {sensitive: true}
budget_usd: 1.0
steps:
  - id: answer
    model: openai:gpt-5-mini
    prompt: "LITERAL {{ inputs.ticket }} {{ inputs.token }}"
    max_tokens: 500
  - id: follow
    model: anthropic:claude-haiku-4-5
    system: "Be brief. LITERAL"
    prompt: "Follow up on {{ steps.answer.output }}"
    max_tokens: 500
  - id: extract
    model: google:gemini-2.5-flash
    prompt: "Extract from LITERAL {{ inputs.ticket }}"
    max_tokens: 500
    output:
      type: object
      properties: {topic: {type: string}}
      required: [topic]
      additionalProperties: false
  - id: rejected
    model: openai:gpt-4.1-mini
    prompt: "Rejected LITERAL {{ inputs.ticket }}"
    max_tokens: 500
  - id: retried
    model: anthropic:claude-sonnet-4-5
    prompt: "Retried LITERAL {{ inputs.ticket }}"
    max_tokens: 500
    retries: 2
  - id: fellback
    model: openai:gpt-4.1-nano
    prompt: "Fell back LITERAL {{ inputs.ticket }}"
    max_tokens: 500
    retries: 0
    fallbacks: [google:gemini-2.5-flash-lite]
  - id: budgeted
    model: anthropic:claude-opus-4-1
    prompt: "Too dear LITERAL {{ inputs.ticket }}"
    max_tokens: 32000
"""

OK = """
name: privacy-ok
inputs:
  ticket: {type: string}
  count: {type: integer, default: 1}
  token: {sensitive: true}
steps:
  - id: extract
    model: google:gemini-2.5-flash
    prompt: "Extract from LITERAL {{ inputs.ticket }} {{ inputs.token }}"
    max_tokens: 500
    output:
      type: object
      properties: {topic: {type: string}}
      required: [topic]
  - id: reply
    model: anthropic:claude-haiku-4-5
    prompt: "Reply about {{ steps.extract.output }} and LITERAL"
    max_tokens: 500
"""


def write_recipes(folder: Path, canaries: Canaries) -> dict[str, Path]:
    """The two recipes (literal canary in their templates) and the sensitive input's file."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"token": folder / "token.txt"}
    paths["token"].write_text(f"{canaries.sensitive}\n", encoding="utf-8")
    for name, text in (("mix", MIX), ("ok", OK)):
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(text.replace("LITERAL", canaries.literal), encoding="utf-8")
    return paths


def prepare_simulator(sim: SimulatorServer) -> None:
    """Echo prompts and keys everywhere, and plan the faults `privacy-mix` needs."""
    sim.settings = SimulatorSettings(echo=True, echo_key=True, echo_errors=True)
    sim.clear_faults()
    sim.inject(
        Fault.error(400, model="gpt-4.1-mini", times=None),
        Fault.error(429, retry_after_s=0, model="claude-sonnet-4-5", times=1),
        Fault.error(503, model="gpt-4.1-nano", times=None),
    )


@dataclass(frozen=True)
class RunOutput:
    """What one `byok` command printed, and its exit status."""

    command: str
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.stdout)
        return document


def byok(args: list[str], env: Mapping[str, str], stdin: str | None = None) -> RunOutput:
    """Run `byok ARGS` as a user would, capturing both streams."""
    done = subprocess.run(
        [BYOK, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    return RunOutput(f"byok {args[0]}", done.returncode, done.stdout, done.stderr)


def add_keys(env: Mapping[str, str], sim: SimulatorServer, canaries: Canaries) -> list[RunOutput]:
    """`byok keys add` for each provider, the canary key read from stdin."""
    return [
        byok(
            ["keys", "add", protocol.value, "--base-url", sim.base_url(protocol)],
            env,
            stdin=f"{canaries.keys[protocol]}\n",
        )
        for protocol in Protocol
    ]


def run_scenarios(
    env: Mapping[str, str],
    recipes: Mapping[str, Path],
    canaries: Canaries,
    only: Iterable[str] | None = None,
) -> dict[str, RunOutput]:
    """`byok run --json` of both recipes, and of `privacy-ok` with an invalid input.

    `only` names the runs to make (all by default).
    """
    ticket = f"ticket={canaries.input}"
    from_file = f"token=file:{recipes['token']}"
    commands = {
        "mix": ["run", str(recipes["mix"]), "--json", "-i", ticket, "-i", "token=-"],
        "ok": ["run", str(recipes["ok"]), "--json", "-i", ticket, "-i", from_file],
        "invalid input": [
            "run",
            str(recipes["ok"]),
            "--input",
            ticket,
            "--input",
            f"count={canaries.input}",
            "--input",
            f"token={canaries.sensitive}",  # a value where its reference belongs
        ],
    }
    stdin = {"mix": f"{canaries.sensitive}\n"}
    wanted = set(commands if only is None else only)
    return {
        name: byok(args, env, stdin=stdin.get(name))
        for name, args in commands.items()
        if name in wanted
    }
