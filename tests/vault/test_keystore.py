"""Adding, listing and resolving keys; fail-closed lookups; tampered rows; nothing at rest."""

from __future__ import annotations

import base64
import os
import pickle
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from providers.types import Protocol
from vault import (
    DecryptionError,
    InvalidInputError,
    KeyExistsError,
    KeyNotFoundError,
    KeyStore,
)

Sql = Callable[..., list[tuple[Any, ...]]]


def test_resolve_by_provider_name_uses_the_default_endpoint(store: KeyStore, secret: str) -> None:
    info = store.add_key(org="default", provider="openai", secret=secret)

    endpoint = store.resolve("default", "openai")

    assert endpoint.api_key.reveal() == secret
    assert endpoint.protocol is Protocol.OPENAI
    assert endpoint.base_url == "https://api.openai.com/v1"
    assert endpoint.provider == "openai"
    assert (endpoint.key_id, endpoint.key_version) == (info.id, 1)
    assert info.id.startswith("key_")
    assert secret not in repr(endpoint)


def test_resolve_by_key_name_for_an_openai_compatible_server(store: KeyStore, secret: str) -> None:
    store.add_key(
        org="default",
        provider="ollama",
        name="local",
        protocol=Protocol.OPENAI,
        base_url="http://127.0.0.1:11434/v1/",
        secret=secret,
    )

    by_name = store.resolve("default", "local")
    by_provider = store.resolve("default", "ollama")

    assert by_name == by_provider
    assert by_name.protocol is Protocol.OPENAI
    assert by_name.provider == "ollama"
    assert by_name.base_url == "http://127.0.0.1:11434/v1"


def test_a_named_key_wins_over_a_provider_match(store: KeyStore) -> None:
    store.add_key(org="default", provider="anthropic", name="claude", secret="sk-named")
    store.add_key(org="default", provider="anthropic", secret="sk-default")

    assert store.resolve("default", "claude").api_key.reveal() == "sk-named"
    assert store.resolve("default", "anthropic").api_key.reveal() == "sk-default"


def test_two_keys_of_one_provider_without_its_name_are_ambiguous(store: KeyStore) -> None:
    store.add_key(org="default", provider="google", name="team-a", secret="sk-a")
    store.add_key(org="default", provider="google", name="team-b", secret="sk-b")

    with pytest.raises(KeyNotFoundError, match=r"2 active google keys .*`team-a:MODEL`"):
        store.resolve("default", "google")


def test_find_key_reports_metadata_without_decrypting(store: KeyStore, sql: Sql) -> None:
    info = store.add_key(org="default", provider="openai", name="main", secret="sk-main")
    sql("UPDATE provider_keys SET ciphertext = ?", b"garbage")

    assert store.find_key("default", "main") == info
    assert store.find_key("default", "openai") == info
    with pytest.raises(KeyNotFoundError, match="no key 'google' in org 'default'"):
        store.find_key("default", "google")
    with pytest.raises(KeyNotFoundError, match="no key 'openai' in org 'acme'"):
        store.find_key("acme", "openai")


def test_missing_key_says_how_to_add_one(store: KeyStore) -> None:
    with pytest.raises(KeyNotFoundError) as caught:
        store.resolve("default", "openai")
    assert str(caught.value) == (
        "no key 'openai' in org 'default': add one with `byok keys add openai`"
    )

    with pytest.raises(KeyNotFoundError, match=r"`byok keys add openai --org acme`"):
        store.resolve("acme", "openai")
    with pytest.raises(KeyNotFoundError, match=r"--name ollama --protocol PROTOCOL --base-url"):
        store.resolve("default", "ollama")


def test_revoked_key_is_never_resolved(store: KeyStore, sql: Sql) -> None:
    info = store.add_key(org="default", provider="openai", secret="sk-old")
    sql("UPDATE provider_keys SET status = 'revoked' WHERE id = ?", info.id)

    with pytest.raises(KeyNotFoundError, match=r"key 'openai' in org 'default' is revoked: add"):
        store.resolve("default", "openai")
    assert store.list_keys("default") == []
    assert [k.status for k in store.list_keys("default", include_revoked=True)] == ["revoked"]


