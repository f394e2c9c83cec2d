"""A worker process killed (SIGKILL) mid-run leaves no half-written ledger rows.

A real subprocess runs recipes concurrently against the simulator and the
session's Prefect API, writing ledger rows and breaker state to the test's
SQLite database. Once it has committed a number of rows, with other calls
still in flight, the test kills it without warning, then reads the database
as the next worker would: intact, every row whole, every committed row
there, no row for a call that never got a reply, and nothing left locked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import selectors
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from decimal import Decimal
from pathlib import Path
from typing import IO

import pytest
from prefect.settings import PREFECT_API_URL
from sqlmodel import Session, select

from flows.engine import run_recipe
from flows.ledger import UsageRecord
from providers.breaker import BreakerStore, Circuit
from providers.simulator import SimulatorServer
from providers.types import Protocol
from tests.chaos.conftest import Figures
from tests.chaos.worker import MARKER, RECIPE
from tests.conftest import NO_WAIT
from vault.db import get_engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

REPO = Path(__file__).resolve().parents[2]
CONCURRENT_RUNS = 4
ROWS_BEFORE_KILL = 12
STARTUP_TIMEOUT_S = 180.0


def wait_for_rows(stdout: IO[str], count: int) -> int:
    """Read the worker's announcements until `count` rows are committed."""
    seen = 0
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        while seen < count:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise AssertionError(f"the worker committed only {seen} rows in time")
            line = stdout.readline()
            if not line:
                raise AssertionError(f"the worker exited after {seen} rows")
            seen += line.strip() == MARKER
    return seen


def run_and_kill_worker(log_path: Path) -> int:
    """Start a worker, SIGKILL it once it committed enough rows; rows it announced."""
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    env["PREFECT_LOGGING_LEVEL"] = "WARNING"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.worker", str(CONCURRENT_RUNS)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert worker.stdout is not None
            announced = wait_for_rows(worker.stdout, ROWS_BEFORE_KILL)
            os.kill(worker.pid, signal.SIGKILL)
        finally:
            worker.kill()
            worker.wait()
    assert worker.returncode == -signal.SIGKILL
    return announced


async def test_a_killed_worker_leaves_no_half_written_ledger_rows(
    sim: SimulatorServer,
    keys: dict[Protocol, str],
    byok_home: Path,
    tmp_path: Path,
    figures: Figures,
) -> None:
    sim.settings = dataclasses.replace(sim.settings, latency_ms=30)  # calls are in flight
    get_engine()  # the schema exists before the worker starts

    announced = await asyncio.to_thread(run_and_kill_worker, tmp_path / "worker.log")

    with closing(sqlite3.connect(byok_home / "byok.db")) as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    engine = get_engine()
    with Session(engine) as session:
        rows = list(session.exec(select(UsageRecord)))
    answered = sum(1 for call in sim.requests if call.status == 200)
    breakers = BreakerStore(engine).all()
    figures(
        rows_announced_before_kill=announced,
        ledger_rows_after_kill=len(rows),
        calls_answered_by_the_simulator=answered,
        calls_cut_off_by_the_kill=sum(1 for call in sim.requests if call.status is None),
        sqlite_integrity=integrity,
        breakers={str(key): b.circuit.value for key, b in breakers},
    )

    assert integrity == "ok"
    assert announced <= len(rows) <= answered  # committed rows stayed; no row without a reply
    for row in rows:
        assert row.input_tokens > 0, row.call_key
        assert row.output_tokens > 0, row.call_key
        assert row.key_id, row.call_key
        parts = [
            row.input_cost_usd,
            row.cache_read_cost_usd,
            row.cache_write_cost_usd,
            row.output_cost_usd,
        ]
        if row.cost_usd is not None:
            assert sum((p or Decimal(0) for p in parts), Decimal(0)) == row.cost_usd
    assert all(b.circuit is Circuit.CLOSED for _, b in breakers)

    # The next worker takes over the same database as usual: nothing was left locked.
    sim.settings = dataclasses.replace(sim.settings, latency_ms=0)
    result = await run_recipe(RECIPE, {"ticket": "still there?"}, policy=NO_WAIT)
    assert result.state == "COMPLETED", result.error
    assert len(result.usage) == 3
