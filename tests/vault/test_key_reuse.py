"""A key used again: whatever changed since the last use applies to this one.

On PostgreSQL a store does not read a key it has already read; the statement
that audits the use checks the rows are unchanged (`vault.reuse`). Every test
runs on both databases: the outcome must be the same as reading afresh.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text

from vault import KeyNotFoundError, KeyStore, Role, VaultError, VaultService


@pytest.fixture
def other(backend: str) -> Iterator[Engine]:
    """Another connection to the vault database, as an admin's process or a psql session."""
    engine = create_engine(backend)
    yield engine
    engine.dispose()


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as connection:
        connection.execute(text(statement), params)


def _uses(store: KeyStore) -> list[tuple[str | None, str]]:
    entries = store.audit.entries(orgs=None, limit=1000)
    return [(e.record.run_id, e.record.outcome.value) for e in entries if e.record.run_id]


@pytest.fixture
def worker(backend: str) -> KeyStore:
    """A store that has used acme's `openai` key once (so it may use it again without reading)."""
    store = KeyStore.open()
    store.add_key(org="acme", provider="openai", secret="canary-reuse-v1")
    assert store.resolve("acme", "openai", run_id="run-0").api_key.reveal() == "canary-reuse-v1"
    return store


def test_a_key_used_again_is_audited_before_it_is_returned(worker: KeyStore, other: Engine) -> None:
    for n in (1, 2, 3):
        endpoint = worker.resolve("acme", "openai", run_id=f"run-{n}", step="s")
        with other.connect() as connection:
            seen = connection.execute(
                text("SELECT count(*) FROM audit_events WHERE run_id = :run"), {"run": f"run-{n}"}
            ).scalar_one()
        assert (endpoint.api_key.reveal(), seen) == ("canary-reuse-v1", 1)
    assert worker.audit.verify().intact


def test_on_postgresql_a_key_used_again_costs_one_statement(backend: str, worker: KeyStore) -> None:
    # What the per-step benchmark relies on: no read before the audited use.
    if not backend.startswith("postgresql"):
        return  # SQLite reads the key every time; the other tests cover its outcomes
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(worker.engine, "before_cursor_execute", seen)
    try:
        worker.resolve("acme", "openai", run_id="run-1")
    finally:
        event.remove(worker.engine, "before_cursor_execute", seen)

    assert len(statements) == 1
    assert statements[0].lstrip().startswith("WITH moved AS")


def test_a_key_revoked_since_its_last_use_is_refused(worker: KeyStore) -> None:
    KeyStore.open().revoke_key(org="acme", ref="openai", actor="ana")

    with pytest.raises(KeyNotFoundError, match="key 'openai' in org 'acme' is revoked"):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "failed")


def test_a_key_rotated_since_its_last_use_gives_the_new_version(worker: KeyStore) -> None:
    KeyStore.open().rotate_key(org="acme", ref="openai", secret="canary-reuse-v2", actor="ana")

    endpoint = worker.resolve("acme", "openai", run_id="run-1")

    assert (endpoint.api_key.reveal(), endpoint.key_version) == ("canary-reuse-v2", 2)
    used = worker.audit.entries(orgs=["acme"])[-1].record
    assert (used.run_id, used.key_version) == ("run-1", 2)


def test_a_ciphertext_altered_since_its_last_use_is_not_decrypted_from_memory(
    worker: KeyStore, other: Engine
) -> None:
    # Someone with write access replaces the sealed key: the next use must see it
    # (and refuse it), not keep decrypting what the store read before.
    _sql(other, "UPDATE provider_keys SET ciphertext = :junk", junk=b"\x00" * 60)

    with pytest.raises(VaultError, match="cannot be decrypted"):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "failed")


def test_a_key_redirected_since_its_last_use_is_refused(worker: KeyStore, other: Engine) -> None:
    # The address is sealed with the key: pointing it elsewhere in the database makes
    # the next use fail, rather than go on sending the key where it went before.
    _sql(other, "UPDATE provider_keys SET base_url = :url", url="http://127.0.0.1:9/v1")

    with pytest.raises(VaultError, match="cannot be decrypted"):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "failed")


@pytest.mark.usefixtures("backend")
def test_a_member_removed_since_their_last_use_is_refused() -> None:
    operator = VaultService.open(token="")
    operator.create_org("acme")
    operator.add_key("acme", provider="openai", secret="canary-reuse-member")
    operator.add_user("boss@acme.example", org="acme", role=Role.OWNER)
    operator.add_user("dev@acme.example", org="acme", role=Role.MEMBER)
    worker = KeyStore.open()
    worker.resolve("acme", "openai", user="dev@acme.example", run_id="run-0")

    operator.remove_user("dev@acme.example", org="acme")

    with pytest.raises(VaultError):
        worker.resolve("acme", "openai", user="dev@acme.example", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "denied")


def test_a_member_made_viewer_since_their_last_use_is_refused(other: Engine) -> None:
    # `other` (hence `backend`) first, so the vault below opens on the test's database.
    operator = VaultService.open(token="")
    operator.create_org("acme")
    operator.add_key("acme", provider="openai", secret="canary-reuse-role")
    operator.add_user("dev@acme.example", org="acme", role=Role.MEMBER)
    worker = KeyStore.open()
    worker.resolve("acme", "openai", user="dev@acme.example", run_id="run-0")

    _sql(other, "UPDATE memberships SET role = :role", role=Role.VIEWER.value)  # dev's only

    with pytest.raises(VaultError, match="viewer"):
        worker.resolve("acme", "openai", user="dev@acme.example", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "denied")


def test_the_operator_loses_an_org_that_got_an_owner_since_the_last_use(
    worker: KeyStore,
) -> None:
    # Without users the local operator may use every org's keys; once an org has an
    # owner, it is no longer the operator's, from the very next use.
    VaultService.open(token="").add_user("boss@acme.example", org="acme", role=Role.OWNER)

    with pytest.raises(VaultError):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "denied")


# Changes made through the vault are audited, which moves the chain's head and so alone
# stops a reuse; edits made straight in the database are not, so the rows themselves are
# checked too. These two cases are such edits.


def test_a_key_revoked_in_the_database_since_its_last_use_is_refused(
    worker: KeyStore, other: Engine
) -> None:
    _sql(other, "UPDATE provider_keys SET status = 'revoked'")

    with pytest.raises(KeyNotFoundError, match="is revoked"):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "failed")


def test_an_owner_added_in_the_database_since_the_last_use_ends_the_operators_access(
    worker: KeyStore, other: Engine
) -> None:
    _sql(
        other,
        "INSERT INTO users (id, email, token_hash, created_at) VALUES (:id, :email, :hash, :at)",
        id="usr_boss",
        email="boss@acme.example",
        hash="0" * 64,
        at=datetime.now(UTC),
    )
    _sql(
        other,
        "INSERT INTO memberships (user_id, org_id, role, created_at) "
        "SELECT 'usr_boss', id, 'owner', :at FROM orgs WHERE slug = 'acme'",
        at=datetime.now(UTC),
    )

    with pytest.raises(VaultError):
        worker.resolve("acme", "openai", run_id="run-1")
    assert _uses(worker)[-1] == ("run-1", "denied")
