"""`byok run` executes as the principal of BYOK_TOKEN, with its org's keys only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli.main import app
from flows.ledger import rows_for_run
from providers.simulator import SimulatorServer, key_fingerprint
from providers.types import Protocol
from vault import KeyStore, Role, VaultService
from vault.db import get_engine

runner = CliRunner()
RECIPE = """\
name: run-as-user
inputs:
  ticket: {type: string}
steps:
  - id: reply
    model: openai:gpt-5-mini
    prompt: "Reply to {{ inputs.ticket }}"
    retries: 0
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


@pytest.fixture
def tokens(sim: SimulatorServer) -> dict[Role, str]:
    """Org acme with a key at the simulator and one user per role."""
    operator = VaultService.open(token="")
    operator.create_org("acme")
    operator.add_key(
        "acme", provider="openai", secret="sk-acme-run", base_url=sim.base_url(Protocol.OPENAI)
    )
    made: dict[Role, str] = {}
    for role in Role:
        added = operator if role is Role.OWNER else VaultService.open(token=made[Role.OWNER])
        new = added.add_user(f"{role.value}@acme.example", org="acme", role=role)
        assert new.token is not None
        made[role] = new.token
    return made


def test_a_viewer_cannot_run_and_nothing_starts(recipe: Path, tokens: dict[Role, str]) -> None:
    result = runner.invoke(
        app, ["run", str(recipe), "-i", "ticket=x"], env={"BYOK_TOKEN": tokens[Role.VIEWER]}
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("error: permission denied: 'viewer@acme.example' is viewer")
    assert "Traceback" not in result.output


def test_someone_else_cannot_be_named_as_the_user(recipe: Path, tokens: dict[Role, str]) -> None:
    result = runner.invoke(
        app,
        ["run", str(recipe), "-i", "ticket=x", "--user", "owner@acme.example"],
        env={"BYOK_TOKEN": tokens[Role.MEMBER]},
    )

    assert result.exit_code == 2
    assert "runs execute as the principal of BYOK_TOKEN" in result.stderr


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_member_runs_with_the_orgs_key_as_themself(
    recipe: Path, tokens: dict[Role, str], sim: SimulatorServer
) -> None:
    result = runner.invoke(
        app,
        ["run", str(recipe), "-i", "ticket=x", "--json"],
        env={"BYOK_TOKEN": tokens[Role.MEMBER]},
    )

    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    ledger = rows_for_run(get_engine(), payload["run_id"])
    assert [(row.org, row.user) for row in ledger] == [("acme", "member@acme.example")]
    assert [r.key_fingerprint for r in sim.requests] == [key_fingerprint("sk-acme-run")]
    use = KeyStore.open().audit.entries(orgs=["acme"])[-1].record
    assert (use.action, use.actor, use.step, use.run_id) == (
        "key.use",
        "member@acme.example",
        "reply",
        payload["run_id"],
    )
    assert re.search("sk-acme-run", result.output) is None
