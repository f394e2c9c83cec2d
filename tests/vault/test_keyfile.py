"""Editing a master key file: new ids are never reused, writes are atomic and private."""

from __future__ import annotations

import base64
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vault.errors import MasterKeyError
from vault.keyfile import add_first_key, locked, next_kek_id, remove_key
from vault.masterkey import parse_key_ring

RING = f"k1:{base64.b64encode(bytes(32)).decode()}\n"


@pytest.fixture
def ring_file(tmp_path: Path) -> Path:
    path = tmp_path / "master.key"
    path.write_text(RING)
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        (set(), "k1"),
        ({"k1"}, "k2"),
        ({"k1", "k7", "main"}, "k8"),
        ({"main"}, "k1"),
        ({"k2", "k01"}, "k3"),
    ],
)
def test_next_kek_id_is_above_every_id_ever_used(taken: set[str], expected: str) -> None:
    assert next_kek_id(taken) == expected


def test_a_new_key_goes_first_and_the_old_ones_stay(ring_file: Path) -> None:
    add_first_key(ring_file, "k2")

    ring = parse_key_ring(ring_file.read_text(), source="test")
    assert ring.ids == ("k2", "k1")
    assert ring_file.read_text().endswith(RING.strip() + "\n")
    assert stat.S_IMODE(ring_file.stat().st_mode) == 0o600
    assert [p.name for p in ring_file.parent.iterdir() if p.name.endswith(".tmp")] == []
    with pytest.raises(MasterKeyError, match="already has a key 'k2'"):
        add_first_key(ring_file, "k2")


def test_a_bare_key_file_is_the_ring_k1(ring_file: Path) -> None:
    ring_file.write_text(base64.b64encode(bytes(32)).decode() + "\n")

    add_first_key(ring_file, "k2")

    assert parse_key_ring(ring_file.read_text(), source="test").ids == ("k2", "k1")


def test_removing_keys_but_never_the_last(ring_file: Path) -> None:
    add_first_key(ring_file, "k2")

    assert remove_key(ring_file, "k1") is True
    assert remove_key(ring_file, "k1") is False
    assert parse_key_ring(ring_file.read_text(), source="test").ids == ("k2",)
    with pytest.raises(MasterKeyError, match="last key"):
        remove_key(ring_file, "k2")


def test_locked_edits_do_not_lose_a_key(ring_file: Path) -> None:
    def add(n: int) -> None:
        with locked(ring_file):
            add_first_key(ring_file, f"k{n}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(add, range(2, 10)))

    assert sorted(parse_key_ring(ring_file.read_text(), source="test").ids) == sorted(
        f"k{n}" for n in range(1, 10)
    )


def test_an_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match=r"cannot read master key file .*missing\.key"):
        add_first_key(tmp_path / "missing.key", "k2")
