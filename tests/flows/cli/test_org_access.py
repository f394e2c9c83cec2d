"""`byok usage`, `usage reprice`, `budgets`, `serve` and `deploy` sign in and check roles.

Driven through the real CLI with `BYOK_TOKEN` set, as each of acme's owner,
admin, member and viewer, and as the owner of another org, who must meet
"not found" (never "permission denied": nobody may learn which orgs exist).
Reading usage and budgets is for every role; repricing and changing budgets
for owners and admins; serving and deploying (runs spend the org's keys) for
members and up. Refusals are audit events. A fresh install's local operator
needs no token at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner, Result

from flows.cli.main import app
from flows.ledger import CallContext, build_record, record
from providers.types import Usage
from tests.deployments.recipes import write_recipe
from vault.db import get_engine, reset_engines

runner = CliRunner()
TOKEN = re.compile(r"byok_pat_[A-Za-z0-9_-]{43}")
ROLES = ("owner", "admin", "member", "viewer")


def byok(*args: str, token: str | None = None) -> Result:
    """One `byok` command, as its own process would run it."""
    result = runner.invoke(app, list(args), env={"BYOK_TOKEN": token or "", "COLUMNS": "200"})
    reset_engines()
    return result


def _token(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    (token,) = TOKEN.findall(result.stdout)
    return str(token)


def _spend(org: str, user: str, run: str) -> None:
    ctx = CallContext(org=org, user=user, recipe="triage", run_id=run, step="s", attempt=1)
    usage = Usage(input_tokens=10_000, output_tokens=1_000)
    row = build_record(
        ctx,
        provider="openai",
        model="gpt-5-mini",
        usage=usage,
        key_id="k",
        key_version=1,
        latency_ms=1,
    )
    record(get_engine(), row)


@pytest.fixture
def tokens(byok_home: Path) -> dict[str, str]:
    """Org acme with a user per role; org globex with its own owner (`outsider`); spend in each."""
    assert byok("orgs", "create", "acme").exit_code == 0
    tokens = {
        "owner": _token(byok("users", "add", "o@acme.example", "--org", "acme", "--role", "owner"))
    }
    for role in ROLES[1:]:
        added = byok(
            "users", "add", f"{role[0]}@acme.example", "--role", role, token=tokens["owner"]
        )
        tokens[role] = _token(added)
    created = byok("orgs", "create", "globex", "--owner", "boss@globex.example", "--json")
    tokens["outsider"] = json.loads(created.stdout)["token"]
    _spend("acme", "m@acme.example", "r1")
    _spend("globex", "boss@globex.example", "r2")
    assert (
        byok(
            "budgets", "set", "--org", "globex", "--limit-usd", "9", token=tokens["outsider"]
        ).exit_code
        == 0
    )
    return tokens


@pytest.fixture
def no_prefect_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No Prefect API: an authorized `serve`/`deploy` stops at asking for one."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        yield


def _recipes(tmp_path: Path) -> str:
    write_recipe(tmp_path)
    return str(tmp_path)


# Each command, the roles that may run it, and what an allowed run says or does.
def _commands(recipes: str) -> list[tuple[list[str], set[str], str]]:
    return [
        (["usage", "--org", "acme", "--json"], set(ROLES), '"calls": 1'),
        (
            ["run", f"{recipes}/desk.yaml", "-i", "ticket=x", "--dry-run", "--org", "acme"],
            set(ROLES),
            "no provider was called",
        ),
        (["budgets", "list", "--org", "acme", "--json"], set(ROLES), "["),
        (["usage", "reprice", "--org", "acme"], {"owner", "admin"}, "of 1 recorded calls"),
        (["budgets", "set", "--org", "acme", "--limit-usd", "5"], {"owner", "admin"}, "limit 5"),
        (["budgets", "remove", "--org", "acme"], {"owner", "admin"}, "removed the monthly"),
        (
            ["serve", recipes, "--org", "acme"],
            {"owner", "admin", "member"},
            "byok serve needs a Prefect server",
        ),
        (
            ["deploy", "--pool", "p", recipes, "--org", "acme"],
            {"owner", "admin", "member"},
            "byok deploy needs a Prefect server",
        ),
    ]


@pytest.mark.usefixtures("no_prefect_server")
@pytest.mark.parametrize("role", ROLES)
def test_each_role_trying_each_command(tokens: dict[str, str], role: str, tmp_path: Path) -> None:
    for args, allowed, says in _commands(_recipes(tmp_path)):
        if args[:2] == ["budgets", "remove"]:  # something to remove, whoever tries
            byok("budgets", "set", "--org", "acme", "--limit-usd", "5", token=tokens["owner"])
        result = byok(*args, token=tokens[role])
        output = result.stdout + result.stderr
        if role in allowed:
            assert says in " ".join(output.split()), (args, output)
            needs_server = args[0] in {"serve", "deploy"}
            assert result.exit_code == (2 if needs_server else 0), (args, output)
        else:
            assert result.exit_code == 2, (args, output)
            assert result.stderr.startswith("error: permission denied:"), (args, output)
            assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("no_prefect_server")
def test_another_orgs_user_meets_not_found_everywhere(
    tokens: dict[str, str], tmp_path: Path
) -> None:
    for args, _, _ in _commands(_recipes(tmp_path)):
        result = byok(*args, token=tokens["outsider"])
        assert result.exit_code == 2, args
        assert "org 'acme' not found" in result.stderr, (args, result.stderr)
        assert "permission" not in result.stderr


def test_without_org_each_user_sees_only_their_own_orgs(tokens: dict[str, str]) -> None:
    acme = json.loads(byok("usage", "--by", "user", "--json", token=tokens["viewer"]).stdout)
    globex = json.loads(byok("usage", "--by", "user", "--json", token=tokens["outsider"]).stdout)
    budgets = json.loads(byok("budgets", "list", "--json", token=tokens["viewer"]).stdout)
    csv = byok("usage", "--by", "user", "--csv", token=tokens["member"]).stdout

    assert [g["key"] for g in acme["groups"]] == ["m@acme.example"]
    assert [g["key"] for g in globex["groups"]] == ["boss@globex.example"]
    assert budgets == []  # globex's budget is not acme's business
    assert "boss@globex.example" not in csv
    repriced = json.loads(byok("usage", "reprice", "--json", token=tokens["admin"]).stdout)
    assert repriced["rows"] == 1  # acme's row only


def test_refusals_and_changes_are_in_the_audit_log(tokens: dict[str, str]) -> None:
    byok("usage", "reprice", "--org", "acme", token=tokens["member"])
    byok("budgets", "set", "--org", "acme", "--limit-usd", "5", token=tokens["viewer"])
    byok("usage", "--org", "acme", token=tokens["outsider"])
    byok("budgets", "set", "--org", "acme", "--limit-usd", "7", token=tokens["admin"])
    byok("budgets", "remove", "--org", "acme", token=tokens["owner"])

    listed = byok("audit", "--org", "acme", "--json", token=tokens["owner"])

    assert listed.exit_code == 0, listed.stderr
    events = [(e["actor"], e["action"], e["outcome"]) for e in json.loads(listed.stdout)]
    for event in [
        ("m@acme.example", "usage.reprice", "denied"),
        ("v@acme.example", "budget.set", "denied"),
        ("boss@globex.example", "usage.read", "denied"),
        ("a@acme.example", "budget.set", "ok"),
        ("o@acme.example", "budget.remove", "ok"),
    ]:
        assert event in events


def test_the_local_operator_of_a_fresh_install_needs_no_token(byok_home: Path) -> None:
    _spend("default", "local", "r1")
    _spend("acme", "local", "r2")  # an org the vault has no row for: nobody else owns it

    usage = byok("usage", "--by", "user", "--json")
    repriced = byok("usage", "reprice", "--json")
    budget_set = byok("budgets", "set", "--limit-usd", "3", "--json")
    listed = byok("budgets", "list", "--json")
    removed = byok("budgets", "remove")

    for result in (usage, repriced, budget_set, listed, removed):
        assert result.exit_code == 0, result.stderr
    assert json.loads(usage.stdout)["total"]["calls"] == 2
    assert json.loads(repriced.stdout)["rows"] == 2
    assert json.loads(budget_set.stdout)["org"] == "default"
    assert [b["org"] for b in json.loads(listed.stdout)] == ["default"]
