"""`byok breakers` shows what every worker on the database sees, and resets one by hand.

Breakers belong to keys, so they are scoped like key metadata: each user sees
the breakers of their orgs' keys, only admins and owners reset one, and another
org's breaker "does not exist".
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

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
from vault import KeyStore
from vault.db import get_engine, reset_engines

runner = CliRunner()
POLICY = BreakerPolicy(trip=ConsecutiveFailures(2), cool_down_s=600.0)
TOKEN = re.compile(r"byok_pat_[A-Za-z0-9_-]{43}")


def call(store: BreakerStore, key: BreakerKey, result: CallResult, now: float) -> None:
    def step(breaker: Breaker) -> tuple[Breaker, None]:
        breaker, admission = admit(breaker, now, POLICY)
        return record(breaker, admission, result, now, POLICY, failure="ServerError HTTP 500"), None

    store.change(key, step)


@pytest.fixture
def store(byok_home: Path) -> BreakerStore:
    return BreakerStore(get_engine())


def _key(org: str, provider: str) -> str:
    return (
        KeyStore.open().add_key(org=org, provider=provider, secret=f"sk-{provider}-0123456789").id
    )


@pytest.fixture
def dead(store: BreakerStore) -> BreakerKey:
    return BreakerKey("openai", "gpt-5-mini", _key("default", "openai"))


@pytest.fixture
def fine(store: BreakerStore) -> BreakerKey:
    return BreakerKey("anthropic", "claude-haiku-4-5", _key("default", "anthropic"))


def byok(*args: str, token: str = "") -> Result:
    result = runner.invoke(app, list(args), env={"BYOK_TOKEN": token, "COLUMNS": "200"})
    reset_engines()
    return result


def test_no_breakers_yet_says_so(store: BreakerStore) -> None:
    result = runner.invoke(app, ["breakers"])
    assert result.exit_code == 0
    assert "no breakers yet" in result.stdout
    assert json.loads(runner.invoke(app, ["breakers", "--json"]).stdout) == {"breakers": []}


def test_json_lists_each_breaker_with_its_state_and_cool_down(
    store: BreakerStore, dead: BreakerKey, fine: BreakerKey
) -> None:
    opened_at = time.time()
    call(store, dead, CallResult.FAILURE, opened_at - 1)
    call(store, dead, CallResult.FAILURE, opened_at)
    call(store, fine, CallResult.ANSWERED, opened_at)

    result = runner.invoke(app, ["breakers", "--json"])

    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in json.loads(result.stdout)["breakers"]}
    dead_row, fine_row = rows["openai"], rows["anthropic"]
    assert dead_row["model"] == dead.model
    assert dead_row["key_id"] == dead.key_id
    assert dead_row["state"] == "open"
    assert dead_row["reason"] == "2 consecutive failures"
    assert dead_row["last_failure"] == "ServerError HTTP 500"
    assert dead_row["times_opened"] == 1
    assert datetime.fromisoformat(dead_row["opened_at"]).timestamp() == pytest.approx(opened_at)
    retry_at = datetime.fromisoformat(dead_row["retry_at"]).timestamp()
    assert retry_at == pytest.approx(opened_at + POLICY.cool_down_s)
    assert 0 < dead_row["retry_in_s"] <= POLICY.cool_down_s
    assert fine_row["state"] == "closed"
    assert (fine_row["window_calls"], fine_row["window_failures"]) == (1, 0)
    assert fine_row["retry_at"] is None


def test_the_table_names_the_breaker_and_its_state(store: BreakerStore, dead: BreakerKey) -> None:
    now = time.time()
    call(store, dead, CallResult.FAILURE, now)
    call(store, dead, CallResult.FAILURE, now)

    result = byok("breakers")

    assert result.exit_code == 0
    (row,) = [line for line in result.stdout.splitlines() if dead.key_id in line]
    assert f"openai:gpt-5-mini@{dead.key_id}" in row
    assert "open (2 consecutive failures; probes in" in row


def test_reset_closes_a_breaker_by_hand(store: BreakerStore, dead: BreakerKey) -> None:
    now = time.time()
    call(store, dead, CallResult.FAILURE, now)
    call(store, dead, CallResult.FAILURE, now)
    assert store.read(dead).circuit is Circuit.OPEN

    result = runner.invoke(app, ["breakers", "--reset", f"openai:gpt-5-mini@{dead.key_id}"])

    assert result.exit_code == 0, result.output
    assert store.read(dead) == Breaker()


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


def _user(org: str, role: str, owner_token: str = "") -> str:
    email = f"{role}@{org}.example"
    added = byok("users", "add", email, "--org", org, "--role", role, token=owner_token)
    assert added.exit_code == 0, added.output
    (token,) = TOKEN.findall(added.stdout)
    return str(token)


def test_users_see_and_reset_only_their_orgs_breakers(store: BreakerStore) -> None:
    assert byok("orgs", "create", "acme").exit_code == 0
    assert byok("orgs", "create", "globex").exit_code == 0
    ours = BreakerKey("openai", "gpt-5-mini", _key("acme", "openai"))
    theirs = BreakerKey("openai", "gpt-5-mini", _key("globex", "openai"))
    owner = _user("acme", "owner")
    viewer, admin = _user("acme", "viewer", owner), _user("acme", "admin", owner)
    now = time.time()
    for key in (ours, theirs):
        call(store, key, CallResult.FAILURE, now)
        call(store, key, CallResult.FAILURE, now)

    listed = byok("breakers", "--json", token=viewer)
    assert listed.exit_code == 0, listed.output
    assert [row["key_id"] for row in json.loads(listed.stdout)["breakers"]] == [ours.key_id]

    refused = byok("breakers", "--reset", f"openai:gpt-5-mini@{ours.key_id}", token=viewer)
    assert refused.exit_code == 2
    assert "permission denied" in refused.stderr
    unseen = byok("breakers", "--reset", f"openai:gpt-5-mini@{theirs.key_id}", token=admin)
    assert unseen.exit_code == 2
    assert f"no breaker for openai:gpt-5-mini@{theirs.key_id}" in unseen.stderr
    assert store.read(theirs).circuit is Circuit.OPEN

    done = byok("breakers", "--reset", f"openai:gpt-5-mini@{ours.key_id}", token=admin)
    assert done.exit_code == 0, done.output
    assert store.read(ours) == Breaker()
    audit = json.loads(byok("audit", "--org", "acme", "--json", token=owner).stdout)
    actions = [(e["action"], e["outcome"]) for e in audit]
    assert ("breaker.reset", "ok") in actions
    assert ("breaker.reset", "denied") in actions
