"""Rotating and revoking provider keys: one transaction, effective at the very next call."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from providers.types import Protocol
from vault import ConflictError, KeyNotFoundError, KeyStore, VaultError
from vault.audit import AuditLog
from vault.models import KeyStatus

Sql = Callable[..., list[tuple[Any, ...]]]


@pytest.mark.usefixtures("backend")
def test_rotation_adds_a_version_and_revokes_the_old_one() -> None:
    store = KeyStore.open()
    first = store.add_key(org="acme", provider="openai", secret="sk-v1")

    info, revoked = store.rotate_key(org="acme", ref="openai", secret="sk-v2", actor="ana")

    assert (info.id, info.version, revoked) == (first.id, 2, 1)
    assert store.resolve("acme", "openai").api_key.reveal() == "sk-v2"
    assert store.resolve("acme", "openai").key_version == 2
    history = store.list_keys("acme", include_revoked=True)
    assert [(k.version, k.status) for k in history] == [
        (1, KeyStatus.REVOKED),
        (2, KeyStatus.ACTIVE),
    ]
    assert [k.version for k in store.list_keys("acme")] == [2]
    event = store.audit.entries(orgs=["acme"])[-3]  # rotate, then the two uses
    assert (event.record.action, event.record.actor, event.record.key_version) == (
        "key.rotate",
        "ana",
        2,
    )
    assert event.record.detail == "version 1 revoked"


@pytest.mark.usefixtures("backend")
def test_another_store_sees_the_rotation_at_its_next_call() -> None:
    """No decrypted-key cache: a worker's store that already resolved v1 gets v2 next."""
    worker = KeyStore.open()
    admin = KeyStore.open()
    worker_before = admin.add_key(org="default", provider="anthropic", secret="sk-old")
    assert worker.resolve("default", "anthropic").api_key.reveal() == "sk-old"

    admin.rotate_key(org="default", ref=worker_before.id, secret="sk-new", actor="ana")

    endpoint = worker.resolve("default", "anthropic")
    assert (endpoint.api_key.reveal(), endpoint.key_version) == ("sk-new", 2)


def test_a_failed_rotation_changes_nothing(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_key(org="default", provider="openai", secret="sk-v1")

    def broken(*args: object, **kwargs: object) -> None:
        raise VaultError("the audit log is unavailable")

    monkeypatch.setattr(AuditLog, "append", broken)
    with pytest.raises(VaultError, match="audit log is unavailable"):
        store.rotate_key(org="default", ref="openai", secret="sk-v2", actor="ana")
    monkeypatch.undo()

    keys = store.list_keys("default", include_revoked=True)
    assert [(k.version, k.status) for k in keys] == [(1, KeyStatus.ACTIVE)]
    assert store.resolve("default", "openai").api_key.reveal() == "sk-v1"


def test_a_revoked_key_fails_the_next_call(store: KeyStore) -> None:
    store.add_key(org="default", provider="openai", secret="sk-v1")
    store.resolve("default", "openai")

    revoked = store.revoke_key(org="default", ref="openai", actor="ana")

    assert (revoked.version, revoked.status) == (1, KeyStatus.REVOKED)
    with pytest.raises(KeyNotFoundError, match="key 'openai' in org 'default' is revoked"):
        store.resolve("default", "openai")
    with pytest.raises(KeyNotFoundError, match="has no active version"):
        store.revoke_key(org="default", ref="openai", actor="ana")
    with pytest.raises(KeyNotFoundError, match="has no active version"):
        store.rotate_key(org="default", ref="openai", secret="sk-v2", actor="ana")


def test_rotation_keeps_where_the_key_is_sent(store: KeyStore) -> None:
    store.add_key(
        org="default",
        provider="ollama",
        name="local",
        protocol=Protocol.OPENAI,
        base_url="http://127.0.0.1:11434/v1",
        secret="sk-v1",
    )
    store.rotate_key(org="default", ref="local", secret="sk-v2", actor="ana")

    endpoint = store.resolve("default", "local")
    assert (endpoint.base_url, endpoint.provider, endpoint.api_key.reveal()) == (
        "http://127.0.0.1:11434/v1",
        "ollama",
        "sk-v2",
    )


def test_a_rotated_ciphertext_cannot_be_swapped_back(store: KeyStore, sql: Sql) -> None:
    """Version 2's row holding version 1's ciphertext is rejected: the version is bound."""
    store.add_key(org="default", provider="openai", secret="sk-v1")
    store.rotate_key(org="default", ref="openai", secret="sk-v2", actor="ana")
    sql(
        "UPDATE provider_keys SET ciphertext = (SELECT ciphertext FROM provider_keys "
        "WHERE version = 1) WHERE version = 2"
    )

    with pytest.raises(VaultError, match="cannot be decrypted"):
        store.resolve("default", "openai")


def test_keys_are_found_only_in_their_own_org(store: KeyStore) -> None:
    acme = store.add_key(org="acme", provider="openai", secret="sk-acme")
    store.ensure_org("globex")

    with pytest.raises(KeyNotFoundError):
        store.rotate_key(org="globex", ref=acme.id, secret="sk-stolen", actor="eve")
    with pytest.raises(KeyNotFoundError):
        store.revoke_key(org="globex", ref="openai", actor="eve")
    assert store.resolve("acme", "openai").api_key.reveal() == "sk-acme"


@pytest.mark.usefixtures("backend")
def test_concurrent_rotations_leave_one_active_version_and_no_gaps() -> None:
    store = KeyStore.open()
    store.add_key(org="default", provider="openai", secret="sk-0")

    def rotate(n: int) -> int | None:
        try:
            return store.rotate_key(
                org="default", ref="openai", secret=f"sk-{n}", actor=f"user{n}"
            )[0].version
        except ConflictError:
            return None

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = [v for v in pool.map(rotate, range(1, 13)) if v is not None]

    history = store.list_keys("default", include_revoked=True)
    assert versions  # at least one rotation wins; the others are told to retry
    assert sorted(versions) == list(range(2, len(versions) + 2))
    assert [k.version for k in history] == list(range(1, len(versions) + 2))
    assert [k.status for k in history].count(KeyStatus.ACTIVE) == 1
    assert history[-1].status is KeyStatus.ACTIVE
    events = store.audit.entries(orgs=["default"])
    assert [e.record.action for e in events].count("key.rotate") == len(versions)
    assert store.audit.verify().intact
