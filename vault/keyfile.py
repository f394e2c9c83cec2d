"""Changing a master key file in place: add a new first KEK, drop a retired one.

Used by `byok vault rotate-master` and `retire-kek` when the ring came from a
file (the generated `BYOK_HOME/master.key`, or `BYOK_MASTER_KEY_FILE`); a ring
in `BYOK_MASTER_KEY` is the operator's to edit. The file is rewritten
atomically (a private temporary file, fsynced, renamed over the old one), so a
crash leaves either the old ring or the new one, never half of either; and
only under an exclusive lock, so two rotations cannot each add a key and lose
one. Keys are edited as text: the raw key bytes never pass through Python
objects other than the text read from and written to the file.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import secrets
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from vault.crypto import KEY_BYTES
from vault.errors import MasterKeyError

__all__ = ["add_first_key", "locked", "next_kek_id", "remove_key"]

_NUMBERED = re.compile(r"k(\d+)")


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`'s ring for the block (a `.lock` file beside it)."""
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise MasterKeyError(
            f"cannot lock master key file {path}: {e.strerror or type(e).__name__}"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def next_kek_id(taken: Collection[str]) -> str:
    """`k<n>` one above the highest numbered id ever used, so no id is reused."""
    numbers = [int(m.group(1)) for i in taken if (m := _NUMBERED.fullmatch(i))]
    candidate = max(numbers, default=0) + 1
    while f"k{candidate}" in taken:
        candidate += 1
    return f"k{candidate}"


def add_first_key(path: Path, kek_id: str) -> None:
    """Put a fresh random KEK named `kek_id` first in the ring file at `path`."""
    entries = _entries(path)
    if any(entry.partition(":")[0].strip() == kek_id for entry in entries):
        raise MasterKeyError(f"master key file {path} already has a key '{kek_id}'")
    new = f"{kek_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}"
    _replace(path, [new, *entries])


def remove_key(path: Path, kek_id: str) -> bool:
    """Drop KEK `kek_id` from the ring file; False if it was not there."""
    entries = _entries(path)
    kept = [entry for entry in entries if entry.partition(":")[0].strip() != kek_id]
    if len(kept) == len(entries):
        return False
    if not kept:
        raise MasterKeyError(f"refusing to remove the last key of master key file {path}")
    _replace(path, kept)
    return True


def _entries(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or type(e).__name__
        raise MasterKeyError(f"cannot read master key file {path}: {reason}") from None
    entries = [entry.strip() for entry in text.strip().split(",") if entry.strip()]
    if len(entries) == 1 and ":" not in entries[0]:
        entries = [f"k1:{entries[0]}"]  # a bare key is the ring with one key `k1`
    return entries


def _replace(path: Path, entries: list[str]) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write((",".join(entries) + "\n").encode("ascii"))
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as e:
        raise MasterKeyError(
            f"cannot write master key file {path}: {e.strerror or type(e).__name__}; "
            "nothing was changed"
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