def test_a_revoked_name_can_be_added_again(store: KeyStore, sql: Sql) -> None:
    old = store.add_key(org="default", provider="openai", secret="sk-old")
    sql("UPDATE provider_keys SET status = 'revoked' WHERE id = ?", old.id)

    new = store.add_key(org="default", provider="openai", secret="sk-new")

    assert new.id != old.id
    assert store.resolve("default", "openai").api_key.reveal() == "sk-new"


def test_resolve_decrypts_on_every_call_so_changes_apply_to_the_next_call(
    store: KeyStore, sql: Sql
) -> None:
    info = store.add_key(org="default", provider="openai", secret="sk-old")
    assert store.resolve("default", "openai").api_key.reveal() == "sk-old"
    sql("UPDATE provider_keys SET status = 'revoked' WHERE id = ?", info.id)
    store.add_key(org="default", provider="openai", secret="sk-new")

    assert store.resolve("default", "openai").api_key.reveal() == "sk-new"


def test_another_orgs_key_is_never_resolved(store: KeyStore) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")

    with pytest.raises(KeyNotFoundError, match="no key 'openai' in org 'default'"):
        store.resolve("default", "openai")
    with pytest.raises(KeyNotFoundError):
        store.resolve("globex", "openai")
    assert store.list_keys("default") == []


def test_duplicate_active_name_points_at_rotate(store: KeyStore) -> None:
    first = store.add_key(org="default", provider="openai", secret="sk-one")

    with pytest.raises(KeyExistsError) as caught:
        store.add_key(org="default", provider="openai", secret="sk-two")

    assert str(caught.value) == (
        f"org 'default' already has an active key named 'openai' ({first.id} v1): "
        "replace it with `byok keys rotate openai`, or choose another --name"
    )
    store.add_key(org="acme", provider="openai", secret="sk-two")  # names are per org


def test_list_keys_returns_metadata_in_a_stable_json_shape(store: KeyStore, secret: str) -> None:
    store.add_key(org="default", provider="openai", secret=secret)
    store.add_key(
        org="default",
        provider="openrouter",
        name="router",
        protocol=Protocol.OPENAI,
        base_url="https://openrouter.ai/api/v1",
        secret=secret + "-2",
    )

    keys = store.list_keys("default")

    assert [k.name for k in keys] == ["openai", "router"]
    assert keys[0].created_at.tzinfo is UTC
    payload = keys[1].to_json()
    assert list(payload) == [
        "id",
        "org",
        "name",
        "provider",
        "protocol",
        "base_url",
        "version",
        "status",
        "created_at",
    ]
    assert payload["org"] == "default"
    assert payload["provider"] == "openrouter"
    assert payload["protocol"] == "openai"
    assert payload["base_url"] == "https://openrouter.ai/api/v1"
    assert payload["version"] == 1
    assert payload["status"] == "active"
    assert payload["created_at"].endswith("+00:00")
    assert secret not in repr(keys) + str(payload)


def test_concurrent_adds_create_one_org_and_one_key(store: KeyStore) -> None:
    def add(n: int) -> str:
        try:
            return store.add_key(org="acme", provider="openai", secret=f"sk-{n}").id
        except KeyExistsError:
            return "exists"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(add, range(8)))

    assert sorted(outcomes).count("exists") == 7
    assert len(store.list_keys("acme")) == 1
    assert len({store.ensure_org("acme") for _ in range(3)}) == 1


