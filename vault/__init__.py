"""The BYOK vault: provider keys sealed with AES-256-GCM envelope encryption, per org.

Public API: `KeyStore` (add, list, find, resolve), `KeyInfo`, the `VaultError`
tree, and `VaultKeys`, the Prefect Block that resolves keys inside a task.
`VaultKeys` is imported on first use, so the key commands of the CLI do not pay
for importing Prefect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.errors import (
    DecryptionError,
    InvalidInputError,
    KeyExistsError,
    KeyNotFoundError,
    MasterKeyError,
    VaultError,
)
from vault.store import DEFAULT_ORG, KeyInfo, KeyStore

if TYPE_CHECKING:
    from vault.block import VaultKeys

__all__ = [
    "DEFAULT_ORG",
    "DecryptionError",
    "InvalidInputError",
    "KeyExistsError",
    "KeyInfo",
    "KeyNotFoundError",
    "KeyStore",
    "MasterKeyError",
    "VaultError",
    "VaultKeys",
]


def __getattr__(name: str) -> Any:
    if name == "VaultKeys":
        from vault.block import VaultKeys

        return VaultKeys
    raise AttributeError(f"module 'vault' has no attribute {name!r}")
