"""Master key sources, their errors, the generated key file and the check value at open."""

from __future__ import annotations

import base64
import os
import pickle
import secrets
import stat
from pathlib import Path

import pytest

from vault import KeyStore, MasterKeyError
from vault.db import reset_engines
from vault.masterkey import load_master_key_ring, parse_key_ring


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def no_master_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BYOK_MASTER_KEY", raising=False)


def test_a_bare_key_is_a_ring_with_id_k1() -> None:
    ring = parse_key_ring(b64(bytes(32)), source="BYOK_MASTER_KEY")

    assert ring.ids == ("k1",)
    assert ring.primary.kek_id == "k1"


def test_a_ring_lists_keys_primary_first() -> None:
    ring = parse_key_ring(f" k2:{b64(bytes(32))} , k1:{b64(b'x' * 32)}\n", source="BYOK_MASTER_KEY")

    assert ring.ids == ("k2", "k1")
    assert ring.primary.kek_id == "k2"
    assert ring.get("k1").kek_id == "k1"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            b64(bytes(16)),
            "key 'k1' decodes to 16 bytes, but a master key is exactly 32 random bytes; "
            "generate one with `openssl rand -base64 32`",
        ),
        (b64(bytes(33)), "decodes to 33 bytes"),
        ("not base64 at all!", "key 'k1' is not valid base64"),
        (f"k1:{b64(bytes(32))},k1:{b64(bytes(32))}", "key id 'k1' appears twice"),
        (f"k1:{b64(bytes(32))},{b64(bytes(32))}", "entry 2 is not 'ID:BASE64'"),
        (f"bad id:{b64(bytes(32))}", "entry 1 is not 'ID:BASE64'"),
        (" , ", "the master key ring is empty"),
    ],
)
def test_a_malformed_master_key_is_a_clear_error_naming_the_source(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("BYOK_MASTER_KEY", value)

    with pytest.raises(MasterKeyError) as caught:
        KeyStore.open()

    assert str(caught.value).startswith("BYOK_MASTER_KEY: ")
    assert problem in str(caught.value)


def test_a_bad_key_is_never_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    short = b64(secrets.token_bytes(31))
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k1:{short}")

    with pytest.raises(MasterKeyError) as caught:
        KeyStore.open()

    assert short not in str(caught.value)


def test_key_file_from_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_master_key: None
) -> None:
    path = tmp_path / "ring.txt"
    path.write_text(f"main:{b64(bytes(32))}\n")
    monkeypatch.setenv("BYOK_MASTER_KEY_FILE", str(path))

    ring = load_master_key_ring(local=False)

    assert ring.ids == ("main",)
    assert ring.source == f"BYOK_MASTER_KEY_FILE ({path})"


def test_unreadable_key_file_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_master_key: None
) -> None:
    monkeypatch.setenv("BYOK_MASTER_KEY_FILE", str(tmp_path / "missing.key"))

    with pytest.raises(MasterKeyError, match=r"cannot read master key file .*missing\.key"):
        KeyStore.open()


def test_shared_database_needs_an_explicit_master_key(no_master_key: None) -> None:
    with pytest.raises(MasterKeyError, match="no master key: set BYOK_MASTER_KEY"):
        load_master_key_ring(local=False)


def test_local_mode_generates_a_private_key_file_and_warns_once(
    home: Path, capsys: pytest.CaptureFixture[str], no_master_key: None
) -> None:
    store = KeyStore.open()
    store.add_key(org="default", provider="openai", secret="sk-one")
    first = capsys.readouterr()

    path = home / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert parse_key_ring(path.read_text(), source="test").ids == ("k1",)
    assert "WARNING: generated a new BYOK master key" in first.err
    assert str(path) in first.err
    assert "BACK IT UP" in first.err
    assert first.out == ""
    assert [p.name for p in home.iterdir() if p.name.startswith(".master")] == []

    reset_engines()
    assert KeyStore.open().resolve("default", "openai").api_key.reveal() == "sk-one"
    assert capsys.readouterr().err == ""


def test_key_file_is_private_whatever_the_umask(home: Path, no_master_key: None) -> None:
    previous = os.umask(0)
    try:
        KeyStore.open()
    finally:
        os.umask(previous)

    assert stat.S_IMODE((home / "master.key").stat().st_mode) == 0o600


def test_lost_key_file_is_an_error_not_a_new_key(home: Path, no_master_key: None) -> None:
    KeyStore.open().add_key(org="default", provider="openai", secret="sk-one")
    (home / "master.key").unlink()
    reset_engines()

    with pytest.raises(MasterKeyError, match=r"restore master\.key from your backup"):
        KeyStore.open()
    assert not (home / "master.key").exists()


def test_wrong_master_key_is_a_clear_error_at_open(
    monkeypatch: pytest.MonkeyPatch, store: KeyStore
) -> None:
    store.add_key(org="default", provider="openai", secret="sk-one")
    monkeypatch.setenv("BYOK_MASTER_KEY", b64(secrets.token_bytes(32)))
    reset_engines()

    with pytest.raises(MasterKeyError) as caught:
        KeyStore.open()

    assert str(caught.value) == (
        "the master key from BYOK_MASTER_KEY does not match this vault's database "
        "(kek 'k1'); set BYOK_MASTER_KEY to the key it was created with"
    )


def test_wrong_master_key_is_detected_even_before_any_key_was_added(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    KeyStore.open()
    monkeypatch.setenv("BYOK_MASTER_KEY", b64(secrets.token_bytes(32)))

    with pytest.raises(MasterKeyError, match="does not match this vault's database"):
        KeyStore.open()


def test_a_ring_missing_the_kek_in_use_is_refused(
    monkeypatch: pytest.MonkeyPatch, store: KeyStore
) -> None:
    store.add_key(org="default", provider="openai", secret="sk-one")
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))}")

    with pytest.raises(MasterKeyError, match=r"wrapped by master key 'k1', which the ring"):
        KeyStore.open()


def test_a_second_kek_in_the_ring_keeps_old_data_readable(
    monkeypatch: pytest.MonkeyPatch, store: KeyStore
) -> None:
    store.add_key(org="default", provider="openai", secret="sk-one")
    old = os.environ["BYOK_MASTER_KEY"]
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")

    reopened = KeyStore.open()
    reopened.add_key(org="acme", provider="openai", secret="sk-two")  # wrapped under k2

    assert reopened.resolve("default", "openai").api_key.reveal() == "sk-one"
    assert reopened.resolve("acme", "openai").api_key.reveal() == "sk-two"


def test_master_keys_are_masked_and_refuse_pickling() -> None:
    raw = secrets.token_bytes(32)
    ring = parse_key_ring(b64(raw), source="BYOK_MASTER_KEY")

    assert b64(raw) not in repr(ring) + repr(ring.primary)
    with pytest.raises(TypeError, match="refuses to be pickled"):
        pickle.dumps(ring)
    with pytest.raises(TypeError, match="refuses to be pickled"):
        pickle.dumps(ring.primary)


def test_master_key_error_survives_pickling() -> None:
    error = MasterKeyError("the master key does not match")

    restored = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert str(restored) == "the master key does not match"