def test_ensure_org_creates_once(store: KeyStore) -> None:
    org_id = store.ensure_org("acme")

    assert org_id.startswith("org_")
    assert store.ensure_org("acme") == org_id
    assert store.ensure_org("default") != org_id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"provider": "ollama"}, "provider 'ollama' is not one of anthropic, openai, google"),
        (
            {"provider": "azure", "protocol": Protocol.OPENAI},
            "otherwise the key would be sent to openai's official endpoint",
        ),
        (
            {"provider": "anthropic", "protocol": Protocol.OPENAI},
            "pass its --base-url",
        ),
        ({"provider": "openai", "base_url": "ftp://host"}, "http:// or https:// URL"),
        ({"provider": "openai", "base_url": "https://u:p@host/v1"}, "user name or password"),
        ({"provider": "openai", "base_url": "https://host/v1?key=sk-x"}, "'key' looks like a"),
        ({"provider": "openai", "base_url": "https://host/v1#top"}, "#fragment"),
        ({"provider": "openai", "name": "a:b"}, "key name 'a:b' is not valid"),
        (
            {
                "provider": "ollama",
                "name": "openai",
                "protocol": Protocol.OPENAI,
                "base_url": "http://127.0.0.1:11434/v1",
            },
            "the key name 'openai' is reserved for the openai provider's key",
        ),
        ({"provider": "open ai"}, "provider 'open ai' is not a valid name"),
        ({"provider": "openai", "org": "Acme Corp"}, "org 'Acme Corp' is not a valid slug"),
        ({"provider": "openai", "secret": ""}, "the key is empty"),
        ({"provider": "openai", "secret": "sk-a\nsk-b"}, "whitespace or control characters"),
    ],
)
def test_bad_input_is_a_clear_error(store: KeyStore, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"org": "default", "secret": "sk-x"} | kwargs

    with pytest.raises(InvalidInputError, match=re.escape(message)):
        store.add_key(**arguments)
    assert store.list_keys("default") == []


def test_bad_secret_is_never_echoed(store: KeyStore) -> None:
    with pytest.raises(InvalidInputError) as caught:
        store.add_key(org="default", provider="openai", secret="sk-pasted twice")

    assert "sk-pasted" not in str(caught.value)


def test_provider_names_are_lowercased(store: KeyStore) -> None:
    info = store.add_key(org="default", provider="OpenAI", secret="sk-x")

    assert (info.provider, info.name, info.protocol) == ("openai", "openai", Protocol.OPENAI)


# --- tampering with the database -------------------------------------------------


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(store: KeyStore, sql: Sql) -> None:
    victim = store.add_key(org="default", provider="openai", secret="sk-victim")
    store.add_key(org="default", provider="anthropic", secret="sk-attacker")
    sql(
        "UPDATE provider_keys SET ciphertext = (SELECT ciphertext FROM provider_keys WHERE id = ?)"
        " WHERE provider = 'anthropic'",
        victim.id,
    )

    with pytest.raises(DecryptionError, match=r"key 'anthropic' \(key_\w+ v1\) in org 'default'"):
        store.resolve("default", "anthropic")


