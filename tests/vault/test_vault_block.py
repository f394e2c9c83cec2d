"""The Prefect Block holds references only and resolves keys where it is called."""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from uuid import uuid4

import pytest
from pydantic import ValidationError

from vault import KeyNotFoundError, KeyStore, MasterKeyError
from vault.block import VaultKeys


def test_resolve_decrypts_the_orgs_key(store: KeyStore, secret: str) -> None:
    info = store.add_key(org="acme", provider="anthropic", secret=secret)

    endpoint = VaultKeys(org="acme").resolve("anthropic")

    assert endpoint.api_key.reveal() == secret
    assert (endpoint.key_id, endpoint.key_version) == (info.id, 1)
    with pytest.raises(KeyNotFoundError, match="no key 'anthropic' in org 'default'"):
        VaultKeys().resolve("anthropic")


def test_an_explicit_database_url_is_used(home: Path, store: KeyStore, secret: str) -> None:
    store.add_key(org="default", provider="openai", secret=secret)

    block = VaultKeys(database_url=f"sqlite:///{home / 'byok.db'}")

    assert block.resolve("openai").api_key.reveal() == secret


def test_the_block_document_holds_no_secret(store: KeyStore, secret: str) -> None:
    store.add_key(org="acme", provider="openai", secret=secret)
    block = VaultKeys(org="acme")
    block.resolve("openai")

    document = block._to_block_document(
        name="acme-keys", block_schema_id=uuid4(), block_type_id=uuid4(), include_secrets=True
    )
    schema = VaultKeys._to_block_schema(block_type_id=uuid4())

    assert document.data == {"org": "acme", "database_url": None}
    assert schema.fields["secret_fields"] == []
    assert secret not in json.dumps(block.model_dump(mode="json")) + repr(block)


def test_a_database_password_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not contain a password") as caught:
        VaultKeys(database_url="postgresql+psycopg://byok:hunter2@127.0.0.1/byok")
    assert "hunter2" not in str(caught.value)
    assert VaultKeys(database_url="postgresql+psycopg://byok@127.0.0.1/byok").database_url


def test_successive_calls_see_rotation_and_revocation_at_once(store: KeyStore, secret: str) -> None:
    # The block keeps its opened vault between calls, never a decrypted key.
    store.add_key(org="acme", provider="openai", secret=secret)
    block = VaultKeys(org="acme")
    assert block.resolve("openai").api_key.reveal() == secret

    rotated = secret[::-1]
    store.rotate_key(org="acme", ref="openai", secret=rotated, actor="local")
    endpoint = block.resolve("openai")
    assert (endpoint.api_key.reveal(), endpoint.key_version) == (rotated, 2)

    store.revoke_key(org="acme", ref="openai", actor="local")
    with pytest.raises(KeyNotFoundError, match="revoked"):
        block.resolve("openai")


def test_every_call_is_one_audited_key_use_in_an_intact_chain(store: KeyStore, secret: str) -> None:
    store.add_key(org="acme", provider="openai", secret=secret)
    block = VaultKeys(org="acme")

    for step in ("a", "b", "c"):
        block.resolve("openai", user="local", run_id="run-1", step=step)

    uses = [e.record for e in store.audit.entries(orgs=["acme"]) if e.record.action == "key.use"]
    assert [(u.run_id, u.step, u.outcome.value) for u in uses] == [
        ("run-1", "a", "ok"),
        ("run-1", "b", "ok"),
        ("run-1", "c", "ok"),
    ]
    assert store.audit.verify().intact


def test_a_changed_master_key_is_checked_again_at_the_next_call(
    store: KeyStore, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add_key(org="acme", provider="openai", secret=secret)
    block = VaultKeys(org="acme")
    block.resolve("openai")

    monkeypatch.setenv("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())

    with pytest.raises(MasterKeyError, match="does not match this vault"):
        block.resolve("openai")
