"""The master key ring: where key-encryption keys (KEKs) come from, and the seam for a KMS.

Sources, first match wins:

1. `BYOK_MASTER_KEY`: a ring `id:base64,id2:base64`; a single bare base64 value
   is the ring with one key `k1`.
2. `BYOK_MASTER_KEY_FILE`: a file holding the same ring text.
3. Local mode only (the SQLite database): `BYOK_HOME/master.key`, generated with
   mode 0600 on first use, with a loud warning on stderr to back it up.

Each key is exactly 32 random bytes (`openssl rand -base64 32`). The first key of
a ring is the primary: it wraps new data keys; the others only unwrap, which is
what lets a master-key rotation re-wrap data keys while reads keep working. The
master key never goes into the database; `vault.keycheck` stores only a sealed
known constant per KEK id, so a wrong key is a clear error at open.

Plugging in a KMS
-----------------
The store talks to KEKs only through two small protocols:

    class KeyEncryptionKey(Protocol):
        kek_id: str                                        # stored next to each wrapped key
        def wrap(self, data_key: bytes, ad: AssociatedData) -> bytes: ...
        def unwrap(self, wrapped: bytes, ad: AssociatedData) -> bytes: ...

    class KekProvider(Protocol):
        source: str                                        # named in error messages
        @property
        def ids(self) -> tuple[str, ...]: ...              # primary first
        @property
        def primary(self) -> KeyEncryptionKey: ...
        def get(self, kek_id: str) -> KeyEncryptionKey: ... # MasterKeyError if unknown

A cloud KMS or HashiCorp Vault transit KEK implements `wrap`/`unwrap` as remote
encrypt/decrypt calls, passing `ad.encode()` as the encryption context (KMS) or
associated data (transit), and returns the service's ciphertext as an opaque
blob; `unwrap` must raise `DecryptionError` on any failure. Pass such a provider
to `KeyStore.open(keks=...)`. The local `LocalKek` wraps with `vault.crypto.seal`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, Protocol

from vault.crypto import KEY_BYTES, AssociatedData, key_id_of, seal, unseal
from vault.errors import DecryptionError, MasterKeyError
from vault.settings import byok_home

__all__ = [
    "KekProvider",
    "KeyEncryptionKey",
    "LocalKek",
    "MasterKeyRing",
    "load_master_key_ring",
    "parse_key_ring",
]

MASTER_KEY_ENV = "BYOK_MASTER_KEY"
MASTER_KEY_FILE_ENV = "BYOK_MASTER_KEY_FILE"
KEY_FILE_NAME = "master.key"
DEFAULT_KEK_ID = "k1"

_KEK_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_GENERATE_HINT = "generate one with `openssl rand -base64 32`"


class KeyEncryptionKey(Protocol):
    """One KEK: wraps and unwraps org data keys, bound to their associated data."""

    @property
    def kek_id(self) -> str:
        """The id stored next to every data key this KEK wraps."""
        ...

    def wrap(self, data_key: bytes, ad: AssociatedData) -> bytes:
        """Encrypt a data key; the result is opaque to the store."""
        ...

    def unwrap(self, wrapped: bytes, ad: AssociatedData) -> bytes:
        """Decrypt a data key, or raise `DecryptionError`."""
        ...


class KekProvider(Protocol):
    """A ring of KEKs: the primary wraps, any member unwraps what it wrapped."""

    @property
    def source(self) -> str:
        """Where the ring came from, e.g. `BYOK_MASTER_KEY`, for error messages."""
        ...

    @property
    def ids(self) -> tuple[str, ...]:
        """Every KEK id, primary first."""
        ...

    @property
    def primary(self) -> KeyEncryptionKey:
        """The KEK that wraps new data keys."""
        ...

    def get(self, kek_id: str) -> KeyEncryptionKey:
        """The KEK with this id, or `MasterKeyError` naming what is missing."""
        ...


class LocalKek:
    """A 32-byte KEK held in this process's memory; masked in repr, refuses pickling."""

    __slots__ = ("_kek_id", "_key")

    def __init__(self, kek_id: str, key: bytes) -> None:
        if not _KEK_ID.fullmatch(kek_id):
            raise ValueError("a KEK id is 1-64 characters from A-Z, a-z, 0-9, '_', '.', '-'")
        if len(key) != KEY_BYTES:
            raise ValueError(f"a KEK is exactly {KEY_BYTES} bytes")
        self._kek_id = kek_id
        self._key = key

    @property
    def kek_id(self) -> str:
        return self._kek_id

    def wrap(self, data_key: bytes, ad: AssociatedData) -> bytes:
        return seal(self._key, self._kek_id, data_key, ad)

    def unwrap(self, wrapped: bytes, ad: AssociatedData) -> bytes:
        if key_id_of(wrapped) != self._kek_id:
            raise DecryptionError("the wrapped data key names another KEK")
        return unseal(self._key, wrapped, ad)

    def __repr__(self) -> str:
        return f"LocalKek(kek_id={self._kek_id!r}, key='**********')"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a master key refuses to be pickled")


