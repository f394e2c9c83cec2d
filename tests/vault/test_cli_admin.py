"""`byok orgs|users|audit|vault` and the keys commands, as users of each role drive them."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from flows.cli.main import app
from vault.db import reset_engines

runner = CliRunner()
TOKEN = re.compile(r"byok_pat_[A-Za-z0-9_-]{43}")


class Session:
    """Runs `byok` commands as a shell user would, keeping every output for leak checks."""

    def __init__(self) -> None:
        self.outputs: list[str] = []

    def __call__(self, *args: str, token: str | None = None, stdin: str | None = None) -> Result:
        env = {"BYOK_TOKEN": token} if token else {}
        result = runner.invoke(app, list(args), input=stdin, env=env)
        reset_engines()  # as if each command were its own process
        self.outputs.append(result.stdout + result.stderr)
        return result


@pytest.fixture
def byok() -> Session:
    return Session()


def flat(text: str) -> str:
    return " ".join(text.split())


def new_token(result: Result) -> str:
    assert result.exit_code == 0, result.stderr
    (token,) = TOKEN.findall(result.stdout)
    return str(token)


@pytest.fixture
def acme(byok: Session, secret: str) -> dict[str, str]:
    """Org acme with an owner, admin, member and viewer (tokens by role) and one key."""
    assert byok("orgs", "create", "acme").exit_code == 0
    owner = byok("users", "add", "o@acme.example", "--org", "acme", "--role", "owner")
    tokens = {"owner": new_token(owner)}
    for role in ("admin", "member", "viewer"):
        email = f"{role[0]}@acme.example"
        tokens[role] = new_token(byok("users", "add", email, "--role", role, token=tokens["owner"]))
    assert byok("keys", "add", "openai", token=tokens["admin"], stdin=secret).exit_code == 0
    return tokens


def test_users_add_prints_the_token_once(byok: Session) -> None:
    result = byok("users", "add", "ana@example.com", "--role", "owner")

    token = new_token(result)
    assert "shown only this once" in result.stdout
    assert "export BYOK_TOKEN=" in result.stdout
    listed = byok("users", "list", "--json", token=token)
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout)[0] | {"added_at": None} == {
        "email": "ana@example.com",
        "org": "default",
        "role": "owner",
        "added_at": None,
        "added_by": "local",
    }
    assert token not in "".join(byok.outputs[1:])


def test_after_default_has_an_owner_a_token_is_needed(byok: Session) -> None:
    byok("users", "add", "ana@example.com", "--role", "owner")

    result = byok("keys", "list")

    assert result.exit_code == 2
    assert result.stderr.startswith("error: set BYOK_TOKEN to your personal access token")
    wrong = byok("keys", "list", token="byok_pat_" + "x" * 43)
    assert wrong.exit_code == 2
    assert "not a valid token" in wrong.stderr
    assert "x" * 43 not in wrong.stderr


# Each command and the roles that may run it; every other role gets "permission denied".
MATRIX: list[tuple[list[str], str | None, set[str]]] = [
    (["keys", "list"], None, {"owner", "admin", "member", "viewer"}),
    (["keys", "add", "google"], "sk-google", {"owner", "admin"}),
    (["keys", "rotate", "openai"], "sk-rotated", {"owner", "admin"}),
    (["users", "list"], None, {"owner", "admin"}),
    (["users", "add", "new@acme.example", "--role", "viewer"], None, {"owner"}),
    (["audit"], None, {"owner", "admin"}),
    (["audit", "verify"], None, {"owner", "admin"}),
    (["keys", "revoke", "openai"], None, {"owner", "admin"}),
]


@pytest.mark.parametrize("role", ["owner", "admin", "member", "viewer"])
def test_each_role_trying_each_command(
    byok: Session, acme: dict[str, str], role: str, secret: str
) -> None:
    allowed: dict[str, bool] = {}
    for args, stdin, _ in MATRIX:
        result = byok(*args, token=acme[role], stdin=stdin)
        allowed[" ".join(args[:2])] = result.exit_code == 0
        if result.exit_code != 0:
            assert result.exit_code == 2
            assert result.stderr.startswith("error: permission denied:"), result.stderr
            assert len(result.stderr.strip().splitlines()) == 1
        if args[:2] == ["users", "add"] and result.exit_code == 0:
            byok("users", "remove", "new@acme.example", token=acme["owner"])
    assert allowed == {" ".join(args[:2]): role in roles for args, _, roles in MATRIX}
    for output in byok.outputs:
        assert secret not in output
        assert "sk-rotated" not in output


def test_another_orgs_objects_are_not_found(byok: Session, acme: dict[str, str]) -> None:
    byok("orgs", "create", "globex", "--owner", "boss@globex.example")

    for args in (["keys", "list"], ["users", "list"], ["audit"], ["keys", "revoke", "openai"]):
        result = byok(*args, "--org", "globex", token=acme["owner"])
        assert result.exit_code == 2
        assert "org 'globex' not found" in result.stderr
        assert "permission" not in result.stderr


def test_the_audit_log_shows_denials_and_verifies(byok: Session, acme: dict[str, str]) -> None:
    byok("keys", "revoke", "openai", token=acme["viewer"])

    listed = byok("audit", "--json", token=acme["admin"])
    assert listed.exit_code == 0, listed.stderr
    events = json.loads(listed.stdout)
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    denied = [e for e in events if e["outcome"] == "denied"]
    assert [(e["actor"], e["action"]) for e in denied] == [("v@acme.example", "key.revoke")]
    assert set(events[0]) == {
        "seq", "at", "action", "outcome", "actor", "org", "key_id", "key_name",
        "key_version", "run_id", "step", "detail", "prev", "mac",
    }  # fmt: skip
    text = byok("audit", token=acme["owner"])
    assert "key.revoke denied" in flat(text.stdout)
    verified = byok("audit", "verify", "--json", token=acme["owner"])
    assert json.loads(verified.stdout)["intact"] is True


def test_audit_verify_exits_1_when_the_chain_was_edited(
    byok: Session, acme: dict[str, str], home: Path
) -> None:
    with sqlite3.connect(home / "byok.db") as connection:
        connection.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")

    result = byok("audit", "verify", token=acme["owner"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: audit chain broken: event 2 was altered")


def test_orgs_list_says_who_you_are(byok: Session, acme: dict[str, str]) -> None:
    mine = json.loads(byok("orgs", "list", "--json", token=acme["member"]).stdout)
    local = json.loads(byok("orgs", "list", "--json").stdout)

    assert mine == {
        "principal": "m@acme.example",
        "local_operator": False,
        "orgs": [{"org": "acme", "role": "member"}],
    }
    assert local == {
        "principal": "local",
        "local_operator": True,
        "orgs": [{"org": "default", "role": "owner"}],
    }


def test_orgs_create_is_for_install_owners(byok: Session, acme: dict[str, str]) -> None:
    result = byok("orgs", "create", "initech", token=acme["owner"])

    assert result.exit_code == 2
    assert "owner role in org 'default'" in result.stderr
    created = byok("orgs", "create", "initech", "--owner", "p@initech.example", "--json")
    payload = json.loads(created.stdout)
    assert (payload["org"], payload["owner"]) == ("initech", "p@initech.example")
    assert TOKEN.fullmatch(payload["token"])


def test_vault_commands_with_a_key_file(
    byok: Session, home: Path, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BYOK_MASTER_KEY")  # local mode: the ring lives in BYOK_HOME/master.key

    assert byok("keys", "add", "openai", stdin=secret).exit_code == 0
    before = json.loads(byok("vault", "status", "--json").stdout)
    rotated = byok("vault", "rotate-master")
    after = json.loads(byok("vault", "status", "--json").stdout)
    refused = byok("vault", "retire-kek", "k2")
    retired = byok("vault", "retire-kek", "k1")
    listed = byok("keys", "list", "--json")

    assert [(r["kek_id"], r["data_keys"], r["audit_key"]) for r in before] == [("k1", 1, True)]
    assert rotated.exit_code == 0, rotated.stderr
    assert "BACK UP THIS FILE AGAIN NOW" in rotated.stderr
    assert "every data key is now under master key 'k2'" in flat(rotated.stdout)
    assert [(r["kek_id"], r["primary"], r["data_keys"]) for r in after] == [
        ("k2", True, 1),
        ("k1", False, 0),
    ]
    assert refused.exit_code == 2
    assert "first key of the master key ring" in refused.stderr
    assert retired.exit_code == 0, retired.stderr
    assert f"Removed it from {home / 'master.key'}" in flat(retired.stdout)
    assert json.loads(listed.stdout)[0]["name"] == "openai"
    for output in byok.outputs:
        assert secret not in output
