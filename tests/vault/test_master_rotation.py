"""Master-key rotation: every data key re-wrapped, resumably, idempotently, reads working."""

from __future__ import annotations

import base64
import os
import secrets
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vault import (
    ConflictError,
    KeyStore,
    MasterKeyError,
    NotFoundError,
    PermissionDeniedError,
    Role,
    VaultService,
)
from vault.db import reset_engines
from vault.masterkey import parse_key_ring
from vault.rewrap import kek_status, pending_rows, rewrap_all

ORGS = ("default", "acme", "globex", "initech")


class PowerCut(Exception):
    """Stands for the process dying between two rows."""


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def fill(store: KeyStore) -> dict[str, str]:
    """One key in each of four orgs; returns each org's secret."""
    secrets_by_org = {org: f"sk-{org}-{secrets.token_hex(8)}" for org in ORGS}
    for org, secret in secrets_by_org.items():
        store.add_key(org=org, provider="openai", secret=secret)
    return secrets_by_org


def readable(store: KeyStore, expected: dict[str, str]) -> bool:
    return all(store.resolve(org, "openai").api_key.reveal() == s for org, s in expected.items())


@pytest.fixture
def key_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Local mode: the generated `BYOK_HOME/master.key` holds the ring."""
    monkeypatch.delenv("BYOK_MASTER_KEY")
    KeyStore.open()  # generates the key file
    return home / "master.key"


def test_rotation_with_a_key_file_adds_a_key_and_re_wraps_everything(key_file: Path) -> None:
    expected = fill(KeyStore.open())
    vault = VaultService.open(token="")

    rotation = vault.rotate_master()

    assert (rotation.added, rotation.primary, rotation.moved) == ("k2", "k2", len(ORGS) + 1)
    assert rotation.key_file == str(key_file)
    assert parse_key_ring(key_file.read_text(), source="test").ids == ("k2", "k1")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    rows = {row.kek_id: row for row in vault.master_status()}
    assert (rows["k2"].data_keys, rows["k2"].audit_key, rows["k2"].primary) == (4, True, True)
    assert (rows["k1"].data_keys, rows["k1"].audit_key) == (0, False)
    reset_engines()
    assert readable(KeyStore.open(), expected)  # a new process reads the new ring


def test_with_an_env_ring_the_operator_adds_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]

    with pytest.raises(ConflictError, match=r"already wrapped by 'k1'.*put it first"):
        VaultService.open(token="").rotate_master()

    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")
    rotation = VaultService.open(token="").rotate_master()

    assert (rotation.added, rotation.primary, rotation.moved) == (None, "k2", len(ORGS) + 1)
    assert readable(KeyStore.open(), expected)
    monkeypatch.setenv("BYOK_MASTER_KEY", os.environ["BYOK_MASTER_KEY"].split(",")[0])
    assert readable(KeyStore.open(), expected)  # k1 is no longer needed at all


@pytest.mark.usefixtures("backend")
def test_an_interrupted_rotation_resumes_with_reads_working_throughout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")
    store = KeyStore.open()
    moved: list[str] = []

    def crash_after_two(row_id: str) -> None:
        assert readable(store, expected)  # between any two rows, every key still opens
        moved.append(row_id)
        if len(moved) == 2:
            raise PowerCut

    with pytest.raises(PowerCut):
        rewrap_all(store.engine, store.keks, after_row=crash_after_two)

    assert pending_rows(store.engine, store.keks) == len(ORGS) - 2 + 1  # + the audit key
    assert readable(KeyStore.open(), expected)
    assert rewrap_all(store.engine, store.keks) == len(ORGS) - 2 + 1
    assert rewrap_all(store.engine, store.keks) == 0  # idempotent
    assert {row.kek_id: row.data_keys for row in kek_status(store.engine, store.keks)} == {
        "k2": len(ORGS),
        "k1": 0,
    }
    assert readable(KeyStore.open(), expected)
    assert store.audit.verify().intact  # the chain's key moved too, and still verifies


def test_the_rotation_command_resumes_and_audits_the_interruption(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")

    def fail_once(row_id: str) -> None:
        raise MasterKeyError("KMS unavailable")

    with pytest.raises(MasterKeyError):
        VaultService.open(token="").rotate_master(after_row=fail_once)
    rotation = VaultService.open(token="").rotate_master()

    assert rotation.moved == len(ORGS)  # the first row had moved before the failure
    events = [e.record for e in KeyStore.open().audit.entries(orgs=None)]
    master = [(e.outcome.value, e.detail) for e in events if e.action == "master.rotate"]
    assert master[0] == ("ok", "started")
    assert master[1] == ("failed", "KMS unavailable")
    assert master[2] == ("ok", "started")
    assert master[3][1] is not None
    assert "re-wrapped 4 key(s); all are under 'k2'" in master[3][1]


def test_concurrent_re_wraps_move_each_row_once(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")
    store = KeyStore.open()

    with ThreadPoolExecutor(max_workers=3) as pool:
        moved = list(pool.map(lambda _: rewrap_all(store.engine, store.keks), range(3)))

    assert sum(moved) == len(ORGS) + 1
    assert readable(store, expected)


def test_retiring_a_kek_is_refused_while_anything_uses_it(key_file: Path) -> None:
    expected = fill(KeyStore.open())
    vault = VaultService.open(token="")

    with pytest.raises(ConflictError, match="first key of the master key ring"):
        vault.retire_kek("k1")
    with pytest.raises(NotFoundError, match="never used a master key 'k9'"):
        vault.retire_kek("k9")

    with pytest.raises(PowerCut):
        vault.rotate_master(after_row=_stop_after_first)  # leaves rows under k1
    vault = VaultService.open(token="")
    with pytest.raises(ConflictError, match=r"'k1' still wraps 3 data key\(s\).*Nothing was"):
        vault.retire_kek("k1")

    vault.rotate_master()
    assert vault.retire_kek("k1") == key_file
    assert parse_key_ring(key_file.read_text(), source="test").ids == ("k2",)
    status = {row.kek_id: row for row in vault.master_status()}
    assert status["k1"].retired_at is not None
    assert not status["k1"].in_ring
    reset_engines()
    assert readable(KeyStore.open(), expected)


def test_a_ring_led_by_a_retired_kek_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]
    new = f"k2:{b64(secrets.token_bytes(32))}"
    monkeypatch.setenv("BYOK_MASTER_KEY", f"{new},k1:{old}")
    VaultService.open(token="").rotate_master()
    VaultService.open(token="").retire_kek("k1")

    monkeypatch.setenv("BYOK_MASTER_KEY", f"k1:{old},{new}")
    with pytest.raises(MasterKeyError, match="'k1', was retired on"):
        KeyStore.open()


def test_a_ring_without_the_new_kek_is_refused_after_rotation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fill(KeyStore.open())
    old = os.environ["BYOK_MASTER_KEY"]
    monkeypatch.setenv("BYOK_MASTER_KEY", f"k2:{b64(secrets.token_bytes(32))},k1:{old}")
    VaultService.open(token="").rotate_master()

    monkeypatch.setenv("BYOK_MASTER_KEY", f"k1:{old}")
    with pytest.raises(MasterKeyError, match="wrapped by master key 'k2', which the ring"):
        KeyStore.open()


def test_master_key_operations_are_for_owners_of_default() -> None:
    operator = VaultService.open(token="")
    admin = operator.add_user("al@example.com", org="default", role=Role.ADMIN)
    assert admin.token is not None

    with pytest.raises(PermissionDeniedError, match="owner role in org 'default'"):
        VaultService.open(token=admin.token).rotate_master()
    with pytest.raises(PermissionDeniedError):
        VaultService.open(token=admin.token).master_status()


def _stop_after_first(row_id: str) -> None:
    raise PowerCut