class MasterKeyRing:
    """The local `KekProvider`: KEKs parsed from the environment or a key file.

    `path` is the key file the ring was read from (None for `BYOK_MASTER_KEY`):
    `byok vault rotate-master` adds its new KEK there, and `retire-kek` removes
    the retired one.
    """

    __slots__ = ("_keks", "_path", "_source")

    def __init__(self, keks: Sequence[LocalKek], *, source: str, path: Path | None = None) -> None:
        if not keks:
            raise MasterKeyError(f"{source}: the master key ring is empty; {_GENERATE_HINT}")
        self._keks = {kek.kek_id: kek for kek in keks}
        self._source = source
        self._path = path

    @property
    def source(self) -> str:
        return self._source

    @property
    def path(self) -> Path | None:
        """The key file this ring came from, if any."""
        return self._path

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._keks)

    @property
    def primary(self) -> LocalKek:
        return next(iter(self._keks.values()))

    def get(self, kek_id: str) -> LocalKek:
        try:
            return self._keks[kek_id]
        except KeyError:
            raise MasterKeyError(
                f"the master key ring from {self._source} has no key '{kek_id}' "
                f"(it has {', '.join(repr(i) for i in self._keks)}); add it as "
                f"'{kek_id}:BASE64' to {MASTER_KEY_ENV}"
            ) from None

    def same_keys(self, other: MasterKeyRing) -> bool:
        """Whether `other` holds exactly these KEKs, in the same order (constant-time compare)."""
        if self.ids != other.ids:
            return False
        return all(
            hmac.compare_digest(kek._key, other._keks[kek_id]._key)
            for kek_id, kek in self._keks.items()
        )

    def __repr__(self) -> str:
        return f"MasterKeyRing(ids={self.ids!r}, source={self._source!r})"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a master key ring refuses to be pickled")


def parse_key_ring(text: str, *, source: str, path: Path | None = None) -> MasterKeyRing:
    """Parse `id:base64,...` (or one bare base64 key, id `k1`); errors name `source`."""
    entries = [entry.strip() for entry in text.strip().split(",") if entry.strip()]
    if len(entries) == 1 and ":" not in entries[0]:
        entries = [f"{DEFAULT_KEK_ID}:{entries[0]}"]
    keks: list[LocalKek] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        kek_id, sep, encoded = entry.partition(":")
        kek_id = kek_id.strip()
        if not sep or not _KEK_ID.fullmatch(kek_id):
            _bad(
                source,
                f"entry {position} is not 'ID:BASE64' (an id is 1-64 characters from "
                "A-Z, a-z, 0-9, '_', '.', '-')",
            )
        if kek_id in seen:
            _bad(source, f"key id '{kek_id}' appears twice")
        seen.add(kek_id)
        keks.append(LocalKek(kek_id, _decode_key(encoded.strip(), kek_id, source)))
    return MasterKeyRing(keks, source=source, path=path)


def load_master_key_ring(*, local: bool, generate: bool = True) -> MasterKeyRing:
    """The ring from the first configured source (see the module docstring).

    `local` allows the key file under `BYOK_HOME`; `generate` allows creating it
    when absent (the store refuses when the database already holds sealed keys,
    so a lost key file is an error rather than a silent new, useless key).
    """
    value = os.environ.get(MASTER_KEY_ENV, "").strip()
    if value:
        return parse_key_ring(value, source=MASTER_KEY_ENV)
    file_name = os.environ.get(MASTER_KEY_FILE_ENV, "").strip()
    if file_name:
        path = Path(file_name).expanduser()
        return parse_key_ring(
            _read(path, MASTER_KEY_FILE_ENV), source=f"{MASTER_KEY_FILE_ENV} ({path})", path=path
        )
    if not local:
        raise MasterKeyError(
            f"no master key: set {MASTER_KEY_ENV} (or {MASTER_KEY_FILE_ENV}) to the key ring "
            "this database was created with; a generated key file is only used with the "
            f"local SQLite database ({_GENERATE_HINT} for a new vault)"
        )
    path = byok_home() / KEY_FILE_NAME
    if not path.exists():
        if not generate:
            raise MasterKeyError(
                f"no master key: {MASTER_KEY_ENV} and {MASTER_KEY_FILE_ENV} are unset and {path} "
                "does not exist, but this vault's database holds keys sealed under a master "
                f"key; restore {KEY_FILE_NAME} from your backup or set {MASTER_KEY_ENV}"
            )
        _create_key_file(path)
    return parse_key_ring(_read(path, str(path)), source=str(path), path=path)


def _decode_key(encoded: str, kek_id: str, source: str) -> bytes:
    try:
        # Accept the URL-safe alphabet too; padding stays mandatory.
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        _bad(source, f"key '{kek_id}' is not valid base64; {_GENERATE_HINT}")
    if len(key) != KEY_BYTES:
        _bad(
            source,
            f"key '{kek_id}' decodes to {len(key)} bytes, but a master key is exactly "
            f"{KEY_BYTES} random bytes; {_GENERATE_HINT}",
        )
    return key


def _bad(source: str, problem: str) -> NoReturn:
    raise MasterKeyError(f"{source}: {problem}")


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except UnicodeDecodeError:
        reason = "it is not ASCII text"
    except OSError as e:
        reason = e.strerror or type(e).__name__
    raise MasterKeyError(f"{source}: cannot read master key file {path}: {reason}")


def _create_key_file(path: Path) -> None:
    """Write a new one-key ring with mode 0600, published atomically without clobbering.

    The key is written to a private temporary file and hard-linked into place, so
    a concurrent process sees either no file or the complete one; if it won the
    race, its key is kept and ours is discarded.
    """
    text = f"{DEFAULT_KEK_ID}:{base64.b64encode(os.urandom(KEY_BYTES)).decode()}\n"
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)  # whatever the umask
            file.write(text.encode())
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    print(
        f"\nWARNING: generated a new BYOK master key in {path}\n"
        "  Every provider key in this vault is encrypted under it. BACK IT UP NOW:\n"
        "  if this file is lost, the keys stored in the vault cannot be recovered.\n"
        f"  (For servers and shared databases, set {MASTER_KEY_ENV} instead.)\n",
        file=sys.stderr,
        flush=True,
    )


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
