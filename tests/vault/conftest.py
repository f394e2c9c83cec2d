"""Every vault test runs in its own BYOK home (SQLite database, master key ring), signed out."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vault import KeyStore, Role, VaultService


@pytest.fixture(autouse=True)
def home(byok_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The suite's per-test BYOK home (random `BYOK_MASTER_KEY`, fresh engines), no token."""
    monkeypatch.delenv("BYOK_TOKEN", raising=False)
    return byok_home


@pytest.fixture
def store() -> KeyStore:
    """A key store over this test's SQLite vault."""
    return KeyStore.open()


@pytest.fixture
def secret() -> str:
    """A provider key unique to this test, so a leak search cannot match by accident."""
    return f"sk-test-{secrets.token_urlsafe(32)}"


@pytest.fixture
def sql(home: Path) -> Callable[..., list[tuple[Any, ...]]]:
    """Run SQL on the vault database behind the store's back, as someone with file access."""

    def run(statement: str, *params: object) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(home / "byok.db")) as connection, connection:
            return connection.execute(statement, params).fetchall()

    return run


@dataclass(frozen=True)
class Team:
    """Org `acme` with one user per role, and org `globex` with an owner of its own."""

    tokens: dict[Role, str]
    emails: dict[Role, str]
    globex_owner: str
    globex_token: str

    def as_role(self, role: Role, url: str | None = None) -> VaultService:
        """The vault as acme's user with `role`."""
        return VaultService.open(url, token=self.tokens[role])


def make_team(url: str | None = None) -> Team:
    """Build the `Team` through the service, as the local operator and then acme's owner."""
    operator = VaultService.open(url, token="")
    operator.create_org("acme")
    emails = {role: f"{role.value}@acme.example" for role in Role}
    owner = operator.add_user(emails[Role.OWNER], org="acme", role=Role.OWNER)
    assert owner.token is not None
    tokens = {Role.OWNER: owner.token}
    as_owner = VaultService.open(url, token=owner.token)
    for role in (Role.ADMIN, Role.MEMBER, Role.VIEWER):
        new = as_owner.add_user(emails[role], org="acme", role=role)
        assert new.token is not None
        tokens[role] = new.token
    globex = operator.create_org("globex", owner="boss@globex.example").owner
    assert globex is not None
    assert globex.token is not None
    return Team(
        tokens=tokens,
        emails=emails,
        globex_owner=globex.member.email,
        globex_token=globex.token,
    )


@pytest.fixture
def team() -> Team:
    """`make_team` on this test's SQLite vault."""
    return make_team()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest, home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on SQLite (this home's file) and on a throwaway PostgreSQL database.

    `BYOK_DATABASE_URL` points at the database, so every way of opening the
    vault (store, service, block, CLI) uses it.
    """
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("BYOK_DATABASE_URL", url)
        return url
    return f"sqlite:///{home / 'byok.db'}"
