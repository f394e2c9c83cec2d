"""A vault written by an old release keeps opening, upgrading and decrypting.

`data/golden_vault_v0001.json` holds the rows a schema-v0001 vault stored for two
keys, with the master key it was made with. Loading them into a database built
by the v0001 migration and opening it with today's code must run the newer
migrations and give the same keys back; the wrong master key must be refused.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from vault import KeyStore, MasterKeyError, VaultService
from vault.db import reset_engines
from vault.migrate import alembic_config

GOLDEN = json.loads((Path(__file__).parent / "data" / "golden_vault_v0001.json").read_text())


@pytest.fixture
def golden_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite database at schema v0001 holding the golden rows, as the old release left it."""
    url = f"sqlite:///{tmp_path / 'golden.db'}"
    engine = create_engine(url)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, GOLDEN["schema"])
    with engine.begin() as connection:
        for table, rows in GOLDEN["tables"].items():
            for row in rows:
                connection.execute(_insert(table, row), _values(table, row))
    engine.dispose()
    monkeypatch.setenv("BYOK_MASTER_KEY", GOLDEN["master_key"])
    reset_engines()
    return url


def test_an_old_vault_upgrades_and_its_keys_still_decrypt(golden_url: str) -> None:
    store = KeyStore.open(golden_url)

    for where, secret in GOLDEN["secrets"].items():
        org, name = where.split("/")
        assert store.resolve(org, name).api_key.reveal() == secret
    assert store.resolve("acme", "local").base_url == "http://127.0.0.1:11434/v1"
    assert store.audit.verify().intact


def test_an_old_vault_can_be_rotated_and_re_wrapped(golden_url: str) -> None:
    vault = VaultService.open(golden_url, token="")
    vault.rotate_key("default", "openai", "sk-after-upgrade")

    assert vault.store.resolve("default", "openai").api_key.reveal() == "sk-after-upgrade"
    assert vault.store.resolve("acme", "local").api_key.reveal() == GOLDEN["secrets"]["acme/local"]


def test_an_old_vault_refuses_the_wrong_master_key(
    golden_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BYOK_MASTER_KEY", base64.b64encode(secrets.token_bytes(32)).decode())

    with pytest.raises(MasterKeyError, match="does not match this vault's database"):
        KeyStore.open(golden_url)


def _insert(table: str, row: dict[str, Any]) -> Any:
    columns = ", ".join(row)
    params = ", ".join(f":{column}" for column in row)
    return text(f"INSERT INTO {table} ({columns}) VALUES ({params})")  # noqa: S608 - fixture


def _values(table: str, row: dict[str, Any]) -> dict[str, Any]:
    binary = {"check_value", "wrapped", "ciphertext"}
    return {k: bytes.fromhex(v) if k in binary else v for k, v in row.items()}
