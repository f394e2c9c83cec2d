"""The vaults this process has opened, so a step's key resolution does not reopen one per call.

`KeyStore.open` loads the master key ring, proves it against the database's
check values and makes sure the audit chain exists: several queries and
AES-GCM unwraps, which a recipe step used to pay before every call. Here the
opened store is kept per database URL and reused while the ring the
environment gives is still the same keys (read again on every call, so a
changed `BYOK_MASTER_KEY` or key file opens and checks the vault afresh) and
the database engine is still the process's one for that URL.

Only the opened store is kept: it holds no provider key. `KeyStore.resolve`
still reads the key row and decrypts on every call, so a rotation or
revocation applies to the very next call (invariant 5).
"""

from __future__ import annotations

import threading

from vault.db import get_engine
from vault.errors import MasterKeyError
from vault.masterkey import MasterKeyRing, load_master_key_ring
from vault.settings import database_url
from vault.store import KeyStore

__all__ = ["forget_opened", "opened_store"]

_stores: dict[str, KeyStore] = {}
_lock = threading.Lock()


def opened_store(url: str | None = None) -> KeyStore:
    """The vault at `url` (default: the configured one), opened once per master key ring."""
    url = url or database_url()
    try:
        ring: MasterKeyRing | None = load_master_key_ring(
            local=url.startswith("sqlite"), generate=False
        )
    except MasterKeyError:
        ring = None  # no key yet, or a broken one: the full open says what to do
    with _lock:
        store = _stores.get(url)
    if store is not None and ring is not None and _still_valid(store, url, ring):
        return store
    store = KeyStore.open(url)
    if isinstance(store.keks, MasterKeyRing):
        with _lock:
            _stores[url] = store
    return store


def forget_opened() -> None:
    """Drop every opened store (the next resolution opens and checks its vault again)."""
    with _lock:
        _stores.clear()


def _still_valid(store: KeyStore, url: str, ring: MasterKeyRing) -> bool:
    keks = store.keks
    return (
        isinstance(keks, MasterKeyRing) and keks.same_keys(ring) and store.engine is get_engine(url)
    )
