"""Orgs, users and tokens: who the principal is, and what the local operator may do."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.vault.conftest import Team
from vault import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    KeyStore,
    NotFoundError,
    Role,
    VaultService,
)
from vault.audit import Outcome
from vault.tokens import TOKEN_PREFIX

Sql = Callable[..., list[tuple[Any, ...]]]


def operator() -> VaultService:
    return VaultService.open(token="")


def test_a_fresh_install_needs_no_token() -> None:
    vault = operator()

    assert vault.principal.is_local_operator
    assert vault.my_orgs() == {"default": Role.OWNER}
    info = vault.add_key(None, provider="openai", secret="sk-1")
    assert (info.org, info.version) == ("default", 1)
    assert vault.add_key("acme", provider="openai", secret="sk-2").org == "acme"  # as before
    assert [k.name for k in vault.list_keys("acme")] == ["openai"]


def test_a_token_is_shown_once_and_only_its_hash_is_stored(sql: Sql, home: Path) -> None:
    new = operator().add_user("Ana@Example.com", org="default", role=Role.ADMIN)

    assert new.token is not None
    assert new.token.startswith(TOKEN_PREFIX)
    assert len(new.token) == len(TOKEN_PREFIX) + 43
    assert new.token not in repr(new)
    ((email, stored),) = sql("SELECT email, token_hash FROM users")
    assert email == "ana@example.com"
    assert stored == hashlib.sha256(new.token.encode()).hexdigest()
    database = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("byok.db"))
    assert new.token.encode() not in database

    signed_in = VaultService.open(token=new.token)
    assert signed_in.principal.name == "ana@example.com"
    assert signed_in.my_orgs() == {"default": Role.ADMIN}


def test_an_existing_user_joins_another_org_with_the_token_they_have(team: Team) -> None:
    boss = VaultService.open(token=team.globex_token)
    joined = boss.add_user(team.emails[Role.MEMBER], org="globex", role=Role.VIEWER)

    assert joined.token is None
    member = team.as_role(Role.MEMBER)
    assert member.my_orgs() == {"acme": Role.MEMBER, "globex": Role.VIEWER}
    with pytest.raises(InvalidInputError, match=r"several orgs \(acme, globex\): say which"):
        member.list_keys(None)


def test_the_local_operator_loses_an_org_once_it_has_an_owner(team: Team) -> None:
    vault = operator()

    assert vault.my_orgs() == {"default": Role.OWNER}  # acme and globex have owners
    with pytest.raises(NotFoundError, match="without BYOK_TOKEN you act as the local operator"):
        vault.list_keys("acme")

    vault.add_user("root@example.com", org="default", role=Role.OWNER)
    with pytest.raises(AuthenticationError, match="set BYOK_TOKEN to your personal access token"):
        operator()


def test_a_wrong_token_is_refused_and_audited(store: KeyStore) -> None:
    with pytest.raises(AuthenticationError, match="not a valid token") as caught:
        VaultService.open(token="byok_pat_guessed")

    assert "guessed" not in str(caught.value)
    event = store.audit.entries(orgs=None)[-1]
    assert (event.record.action, event.record.outcome) == ("auth.sign-in", Outcome.DENIED)
    assert "guessed" not in str(event.to_json())


def test_the_token_comes_from_byok_token(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_TOKEN", team.tokens[Role.VIEWER] + "\n")

    assert VaultService.open().principal.name == team.emails[Role.VIEWER]


def test_users_list_shows_roles_and_who_added_them(team: Team) -> None:
    members = team.as_role(Role.ADMIN).list_users("acme")

    assert [(m.email, m.role) for m in members] == sorted(
        (team.emails[role], role) for role in Role
    )
    by_email = {m.email: m for m in members}
    assert by_email[team.emails[Role.OWNER]].added_by == "local"
    assert by_email[team.emails[Role.VIEWER]].added_by == team.emails[Role.OWNER]
    assert "token" not in str([m.to_json() for m in members])


def test_adding_someone_twice_is_a_conflict(team: Team) -> None:
    owner = team.as_role(Role.OWNER)

    with pytest.raises(ConflictError, match="already viewer in org 'acme'"):
        owner.add_user(team.emails[Role.VIEWER], org="acme", role=Role.ADMIN)


def test_the_last_owner_cannot_be_removed(team: Team) -> None:
    owner = team.as_role(Role.OWNER)

    with pytest.raises(ConflictError, match="last owner of org 'acme'"):
        owner.remove_user(team.emails[Role.OWNER], org="acme")

    owner.add_user("second@acme.example", org="acme", role=Role.OWNER)
    assert owner.remove_user(team.emails[Role.OWNER], org="acme") is True
    with pytest.raises(AuthenticationError):
        team.as_role(Role.OWNER)  # the user is gone, and so is their token


def test_a_user_left_in_another_org_keeps_their_token(team: Team) -> None:
    VaultService.open(token="").add_user(team.emails[Role.VIEWER], org="default", role=Role.VIEWER)

    assert team.as_role(Role.OWNER).remove_user(team.emails[Role.VIEWER], org="acme") is False
    assert team.as_role(Role.VIEWER).my_orgs() == {"default": Role.VIEWER}


def test_removing_a_stranger_is_not_found(team: Team) -> None:
    with pytest.raises(NotFoundError, match=r"no user nobody@acme\.example in org 'acme'"):
        team.as_role(Role.OWNER).remove_user("nobody@acme.example", org="acme")


def test_orgs_are_created_once_with_an_owner(team: Team) -> None:
    vault = operator()
    created = vault.create_org("initech", owner="peter@initech.example")

    assert created.owner is not None
    assert created.owner.token is not None
    assert created.to_json()["token"] == created.owner.token
    with pytest.raises(ConflictError, match="org 'initech' already exists"):
        vault.create_org("initech")
    peter = VaultService.open(token=created.owner.token)
    assert peter.my_orgs() == {"initech": Role.OWNER}


def test_an_org_without_an_owner_belongs_to_the_local_operator() -> None:
    vault = operator()
    created = vault.create_org("lab")

    assert created.owner is None
    assert vault.add_key("lab", provider="openai", secret="sk-lab").org == "lab"
    assert operator().my_orgs() == {"default": Role.OWNER, "lab": Role.OWNER}


@pytest.mark.parametrize(
    ("email", "problem"),
    [("not-an-email", "is not an email address"), ("a b@c.example", "is not an email address")],
)
def test_bad_emails_are_refused(email: str, problem: str) -> None:
    with pytest.raises(InvalidInputError, match=problem):
        operator().add_user(email, org="default", role=Role.VIEWER)


def test_directory_changes_are_audited(team: Team, store: KeyStore) -> None:
    team.as_role(Role.OWNER).remove_user(team.emails[Role.VIEWER], org="acme")

    entries = store.audit.entries(orgs=None)
    events = [(e.record.actor, e.record.action, e.record.org) for e in entries]
    assert events[:3] == [
        ("BYOK_MASTER_KEY", "master.add", None),
        ("local", "org.create", "acme"),
        ("local", "user.add", "acme"),
    ]
    assert ("local", "org.create", "globex") in events
    assert events[-1] == (team.emails[Role.OWNER], "user.remove", "acme")
    assert store.audit.verify().intact
