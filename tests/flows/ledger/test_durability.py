"""A run killed mid-way (SIGKILL, a real process) keeps every ledger row of the calls that returned.

`byok run` runs in a child process against the session's Prefect API; its
third call hangs in the simulator, and the child is killed once the first two
calls are in the ledger. Those rows must be there, whole and correctly priced,
and nothing of the call in flight.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prefect.settings import get_current_settings

from flows.ledger import UsageRecord, select_rows
from providers.simulator import Fault, SimulatorServer
from providers.types import Protocol
from tests.flows.ledger.billing import billed_calls, hand_priced
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

RECIPE = """\
name: killed-mid-run
inputs:
  ticket: {type: string}
steps:
  - id: first
    model: anthropic:claude-haiku-4-5
    prompt: "Ticket: {{ inputs.ticket }}"
  - id: second
    model: google:gemini-2.5-flash
    prompt: "Summarise: {{ steps.first.output }}"
  - id: third
    model: openai:gpt-5-mini
    prompt: "Reply to: {{ steps.second.output }}"
    retries: 0
"""

_DEADLINE_S = 120.0


def _wait_for_rows(count: int, child: subprocess.Popen[bytes]) -> list[UsageRecord]:
    """Poll the ledger (as another process would) until `count` rows are committed."""
    deadline = time.monotonic() + _DEADLINE_S
    while time.monotonic() < deadline:
        rows = select_rows(get_engine())
        if len(rows) >= count:
            return rows
        if child.poll() is not None:
            pytest.fail(f"byok run exited early with status {child.returncode}")
        time.sleep(0.05)
    pytest.fail(f"the ledger did not reach {count} rows within {_DEADLINE_S:.0f} s")


def test_rows_of_returned_calls_survive_a_killed_process(
    tmp_path: Path, byok_home: Path, sim: SimulatorServer, keys: dict[Protocol, str]
) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    sim.inject(Fault.slow(600_000, provider=Protocol.OPENAI))  # the third call never returns
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url)}
    child = subprocess.Popen(
        [sys.executable, "-c", "from flows.cli.main import main; main()", "run", str(recipe),
         "--input", "ticket=charged twice"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_rows(2, child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    rows = select_rows(get_engine())
    assert [row.step for row in rows] == ["first", "second"]
    assert len({row.run_id for row in rows}) == 1
    billed = {b.model: b for b in billed_calls(sim, keys, sim.requests)}
    assert set(billed) == {"claude-haiku-4-5", "gemini-2.5-flash"}  # the third never answered
    for row in rows:
        call = billed[row.model]
        assert (row.input_tokens, row.output_tokens) == (call.input_tokens, call.output_tokens)
        assert row.cost_usd == hand_priced(
            row.provider, row.model, call.input_tokens, call.output_tokens
        )
        assert row.outcome == "ok"
    with sqlite3.connect(byok_home / "byok.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
