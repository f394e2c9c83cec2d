"""`byok breakers` shows what every worker on the database sees, and resets one by hand."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from providers.breaker import (
    Breaker,
    BreakerKey,
    BreakerPolicy,
    BreakerStore,
    CallResult,
    Circuit,
    ConsecutiveFailures,
)
from providers.breaker.state import admit, record
from vault.db import get_engine

runner = CliRunner()
POLICY = BreakerPolicy(trip=ConsecutiveFailures(2), cool_down_s=600.0)
DEAD = BreakerKey("openai", "gpt-5-mini", "key_dead00000000001")
FINE = BreakerKey("anthropic", "claude-haiku-4-5", "key_fine0000000001")


def call(store: BreakerStore, key: BreakerKey, result: CallResult, now: float) -> None:
    def step(breaker: Breaker) -> tuple[Breaker, None]:
        breaker, admission = admit(breaker, now, POLICY)
        return record(breaker, admission, result, now, POLICY, failure="ServerError HTTP 500"), None

    store.change(key, step)


@pytest.fixture
def store(byok_home: Path) -> BreakerStore:
    return BreakerStore(get_engine())


def test_no_breakers_yet_says_so(store: BreakerStore) -> None:
    result = runner.invoke(app, ["breakers"])
    assert result.exit_code == 0
    assert "no breakers yet" in result.stdout
    assert json.loads(runner.invoke(app, ["breakers", "--json"]).stdout) == {"breakers": []}


def test_json_lists_each_breaker_with_its_state_and_cool_down(store: BreakerStore) -> None:
    opened_at = time.time()
    call(store, DEAD, CallResult.FAILURE, opened_at - 1)
    call(store, DEAD, CallResult.FAILURE, opened_at)
    call(store, FINE, CallResult.ANSWERED, opened_at)

    result = runner.invoke(app, ["breakers", "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in json.loads(result.stdout)["breakers"]}
    dead, fine = rows["openai"], rows["anthropic"]
    assert dead["model"] == DEAD.model
    assert dead["key_id"] == DEAD.key_id
    assert dead["state"] == "open"
    assert dead["reason"] == "2 consecutive failures"
    assert dead["last_failure"] == "ServerError HTTP 500"
    assert dead["times_opened"] == 1
    assert datetime.fromisoformat(dead["opened_at"]).timestamp() == pytest.approx(opened_at)
    retry_at = datetime.fromisoformat(dead["retry_at"]).timestamp()
    assert retry_at == pytest.approx(opened_at + POLICY.cool_down_s)
    assert 0 < dead["retry_in_s"] <= POLICY.cool_down_s
    assert fine["state"] == "closed"
    assert (fine["window_calls"], fine["window_failures"]) == (1, 0)
    assert fine["retry_at"] is None


def test_the_table_names_the_breaker_and_its_state(store: BreakerStore) -> None:
    now = time.time()
    call(store, DEAD, CallResult.FAILURE, now)
    call(store, DEAD, CallResult.FAILURE, now)

    result = runner.invoke(app, ["breakers"])

    assert result.exit_code == 0
    (row,) = [line for line in result.stdout.splitlines() if "key_dead00000000001" in line]
    assert "openai:gpt-5-mini@key_dead00000000001" in row
    assert "open (2" in row  # the reason wraps onto the next lines at 80 columns


def test_reset_closes_a_breaker_by_hand(store: BreakerStore) -> None:
    now = time.time()
    call(store, DEAD, CallResult.FAILURE, now)
    call(store, DEAD, CallResult.FAILURE, now)
    assert store.read(DEAD).circuit is Circuit.OPEN

    result = runner.invoke(app, ["breakers", "--reset", "openai:gpt-5-mini@key_dead00000000001"])

    assert result.exit_code == 0, result.output
    assert store.read(DEAD) == Breaker()


@pytest.mark.parametrize("text", ["openai-gpt@key", "openai:gpt-5-mini", ":m@k"])
def test_a_malformed_or_unknown_reset_target_is_one_clear_line(
    store: BreakerStore, text: str
) -> None:
    result = runner.invoke(app, ["breakers", "--reset", text])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "PROVIDER:MODEL@KEY_ID" in result.stderr


def test_resetting_a_breaker_that_does_not_exist_says_how_to_list_them(
    store: BreakerStore,
) -> None:
    result = runner.invoke(app, ["breakers", "--reset", "openai:gpt-5-mini@key_nope"])
    assert result.exit_code == 2
    assert "byok breakers" in result.stderr