def test_a_ciphertext_copied_to_another_org_does_not_decrypt(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")
    store.add_key(org="globex", provider="openai", secret="sk-globex")
    sql(
        "UPDATE provider_keys SET ciphertext = (SELECT k.ciphertext FROM provider_keys k "
        "JOIN orgs o ON o.id = k.org_id WHERE o.slug = 'acme') "
        "WHERE org_id = (SELECT id FROM orgs WHERE slug = 'globex')"
    )

    with pytest.raises(DecryptionError):
        store.resolve("globex", "openai")


def test_a_row_moved_to_another_org_does_not_decrypt(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")
    globex = store.ensure_org("globex")
    sql("UPDATE provider_keys SET org_id = ?", globex)

    with pytest.raises(DecryptionError):
        store.resolve("globex", "openai")


def test_a_data_key_copied_to_another_org_does_not_unwrap(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="acme", provider="openai", secret="sk-acme")
    store.add_key(org="globex", provider="openai", secret="sk-globex")
    sql(
        "UPDATE org_data_keys SET wrapped = (SELECT d.wrapped FROM org_data_keys d "
        "JOIN orgs o ON o.id = d.org_id WHERE o.slug = 'acme') "
        "WHERE org_id = (SELECT id FROM orgs WHERE slug = 'globex')"
    )

    with pytest.raises(DecryptionError):
        store.resolve("globex", "openai")
    assert store.resolve("acme", "openai").api_key.reveal() == "sk-acme"


@pytest.mark.parametrize(
    "change",
    [
        "version = 2",
        "provider = 'evil'",
        "protocol = 'anthropic'",
        "base_url = 'https://attacker.example/v1'",
    ],
)
def test_edited_metadata_makes_the_key_undecryptable(
    store: KeyStore, sql: Sql, change: str
) -> None:
    store.add_key(org="default", provider="openai", name="main", secret="sk-main")
    sql(f"UPDATE provider_keys SET {change}")  # noqa: S608 - constant test input

    with pytest.raises(DecryptionError, match="cannot be decrypted"):
        store.resolve("default", "main")


def test_flipped_byte_in_a_stored_ciphertext_is_rejected(store: KeyStore, sql: Sql) -> None:
    store.add_key(org="default", provider="openai", secret="sk-main")
    ((blob,),) = sql("SELECT ciphertext FROM provider_keys")
    tampered = bytearray(blob)
    tampered[-1] ^= 1
    sql("UPDATE provider_keys SET ciphertext = ?", bytes(tampered))

    with pytest.raises(DecryptionError):
        store.resolve("default", "openai")


def test_a_plaintext_key_written_into_the_database_is_not_accepted(
    store: KeyStore, sql: Sql
) -> None:
    store.add_key(org="default", provider="openai", secret="sk-main")
    sql("UPDATE provider_keys SET ciphertext = ?", b"sk-injected")

    with pytest.raises(DecryptionError):
        store.resolve("default", "openai")


def test_vault_errors_survive_pickling(store: KeyStore) -> None:
    with pytest.raises(KeyNotFoundError) as caught:
        store.resolve("default", "openai")

    restored = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own bytes
    assert type(restored) is KeyNotFoundError
    assert str(restored) == str(caught.value)


# --- nothing at rest --------------------------------------------------------------


def test_neither_the_key_nor_the_master_key_is_in_the_database_files(
    store: KeyStore, home: Path, secret: str
) -> None:
    store.add_key(org="default", provider="openai", secret=secret)
    store.add_key(org="acme", provider="google", name="gem", secret=secret[::-1])
    assert store.resolve("default", "openai").api_key.reveal() == secret
    assert store.resolve("acme", "gem").api_key.reveal() == secret[::-1]

    files = [p for p in home.iterdir() if p.name.startswith("byok.db")]
    data = b"".join(p.read_bytes() for p in files)
    master = base64.b64decode(os.environ["BYOK_MASTER_KEY"])

    assert any(p.name == "byok.db-wal" for p in files)
    for needle in (secret, secret[::-1], secret[-8:], secret[:12] + secret[-4:]):
        assert needle.encode() not in data
        assert needle.encode("utf-16-le") not in data
    assert master not in data
    assert os.environ["BYOK_MASTER_KEY"].encode() not in data


@pytest.mark.parametrize(
    ("base_url", "stored"),
    [
        (
            "https://contoso.openai.azure.com/?api-version=2025-04-01-preview",
            "https://contoso.openai.azure.com?api-version=2025-04-01-preview",
        ),
        ("https://gw.example.com/v1/?route=eu&tier=2", "https://gw.example.com/v1?route=eu&tier=2"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1"),
    ],
)
def test_a_base_url_may_pin_query_parameters(store: KeyStore, base_url: str, stored: str) -> None:
    store.add_key(
        org="default", provider="azure", protocol=Protocol.OPENAI, secret="k", base_url=base_url
    )

    (key,) = store.list_keys("default")
    assert key.base_url == stored


@pytest.mark.parametrize(
    "param",
    ["key", "api-key", "API_KEY", "apikey", "x-goog-api-key", "access_token", "token",
     "sig", "signature", "client_secret", "password", "auth", "subscription-key", "code"],
)  # fmt: skip
def test_a_query_parameter_that_looks_like_a_key_is_refused_unechoed(
    store: KeyStore, param: str
) -> None:
    url = f"https://contoso.openai.azure.com?api-version=2024-10-21&{param}=sk-live-0451"

    with pytest.raises(InvalidInputError) as caught:
        store.add_key(
            org="default", provider="azure", protocol=Protocol.OPENAI, secret="k", base_url=url
        )

    assert repr(param) in str(caught.value)
    assert "keys must never be in URLs" in str(caught.value)
    assert "sk-live-0451" not in str(caught.value)
    assert store.list_keys("default") == []
